//! Spawn + one round trip + exit of `cat`: procwire's child on one socketpair with stderr
//! captured (side channel, drain thread), beside `std::process::Command` with three pipes
//! (stderr piped and read to its end after the wait), and procwire on two pipes.
//!
//! `cargo bench --bench child`. Issue target: procwire within 1.1x of std.
//!
//! The async group (feature `tokio`): `Command::spawn_async` on one socketpair with stderr
//! captured (a drain task), one round trip, `wait().await` on the pidfd, beside
//! `tokio::process::Command` with three pipes (stderr read to its end after the wait), both on
//! one `current_thread` runtime. Issue target: procwire within 1.1x of tokio::process.

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

#[cfg(feature = "tokio")]
async fn round_trip_procwire_async(topology: Topology) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut child = Command::new("cat")
        .topology(topology)
        .stderr(Settings::new().sink(std::io::sink()))
        .spawn_async()
        .unwrap();
    child.write_all(b"x").await.unwrap();
    let mut one = [0u8];
    child.read_exact(&mut one).await.unwrap();
    let exit = child.wait().await.unwrap();
    assert!(exit.success());
}

#[cfg(feature = "tokio")]
async fn round_trip_tokio_process() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut child = tokio::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"x").await.unwrap();
    let mut one = [0u8];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut one)
        .await
        .unwrap();
    drop(child.stdin.take());
    let status = child.wait().await.unwrap();
    let mut err = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut err)
        .await
        .unwrap();
    assert!(status.success());
}

#[cfg(feature = "tokio")]
fn spawn_async(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("spawn_round_trip_exit_async");
    group
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(60);
    group.bench_function("tokio_process_pipes", |b| {
        b.iter(|| rt.block_on(round_trip_tokio_process()))
    });
    group.bench_function("procwire_async_socketpair_stderr", |b| {
        b.iter(|| rt.block_on(round_trip_procwire_async(Topology::SocketPair)))
    });
    group.bench_function("procwire_async_pipes_stderr", |b| {
        b.iter(|| rt.block_on(round_trip_procwire_async(Topology::Pipes)))
    });
    group.finish();
}

#[cfg(not(feature = "tokio"))]
fn spawn_async(_c: &mut Criterion) {}

criterion_group!(benches, spawn, spawn_async);
criterion_main!(benches);
