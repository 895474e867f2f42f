//! Async helpers shared by the wire and model tests (`tests/model` includes this file): bulk
//! transfer in random chunks, a waker that records being woken, one-poll helpers, and the
//! random-interleaving property driver.

#![allow(dead_code)] // each test binary uses a part

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::support::Stream;
use crate::support::bounded::BOUND;

pub const TOTAL: usize = 64 << 20;

/// A current-thread runtime with I/O and timers.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A two-worker runtime, for transfers whose two sides should run in parallel.
pub fn rt2() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Writes `total` bytes of stream `seed` in random chunk sizes, mixing plain and vectored
/// writes, then shuts the write side down (the peer reads EOF).
pub async fn send<W: AsyncWrite + Unpin>(w: &mut W, seed: u64, total: usize) {
    let mut stream = Stream::new(seed);
    let mut sizes = fastrand::Rng::with_seed(seed ^ 0x5151);
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0;
    while sent < total {
        let n = sizes.usize(1..=buf.len()).min(total - sent);
        stream.fill(&mut buf[..n]);
        let mut off = 0;
        while off < n {
            let rest = &buf[off..n];
            off += if sizes.bool() && rest.len() > 2 {
                let cut = sizes.usize(1..rest.len());
                w.write_vectored(&[IoSlice::new(&rest[..cut]), IoSlice::new(&rest[cut..])])
                    .await
                    .unwrap()
            } else {
                w.write(rest).await.unwrap()
            };
        }
        sent += n;
    }
    w.shutdown().await.unwrap();
}

/// Reads until EOF in random sizes and checks every byte against stream `seed`.
pub async fn receive<R: AsyncRead + Unpin>(r: &mut R, seed: u64) -> usize {
    let mut stream = Stream::new(seed);
    let mut sizes = fastrand::Rng::with_seed(seed ^ 0xa5a5);
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    loop {
        let want = sizes.usize(1..=buf.len());
        let n = r.read(&mut buf[..want]).await.unwrap();
        if n == 0 {
            return got;
        }
        if let Err(i) = stream.check(&buf[..n]) {
            panic!("byte {} differs", got + i);
        }
        got += n;
    }
}

/// Moves [`TOTAL`] bytes each way at once in four tasks (a's writer to b's reader with stream
/// 1, b's writer to a's reader with stream 2) and checks every byte and the EOF after them.
pub async fn both_ways<R, W>(mut ar: R, mut aw: W, mut br: R, mut bw: W, what: &str)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writers = [
        tokio::spawn(async move { send(&mut aw, 1, TOTAL).await }),
        tokio::spawn(async move { send(&mut bw, 2, TOTAL).await }),
    ];
    let readers = [
        tokio::spawn(async move { receive(&mut br, 1).await }),
        tokio::spawn(async move { receive(&mut ar, 2).await }),
    ];
    for w in writers {
        bounded(what, w).await.unwrap();
    }
    for r in readers {
        let got = bounded(what, r).await.unwrap();
        assert_eq!(got, TOTAL, "{what}: bytes received before EOF");
    }
}

/// `fut` bounded by [`BOUND`]: a lost wake-up fails the test instead of hanging it.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(BOUND, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {BOUND:?} (a lost wake-up?)"),
    }
}

/// A waker that records that it was woken.
#[derive(Default)]
pub struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A flag and the waker that sets it.
pub fn flag() -> (Arc<Flag>, Waker) {
    let f = Arc::new(Flag::default());
    (Arc::clone(&f), Waker::from(f))
}

