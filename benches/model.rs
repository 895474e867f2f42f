//! The in-memory model's throughput at 64 KiB chunks between two threads, beside
//! `tokio::io::duplex` (two tasks on a two-worker runtime) and a kernel socketpair
//! (`UnixStream::pair`), all with 212992 bytes of buffering per direction where it can be set.
//!
//! `cargo bench --bench model`. Issue target: the model moves >= 1 GB/s and is not slower than
//! tokio's duplex.
//!
//! `model_async_64k`: the model's `AsyncRead`/`AsyncWrite` (feature `tokio`) against
//! `tokio::io::duplex(212992)`, the same `block_on` writer and spawned reader task on a
//! two-worker runtime, run interleaved (each sample of one followed by an untimed run of the
//! other). Issue #14's target: the model >= 1.0x duplex.

mod common;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use procwire::model::MemStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 64 << 10;

fn two_threads<W: std::io::Write, R: std::io::Read + Send>(
    w: &mut W,
    r: &mut R,
    iters: u64,
) -> Duration {
    common::two_threads(w, r, CHUNK, iters)
}

fn model(c: &mut Criterion) {
    let mut group = c.benchmark_group("model_64k");
    group
        .throughput(Throughput::Bytes(CHUNK as u64))
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));

    group.bench_function("memstream", |b| {
        let (mut a, mut z) = MemStream::pair().unwrap();
        b.iter_custom(|iters| two_threads(&mut a, &mut z, iters));
    });

    group.bench_function("socketpair", |b| {
        let (mut a, mut z) = UnixStream::pair().unwrap();
        b.iter_custom(|iters| two_threads(&mut a, &mut z, iters));
    });

    group.bench_function("tokio_duplex", |b| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (mut a, mut z) = tokio::io::duplex(212_992);
                let total = iters as usize * CHUNK;
                let reader = tokio::spawn(async move {
                    let mut buf = vec![0u8; CHUNK];
                    let mut left = total;
                    while left > 0 {
                        let n = z.read(&mut buf[..CHUNK.min(left)]).await.unwrap();
                        assert!(n > 0, "unexpected EOF");
                        left -= n;
                    }
                });
                let data = vec![0x5au8; CHUNK];
                let start = Instant::now();
                for _ in 0..iters {
                    a.write_all(&data).await.unwrap();
                }
                reader.await.unwrap();
                start.elapsed()
            })
        });
    });
    group.finish();
}

#[cfg(feature = "tokio")]
fn model_async(c: &mut Criterion) {
    let rt = common::runtime();
    let mut group = c.benchmark_group("model_async_64k");
    group
        .throughput(Throughput::Bytes(CHUNK as u64))
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let model = MemStream::pair().unwrap();
    let duplex = tokio::io::duplex(212_992);
    let ids = ["memstream", "tokio_duplex"].map(criterion::BenchmarkId::from_parameter);
    common::interleaved_pair(&mut group, &rt, ids, model, duplex, CHUNK);
    group.finish();
}

#[cfg(not(feature = "tokio"))]
fn model_async(_: &mut Criterion) {}

criterion_group!(benches, model, model_async);
criterion_main!(benches);
