//! Throughput of each wire kind between two threads, at 4 KiB, 64 KiB and 1 MiB chunks; and
//! (feature `tokio`) of each async end against tokio's own type on the same kind.
//!
//! `cargo bench --bench wire`. One writer thread, one reader thread, split halves; the reader
//! drains exactly what the sample wrote, so each sample's time covers delivery, not just the
//! writes. For cross-process figures with CPU placement and raw-loop ceilings, use
//! `procwire bench`.
//!
//! `wire_async/<kind>/<chunk>`: `procwire` is an [`AsyncEnd`](procwire::wire::AsyncEnd)
//! (split halves) and `tokio` is `tokio::net::UnixStream` (socketpair), `tokio::net::TcpStream`
//! (loopback) or `tokio::net::unix::pipe` (pipes), each moving chunks from a `block_on` writer
//! to a spawned reader task on a two-worker runtime. Both wrap the same kind of descriptors,
//! made by the same [`Builder`] (same buffer sizes), so the figure compares the async layers,
//! not the kernel objects. The two run interleaved: each sample of one is followed by an
//! untimed run of the other. Issue #14's target: procwire >= 0.95x tokio.
//!
//! `wire_async_1t/...`: the same on a `current_thread` runtime, where the writer and the reader
//! take turns on one thread. Its ratio is the per-call cost of the two layers without the
//! two-worker runtime's scheduling noise (its intervals are +-20% on a quiet 2-core VM).

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use procwire::wire::{Builder, Kind};

const CHUNKS: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];
#[cfg(feature = "tokio")]
const ASYNC_CHUNKS: [usize; 2] = [64 << 10, 1 << 20];

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire_throughput");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for kind in Kind::ALL {
        for chunk in CHUNKS {
            group.throughput(Throughput::Bytes(chunk as u64));
            group.bench_with_input(BenchmarkId::new(kind.name(), chunk), &chunk, |b, &chunk| {
                let (a, z) = Builder::new().kind(kind).build().unwrap().into_ends();
                let (_ar, mut aw) = a.split().unwrap();
                let (mut zr, _zw) = z.split().unwrap();
                b.iter_custom(|iters| common::two_threads(&mut aw, &mut zr, chunk, iters));
            });
        }
    }
    group.finish();
}

/// A writer, a reader, and the unused halves kept open until the bench ends.
#[cfg(feature = "tokio")]
type Boxed = (
    Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
    Box<dyn tokio::io::AsyncRead + Unpin + Send>,
    Box<dyn std::any::Any>,
);

#[cfg(feature = "tokio")]
fn procwire_pair(kind: Kind) -> Boxed {
    let (a, z) = Builder::new().kind(kind).build_async().unwrap().into_ends();
    let (ar, aw) = a.into_split().unwrap();
    let (zr, zw) = z.into_split().unwrap();
    (Box::new(aw), Box::new(zr), Box::new((ar, zw)))
}

/// Each kind's tokio counterpart, over descriptors made by the same [`Builder`] as
/// [`procwire_pair`]'s (so the kernel buffers are the same size).
#[cfg(feature = "tokio")]
fn tokio_pair(kind: Kind) -> Boxed {
    let (a, z) = Builder::new().kind(kind).build_async().unwrap().into_ends();
    match kind {
        Kind::SocketPair => {
            let a: tokio::net::UnixStream = a.try_into().unwrap();
            let z: tokio::net::UnixStream = z.try_into().unwrap();
            let (ar, aw) = a.into_split();
            let (zr, zw) = z.into_split();
            (Box::new(aw), Box::new(zr), Box::new((ar, zw)))
        }
        Kind::Pipes => {
            let (ar, aw) = a.into_split().unwrap();
            let (zr, zw) = z.into_split().unwrap();
            let tx: tokio::net::unix::pipe::Sender = aw.try_into().unwrap();
            let rx: tokio::net::unix::pipe::Receiver = zr.try_into().unwrap();
            (Box::new(tx), Box::new(rx), Box::new((ar, zw)))
        }
        Kind::Loopback => {
            let a: tokio::net::TcpStream = a.try_into().unwrap();
            let z: tokio::net::TcpStream = z.try_into().unwrap();
            let (ar, aw) = a.into_split();
            let (zr, zw) = z.into_split();
            (Box::new(aw), Box::new(zr), Box::new((ar, zw)))
        }
    }
}

#[cfg(feature = "tokio")]
fn async_throughput(c: &mut Criterion) {
    async_group(c, "wire_async", &common::runtime());
    async_group(c, "wire_async_1t", &common::runtime_one_thread());
}

#[cfg(feature = "tokio")]
fn async_group(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group(name);
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300))
        .sample_size(20);
    for kind in Kind::ALL {
        for chunk in ASYNC_CHUNKS {
            let ((pw, pr, _pk), (tw, tr, _tk)) =
                rt.block_on(async { (procwire_pair(kind), tokio_pair(kind)) });
            group.throughput(Throughput::Bytes(chunk as u64));
            let ids =
                ["procwire", "tokio"].map(|who| BenchmarkId::new(format!("{kind}/{who}"), chunk));
            common::interleaved_pair(&mut group, rt, ids, (pw, pr), (tw, tr), chunk);
        }
    }
    group.finish();
}

#[cfg(not(feature = "tokio"))]
fn async_throughput(_: &mut Criterion) {}

criterion_group!(benches, throughput, async_throughput);
criterion_main!(benches);