impl Flag {
    pub fn woken(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits (yielding to the runtime, whose reactor delivers kernel readiness) until woken, for
    /// at most [`BOUND`].
    pub async fn wait(&self, what: &str) {
        let deadline = Instant::now() + BOUND;
        while !self.woken() {
            assert!(
                Instant::now() < deadline,
                "{what}: the task was never woken"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// A read of up to `len` bytes, polled once with `waker`: `Pending`, or the bytes (empty at EOF).
pub fn poll_read_once<R: AsyncRead + Unpin>(
    r: &mut R,
    len: usize,
    waker: &Waker,
) -> Poll<io::Result<Vec<u8>>> {
    let mut buf = vec![0u8; len];
    let mut rb = ReadBuf::new(&mut buf);
    match Pin::new(r).poll_read(&mut Context::from_waker(waker), &mut rb) {
        Poll::Ready(Ok(())) => {
            let n = rb.filled().len();
            buf.truncate(n);
            Poll::Ready(Ok(buf))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// A write of `buf`, polled once with `waker`.
pub fn poll_write_once<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    waker: &Waker,
) -> Poll<io::Result<usize>> {
    Pin::new(w).poll_write(&mut Context::from_waker(waker), buf)
}

/// Writes into `w` until a write is `Pending` (polled with `waker`); returns the bytes accepted.
/// Gives up after 256 MiB (a stream that never fills is a failure).
pub fn fill_until_pending<W: AsyncWrite + Unpin>(w: &mut W, waker: &Waker) -> usize {
    let piece = vec![0x5au8; 64 << 10];
    let mut sent = 0;
    loop {
        match poll_write_once(w, &piece, waker) {
            Poll::Ready(Ok(n)) => sent += n,
            Poll::Ready(Err(e)) => panic!("fill: {e}"),
            Poll::Pending => return sent,
        }
        assert!(sent < 256 << 20, "writes never pended");
    }
}

/// One step of the interleaving property test.
#[derive(Clone, Debug)]
pub enum Op {
    /// Poll one write of `len` bytes from end a (`from_a`) or b, vectored or not.
    Write {
        from_a: bool,
        len: usize,
        vectored: bool,
    },
    /// Poll one read of up to `len` bytes at end a or b.
    Read { at_a: bool, len: usize },
    /// Let the runtime run (the reactor delivers readiness).
    Yield,
}

pub fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (any::<bool>(), 1..300_000usize, any::<bool>())
            .prop_map(|(from_a, len, vectored)| Op::Write { from_a, len, vectored }),
        4 => (any::<bool>(), 1..300_000usize).prop_map(|(at_a, len)| Op::Read { at_a, len }),
        1 => Just(Op::Yield),
    ]
}

/// One direction of the property test: bytes generated but not accepted yet, and the checker.
struct Direction {
    source: Stream,
    pending: Vec<u8>,
    sent: usize,
    check: Stream,
    received: usize,
}

impl Direction {
    fn new(seed: u64) -> Direction {
        Direction {
            source: Stream::new(seed),
            pending: Vec::new(),
            sent: 0,
            check: Stream::new(seed),
            received: 0,
        }
    }

    fn write<W: AsyncWrite + Unpin>(&mut self, w: &mut W, len: usize, vectored: bool, cx: &Waker) {
        if self.pending.len() < len {
            let at = self.pending.len();
            self.pending.resize(len, 0);
            self.source.fill(&mut self.pending[at..]);
        }
        let buf = &self.pending[..len];
        let mut cx = Context::from_waker(cx);
        let res = if vectored && len > 1 {
            let (x, y) = buf.split_at(len / 3 + 1);
            Pin::new(w).poll_write_vectored(&mut cx, &[IoSlice::new(x), IoSlice::new(y)])
        } else {
            Pin::new(w).poll_write(&mut cx, buf)
        };
        match res {
            Poll::Ready(Ok(n)) => {
                assert!(n > 0 && n <= len, "write of {len} returned {n}");
                self.pending.drain(..n);
                self.sent += n;
            }
            Poll::Pending => {}
            Poll::Ready(Err(e)) => panic!("write: {e}"),
        }
    }

    fn check(&mut self, got: &[u8]) {
        if let Err(i) = self.check.check(got) {
            panic!("byte {} differs", self.received + i);
        }
        self.received += got.len();
        assert!(self.received <= self.sent, "read more than was written");
    }
}

/// Runs `ops` on the pair (polling each read and write once, with the task's waker), then
/// shuts both write sides down and drains both directions to EOF with ordinary awaits: nothing
/// is lost, reordered or invented, and no drain waits for ever.
pub async fn interleave<S: AsyncRead + AsyncWrite + Unpin>(mut a: S, mut b: S, ops: &[Op]) {
    let mut dirs = [Direction::new(11), Direction::new(22)]; // a->b, b->a
    let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
    for op in ops {
        match *op {
            Op::Write {
                from_a,
                len,
                vectored,
            } => {
                let (w, d) = if from_a {
                    (&mut a, &mut dirs[0])
                } else {
                    (&mut b, &mut dirs[1])
                };
                d.write(w, len, vectored, &waker);
            }
            Op::Read { at_a, len } => {
                let (r, d) = if at_a {
                    (&mut a, &mut dirs[1])
                } else {
                    (&mut b, &mut dirs[0])
                };
                match poll_read_once(r, len, &waker) {
                    Poll::Ready(Ok(got)) => {
                        assert!(!got.is_empty(), "EOF on an open stream");
                        d.check(&got);
                    }
                    Poll::Pending => {}
                    Poll::Ready(Err(e)) => panic!("read: {e}"),
                }
            }
            Op::Yield => tokio::task::yield_now().await,
        }
    }
    // Flush what is still pending and half-close, while the peer drains to EOF.
    let [mut ab, mut ba] = dirs;
    let (pa, pb) = (ab.pending.clone(), ba.pending.clone());
    ab.sent += pa.len();
    ba.sent += pb.len();
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    let (_, _, (got_ab, sent_ab), (got_ba, sent_ba)) = bounded("drain", async {
        tokio::join!(finish(aw, pa), finish(bw, pb), drain(br, ab), drain(ar, ba))
    })
    .await;
    assert_eq!(got_ab, sent_ab, "a->b bytes");
    assert_eq!(got_ba, sent_ba, "b->a bytes");
}

async fn finish<W: AsyncWrite + Unpin>(mut w: W, pending: Vec<u8>) {
    w.write_all(&pending).await.unwrap();
    w.shutdown().await.unwrap();
}

async fn drain<R: AsyncRead + Unpin>(mut r: R, mut d: Direction) -> (usize, usize) {
    let mut all = Vec::new();
    r.read_to_end(&mut all).await.unwrap();
    d.check(&all);
    (d.received, d.sent)
}
