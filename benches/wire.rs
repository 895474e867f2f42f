//! Throughput of each wire kind between two threads, at 4 KiB, 64 KiB and 1 MiB chunks.
//!
//! `cargo bench --bench wire`. One writer thread, one reader thread, split halves; the reader
//! drains exactly what the sample wrote, so each sample's time covers delivery, not just the
//! writes. For cross-process figures with CPU placement and raw-loop ceilings, use
//! `procwire bench`.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use procwire::wire::{Builder, Kind};

const CHUNKS: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

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

criterion_group!(benches, throughput);
criterion_main!(benches);
