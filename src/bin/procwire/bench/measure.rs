//! The measurements themselves: a writer here, a reader in a re-executed child process.
//!
//! Each run makes a fresh pair with procwire's `Builder` (creation is not timed), gives the
//! child its end as stdin and stdout, pins both processes, waits for the child's "ready" byte
//! and only then starts the clock. The procwire and raw modes run the very same loop; only the
//! call that moves bytes differs (`End`'s `Write` versus a bare `write(2)`).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use procwire::wire::{Builder, Capacity, End, EndFds, Kind};
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

/// One throughput run's outcome.
pub struct Throughput {
    pub bytes: u64,
    pub seconds: f64,
    pub granted: Capacity,
}

impl Throughput {
    pub fn gb_per_s(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e9
    }
}

/// What to run the peer as.
#[derive(Clone, Copy)]
pub enum Role {
    /// Read until EOF, then report the byte count.
    Sink,
    /// Echo each byte back until EOF.
    Echo,
}

/// The writer's side of the wire, in either mode.
enum Ours {
    Procwire(End),
    Raw {
        read: OwnedFd,
        write: Option<OwnedFd>,
        socket: bool,
    },
}

impl Ours {
    fn new(end: End, mode: Mode) -> Ours {
        match mode {
            Mode::Procwire => Ours::Procwire(end),
            Mode::Raw => {
                let socket = end.kind().is_socket();
                match end.into_fds() {
                    EndFds::Socket(fd) => {
                        let dup = rustix::io::fcntl_dupfd_cloexec(&fd, 0).expect("dup");
                        Ours::Raw {
                            read: fd,
                            write: Some(dup),
                            socket,
                        }
                    }
                    EndFds::Pipes { read, write } => Ours::Raw {
                        read: read.expect("fresh end"),
                        write,
                        socket,
                    },
                }
            }
        }
    }

