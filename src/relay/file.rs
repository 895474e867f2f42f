//! The file edges: a file to a wire ([`send_file`]) and a wire to a file ([`recv_file`]), by
//! [sendfile(2)], [splice(2)] or a buffered copy, run by the same engine and blocking driver as
//! a [`Bridge`](super::Bridge).
//!
//! [sendfile(2)]: https://man7.org/linux/man-pages/man2/sendfile.2.html
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::FileType;

use super::blocking::{DEFAULT_CHUNK, Moves, drive};
use super::engine::Engine;
use super::pool::{DEFAULT_PIPE_SIZE, PipePool};
use super::{End, Mode, Outcome, Path, Why};
use crate::sys;
use crate::sys::io::{Again, Target};
use crate::sys::splice::{sendfile_waiting, splice_when_ready};

/// How [`send_file`] and [`recv_file`] move bytes: which path, how much per call, and the
/// pool the splice path takes its pipe from when it needs one.
#[derive(Clone, Debug)]
pub struct FileOptions {
    path: Option<Path>,
    chunk: usize,
    pool: Option<PipePool>,
}

impl Default for FileOptions {
    /// The path chosen per pair, [`DEFAULT_CHUNK`] per call, a pipe of the call's own.
    fn default() -> FileOptions {
        FileOptions {
            path: None,
            chunk: DEFAULT_CHUNK,
            pool: None,
        }
    }
}

/// What one side of a file edge is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pipe,
    Socket,
    /// A regular file, a block device: what sendfile(2) can read.
    File,
    /// A tty, a character device, a directory...
    Other,
}

fn kind(fd: BorrowedFd<'_>) -> io::Result<Kind> {
    let st = rustix::fs::fstat(fd).map_err(|e| sys::hint(e.into(), "fstat of a file edge"))?;
    Ok(match FileType::from_raw_mode(st.st_mode) {
        FileType::Fifo => Kind::Pipe,
        FileType::Socket => Kind::Socket,
        FileType::RegularFile | FileType::BlockDevice => Kind::File,
        _ => Kind::Other,
    })
}

/// How the bytes go: one call source -> destination, or through a pipe of our own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Sendfile,
    /// splice(2) source -> destination, one of them a pipe.
    Splice,
    /// splice(2) source -> our pipe -> destination.
    ThroughPipe,
    Copy,
}

impl FileOptions {
    /// The defaults.
    pub fn new() -> FileOptions {
        FileOptions::default()
    }

    /// Takes exactly `path` (`None`, the default: the best for the pair, falling back to a
    /// copy when the kernel refuses before any byte moved). A path asked for is never swapped
    /// for another: the kernel's refusal (`EINVAL` for sendfile(2) from a socket, say) is the
    /// outcome's error, with nothing moved. Useful to measure each path.
    pub fn path(&mut self, path: Option<Path>) -> &mut FileOptions {
        self.path = path;
        self
    }

    /// At most `bytes` per system call (at least 1; default [`DEFAULT_CHUNK`]), so a call
    /// never asks for the whole file at once and the count advances in steps. The copy path
    /// allocates one buffer of this size.
    pub fn chunk(&mut self, bytes: usize) -> &mut FileOptions {
        self.chunk = bytes.max(1);
        self
    }

    /// Takes the pipe that socket <-> file splices need from `pool` (default: a pipe of the
    /// call's own, [`DEFAULT_PIPE_SIZE`] asked). An exhausted pool copies ([`Why::NoPipe`]).
    pub fn pool(&mut self, pool: PipePool) -> &mut FileOptions {
        self.pool = Some(pool);
        self
    }

    /// [`send_file`] with these options.
    pub fn send(&self, file: impl AsFd, dst: impl AsFd) -> Outcome {
        let (file, dst) = (file.as_fd(), dst.as_fd());
        let plan = kind(dst).map(|to| {
            let route = match (self.path, to) {
                (None, Kind::Pipe) | (Some(Path::Splice), Kind::Pipe) => Route::Splice,
                (None, _) | (Some(Path::Sendfile), _) => Route::Sendfile,
                (Some(Path::Splice), _) => Route::ThroughPipe,
                (Some(Path::Copy), _) => Route::Copy,
            };
            (route, to == Kind::Socket)
        });
        self.run(plan, file, dst)
    }

