//! The loop both criterion benches time: one writer, one reader thread.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

/// Moves `iters` chunks of `chunk` bytes from `w` to `r` on two threads and returns the time
/// from the first write until the reader has every byte. The reader is started (and waiting)
/// before the clock runs.
pub fn two_threads<W: Write, R: Read + Send>(
    w: &mut W,
    r: &mut R,
    chunk: usize,
    iters: u64,
) -> Duration {
    let data = vec![0x5au8; chunk];
    let total = iters as usize * chunk;
    thread::scope(|s| {
        let (go, ready) = std::sync::mpsc::channel();
        let reader = s.spawn(move || {
            let mut buf = vec![0u8; chunk];
            let mut left = total;
            go.send(()).unwrap();
            while left > 0 {
                let n = r.read(&mut buf[..chunk.min(left)]).unwrap();
                assert!(n > 0, "unexpected EOF");
                left -= n;
            }
        });
        ready.recv().unwrap();
        let start = Instant::now();
        for _ in 0..iters {
            w.write_all(&data).unwrap();
        }
        reader.join().unwrap();
        start.elapsed()
    })
}

/// The async twin of [`two_threads`]: moves `iters` chunks of `chunk` bytes from `w` (written
/// in `rt.block_on`) to `r` (read by a spawned task, so on a two-worker runtime the two sides
/// may run in parallel, as tokio programs do) and returns the time from the first write until
/// the reader has every byte. `r` is handed to the task and back, so one pair serves every
/// sample.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub fn two_tasks<W, R>(
    rt: &tokio::runtime::Runtime,
    w: &mut W,
    r: &mut Option<R>,
    chunk: usize,
    iters: u64,
) -> Duration
where
    W: tokio::io::AsyncWrite + Unpin,
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = vec![0x5au8; chunk];
    let total = iters as usize * chunk;
    let mut reader = r.take().expect("the reader is back from the last sample");
    rt.block_on(async {
        let (go, ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; chunk];
            let mut left = total;
            go.send(()).unwrap();
            while left > 0 {
                let n = reader.read(&mut buf[..chunk.min(left)]).await.unwrap();
                assert!(n > 0, "unexpected EOF");
                left -= n;
            }
            reader
        });
        ready.await.unwrap();
        let start = Instant::now();
        for _ in 0..iters {
            w.write_all(&data).await.unwrap();
        }
        *r = Some(task.await.unwrap());
        start.elapsed()
    })
}

/// A two-worker tokio runtime with I/O, for [`two_tasks`].
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A `current_thread` tokio runtime with I/O: [`two_tasks`]'s writer and reader take turns on
/// the calling thread.
#[allow(dead_code)] // the wire bench's only; the other benches include this module too
pub fn runtime_one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Benchmarks two async subjects as an interleaved pair under `group`: each sample of one is
/// followed by an untimed run of the other (the interleaving `procwire bench` does with its
/// blocks), so both see the same machine over the same stretch of time. Costs twice the time.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub fn interleaved_pair<W1, R1, W2, R2>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    ids: [criterion::BenchmarkId; 2],
    (mut w1, r1): (W1, R1),
    (mut w2, r2): (W2, R2),
    chunk: usize,
) where
    W1: tokio::io::AsyncWrite + Unpin,
    R1: tokio::io::AsyncRead + Unpin + Send + 'static,
    W2: tokio::io::AsyncWrite + Unpin,
    R2: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let (mut r1, mut r2) = (Some(r1), Some(r2));
    let [first, second] = ids;
    group.bench_function(first, |b| {
        b.iter_custom(|iters| {
            let t = two_tasks(rt, &mut w1, &mut r1, chunk, iters);
            two_tasks(rt, &mut w2, &mut r2, chunk, iters);
            t
        });
    });
    group.bench_function(second, |b| {
        b.iter_custom(|iters| {
            let t = two_tasks(rt, &mut w2, &mut r2, chunk, iters);
            two_tasks(rt, &mut w1, &mut r1, chunk, iters);
            t
        });
    });
}
