//! Spawn + one round trip + exit of `cat`: procwire's child on one socketpair with stderr
//! captured (side channel, drain thread), beside `std::process::Command` with three pipes
//! (stderr piped and read to its end after the wait), and procwire on two pipes.
//!
//! `cargo bench --bench child`. Issue target: procwire within 1.1x of std.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use procwire::child::{Command, Topology};
use procwire::stderr::Settings;

fn round_trip_procwire(topology: Topology) {
    let mut child = Command::new("cat")
        .topology(topology)
        .stderr(Settings::new().sink(std::io::sink()))
        .spawn()
        .unwrap();
    child.write_all(b"x").unwrap();
    let mut one = [0u8];
    child.read_exact(&mut one).unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success());
}

fn round_trip_std() {
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"x").unwrap();
    let mut one = [0u8];
    child.stdout.as_mut().unwrap().read_exact(&mut one).unwrap();
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    let mut err = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    assert!(status.success());
}

fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_round_trip_exit");
    group
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(60);
    group.bench_function("std_pipes", |b| b.iter(round_trip_std));
    group.bench_function("procwire_socketpair_stderr", |b| {
        b.iter(|| round_trip_procwire(Topology::SocketPair))
    });
    group.bench_function("procwire_pipes_stderr", |b| {
        b.iter(|| round_trip_procwire(Topology::Pipes))
    });
    group.finish();
}

criterion_group!(benches, spawn);
criterion_main!(benches);
