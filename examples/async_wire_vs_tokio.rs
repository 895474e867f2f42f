//! An async wire end against tokio's own type on the same descriptors, on one thread: moves
//! 256 MiB from a writer to a reader task on a `current_thread` runtime, procwire and tokio
//! taking turns round by round (the order flips each round), and prints per kind and chunk the
//! median GB/s of each and the median of the per-round ratios procwire/tokio.
//!
//! `cargo run --release --example async_wire_vs_tokio --features tokio [-- ROUNDS]` (default 21).
//!
//! Both sides wrap descriptors made by the same `wire::Builder` (same kernel buffers), and
//! both use page-aligned buffers, so the ratio is the cost of the two async layers. On one
//! thread there is no second worker to schedule; single rounds still swing +-20% on a 2-core
//! VM, the median of 21 by about +-2% (the criterion group `wire_async`, on a two-worker
//! runtime, swings +-20% between samples). The one structural difference: procwire clears a
//! descriptor's readiness only on a real `EAGAIN` (issue #14's rule), tokio also after a short
//! read or write, so procwire makes one more `read`/`send` per readiness wake-up
//! (`strace -c -f` shows it), about 3% at 1 MiB chunks.

use std::time::Instant;

use procwire::wire::{Builder, Kind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const TOTAL: usize = 256 << 20;
const PAGE: usize = 4096;

/// The `chunk` bytes of `buf` (which has `PAGE` spare bytes) that start on a page boundary.
/// Both sides' buffers sit at the same place in their pages, so neither is handed the slow
/// relative offset of `rep movsb` (see `procwire::model`'s docs) by allocation luck.
fn page_aligned(buf: &mut [u8], chunk: usize) -> &mut [u8] {
    let skip = buf.as_ptr().align_offset(PAGE);
    &mut buf[skip..skip + chunk]
}

async fn run<W, R>(mut w: W, mut r: R, chunk: usize) -> f64
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin + 'static,
{
    let reader = tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; chunk + PAGE];
        let buf = page_aligned(&mut buf, chunk);
        let mut left = TOTAL;
        while left > 0 {
            let n = r.read(buf).await.expect("read");
            assert!(n > 0, "unexpected EOF");
            left -= n;
        }
    });
    let mut data = vec![0x5au8; chunk + PAGE];
    let data = page_aligned(&mut data, chunk);
    let start = Instant::now();
    for _ in 0..TOTAL / chunk {
        w.write_all(data).await.expect("write");
    }
    reader.await.expect("reader task");
    TOTAL as f64 / start.elapsed().as_secs_f64() / 1e9
}

async fn procwire(kind: Kind, chunk: usize) -> f64 {
    let (a, z) = Builder::new()
        .kind(kind)
        .build_async()
        .expect("wire")
        .into_ends();
    let (_ar, aw) = a.into_split().expect("split");
    let (zr, _zw) = z.into_split().expect("split");
    run(aw, zr, chunk).await
}

async fn tokio(kind: Kind, chunk: usize) -> f64 {
    let (a, z) = Builder::new()
        .kind(kind)
        .build_async()
        .expect("wire")
        .into_ends();
    match kind {
        Kind::Pipes => {
            let (_ar, aw) = a.into_split().expect("split");
            let (zr, _zw) = z.into_split().expect("split");
            let tx: tokio::net::unix::pipe::Sender = aw.try_into().expect("sender");
            let rx: tokio::net::unix::pipe::Receiver = zr.try_into().expect("receiver");
            run(tx, rx, chunk).await
        }
        Kind::Loopback => {
            let a: tokio::net::TcpStream = a.try_into().expect("tcp");
            let z: tokio::net::TcpStream = z.try_into().expect("tcp");
            let (_ar, aw) = a.into_split();
            let (zr, _zw) = z.into_split();
            run(aw, zr, chunk).await
        }
        Kind::SocketPair => {
            let a: tokio::net::UnixStream = a.try_into().expect("unix");
            let z: tokio::net::UnixStream = z.try_into().expect("unix");
            let (_ar, aw) = a.into_split();
            let (zr, _zw) = z.into_split();
            run(aw, zr, chunk).await
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ROUNDS is a count"))
        .unwrap_or(21);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    println!(
        "kind         chunk     procwire GB/s  tokio GB/s  procwire/tokio (median of {rounds} rounds, min-max)"
    );
    for kind in [Kind::SocketPair, Kind::Pipes, Kind::Loopback] {
        for chunk in [64 << 10, 1 << 20] {
            let (mut p, mut t, mut ratios) = (vec![], vec![], vec![]);
            for round in 0..rounds {
                let (gp, gt) = local.block_on(&rt, async {
                    if round % 2 == 0 {
                        let gp = procwire(kind, chunk).await;
                        (gp, tokio(kind, chunk).await)
                    } else {
                        let gt = tokio(kind, chunk).await;
                        (procwire(kind, chunk).await, gt)
                    }
                });
                p.push(gp);
                t.push(gt);
                ratios.push(gp / gt);
            }
            let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ratios.iter().copied().fold(0.0, f64::max);
            println!(
                "{:<12} {:>5} KiB  {:>13.2}  {:>10.2}  {:.3}x ({lo:.2}-{hi:.2})",
                kind.to_string(),
                chunk >> 10,
                median(p),
                median(t),
                median(ratios),
            );
        }
    }
}