    /// [`recv_file`] with these options.
    pub fn recv(&self, src: impl AsFd, file: impl AsFd) -> Outcome {
        let (src, file) = (src.as_fd(), file.as_fd());
        let plan = kind(src).map(|from| {
            let route = match (self.path, from) {
                (None, Kind::Pipe) | (Some(Path::Splice), Kind::Pipe) => Route::Splice,
                (None, Kind::Socket) | (Some(Path::Splice), _) => Route::ThroughPipe,
                (None, _) | (Some(Path::Sendfile), _) => Route::Sendfile,
                (Some(Path::Copy), _) => Route::Copy,
            };
            (route, false)
        });
        self.run(plan, src, file)
    }

    fn run(
        &self,
        plan: io::Result<(Route, bool)>,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
    ) -> Outcome {
        let failed = |e: io::Error| Outcome {
            bytes: 0,
            path: Path::Copy,
            why: Why::Asked,
            end: End::Failed(e),
        };
        let (route, to_socket) = match plan {
            Ok(plan) => plan,
            Err(e) => return failed(e),
        };
        let dst_target = match Target::detect(dst) {
            Ok(t) => t,
            Err(e) => return failed(sys::hint(e, "fstat of a file edge")),
        };
        let mode = match self.path {
            None => Mode::Auto,
            Some(Path::Copy) => Mode::Copy,
            Some(_) => Mode::Splice,
        };
        let why = if self.path.is_some() {
            Why::Asked
        } else {
            Why::Auto
        };
        let chunk = self.chunk;
        let own;
        let pool = match &self.pool {
            Some(pool) => pool,
            None => {
                own = PipePool::new(DEFAULT_PIPE_SIZE, 1);
                &own
            }
        };
        let (engine, pipe) = match route {
            Route::Copy => (Engine::new(mode, Path::Copy, why, chunk, chunk), None),
            Route::Sendfile => (Engine::new(mode, Path::Sendfile, why, chunk, chunk), None),
            Route::Splice => (Engine::new(mode, Path::Splice, why, chunk, chunk), None),
            Route::ThroughPipe => match pool.take() {
                Ok(p) => {
                    let cap = p.size.min(chunk);
                    let e = Engine::new(mode, Path::Splice, why, cap, chunk).fall_back_on_drain();
                    (e, Some(p))
                }
                Err(no) if mode == Mode::Auto => (
                    Engine::new(mode, Path::Copy, Why::NoPipe(no), chunk, chunk),
                    None,
                ),
                Err(no) => {
                    let mut e = Engine::new(mode, Path::Splice, why, 1, 1);
                    e.fail(io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!("file edge by splice: {no}; take the default path or copy"),
                    ));
                    (e, None)
                }
            },
        };
        let mut moves = FileMoves {
            src,
            dst: dst_target,
            sendfile: route == Route::Sendfile,
        };
        // sendfile or a splice into a socket whose peer is gone raises SIGPIPE.
        let sigpipe = to_socket && route != Route::Copy;
        drive(engine, pipe, Some(pool), &mut moves, None, sigpipe)
    }
}

/// The moves of a file edge: each waits in poll(2) for its descriptors first.
struct FileMoves<'a> {
    src: BorrowedFd<'a>,
    dst: Target<'a>,
    /// The direct move is sendfile(2), not splice(2).
    sendfile: bool,
}

impl Moves for FileMoves<'_> {
    fn direct(&mut self, len: usize) -> io::Result<usize> {
        if self.sendfile {
            sendfile_waiting(self.src, self.dst.fd, len)
        } else {
            // One side is a pipe: the other is a file (never a long sleep holding its lock).
            Ok(splice_when_ready(self.src, self.dst.fd, len, false, None)?.unwrap_or(0))
        }
    }

    fn fill(&mut self, pipe: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        // Into our own empty pipe: waits for the source only.
        Ok(splice_when_ready(self.src, pipe, len, false, None)?.unwrap_or(0))
    }

    fn drain(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize> {
        Ok(splice_when_ready(pipe, self.dst.fd, len, more, None)?.unwrap_or(0))
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::io::read_retrying(self.src, buf, Again::Wait)
    }

    /// One write, so that a failure counts every byte before it exactly.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match sys::io::write(self.dst, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sys::poll::wait(self.dst.fd, rustix::event::PollFlags::OUT, None)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn source(&self) -> BorrowedFd<'_> {
        self.src
    }
}

