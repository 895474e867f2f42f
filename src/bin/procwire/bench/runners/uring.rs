//! io_uring rows: throughput and 1-byte round trips through `procwire::uring::Ring` beside
//! the plain `read(2)`/`write(2)` loop on the same descriptors, blocks interleaved ABBA BAAB
//! as in every other row (`bench::schedule`).
//!
//! The reader is a thread of this process pinned to its CPU, not a `bench-peer` child: the
//! two loops compared here share it, so the ratio is io_uring's against the plain loop with
//! everything else equal; the absolute figures sit beside the wire rows' for scale. Each side
//! has its own ring ("one ring per side"); a throughput block is written and read as batches
//! of [`DEPTH`] entries of [`CHUNK`] bytes, each batch one `io_uring_enter(2)`.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procwire::uring::{Ops, Ring};
use procwire::wire::{Builder, End, Kind};
use serde::Serialize;

use crate::bench::affinity::pin;
use crate::bench::aggregate::latency_of;
use crate::bench::loops::{raw_read_exact, raw_write_all};
use crate::bench::plan::{Budget, Mode, Placement};
use crate::bench::protocol::{self, ACK};
use crate::bench::report::Latency;
use crate::bench::schedule::{
    ROUND_TRIPS_PER_BLOCK, RoundTrips, SETTLE_BLOCKS, TIMED_BLOCKS, block_mode, block_size,
    ping_pong, timed_blocks,
};
use crate::bench::stats::{Summary, percentile, ratio_noise};

/// Entries per batch (per `io_uring_enter`).
pub const DEPTH: usize = 8;
/// Bytes per entry, and per `write(2)`/`read(2)` of the plain loop.
pub const CHUNK: usize = 64 << 10;

/// Why `IORING_OP_SEND_ZC` has no row.
pub const SEND_ZC: &str = "IORING_OP_SEND_ZC: not meaningful on loopback or a socketpair (the \
kernel copies a looped packet into the receiver anyway, so zero-copy send saves nothing and \
adds a notification per send); not a loss";

/// The rows: opcode pair on a kind.
pub const ROWS: [(Kind, Ops); 4] = [
    (Kind::Pipes, Ops::ReadWrite),
    (Kind::SocketPair, Ops::ReadWrite),
    (Kind::SocketPair, Ops::RecvSend),
    (Kind::Loopback, Ops::RecvSend),
];

/// Budgets of the io_uring rows: (repeats, seconds per throughput run, per latency run).
pub fn budget(quick: bool, full: bool) -> (usize, f64, f64) {
    if quick {
        (2, 0.04, 0.03)
    } else if full {
        (5, 0.2, 0.1)
    } else {
        (3, 0.08, 0.04)
    }
}

/// The `uring` section of the JSON.
#[derive(Debug, Serialize)]
pub struct UringSection {
    /// Whether a ring could be made at all.
    pub available: bool,
    /// The refusal when not (`io_uring_setup` errno text).
    pub error: Option<String>,
    /// `/proc/sys/kernel/io_uring_disabled` (0 on, 1 for a group only, 2 off), if present.
    pub io_uring_disabled: Option<u32>,
    pub depth: usize,
    pub chunk: usize,
    /// Why there is no `SEND_ZC` row.
    pub send_zc: &'static str,
    pub rows: Vec<UringCell>,
}

/// One io_uring row on one placement.
#[derive(Debug, Serialize)]
pub struct UringCell {
    /// `pipes`, `socketpair` or `loopback`.
    pub kind: Kind,
    /// `read/write` or `recv/send`.
    pub ops: &'static str,
    pub placement: Placement,
    pub cpus: (usize, usize),
    /// io_uring's and the plain loop's GB/s over repeats.
    pub uring_gb_s: Option<Summary>,
    pub plain_gb_s: Option<Summary>,
    /// io_uring / plain: the median of the block-pair ratios (above 1: io_uring faster).
    pub ratio: Option<f64>,
    pub ratio_iqr: Option<(f64, f64)>,
    pub ratio_clear: Option<bool>,
    /// 1-byte round trips, µs.
    pub uring_us: Option<Latency>,
    pub plain_us: Option<Latency>,
    /// io_uring's median round trip over the plain loop's (below 1: io_uring faster).
    pub rtt_ratio: Option<f64>,
    /// Why the row has no figures (io_uring refused, or a run failed), with the errno text.
    pub error: Option<String>,
}

