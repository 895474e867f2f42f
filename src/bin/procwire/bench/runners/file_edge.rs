//! The file-edge rows: `procwire::relay::send_file` (file -> wire) and `recv_file` (wire ->
//! file) over each wire kind, by each method (sendfile, splice, copy), between this (pinned)
//! thread and a second one pinned to the other CPU.
//!
//! The methods of one (direction, wire kind) take turns block by block in a rotating order
//! (a b c, c b a, b c a, ...), so drift weighs on each alike. A block is one call over a fresh
//! wire: `block` bytes of an in-memory file (`memfd_create`, page cache only, no disk) sent to
//! a reader that reads to EOF, or written by a writer into the wire and received into the
//! (truncated) file until EOF; it is timed from the call to the far side's last byte. A method
//! the kernel refuses for the pair is measured once, not timed, and reported with its error.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use procwire::relay::{FileOptions, Path};
use procwire::wire::Kind;

use crate::bench::affinity::pin;

/// Which way a file edge moves bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// `send_file`.
    FileToWire,
    /// `recv_file`.
    WireToFile,
}

impl Direction {
    /// `file->wire` or `wire->file`, the JSON names.
    pub fn name(self) -> &'static str {
        match self {
            Direction::FileToWire => "file->wire",
            Direction::WireToFile => "wire->file",
        }
    }
}

/// The methods, in the order of the JSON and the table.
pub const METHODS: [Path; 3] = [Path::Sendfile, Path::Splice, Path::Copy];

/// The wire kinds.
pub const KINDS: [Kind; 3] = [Kind::Pipes, Kind::SocketPair, Kind::Loopback];

/// The directions.
pub const DIRECTIONS: [Direction; 2] = [Direction::FileToWire, Direction::WireToFile];

/// The bytes per system call: the library's default chunk.
pub const CHUNK: usize = procwire::relay::DEFAULT_CHUNK;

/// Bytes per block: larger than any default pipe or socket buffer, small enough that a
/// quick run has several blocks per method.
const BLOCK: usize = 4 << 20;

/// One cell's figure from one run: GB/s over its timed blocks, or the kernel's refusal.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub direction: Direction,
    pub kind: Kind,
    pub method: Path,
    pub result: Result<f64, String>,
}

/// What the far-side thread does with one fresh wire end.
enum Job {
    /// Read to EOF, report the bytes.
    Drain(OwnedFd),
    /// Write `BLOCK` bytes, then close.
    Fill(OwnedFd),
}

/// One fresh one-way wire of `kind`: (read end, write end).
fn wire(kind: Kind, listener: &TcpListener) -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(match kind {
        Kind::Pipes => {
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from)?
        }
        Kind::SocketPair => {
            let (a, b) = std::os::unix::net::UnixStream::pair()?;
            (a.into(), b.into())
        }
        _ => {
            let w = TcpStream::connect(listener.local_addr()?)?;
            let r = listener.accept()?.0;
            w.set_nodelay(true)?;
            (r.into(), w.into())
        }
    })
}

/// The far side: drains or fills each wire end it is given, and says how many bytes moved.
fn far_side(cpu: usize, jobs: mpsc::Receiver<Job>, done: mpsc::Sender<io::Result<u64>>) {
    let _ = pin(cpu);
    let data = vec![0x5au8; CHUNK];
    let mut buf = vec![0u8; CHUNK];
    for job in jobs {
        let r = match job {
            Job::Drain(fd) => {
                let mut f = std::fs::File::from(fd);
                let mut n = 0u64;
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break Ok(n),
                        Ok(k) => n += k as u64,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                }
            }
            Job::Fill(fd) => {
                let mut f = std::fs::File::from(fd);
                (0..BLOCK / CHUNK)
                    .try_for_each(|_| f.write_all(&data))
                    .map(|()| BLOCK as u64)
            }
        };
        if done.send(r).is_err() {
            return;
        }
    }
}