/// Sends `file`, from its current offset to its end, to `dst` (a socket, a pipe, another
/// file), blocking until done or failed; the file's offset ends where the sending did.
///
/// The path, by `dst`: a pipe gets the file [splice(2)]d into it; anything else gets
/// [sendfile(2)] (the kernel's own zero-copy loop; since Linux 2.6.33 any destination). If
/// the kernel refuses before any byte moved (`EINVAL`: a tty, a file opened with `O_APPEND`,
/// a `file` that is not a regular file; `ENOSYS`), it copies with `read(2)` and `send(2)`
/// (`MSG_NOSIGNAL`) / `write(2)` instead and says so ([`Why::Refused`]). Each call moves at
/// most [`DEFAULT_CHUNK`] bytes; [`FileOptions`] changes that and can ask for a path
/// (including splice to a socket through a pipe, [`Path::Splice`]). A non-blocking `dst` is
/// waited on in [poll(2)]. The [`Outcome`] counts the bytes that reached `dst`, also when it
/// failed (a sendfile into a socket whose peer is gone is `BrokenPipe`, never `SIGPIPE`).
///
/// # Caveats
///
/// - **Page-cache aliasing.** sendfile and splice do not copy the file: the destination
///   (or a pipe on the way) refers to the file's page-cache pages until the bytes are
///   consumed. A file modified after the call can change bytes already counted as sent
///   (a socket's send queue or a pipe still holds references to those pages). Do not change
///   a file while it is being sent, or copy ([`Path::Copy`]) if you cannot promise that;
///   systemd stopped splicing its file copies for this reason.
/// - **Offsets.** The file's own offset is used and advanced (as `read(2)` would); two
///   senders of the same open file description race for it.
/// - **Not a file.** sendfile(2) reads only what supports mmap-like reads: a pipe or a socket
///   as `file` is `EINVAL` (and then copied in the default mode).
/// - **Locks.** A splice into `dst` when it is a pipe can sleep on the file's disk I/O while
///   holding that pipe's lock; the other end of that pipe waits meanwhile.
///
/// [sendfile(2)]: https://man7.org/linux/man-pages/man2/sendfile.2.html
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
pub fn send_file(file: impl AsFd, dst: impl AsFd) -> Outcome {
    FileOptions::new().send(file, dst)
}

/// Receives everything `src` (a socket, a pipe, a file) sends, until its EOF, into `file` at
/// its current offset, blocking until done or failed; the file's offset ends after the last
/// byte written.
///
/// The path, by `src`: a pipe is [splice(2)]d straight into the file; a socket through a pipe
/// of our own (socket -> pipe, then pipe -> file: splice needs a pipe on one side), taken
/// from [`FileOptions::pool`] or made for the call; a file with [sendfile(2)]. If the kernel
/// refuses before any byte reached the file (`EINVAL`: a file opened with `O_APPEND`, a tty
/// source; `ENOSYS`), it copies instead and says so ([`Why::Refused`]); bytes already in our
/// pipe then go by the copy too. The [`Outcome`] counts the bytes written to `file`, also
/// when it failed.
///
/// # Caveats
///
/// - **Page-cache aliasing** (see [`send_file`]): spliced pages end up in the file's page
///   cache; bytes that came from another file's pages are copied there, not shared, so
///   the received file cannot change behind the caller's back.
/// - **Locks.** A splice from `src` when it is a pipe holds that pipe's lock during the
///   file's disk I/O; its writer waits meanwhile.
/// - **`O_APPEND`.** splice(2) into a file opened with `O_APPEND` is `EINVAL`: such a file
///   is always copied into (the first splice finds out).
///
/// [sendfile(2)]: https://man7.org/linux/man-pages/man2/sendfile.2.html
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
pub fn recv_file(src: impl AsFd, file: impl AsFd) -> Outcome {
    FileOptions::new().recv(src, file)
}
