//! The blocking driver: runs the [core](super::core) on the calling thread, waiting in
//! [poll(2)] and moving bytes through the [`Source`] and [`Sink`] traits.
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::core::{Direction, Step, Wait};
use super::{Mode, Outcome, Path};
use crate::child;
use crate::sys;
use crate::sys::io::{Again, Target};
use crate::wire::Kind;

/// The most a [`Bridge`] moves per call by default: 256 KiB, four times a default pipe's
/// capacity, so a splice or a read is never cut short by the chunk on a default pipe.
pub const DEFAULT_CHUNK: usize = 256 << 10;

/// How often a watched relay asks whether the source's owner exited: after this long with
/// nothing to read, and at most this often while bytes flow.
const OWNER_TICK: Duration = Duration::from_millis(50);

/// Where a relay reads from: a descriptor with a blocking read and a splice into a [`Sink`].
///
/// Implemented by [`Fd`] (any descriptor) and by [`child::Reader`], whose reads and splices
/// count for the child's watchdogs.
pub trait Source: AsFd {
    /// One read of up to `buf.len()` bytes (0: EOF). Waits for data; `EINTR` is retried, and a
    /// non-blocking descriptor's `EAGAIN` is waited out in poll(2), not returned.
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Moves up to `len` bytes into `dst`, which [`Sink::is_pipe`] said is a pipe, without a
    /// copy through user space; waits until something moved (0: EOF). The default lets `dst`
    /// do it ([`Sink::splice_from_fd`]), so a sink with its own accounting sees the splice.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] (`EINVAL`) or `ENOSYS` when the kernel cannot splice
    /// this pair: the relay copies instead, if nothing has moved yet.
    fn splice_into(&mut self, dst: &mut dyn Sink, len: usize) -> io::Result<usize> {
        dst.splice_from_fd(self.as_fd(), len)
    }
}

/// Where a relay writes to: a blocking write-all, and a splice from a descriptor when the sink
/// is a pipe.
///
/// Implemented by [`Fd`] (any descriptor) and by [`child::Writer`], whose writes and splices
/// count for the child's watchdogs.
pub trait Sink {
    /// Writes all of `buf`, waiting as needed (`EINTR` retried, `EAGAIN` waited out in poll(2)).
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()>;

    /// Whether this sink is a pipe, the only kind of destination the relay splices into (see
    /// the [module docs](super#drawbacks-and-performance-cliffs)).
    fn is_pipe(&self) -> bool;

    /// The pipe itself, for a source that splices into it on its own account
    /// ([`Source::splice_into`]); `None` when the sink is not a pipe, or splices only through
    /// [`splice_from_fd`](Self::splice_from_fd) (it keeps accounts of its own).
    fn pipe_fd(&self) -> Option<BorrowedFd<'_>>;

    /// Moves up to `len` bytes from `src` into this sink, a pipe, with [splice(2)]; waits in
    /// poll(2) until something moved (0: `src` is at EOF) and never blocks inside `splice`.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize>;
}

/// Any descriptor as a [`Source`] or a [`Sink`]: our stdin, our stdout, a pipe, a socket.
///
/// Reads are `read(2)`; writes are `send(2)` with `MSG_NOSIGNAL` on a socket (a gone peer is
/// `EPIPE`, never `SIGPIPE`) and `write(2)` otherwise. The descriptor is used as it is: a
/// non-blocking one is waited on in poll(2) rather than switched to blocking, since its open
/// file description may be shared with other processes (upstream rsync hands its remote shell
/// a non-blocking stdout).
#[derive(Clone, Copy, Debug)]
pub struct Fd<'a> {
    target: Target<'a>,
    pipe: bool,
}

impl<'a> Fd<'a> {
    /// Wraps `fd`, asking [fstat(2)] once whether it is a socket or a pipe.
    ///
    /// # Errors
    ///
    /// The error of `fstat(2)` (a closed descriptor is `EBADF`).
    ///
    /// [fstat(2)]: https://man7.org/linux/man-pages/man2/fstat.2.html
    pub fn new(fd: BorrowedFd<'a>) -> io::Result<Fd<'a>> {
        let mode = rustix::fs::fstat(fd)
            .map_err(|e| sys::hint(e.into(), "fstat of a relay descriptor"))?
            .st_mode;
        let kind = rustix::fs::FileType::from_raw_mode(mode);
        Ok(Fd {
            target: Target {
                fd,
                socket: kind == rustix::fs::FileType::Socket,
            },
            pipe: kind == rustix::fs::FileType::Fifo,
        })
    }
}

impl AsFd for Fd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.target.fd
    }
}

impl Source for Fd<'_> {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::io::read_retrying(self.target.fd, buf, Again::Wait)
    }
}

impl Sink for Fd<'_> {
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()> {
        sys::io::write_all(self.target, buf, Again::Wait)
    }

    fn is_pipe(&self) -> bool {
        self.pipe
    }

    fn pipe_fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.then_some(self.target.fd)
    }

    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        Ok(sys::splice::splice_waiting(src, self.target.fd, len, None)?.unwrap_or(0))
    }
}