    #[inline]
    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        match self {
            Ours::Procwire(end) => end.write_all(buf),
            Ours::Raw { write, .. } => {
                let fd = write.as_ref().expect("open").as_fd();
                while !buf.is_empty() {
                    match rustix::io::write(fd, buf) {
                        Ok(n) => buf = &buf[n..],
                        Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Ours::Procwire(end) => end.read_exact(buf),
            Ours::Raw { read, .. } => raw_read_exact(read.as_fd(), buf),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Ours::Procwire(end) => end.shutdown_write(),
            Ours::Raw { write, socket, .. } => {
                if *socket {
                    rustix::net::shutdown(
                        write.as_ref().expect("open"),
                        rustix::net::Shutdown::Write,
                    )?;
                }
                drop(write.take());
                Ok(())
            }
        }
    }
}

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

/// Where to find ourselves for the peer, and the CPUs to restore afterwards.
pub struct Runner {
    pub exe: PathBuf,
    pub cpus: Vec<usize>,
}

impl Runner {
    fn spawn_peer(
        &self,
        row: &Row,
        role: Role,
        mode: Mode,
        chunk: usize,
        cpu: usize,
    ) -> io::Result<(Child, End)> {
        let Subject::Wire { kind, capacity } = row.subject;
        let mut builder = Builder::new().kind(kind);
        if let Some(c) = capacity {
            builder = builder.capacity(c);
        }
        let (ours, theirs) = builder.build()?.into_ends();
        let (stdin, stdout): (OwnedFd, OwnedFd) = match theirs.into_fds() {
            EndFds::Socket(fd) => (rustix::io::fcntl_dupfd_cloexec(&fd, 0)?, fd),
            EndFds::Pipes { read, write } => (
                read.expect("fresh end has a read pipe"),
                write.expect("fresh end has a write pipe"),
            ),
        };
        let child = Command::new(&self.exe)
            .arg("bench-peer")
            .args([
                "--role",
                match role {
                    Role::Sink => "sink",
                    Role::Echo => "echo",
                },
            ])
            .args(["--mode", mode.name(), "--kind", kind.name()])
            .args(["--chunk", &chunk.to_string(), "--cpu", &cpu.to_string()])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("could not start the bench peer: {e}"))
            })?;
        Ok((child, ours))
    }

    /// Streams `chunk`-sized writes to a sink child for `budget` (after an untimed warm-up of
    /// a fifth of it); the clock stops when the child has counted every byte and said so.
    pub fn throughput(
        &self,
        row: &Row,
        chunk: usize,
        (w_cpu, r_cpu): (usize, usize),
        mode: Mode,
        budget: Budget,
    ) -> io::Result<Throughput> {
        pin(w_cpu)?;
        let (child, end) = self.spawn_peer(row, Role::Sink, mode, chunk, r_cpu)?;
        let granted = end.capacity()?;
        let mut ours = Ours::new(end, mode);
        let result = (|| {
            let mut ready = [0u8];
            ours.read_exact(&mut ready)?;
            let buf = vec![0xa5u8; chunk];
            let check_every = ((1usize << 20) / chunk).max(1);
            // The first fifth of the run warms caches, buffers and the scheduler up and is not
            // timed: the clock restarts once it is through.
            let (warm_time, warm_bytes) = match budget {
                Budget::Time(t) => (t / 5, u64::MAX),
                Budget::Bytes(b) => (Duration::MAX, b / 5),
            };
            let mut start = Instant::now();
            let mut sent = 0u64;
            let mut timed_from = None;
            loop {
                for _ in 0..check_every {
                    ours.write_all(&buf)?;
                }
                sent += (check_every * chunk) as u64;
                let now = Instant::now();
                let elapsed = now - start;
                match timed_from {
                    None if elapsed >= warm_time || sent >= warm_bytes => {
                        timed_from = Some(sent);
                        start = now;
                    }
                    Some(from) => {
                        let done = match budget {
                            Budget::Time(t) => elapsed >= t,
                            Budget::Bytes(b) => sent - from >= b,
                        };
                        if done {
                            break;
                        }
                    }
                    None => {}
                }
            }
            ours.shutdown_write()?;
            let mut count = [0u8; 8];
            ours.read_exact(&mut count)?;
            let seconds = start.elapsed().as_secs_f64();
            let counted = u64::from_le_bytes(count);
            if counted != sent {
                return Err(io::Error::other(format!(
                    "the bench peer counted {counted} bytes, {sent} were sent"
                )));
            }
            let sent = sent - timed_from.unwrap_or(0);
            Ok(Throughput {
                bytes: sent,
                seconds,
                granted,
            })
        })();
        drop(ours);
        finish(child, result)
    }

    /// 1-byte round trips to an echo child for `time`; returns each round trip in µs.
    pub fn latency(
        &self,
        row: &Row,
        (w_cpu, r_cpu): (usize, usize),
        mode: Mode,
        time: Duration,
    ) -> io::Result<Vec<f64>> {
        pin(w_cpu)?;
        let (child, end) = self.spawn_peer(row, Role::Echo, mode, 1, r_cpu)?;
        let mut ours = Ours::new(end, mode);
        let result = (|| {
            let mut byte = [0u8];
            ours.read_exact(&mut byte)?;
            let mut rtts = Vec::with_capacity(1 << 16);
            let start = Instant::now();
            while start.elapsed() < time && rtts.len() < 2_000_000 {
                let t0 = Instant::now();
                ours.write_all(&byte)?;
                ours.read_exact(&mut byte)?;
                rtts.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            ours.shutdown_write()?;
            Ok(rtts)
        })();
        drop(ours);
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

/// The child's side: runs as `procwire bench-peer`, with the wire as stdin and stdout.
pub fn peer(role: Role, mode: Mode, kind: Kind, chunk: usize, cpu: usize) -> io::Result<()> {
    pin(cpu)?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let (rfd, wfd) = (stdin.as_fd(), stdout.as_fd());
    match mode {
        Mode::Procwire => {
            let mut r = procwire::wire::ReadHalf::from_fd(kind, rfd.try_clone_to_owned()?);
            let mut w = procwire::wire::WriteHalf::from_fd(kind, wfd.try_clone_to_owned()?);
            w.write_all(&[1])?;
            match role {
                Role::Sink => {
                    let mut buf = vec![0u8; chunk];
                    let mut total = 0u64;
                    loop {
                        match r.read(&mut buf)? {
                            0 => break,
                            n => total += n as u64,
                        }
                    }
                    w.write_all(&total.to_le_bytes())
                }
                Role::Echo => {
                    let mut byte = [0u8];
                    while r.read(&mut byte)? == 1 {
                        w.write_all(&byte)?;
                    }
                    Ok(())
                }
            }
        }
        Mode::Raw => {
            let write_all = |mut buf: &[u8]| -> io::Result<()> {
                while !buf.is_empty() {
                    buf = &buf[rustix::io::write(wfd, buf)?..];
                }
                Ok(())
            };
            write_all(&[1])?;
            match role {
                Role::Sink => {
                    let mut buf = vec![0u8; chunk];
                    let mut total = 0u64;
                    loop {
                        match rustix::io::read(rfd, &mut buf)? {
                            0 => break,
                            n => total += n as u64,
                        }
                    }
                    write_all(&total.to_le_bytes())
                }
                Role::Echo => {
                    let mut byte = [0u8];
                    while rustix::io::read(rfd, &mut byte)? == 1 {
                        write_all(&byte)?;
                    }
                    Ok(())
                }
            }
        }
    }
}
