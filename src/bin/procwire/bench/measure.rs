//! The measurements themselves: a writer here, a reader in a re-executed child process.
//!
//! Each run makes a fresh pair with procwire's `Builder` (creation is not timed), gives the
//! child its end as stdin and stdout, pins both processes, and waits for the child's "ready"
//! byte before any clock starts. Within one run, blocks of procwire's loop (`End`'s `Read` and
//! `Write`, `ReadHalf`/`WriteHalf` in the child) alternate with blocks of the raw loop (bare
//! `read(2)`/`write(2)` on the same descriptors) on both sides, in ABBA BAAB order: both loops meet
//! the same scheduler state, caches and neighbours, so their ratio stays steady even where the
//! absolute figures of a 2-core machine swing from one run to the next.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use procwire::wire::{Builder, Capacity, End, EndFds, Kind, ReadHalf, WriteHalf};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

use super::plan::{Budget, Mode, Row, Subject};

/// The CPUs this process may run on, ascending.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(None)?;
    Ok((0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect())
}

/// Pins the calling thread to `cpu` ([sched_setaffinity(2)]).
///
/// [sched_setaffinity(2)]: https://man7.org/linux/man-pages/man2/sched_setaffinity.2.html
pub fn pin(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    Ok(sched_setaffinity(None, &set)?)
}

/// Restores the calling thread's affinity to every CPU in `cpus`.
pub fn unpin(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    Ok(sched_setaffinity(None, &set)?)
}

/// One throughput run's outcome: both loops, measured in the same pair of processes.
pub struct Throughput {
    pub procwire_gb_s: f64,
    pub raw_gb_s: f64,
    /// Procwire's rate over raw's in each adjacent block pair (one procwire block, one raw
    /// block, moved back to back): see [`Blocks`].
    pub pairs: Vec<f64>,
    pub granted: Capacity,
}

/// One latency run's outcome: round trips in µs, per loop.
pub struct RoundTrips {
    pub procwire_us: Vec<f64>,
    pub raw_us: Vec<f64>,
}

/// What to run the peer as.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Role {
    /// Read until EOF, then report the byte count.
    Sink,
    /// Echo each byte back until EOF.
    Echo,
}

/// How many timed blocks a throughput run has (a multiple of 8: whole ABBA BAAB groups).
pub const TIMED_BLOCKS: u64 = 64;
/// Untimed blocks before them, in the same alternation: whatever the kernel still does for the
/// previous run (reaping its child, freeing its buffers) lands here, not on the first timed
/// block, which would always be procwire's.
pub const SETTLE_BLOCKS: u64 = 8;
/// Round trips per latency block.
pub const ROUND_TRIPS_PER_BLOCK: u64 = 64;

/// The loop that moves block `i`: procwire, raw, raw, procwire, then raw, procwire, procwire,
/// raw (ABBA BAAB), and again. Within every eight blocks each loop holds each position once on
/// average, so neither a drift during the run nor the first and last blocks favour one.
/// Writer and reader follow the same sequence.
pub fn block_mode(i: u64) -> Mode {
    let abba = matches!(i % 4, 0 | 3);
    let flipped = (i / 4) % 2 == 1;
    if abba != flipped {
        Mode::Procwire
    } else {
        Mode::Raw
    }
}