/// `/proc/sys/kernel/io_uring_disabled`, if the kernel has it.
fn disabled_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Runs every io_uring row: `repeats` rounds over rows and `placements`, each a throughput
/// run of about `run` and a latency run of about `latency`. A refusal of io_uring fills every
/// row with the reason and returns; a failing row keeps its error and the others run.
pub fn run_all(
    placements: &[(Placement, (usize, usize))],
    repeats: usize,
    run: Duration,
    latency: Duration,
    mut progress: impl FnMut(&str),
) -> UringSection {
    let io_uring_disabled = disabled_sysctl();
    let refused = Ring::new(1, 1).err().map(|e| {
        let sysctl = match io_uring_disabled {
            Some(n) if n > 0 => format!(" (/proc/sys/kernel/io_uring_disabled is {n})"),
            _ => String::new(),
        };
        format!("io_uring unavailable: {e}{sysctl}")
    });
    struct Acc {
        tp: Vec<(f64, f64)>,
        pairs: Vec<f64>,
        rtts: Vec<RoundTrips>,
        error: Option<String>,
    }
    let mut acc: Vec<Vec<Acc>> = ROWS
        .iter()
        .map(|_| {
            placements
                .iter()
                .map(|_| Acc {
                    tp: Vec::new(),
                    pairs: Vec::new(),
                    rtts: Vec::new(),
                    error: refused.clone(),
                })
                .collect()
        })
        .collect();
    if refused.is_none() {
        for repeat in 0..repeats {
            for (p, &(placement, cpus)) in placements.iter().enumerate() {
                for (r, &(kind, ops)) in ROWS.iter().enumerate() {
                    let a = &mut acc[r][p];
                    if a.error.is_some() {
                        continue;
                    }
                    progress(&format!(
                        "repeat {}/{repeats}: io_uring {} on {kind}, {}",
                        repeat + 1,
                        ops.name(),
                        placement.describe()
                    ));
                    let outcome = throughput(kind, ops, CHUNK, cpus, Budget::Time(run))
                        .and_then(|t| Ok((t, round_trips(kind, ops, cpus, latency)?)));
                    match outcome {
                        Ok(((u, p, pairs), rtts)) => {
                            a.tp.push((u, p));
                            a.pairs.extend(pairs);
                            a.rtts.push(rtts);
                        }
                        Err(e) => a.error = Some(format!("io_uring {} on {kind}: {e}", ops.name())),
                    }
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (r, &(kind, ops)) in ROWS.iter().enumerate() {
        for (p, &(placement, cpus)) in placements.iter().enumerate() {
            let a = &acc[r][p];
            let gb = |pick: fn(&(f64, f64)) -> f64| {
                Summary::of(&a.tp.iter().map(pick).collect::<Vec<_>>())
            };
            let lat = |pick: fn(&RoundTrips) -> &Vec<f64>| {
                latency_of(&a.rtts.iter().map(pick).collect::<Vec<_>>())
            };
            let noise = (!a.pairs.is_empty()).then(|| ratio_noise(&a.pairs));
            let (uring_us, plain_us) = (lat(|r| &r.procwire_us), lat(|r| &r.raw_us));
            rows.push(UringCell {
                kind,
                ops: ops.name(),
                placement,
                cpus,
                uring_gb_s: gb(|t| t.0),
                plain_gb_s: gb(|t| t.1),
                ratio: (!a.pairs.is_empty()).then(|| percentile(&a.pairs, 50.0)),
                ratio_iqr: noise.map(|n| n.0),
                ratio_clear: noise.map(|n| n.1),
                rtt_ratio: match (&uring_us, &plain_us) {
                    (Some(u), Some(p)) => Some(u.median / p.median),
                    _ => None,
                },
                uring_us,
                plain_us,
                error: a.error.clone(),
            });
        }
    }
    UringSection {
        available: refused.is_none(),
        error: refused,
        io_uring_disabled,
        depth: DEPTH,
        chunk: CHUNK,
        send_zc: SEND_ZC,
        rows,
    }
}

fn pair(kind: Kind) -> io::Result<(End, End)> {
    Ok(Builder::new().kind(kind).build()?.into_ends())
}

fn fds(end: &End) -> (BorrowedFd<'_>, BorrowedFd<'_>) {
    (
        end.read_fd().expect("a fresh end reads"),
        end.write_fd().expect("a fresh end writes"),
    )
}

/// `bytes` bytes with `read(2)`s of up to `buf.len()`.
fn plain_read(fd: BorrowedFd<'_>, buf: &mut [u8], bytes: u64) -> io::Result<()> {
    let mut left = bytes;
    while left > 0 {
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        raw_read_exact(fd, &mut buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// `bytes` (whole `buf`s) with `write(2)`.
fn plain_write(fd: BorrowedFd<'_>, buf: &[u8], bytes: u64) -> io::Result<()> {
    for _ in 0..bytes / buf.len() as u64 {
        raw_write_all(fd, buf)?;
    }
    Ok(())
}

/// Joins the reader; the first failure, the writer's or the reader's, wins.
fn finish<T>(
    reader: std::thread::JoinHandle<io::Result<()>>,
    result: io::Result<T>,
) -> io::Result<T> {
    let read = reader
        .join()
        .map_err(|_| io::Error::other("the io_uring reader thread panicked"))?;
    let value = result?;
    read?;
    Ok(value)
}

/// One throughput run: (io_uring GB/s, plain GB/s, block-pair ratios).
fn throughput(
    kind: Kind,
    ops: Ops,
    chunk: usize,
    (w_cpu, r_cpu): (usize, usize),
    budget: Budget,
) -> io::Result<(f64, f64, Vec<f64>)> {
    pin(w_cpu)?;
    let mut ring = Ring::new(DEPTH, chunk)?;
    let (ours, theirs) = pair(kind)?;
    let granted = ours.capacity()?;
    let (tx, rx) = mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || -> io::Result<()> {
        pin(r_cpu)?;
        let mut ring = Ring::new(DEPTH, chunk)?;
        let (rfd, wfd) = fds(&theirs);
        let mut buf = vec![0u8; chunk];
        let gone = |_| io::Error::from(io::ErrorKind::UnexpectedEof);
        plain_read(rfd, &mut buf, rx.recv().map_err(gone)?)?;
        raw_write_all(wfd, &[ACK])?;
        let block = rx.recv().map_err(gone)?;
        for i in 0..SETTLE_BLOCKS + TIMED_BLOCKS {
            match block_mode(i) {
                Mode::Procwire => ring.read(rfd, ops, block)?,
                Mode::Raw => plain_read(rfd, &mut buf, block)?,
            }
            raw_write_all(wfd, &[ACK])?;
        }
        Ok(())
    });
    let result = (|| {
        let (rfd, wfd) = fds(&ours);
        let buf = vec![0xa5u8; chunk];
        let warm = protocol::warm_bytes((granted.send + granted.recv) as u64, chunk);
        let _ = tx.send(warm);
        let t = Instant::now();
        plain_write(wfd, &buf, warm)?;
        protocol::await_ack(&ours)?;
        let block = block_size(budget, warm, t.elapsed().as_secs_f64(), chunk);
        let _ = tx.send(block);
        let blocks = timed_blocks(|mode| {
            match mode {
                Mode::Procwire => ring.write(wfd, ops, block)?,
                Mode::Raw => plain_write(wfd, &buf, block)?,
            }
            let mut ack = [0u8];
            raw_read_exact(rfd, &mut ack)
        })?;
        let (uring, plain) = blocks.rates(block);
        Ok((uring, plain, blocks.pairs))
    })();
    drop(ours);
    finish(reader, result)
}

/// One latency run: 1-byte round trips, io_uring's (write and read in one enter; the echo a
/// linked read and write) and the plain loop's, in alternating blocks.
fn round_trips(
    kind: Kind,
    ops: Ops,
    (w_cpu, r_cpu): (usize, usize),
    time: Duration,
) -> io::Result<RoundTrips> {
    pin(w_cpu)?;
    let mut ring = Ring::new(2, 1)?;
    let (ours, theirs) = pair(kind)?;
    let reader = std::thread::spawn(move || -> io::Result<()> {
        pin(r_cpu)?;
        let mut ring = Ring::new(2, 1)?;
        let (rfd, wfd) = fds(&theirs);
        let mut byte = [0u8];
        let mut count = 0u64;
        loop {
            let more = match block_mode(count / ROUND_TRIPS_PER_BLOCK) {
                Mode::Procwire => ring.echo(rfd, wfd, ops)?,
                Mode::Raw => match rustix::io::read(rfd, &mut byte)? {
                    0 => false,
                    _ => {
                        raw_write_all(wfd, &byte)?;
                        true
                    }
                },
            };
            if !more {
                return Ok(());
            }
            count += 1;
        }
    });
    let (rfd, wfd) = fds(&ours);
    let mut byte = [0u8];
    let result = ping_pong(time, |mode| match mode {
        Mode::Procwire => ring.round_trip(wfd, rfd, ops),
        Mode::Raw => {
            raw_write_all(wfd, &byte)?;
            raw_read_exact(rfd, &mut byte)
        }
    });
    let mut ours = ours;
    let shut = ours.shutdown_write();
    let rtts = finish(reader, result)?;
    shut?;
    Ok(rtts)
}