/// An in-memory file of `BLOCK` bytes.
fn memfd() -> io::Result<std::fs::File> {
    let fd = rustix::fs::memfd_create("procwire-bench-file", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut f = std::fs::File::from(fd);
    let data = vec![0xa5u8; CHUNK];
    for _ in 0..BLOCK / CHUNK {
        f.write_all(&data)?;
    }
    Ok(f)
}

/// The file edges' state for one run: the far side, a file, and a listener for loopback.
struct Bench {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<io::Result<u64>>,
    file: std::fs::File,
    listener: TcpListener,
}

impl Bench {
    /// Moves one block; its seconds, or the error (the kernel's refusal, say).
    fn block(&mut self, direction: Direction, kind: Kind, method: Path) -> io::Result<f64> {
        let (r, w) = wire(kind, &self.listener)?;
        let mut options = FileOptions::new();
        options.path(Some(method)).chunk(CHUNK);
        let far = |bench: &Bench| {
            bench
                .done
                .recv()
                .map_err(|_| io::Error::other("the file-edge far side quit"))?
        };
        let t = Instant::now();
        let outcome = match direction {
            Direction::FileToWire => {
                rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Start(0))?;
                self.send(Job::Drain(r))?;
                let o = options.send(&self.file, &w);
                drop(w);
                let got = far(self)?;
                (o, got)
            }
            Direction::WireToFile => {
                rustix::fs::ftruncate(&self.file, 0)?;
                rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Start(0))?;
                self.send(Job::Fill(w))?;
                let o = options.recv(&r, &self.file);
                drop(r);
                let sent = far(self);
                (o, sent.unwrap_or(0))
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let (o, far_bytes) = outcome;
        if let Some(e) = o.error() {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        if o.bytes() != BLOCK as u64 || far_bytes != BLOCK as u64 || o.path() != method {
            return Err(io::Error::other(format!(
                "{} over {kind} by {method}: {o}, the far side moved {far_bytes} of {BLOCK}",
                direction.name()
            )));
        }
        Ok(secs)
    }

    fn send(&self, job: Job) -> io::Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| io::Error::other("the file-edge far side quit"))
    }
}

/// The order of the methods in round `i`: every rotation and its reverse, in turn.
fn order(i: usize) -> [usize; 3] {
    let r = i % 3;
    let fwd = [r, (r + 1) % 3, (r + 2) % 3];
    if (i / 3) % 2 == 0 {
        fwd
    } else {
        [fwd[2], fwd[1], fwd[0]]
    }
}

/// One run of every cell: `time` in all, split evenly over the (direction, kind) groups; the
/// calling thread pinned to `cpus.0`, the far side to `cpus.1`.
pub fn run(cpus: (usize, usize), time: Duration) -> io::Result<Vec<Sample>> {
    pin(cpus.0)?;
    let (jobs, jobs_rx) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let far_cpu = cpus.1;
    let far = thread::spawn(move || far_side(far_cpu, jobs_rx, done_tx));
    let mut bench = Bench {
        jobs,
        done,
        file: memfd()?,
        listener: TcpListener::bind("127.0.0.1:0")?,
    };
    let per_group = time / (DIRECTIONS.len() * KINDS.len()) as u32;
    let mut out = Vec::new();
    for direction in DIRECTIONS {
        for kind in KINDS {
            // A refused method is tried once and reported, not timed.
            let mut refused: [Option<String>; 3] = Default::default();
            for (m, &method) in METHODS.iter().enumerate() {
                if let Err(e) = bench.block(direction, kind, method) {
                    refused[m] = Some(e.to_string());
                }
            }
            let mut secs = [0f64; 3];
            let mut blocks = [0u64; 3];
            let start = Instant::now();
            let mut round = 0;
            while round < 2 || start.elapsed() < per_group {
                for m in order(round) {
                    if refused[m].is_some() {
                        continue;
                    }
                    secs[m] += bench.block(direction, kind, METHODS[m])?;
                    blocks[m] += 1;
                }
                round += 1;
            }
            for (m, &method) in METHODS.iter().enumerate() {
                let result = match refused[m].take() {
                    Some(e) => Err(e),
                    None => Ok((blocks[m] * BLOCK as u64) as f64 / secs[m] / 1e9),
                };
                out.push(Sample {
                    direction,
                    kind,
                    method,
                    result,
                });
            }
        }
    }
    drop(bench);
    far.join()
        .map_err(|_| io::Error::other("the file-edge far side panicked"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_rotates_and_reverses() {
        let orders: Vec<[usize; 3]> = (0..6).map(order).collect();
        assert_eq!(
            orders,
            [
                [0, 1, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0],
                [0, 2, 1],
                [1, 0, 2]
            ]
        );
        // Over six rounds each method holds each position twice.
        for m in 0..3 {
            for pos in 0..3 {
                assert_eq!(orders.iter().filter(|o| o[pos] == m).count(), 2);
            }
        }
    }

    #[test]
    fn a_short_run_measures_every_cell_and_names_the_refusals() {
        let samples = run((0, 0), Duration::from_millis(60)).unwrap();
        assert_eq!(samples.len(), 18);
        for s in &samples {
            match (&s.result, s.direction, s.method) {
                // sendfile(2) reads only files: from a wire it is EINVAL.
                (Err(e), Direction::WireToFile, Path::Sendfile) => {
                    assert!(e.contains("Invalid argument"), "{e}")
                }
                (Ok(gb_s), _, _) => assert!(*gb_s > 0.0, "{s:?}"),
                (Err(e), ..) => panic!("{s:?}: {e}"),
            }
        }
    }
}