/// `write(2)` until all of `buf` is written: the raw loop.
#[inline]
pub fn raw_write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `read(2)` until `buf` is full: the raw loop.
#[inline]
pub fn raw_read_exact(fd: BorrowedFd<'_>, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes `total` bytes (a multiple of `buf.len()`) with the loop of `mode`.
fn write_block(end: &End, mode: Mode, buf: &[u8], total: u64) -> io::Result<()> {
    let chunks = total / buf.len() as u64;
    match mode {
        Mode::Procwire => {
            let mut w = end;
            for _ in 0..chunks {
                w.write_all(buf)?;
            }
        }
        Mode::Raw => {
            let fd = end.write_fd().expect("the write side is open");
            for _ in 0..chunks {
                raw_write_all(fd, buf)?;
            }
        }
    }
    Ok(())
}

/// What the timed blocks of one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocks {
    /// Seconds spent in timed blocks, per mode (index by `Mode as usize`).
    pub secs: [f64; 2],
    /// Procwire's rate over raw's in each of the run's adjacent block pairs; the cell's ratio is
    /// the median over all pairs of all its runs.
    ///
    /// The schedule (ABBA BAAB) pairs every procwire block with a raw block moved right before
    /// or after it, with the same bytes on the same descriptors. A burst of host steal time or
    /// an interrupt storm lands on one or two blocks; in the totals (`secs`) it tilts the whole
    /// run towards whichever mode it hit, while the median over the pairs sets it aside. Both
    /// modes are treated alike, so a real per-call overhead shows in every pair and in this
    /// median too.
    pub pairs: Vec<f64>,
}

/// Runs the settling and timed blocks, `write(mode)` moving one block.
fn timed_blocks(mut write: impl FnMut(Mode) -> io::Result<()>) -> io::Result<Blocks> {
    let mut secs = [0f64; 2];
    let mut times = Vec::with_capacity(TIMED_BLOCKS as usize);
    for i in 0..SETTLE_BLOCKS + TIMED_BLOCKS {
        let mode = block_mode(i);
        let t = Instant::now();
        write(mode)?;
        if i >= SETTLE_BLOCKS {
            let took = t.elapsed().as_secs_f64();
            secs[mode as usize] += took;
            times.push((mode, took));
        }
    }
    Ok(Blocks {
        secs,
        pairs: pair_ratios(&times),
    })
}

/// Procwire's rate over raw's (raw's time over procwire's) in each consecutive pair of
/// equal-sized blocks `(mode, seconds)` that holds one block of each.
pub fn pair_ratios(times: &[(Mode, f64)]) -> Vec<f64> {
    times
        .chunks_exact(2)
        .filter_map(|pair| match pair {
            [(Mode::Procwire, p), (Mode::Raw, r)] | [(Mode::Raw, r), (Mode::Procwire, p)] => {
                Some(r / p)
            }
            _ => None,
        })
        .collect()
}

/// The median of [`pair_ratios`].
#[cfg(test)]
fn pair_ratio(times: &[(Mode, f64)]) -> f64 {
    super::stats::percentile(&pair_ratios(times), 50.0)
}

/// Round trips in blocks of [`ROUND_TRIPS_PER_BLOCK`] for about `time`, whole groups of eight
/// only (so both loops make as many), `round_trip(mode)` making one; each timed in µs.
fn ping_pong(
    time: Duration,
    mut round_trip: impl FnMut(Mode) -> io::Result<()>,
) -> io::Result<RoundTrips> {
    let mut rtts = [Vec::with_capacity(1 << 16), Vec::with_capacity(1 << 16)];
    let start = Instant::now();
    let mut block = 0u64;
    while block % 8 != 0 || (start.elapsed() < time && block < 100_000) {
        let mode = block_mode(block);
        for _ in 0..ROUND_TRIPS_PER_BLOCK {
            let t0 = Instant::now();
            round_trip(mode)?;
            rtts[mode as usize].push(t0.elapsed().as_secs_f64() * 1e6);
        }
        block += 1;
    }
    let [procwire_us, raw_us] = rtts;
    Ok(RoundTrips {
        procwire_us,
        raw_us,
    })
}

fn round_up(n: u64, chunk: usize) -> u64 {
    let c = chunk as u64;
    n.max(1).div_ceil(c) * c
}

/// Where to find ourselves for the peer, and the CPUs we may use.
pub struct Runner {
    pub exe: PathBuf,
    pub cpus: Vec<usize>,
}

