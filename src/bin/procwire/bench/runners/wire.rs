//! Kernel wire rows: a writer here, a reader in a re-executed `procwire bench-peer` child,
//! talking the protocol of `bench::protocol`.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use procwire::wire::{Builder, End, EndFds, Kind};

use super::Throughput;
use crate::bench::loops::{raw_read_exact, raw_write_all, write_block};
use crate::bench::plan::{Budget, Mode};
use crate::bench::protocol;
use crate::bench::schedule::{Blocks, RoundTrips, block_size, ping_pong, timed_blocks};

pub(super) fn pair(kind: Kind, capacity: Option<usize>) -> io::Result<(End, End)> {
    let mut builder = Builder::new().kind(kind);
    if let Some(c) = capacity {
        builder = builder.capacity(c);
    }
    Ok(builder.build()?.into_ends())
}

/// Starts the peer on `theirs` (protocol step 1).
pub(super) fn spawn_peer(
    exe: &Path,
    kind: Kind,
    theirs: End,
    args: &[String],
    cpu: usize,
) -> io::Result<Child> {
    let (stdin, stdout): (OwnedFd, OwnedFd) = match theirs.into_fds() {
        EndFds::Socket(fd) => (rustix::io::fcntl_dupfd_cloexec(&fd, 0)?, fd),
        EndFds::Pipes { read, write } => (
            read.expect("fresh end has a read pipe"),
            write.expect("fresh end has a write pipe"),
        ),
    };
    Command::new(exe)
        .arg("bench-peer")
        .args(["--kind", kind.name(), "--cpu", &cpu.to_string()])
        .args(args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("could not start the bench peer: {e}")))
}

/// Streams `chunk`-sized writes to a sink child (protocol steps 2-7): a warm-up, settling
/// blocks, then timed blocks alternating procwire's loop and the raw loop, each block sized
/// from the warm-up's rate so the timed part lasts about `budget`, and timed until the peer
/// has read its last byte. The calling thread is already pinned.
pub fn throughput(
    exe: &Path,
    kind: Kind,
    capacity: Option<usize>,
    chunk: usize,
    r_cpu: usize,
    budget: Budget,
) -> io::Result<Throughput> {
    let (ours, theirs) = pair(kind, capacity)?;
    let granted = ours.capacity()?;
    let warm = protocol::warm_bytes((granted.send + granted.recv) as u64, chunk);
    let child = spawn_peer(exe, kind, theirs, &protocol::sink_args(chunk, warm), r_cpu)?;
    let result = drive_sink(ours, chunk, warm, budget, || Ok(())).map(|(blocks, block)| {
        let (procwire_gb_s, raw_gb_s) = blocks.rates(block);
        Throughput {
            procwire_gb_s,
            raw_gb_s,
            pairs: blocks.pairs,
            granted,
        }
    });
    finish(child, result)
}

/// The writer's side of a sink run on `ours` (protocol steps 2-7), with `chunk`-sized writes:
/// `warm` bytes of warm-up, then settling and timed blocks sized for `budget`. `mark` runs
/// right before the first settling block and right after the last timed block. Returns the
/// blocks' timings and the block size.
pub(super) fn drive_sink(
    ours: End,
    chunk: usize,
    warm: u64,
    budget: Budget,
    mut mark: impl FnMut() -> io::Result<()>,
) -> io::Result<(Blocks, u64)> {
    protocol::await_ready(&ours)?;
    let buf = vec![0xa5u8; chunk];
    let t = Instant::now();
    write_block(&ours, Mode::Procwire, &buf, warm)?;
    protocol::await_ack(&ours)?;
    let block = block_size(budget, warm, t.elapsed().as_secs_f64(), chunk);
    protocol::send_u64(&ours, block)?;
    mark()?;
    let blocks = timed_blocks(|mode| {
        write_block(&ours, mode, &buf, block)?;
        protocol::await_ack(&ours)
    })?;
    mark()?;
    let mut ours = ours;
    ours.shutdown_write()?;
    protocol::check_total(&ours, warm, block)?;
    Ok((blocks, block))
}

/// 1-byte round trips to an echo child for about `time` (protocol steps 2-4 of an echo).
pub fn latency(
    exe: &Path,
    kind: Kind,
    capacity: Option<usize>,
    r_cpu: usize,
    time: Duration,
) -> io::Result<RoundTrips> {
    let (ours, theirs) = pair(kind, capacity)?;
    let child = spawn_peer(exe, kind, theirs, &protocol::echo_args(), r_cpu)?;
    let result = drive_echo(ours, time);
    finish(child, result)
}

/// The writer's side of an echo run on `ours` (protocol steps 2-4 of an echo) for `time`.
pub(super) fn drive_echo(ours: End, time: Duration) -> io::Result<RoundTrips> {
    let rfd = ours.read_fd().expect("a fresh end reads");
    let wfd = ours.write_fd().expect("a fresh end writes");
    protocol::await_ready(&ours)?;
    let mut byte = [0u8];
    let rtts = ping_pong(time, |mode| match mode {
        Mode::Procwire => {
            (&ours).write_all(&byte)?;
            (&ours).read_exact(&mut byte)
        }
        Mode::Raw => {
            raw_write_all(wfd, &byte)?;
            raw_read_exact(rfd, &mut byte)
        }
    })?;
    let mut ours = ours;
    ours.shutdown_write()?;
    Ok(rtts)
}

/// Reaps the child and reports the first failure: the measurement's, or the child's.
pub(super) fn finish<T>(mut child: Child, result: io::Result<T>) -> io::Result<T> {
    if result.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let value = result?;
    if !status.success() {
        return Err(io::Error::other(format!("the bench peer failed: {status}")));
    }
    Ok(value)
}
