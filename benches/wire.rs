//! Throughput of each wire kind between two threads, at 4 KiB, 64 KiB and 1 MiB chunks.
//!
//! `cargo bench --bench wire`. One writer thread, one reader thread, split halves; the reader
//! drains exactly what the sample wrote, so each sample's time covers delivery, not just the
//! writes. For cross-process figures with CPU placement and raw-loop ceilings, use
//! `procwire bench`.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

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
                let data = vec![0x5au8; chunk];
                b.iter_custom(|iters| {
                    let total = iters as usize * chunk;
                    thread::scope(|s| {
                        // The reader is started (and waiting) before the clock runs.
                        let (go, ready) = std::sync::mpsc::channel();
                        let zr = &mut zr;
                        let r = s.spawn(move || {
                            let mut buf = vec![0u8; chunk];
                            let mut left = total;
                            go.send(()).unwrap();
                            while left > 0 {
                                let n = zr.read(&mut buf[..chunk.min(left)]).unwrap();
                                assert!(n > 0, "unexpected EOF");
                                left -= n;
                            }
                        });
                        ready.recv().unwrap();
                        let start = Instant::now();
                        for _ in 0..iters {
                            aw.write_all(&data).unwrap();
                        }
                        r.join().unwrap();
                        start.elapsed()
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