impl Runner {
    fn pair(kind: Kind, capacity: Option<usize>) -> io::Result<(End, End)> {
        let mut builder = Builder::new().kind(kind);
        if let Some(c) = capacity {
            builder = builder.capacity(c);
        }
        Ok(builder.build()?.into_ends())
    }

    fn spawn_peer(
        &self,
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
        Command::new(&self.exe)
            .arg("bench-peer")
            .args(["--kind", kind.name(), "--cpu", &cpu.to_string()])
            .args(args)
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("could not start the bench peer: {e}")))
    }

    /// Streams `chunk`-sized writes to a sink child: an untimed warm-up, [`SETTLE_BLOCKS`]
    /// untimed blocks, then [`TIMED_BLOCKS`] blocks alternating procwire's loop and the raw loop
    /// (ABBA BAAB), each block sized from the warm-up's rate so the timed part lasts about
    /// `budget`. The child reads
    /// each block with the matching loop and finally reports its byte count, which must match.
    pub fn throughput(
        &self,
        row: &Row,
        chunk: usize,
        (w_cpu, r_cpu): (usize, usize),
        budget: Budget,
    ) -> io::Result<Throughput> {
        pin(w_cpu)?;
        let (kind, capacity) = match row.subject {
            Subject::Wire { kind, capacity } => (kind, capacity),
            Subject::Model { capacity } => {
                return threads::throughput(capacity, chunk, r_cpu, budget);
            }
        };
        let (ours, theirs) = Self::pair(kind, capacity)?;
        let granted = ours.capacity()?;
        // Long enough to fill both directions' buffers several times over.
        let warm = round_up(
            (4u64 << 20).max(4 * (granted.send + granted.recv) as u64),
            chunk,
        );
        let args = [
            "--role".to_string(),
            "sink".to_string(),
            "--chunk".to_string(),
            chunk.to_string(),
            "--warm".to_string(),
            warm.to_string(),
        ];
        let child = self.spawn_peer(kind, theirs, &args, r_cpu)?;
        let result = (|| {
            let mut byte = [0u8];
            (&ours).read_exact(&mut byte)?;
            let buf = vec![0xa5u8; chunk];
            let t = Instant::now();
            write_block(&ours, Mode::Procwire, &buf, warm)?;
            let warm_rate = warm as f64 / t.elapsed().as_secs_f64();
            let timed = match budget {
                Budget::Time(t) => (warm_rate * t.as_secs_f64()) as u64,
                Budget::Bytes(b) => b,
            };
            let block = round_up(timed / TIMED_BLOCKS, chunk);
            (&ours).write_all(&block.to_le_bytes())?;
            let blocks = timed_blocks(|mode| write_block(&ours, mode, &buf, block))?;
            let mut ours = ours;
            ours.shutdown_write()?;
            let mut count = [0u8; 8];
            ours.read_exact(&mut count)?;
            let sent = warm + 8 + block * (SETTLE_BLOCKS + TIMED_BLOCKS);
            let counted = u64::from_le_bytes(count);
            if counted != sent {
                return Err(io::Error::other(format!(
                    "the bench peer counted {counted} bytes, {sent} were sent"
                )));
            }
            let per_mode = (block * TIMED_BLOCKS / 2) as f64;
            Ok(Throughput {
                procwire_gb_s: per_mode / blocks.secs[Mode::Procwire as usize] / 1e9,
                raw_gb_s: per_mode / blocks.secs[Mode::Raw as usize] / 1e9,
                pairs: blocks.pairs,
                granted,
            })
        })();
        finish(child, result)
    }

    /// 1-byte round trips to an echo child for about `time`, in blocks of
    /// [`ROUND_TRIPS_PER_BLOCK`] alternating procwire's loop and the raw loop (ABBA BAAB).
    pub fn latency(
        &self,
        row: &Row,
        (w_cpu, r_cpu): (usize, usize),
        time: Duration,
    ) -> io::Result<RoundTrips> {
        pin(w_cpu)?;
        let (kind, capacity) = match row.subject {
            Subject::Wire { kind, capacity } => (kind, capacity),
            Subject::Model { capacity } => return threads::latency(capacity, r_cpu, time),
        };
        let (ours, theirs) = Self::pair(kind, capacity)?;
        let args = ["--role".to_string(), "echo".to_string()];
        let child = self.spawn_peer(kind, theirs, &args, r_cpu)?;
        let result = (|| {
            let rfd = ours.read_fd().expect("a fresh end reads");
            let wfd = ours.write_fd().expect("a fresh end writes");
            let mut byte = [0u8];
            (&ours).read_exact(&mut byte)?;
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
        })();
        finish(child, result)
    }

    /// Single-core `memcpy` bandwidth (GB/s) between two `chunk`-sized buffers on `cpu`.
    pub fn memcpy(&self, chunk: usize, cpu: usize, time: Duration) -> io::Result<f64> {
        pin(cpu)?;
        let src = vec![0x5au8; chunk];
        let mut dst = vec![0u8; chunk];
        let check_every = ((1usize << 20) / chunk).max(1);
        let start = Instant::now();
        let mut copied = 0u64;
        while start.elapsed() < time {
            for _ in 0..check_every {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&mut dst);
            }
            copied += (check_every * chunk) as u64;
        }
        Ok(copied as f64 / start.elapsed().as_secs_f64() / 1e9)
    }
}