impl Source for child::Reader {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// [`child::Reader::splice_to`] into the sink's [`pipe_fd`](Sink::pipe_fd), so the
    /// splice counts for the child's watchdogs; into a sink that splices only on its own
    /// account (another child's [`child::Writer`]), that sink's accounts are kept instead.
    fn splice_into(&mut self, dst: &mut dyn Sink, len: usize) -> io::Result<usize> {
        match dst.pipe_fd() {
            Some(pipe) => self.splice_to(pipe, len),
            None => dst.splice_from_fd(self.as_fd(), len),
        }
    }
}

impl Sink for child::Writer {
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }

    /// On [`Topology::Pipes`](child::Topology::Pipes), until [`close`](child::Writer::close).
    fn is_pipe(&self) -> bool {
        self.kind() == Kind::Pipes && !self.is_closed()
    }

    /// `None`: the writer splices itself ([`child::Writer::splice_from`]), counted for the
    /// child's watchdogs.
    fn pipe_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        self.splice_from(src, len)
    }
}

/// A one-way relay on the calling thread: splice or copy from a [`Source`] to a [`Sink`]
/// until EOF, an error, or (with [`run_until_exit`](Self::run_until_exit)) the exit of the
/// source's owner. See the [module docs](super) for the paths and the stopping rules.
#[derive(Clone, Debug)]
pub struct Bridge {
    chunk: usize,
    mode: Mode,
}

impl Default for Bridge {
    /// [`DEFAULT_CHUNK`] and [`Mode::Auto`].
    fn default() -> Bridge {
        Bridge {
            chunk: DEFAULT_CHUNK,
            mode: Mode::Auto,
        }
    }
}

impl Bridge {
    /// [`DEFAULT_CHUNK`] and [`Mode::Auto`].
    pub fn new() -> Bridge {
        Bridge::default()
    }

    /// Moves at most `bytes` per call (at least 1). The copy path allocates one buffer of this
    /// size, once it is taken.
    pub fn chunk(&mut self, bytes: usize) -> &mut Bridge {
        self.chunk = bytes.max(1);
        self
    }

    /// Which path to take ([`Mode`]).
    pub fn mode(&mut self, mode: Mode) -> &mut Bridge {
        self.mode = mode;
        self
    }

    /// Relays until `src` reaches EOF or something fails.
    pub fn run(&self, src: &mut dyn Source, dst: &mut dyn Sink) -> Outcome {
        self.drive(src, dst, None)
    }

    /// Relays until `src` reaches EOF, something fails, or `exited()` says the source's owner
    /// has exited and the bytes queued in `src` at that moment ([FIONREAD]) have moved.
    ///
    /// `exited` is asked every 50 ms while nothing is readable, and at most every 50 ms while
    /// bytes flow; it should not block (e.g. [`child::Handle::try_wait`]). The relay waits for
    /// `src` to be readable in [poll(2)] before each move, so a `src` that a descendant holds
    /// open and never writes to does not keep it waiting past the owner's exit, and one the
    /// descendant keeps writing to does not keep it busy.
    ///
    /// [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn run_until_exit(
        &self,
        src: &mut dyn Source,
        dst: &mut dyn Sink,
        mut exited: impl FnMut() -> bool,
    ) -> Outcome {
        self.drive(src, dst, Some(&mut exited))
    }

    fn drive(
        &self,
        src: &mut dyn Source,
        dst: &mut dyn Sink,
        mut exited: Option<&mut dyn FnMut() -> bool>,
    ) -> Outcome {
        let mut core = Direction::new(self.mode, self.chunk, exited.is_some(), dst.is_pipe());
        let mut buf = Vec::new();
        let mut asked = Instant::now();
        loop {
            match core.step() {
                Step::Done => return core.finish(),
                Step::Wait(wait) => {
                    let timeout = match wait {
                        Wait::Block => OWNER_TICK,
                        Wait::Look => Duration::ZERO,
                    };
                    match sys::poll::wait(src.as_fd(), PollFlags::IN, Some(timeout)) {
                        Ok(ready) => {
                            core.readable(ready);
                            // Nothing to read for a while, or a while since we last asked: is
                            // the owner still there?
                            if wait == Wait::Block && (!ready || asked.elapsed() >= OWNER_TICK) {
                                asked = Instant::now();
                                if exited.as_mut().is_some_and(|exited| exited()) {
                                    core.owner_exited(sys::io::queued(src.as_fd()));
                                }
                            }
                        }
                        Err(e) => core.failed(sys::hint(e, "poll(2) on the relay's source")),
                    }
                }
                Step::Move {
                    path: Path::Splice,
                    len,
                } => core.moved(src.splice_into(dst, len)),
                Step::Move {
                    path: Path::Copy,
                    len,
                } => {
                    if buf.len() < len {
                        buf.resize(len, 0);
                    }
                    let r = src.read_chunk(&mut buf[..len]).and_then(|n| {
                        dst.write_chunk(&buf[..n])?;
                        Ok(n)
                    });
                    core.moved(r);
                }
            }
        }
    }
}