/// The model row: procwire's in-memory socketpair between this thread and a second one, with a
/// kernel socketpair between the same two threads as its "raw" figure, in interleaved blocks.
mod threads {
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use procwire::model::MemStream;
    use procwire::wire::Capacity;

    use super::{
        Budget, Mode, ROUND_TRIPS_PER_BLOCK, RoundTrips, SETTLE_BLOCKS, TIMED_BLOCKS, Throughput,
        block_mode, pin, ping_pong, round_up, timed_blocks,
    };

    fn read_exactly(mut r: impl Read, buf: &mut [u8], mut n: u64) -> io::Result<()> {
        while n > 0 {
            let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            match r.read(&mut buf[..want])? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                k => n -= k as u64,
            }
        }
        Ok(())
    }

    fn write_chunks(mut w: impl Write, buf: &[u8], total: u64) -> io::Result<()> {
        for _ in 0..total / buf.len() as u64 {
            w.write_all(buf)?;
        }
        Ok(())
    }

    /// The calling thread (already pinned) writes; a thread pinned to `r_cpu` reads.
    pub fn throughput(
        capacity: usize,
        chunk: usize,
        r_cpu: usize,
        budget: Budget,
    ) -> io::Result<Throughput> {
        let (ma, mb) = MemStream::pair_with_capacity(capacity)?;
        let (ka, kb) = UnixStream::pair()?;
        let warm = round_up((4u64 << 20).max(8 * capacity as u64), chunk);
        let (tell, told) = mpsc::channel::<u64>();
        thread::scope(|s| {
            let reader = s.spawn(move || -> io::Result<()> {
                pin(r_cpu)?;
                let mut buf = vec![0u8; chunk];
                read_exactly(&mb, &mut buf, warm)?;
                read_exactly(&kb, &mut buf, warm)?;
                let block = told.recv().map_err(io::Error::other)?;
                for i in 0..SETTLE_BLOCKS + TIMED_BLOCKS {
                    match block_mode(i) {
                        Mode::Procwire => read_exactly(&mb, &mut buf, block)?,
                        Mode::Raw => read_exactly(&kb, &mut buf, block)?,
                    }
                }
                Ok(())
            });
            let buf = vec![0xa5u8; chunk];
            let t = Instant::now();
            write_chunks(&ma, &buf, warm)?;
            let warm_rate = warm as f64 / t.elapsed().as_secs_f64();
            write_chunks(&ka, &buf, warm)?;
            let timed = match budget {
                Budget::Time(t) => (warm_rate * t.as_secs_f64()) as u64,
                Budget::Bytes(b) => b,
            };
            let block = round_up(timed / TIMED_BLOCKS, chunk);
            tell.send(block).map_err(io::Error::other)?;
            let blocks = timed_blocks(|mode| match mode {
                Mode::Procwire => write_chunks(&ma, &buf, block),
                Mode::Raw => write_chunks(&ka, &buf, block),
            })?;
            reader
                .join()
                .map_err(|_| io::Error::other("the model's reader thread panicked"))??;
            let per_mode = (block * TIMED_BLOCKS / 2) as f64;
            Ok(Throughput {
                procwire_gb_s: per_mode / blocks.secs[Mode::Procwire as usize] / 1e9,
                raw_gb_s: per_mode / blocks.secs[Mode::Raw as usize] / 1e9,
                pairs: blocks.pairs,
                // The model counts payload bytes only: its capacity is its payload.
                granted: Capacity {
                    send: capacity,
                    recv: capacity,
                    asked: Some(capacity),
                    send_payload: capacity,
                    recv_payload: capacity,
                },
            })
        })
    }

    /// 1-byte round trips from the calling thread to an echo thread pinned to `r_cpu`, in
    /// blocks alternating the model and the kernel socketpair.
    pub fn latency(capacity: usize, r_cpu: usize, time: Duration) -> io::Result<RoundTrips> {
        let (ma, mb) = MemStream::pair_with_capacity(capacity)?;
        let (ka, kb) = UnixStream::pair()?;
        thread::scope(|s| {
            let echo = s.spawn(move || -> io::Result<()> {
                pin(r_cpu)?;
                let mut byte = [0u8];
                for block in 0u64.. {
                    for _ in 0..ROUND_TRIPS_PER_BLOCK {
                        let got = match block_mode(block) {
                            Mode::Procwire => (&mb).read(&mut byte)?,
                            Mode::Raw => (&kb).read(&mut byte)?,
                        };
                        if got == 0 {
                            return Ok(());
                        }
                        match block_mode(block) {
                            Mode::Procwire => (&mb).write_all(&byte)?,
                            Mode::Raw => (&kb).write_all(&byte)?,
                        }
                    }
                }
                Ok(())
            });
            let mut byte = [0u8];
            let rtts = ping_pong(time, |mode| match mode {
                Mode::Procwire => {
                    (&ma).write_all(&byte)?;
                    (&ma).read_exact(&mut byte)
                }
                Mode::Raw => {
                    (&ka).write_all(&byte)?;
                    (&ka).read_exact(&mut byte)
                }
            })?;
            // The echo thread reads EOF from whichever stream comes next.
            drop((ma, ka));
            echo.join()
                .map_err(|_| io::Error::other("the model's echo thread panicked"))??;
            Ok(rtts)
        })
    }
}

/// Reaps the child and reports the first failure: the measurement's, or the child's.
fn finish<T>(mut child: Child, result: io::Result<T>) -> io::Result<T> {
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

/// The child's side: runs as `procwire bench-peer`, with the wire as stdin and stdout, and
/// follows the writer's block sequence ([`block_mode`]) to pick its loop for every byte.
pub fn peer(role: Role, kind: Kind, chunk: usize, warm: u64, cpu: usize) -> io::Result<()> {
    pin(cpu)?;
    let (stdin, stdout) = (io::stdin(), io::stdout());
    let (rfd, wfd) = (stdin.as_fd(), stdout.as_fd());
    let mut r = ReadHalf::from_fd(kind, rfd.try_clone_to_owned()?);
    let mut w = WriteHalf::from_fd(kind, wfd.try_clone_to_owned()?);
    w.write_all(&[1])?;
    match role {
        Role::Sink => {
            let mut buf = vec![0u8; chunk];
            // Reads up to `left` bytes with the loop of `mode`; 0 means EOF.
            let mut read = |r: &mut ReadHalf, mode: Mode, left: u64| -> io::Result<usize> {
                let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match mode {
                    Mode::Procwire => r.read(&mut buf[..n]),
                    Mode::Raw => Ok(rustix::io::read(rfd, &mut buf[..n])?),
                }
            };
            let mut left = warm;
            while left > 0 {
                match read(&mut r, Mode::Procwire, left)? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => left -= n as u64,
                }
            }
            let mut header = [0u8; 8];
            r.read_exact(&mut header)?;
            let block = u64::from_le_bytes(header);
            let mut total = warm + 8;
            let mut i = 0u64;
            'blocks: loop {
                let mut left = block;
                while left > 0 {
                    match read(&mut r, block_mode(i), left)? {
                        0 if left == block => break 'blocks,
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => left -= n as u64,
                    }
                }
                total += block;
                i += 1;
            }
            w.write_all(&total.to_le_bytes())
        }
        Role::Echo => {
            let mut byte = [0u8];
            let mut count = 0u64;
            loop {
                let got = match block_mode(count / ROUND_TRIPS_PER_BLOCK) {
                    Mode::Procwire => {
                        let n = r.read(&mut byte)?;
                        if n == 1 {
                            w.write_all(&byte)?;
                        }
                        n
                    }
                    Mode::Raw => {
                        let n = rustix::io::read(rfd, &mut byte)?;
                        if n == 1 {
                            raw_write_all(wfd, &byte)?;
                        }
                        n
                    }
                };
                if got == 0 {
                    return Ok(());
                }
                count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_alternate_abba_baab() {
        let modes: Vec<Mode> = (0..8).map(block_mode).collect();
        use Mode::{Procwire as P, Raw as R};
        assert_eq!(modes, [P, R, R, P, R, P, P, R]);
        // Whole groups of eight: both loops move the same number of blocks.
        assert_eq!(TIMED_BLOCKS % 8, 0);
        let procwire = (0..TIMED_BLOCKS).filter(|&i| block_mode(i) == P).count();
        assert_eq!(procwire as u64 * 2, TIMED_BLOCKS);
    }

    #[test]
    fn timed_pairs_each_hold_one_block_of_each_loop() {
        // The pairs pair_ratio forms from the timed blocks (after the settling ones).
        assert_eq!(SETTLE_BLOCKS % 2, 0);
        for i in (SETTLE_BLOCKS..SETTLE_BLOCKS + TIMED_BLOCKS).step_by(2) {
            assert_ne!(block_mode(i), block_mode(i + 1), "pair at block {i}");
        }
    }

    #[test]
    fn pair_ratio_sets_a_disturbed_block_aside() {
        use Mode::{Procwire as P, Raw as R};
        // procwire 10% slower in every pair: 1/1.1.
        let even: Vec<(Mode, f64)> = (0..TIMED_BLOCKS)
            .map(|i| match block_mode(i) {
                P => (P, 1.1),
                R => (R, 1.0),
            })
            .collect();
        assert!((pair_ratio(&even) - 1.0 / 1.1).abs() < 1e-12);
        // The same with one raw block hit by a 40x stall: the totals would call procwire
        // faster (16 x 1.1 against 15 + 40), the pair median does not.
        let mut hit = even.clone();
        let at = hit.iter().position(|b| b.0 == R).unwrap();
        hit[at].1 = 40.0;
        assert!((pair_ratio(&hit) - 1.0 / 1.1).abs() < 1e-12);
        // Pairs of one loop only (never produced by the schedule) are ignored.
        assert!((pair_ratio(&[(P, 1.0), (P, 1.0), (R, 2.0), (P, 1.0)]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn blocks_are_whole_chunks() {
        assert_eq!(round_up(1, 4096), 4096);
        assert_eq!(round_up(4096, 4096), 4096);
        assert_eq!(round_up(4097, 4096), 8192);
        assert_eq!(round_up(0, 64), 64);
    }
}
