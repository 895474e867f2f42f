//! Moving bytes from one descriptor to another: [splice(2)] where the kernel can, a buffered
//! copy where it cannot, and an outcome that says which it was, why, and how many bytes went
//! through whatever happened.
//!
//! Three drivers: [`relay()`], both directions between two stream sockets on one thread, each
//! spliced through a pipe of its own from a shared [`PipePool`] (or copied), with correct
//! half-close; its async twin [`tokio::Relay`] (feature `tokio`); and [`Bridge`], one
//! direction driven by a blocking loop (`procwire exec` bridges a child's wire to its own
//! stdin and stdout with it). All are thin drivers of one sans-IO engine per direction (no
//! descriptor, no thread, no clock) that decides when to fill, drain, fall back, shut and
//! stop, including the end-at-exit rule below. The system calls go through the crate's one
//! OS layer. The file edges [`send_file`] and [`recv_file`] move a file to or from a wire.
//!
//! # Why splice
//!
//! `splice(2)` moves data between a pipe and another descriptor inside the kernel: for a pipe
//! the bytes' pages are handed over by reference instead of being copied into a user buffer
//! and out again, and the whole move is one system call instead of a `read(2)` and a
//! `write(2)`. For bulk transfers through a pipe (a child's stdout on [`Topology::Pipes`], our
//! stdout when it is a pipe) that saves a copy per byte and half the system calls.
//!
//! # Drawbacks and performance cliffs
//!
//! - **One side must be a pipe.** Socket to socket cannot splice without an intermediate
//!   pipe: [`relay()`] and a [`Bridge`] with a [pool](Bridge::pool) splice through a pipe of
//!   their own (two calls per chunk); a plain [`Bridge`] copies then.
//! - **Out of a shared pipe only into a pipe.** Linux holds a pipe's lock for the whole of a
//!   `splice` call, and `SPLICE_F_NONBLOCK` does not make a *socket being written*
//!   non-blocking, so a splice from a pipe into a socket can block with the pipe's lock held
//!   and freeze, uninterruptibly, whoever uses the pipe's other end. So a pipe someone else
//!   holds is only ever spliced into another pipe, after waiting for readiness in [poll(2)];
//!   only the relay's own private pipes are spliced into sockets (see `sys::splice`).
//! - **The pipe's size caps each call.** A pipe holds 64 KiB by default; one whose size
//!   collapsed to a page (a user over `fs.pipe-user-pages-soft`) moves 4 KiB per call and
//!   splicing can then be slower than a copy with a large buffer.
//! - **Small transfers gain nothing.** A splice costs about what a `read` does; the saving is
//!   the copy, which matters only for large chunks.
//! - **Aliased pages.** Bytes spliced or sendfile'd from a file refer to its page cache: a file
//!   changed after the call can change bytes already "sent" (see [`send_file`]). Not a concern
//!   for the pipes and sockets of `exec` and [`relay()`].
//! - **Two calls per chunk through a pipe.** Socket to socket, or socket to file, a splice
//!   goes source -> pipe -> destination: two system calls per chunk where a copy makes two
//!   as well (`read`, `write`); the saving is the copy alone, so for small chunks or a pipe
//!   whose grant collapsed it can lose to a copy with a large buffer. `procwire bench`
//!   measures it on the machine at hand.
//! - **Small messages pay per hop, not per byte.** A relayed 1-byte message costs the relay a
//!   wait and a move: [`relay()`] makes poll(2), `read(2)`, `send(2)` (copy) or poll(2) and
//!   two splices, because after a short fill (fewer bytes than asked: the source is empty)
//!   the engine waits for the source instead of filling again into `EAGAIN`. The tokio
//!   driver still makes that `EAGAIN` fill: its readiness hint may only be cleared by a real
//!   `EAGAIN` (see `sys::tokio`). A relayed round trip also wakes twice as many processes as
//!   a direct one, so it stays above twice the direct latency.
//!
//! # When it copies
//!
//! - In [`Mode::Copy`], always ([`Why::Asked`]).
//! - When the destination is not a pipe and the [`Bridge`] has no pipe pool (or the
//!   destination is not a socket), from the start ([`Why::NotAPipe`]); when the pool has no
//!   pipe to give ([`Why::NoPipe`]).
//! - When the kernel refuses to splice this pair before any byte moved: `EINVAL` (a tty, a file
//!   opened with `O_APPEND`, an old kernel's AF_UNIX socket) or `ENOSYS` ([`Why::Refused`],
//!   with the kernel's error). The same refusal after bytes moved is an error: like std's
//!   `kernel_copy`, the relay falls back only while nothing has gone through, so a path never
//!   changes under bytes already moved. All of an outcome's bytes went by its [`Path`].
//!
//! # When it stops
//!
//! At the source's EOF ([`End::Eof`]); at the first error ([`End::Failed`], the bytes already
//! moved still counted); or, with [`Bridge::run_until_exit`], once the process that owns the
//! source has exited and the bytes queued at that moment ([FIONREAD]) have moved
//! ([`End::OwnerExited`]). The last rule is for a child whose descendant (an ssh
//! `ControlMaster`) inherited its stdout and keeps it open long after the child itself is
//! gone: waiting for EOF would wait for the descendant, and a descendant that keeps writing
//! could keep the relay busy for ever, so only what was queued at the exit is moved. The rule
//! is written once (the engine keeps the budget; one wait watches source and owner) and is
//! also what [`child::Reader::end_at_exit`](crate::child::Reader::end_at_exit) follows.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::fd::AsFd;
//! use procwire::relay::{Bridge, End, Fd, Path};
//!
//! let (from_r, mut from_w) = procwire::wire::pipe()?;
//! let (mut to_r, to_w) = procwire::wire::pipe()?;
//! from_w.write_all(b"hello")?;
//! drop(from_w);
//! let outcome = Bridge::new().run(&mut Fd::new(from_r.as_fd())?, &mut Fd::new(to_w.as_fd())?);
//! assert_eq!(outcome.path(), Path::Splice); // pipe to pipe
//! assert!(matches!(outcome.end(), End::Eof));
//! assert_eq!(outcome.into_result()?, 5);
//! drop(to_w);
//! let mut got = String::new();
//! to_r.read_to_string(&mut got)?;
//! assert_eq!(got, "hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
//! [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
//! [`Topology::Pipes`]: crate::child::Topology::Pipes

use std::fmt;
use std::io;

mod blocking;
mod child;
mod duplex;
mod engine;
mod file;
pub(crate) mod owner;
mod pool;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use blocking::{Bridge, DEFAULT_CHUNK, Fd, Sink, Source};
pub use duplex::{DEFAULT_BUFFER, Options, Report, relay};
pub use file::{FileOptions, recv_file, send_file};
pub use pool::{DEFAULT_MAX_PIPES, DEFAULT_PIPE_SIZE, Kernel, MakePipe, NoPipe, Pipe, PipePool};

/// Which path a relay takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Splice where the descriptors allow it, else copy (see the
    /// [module docs](self#when-it-copies)).
    #[default]
    Auto,
    /// Splice or fail: a pair that cannot splice is an error ([`io::ErrorKind::InvalidInput`]).
    Splice,
    /// Always copy through a buffer.
    Copy,
}

/// The path the bytes took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// [splice(2)] into a pipe, without a copy through user space.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    Splice,
    /// `read(2)` into a buffer and `write(2)` out of it.
    Copy,
    /// [sendfile(2)] from a file ([`send_file`], [`recv_file`] from a file): the kernel moves
    /// the file's pages itself, one call per chunk.
    ///
    /// [sendfile(2)]: https://man7.org/linux/man-pages/man2/sendfile.2.html
    Sendfile,
}

impl Path {
    /// `"splice"`, `"copy"` or `"sendfile"`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Splice => "splice",
            Path::Copy => "copy",
            Path::Sendfile => "sendfile",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the relay took its [`Path`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Why {
    /// [`Mode::Auto`] and nothing stood in the way of splicing.
    Auto,
    /// The [`Mode`] asked for this path.
    Asked,
    /// The destination is not a pipe, and splices here only write into pipes (see the
    /// [module docs](self#drawbacks-and-performance-cliffs)).
    NotAPipe,
    /// The kernel refused to splice this pair before any byte moved (`EINVAL`, `ENOSYS`):
    /// its error.
    Refused(io::Error),
    /// The [`relay`]'s pipe pool gave no pipe for this direction: exhausted, a collapsed
    /// grant, or pipe creation failed.
    NoPipe(NoPipe),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Auto => f.write_str("splice works for this pair"),
            Why::Asked => f.write_str("asked for"),
            Why::NotAPipe => f.write_str("the destination is not a pipe"),
            Why::Refused(e) => write!(f, "the kernel refused to splice this pair ({e})"),
            Why::NoPipe(no) => write!(f, "no pipe to splice through ({no})"),
        }
    }
}

/// How a relay ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum End {
    /// The source reached EOF (in a [`relay()`], everything then reached the destination and
    /// its write side was shut).
    Eof,
    /// The source's owner exited and the bytes queued at that moment have moved (the source
    /// may still be open in a descendant).
    OwnerExited,
    /// A read, write, splice or wait failed.
    Failed(io::Error),
}

/// What a relay did: the bytes moved, the path and why, and how it ended. The byte count is
/// kept whatever the ending, so a failed relay still says how far it got.
#[derive(Debug)]
pub struct Outcome {
    bytes: u64,
    path: Path,
    why: Why,
    end: End,
}

impl Outcome {
    /// The bytes delivered to the destination. After a failed write on the copy path, the
    /// bytes of that last chunk are not counted (some of them may have reached it).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The path every counted byte took (the relay changes path only before the first byte).
    pub fn path(&self) -> Path {
        self.path
    }

    /// Why it took that path.
    pub fn why(&self) -> &Why {
        &self.why
    }

    /// How it ended.
    pub fn end(&self) -> &End {
        &self.end
    }

    /// The error, if it failed.
    pub fn error(&self) -> Option<&io::Error> {
        match &self.end {
            End::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The bytes moved, or the error (which then loses the count: read
    /// [`bytes`](Self::bytes) first if it matters).
    pub fn into_result(self) -> io::Result<u64> {
        match self.end {
            End::Failed(e) => Err(e),
            End::Eof | End::OwnerExited => Ok(self.bytes),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes by {} ({})", self.bytes, self.path, self.why)?;
        match &self.end {
            End::Eof => f.write_str(", to EOF"),
            End::OwnerExited => f.write_str(", until the source's owner exited"),
            End::Failed(e) => write!(f, ", then failed: {e}"),
        }
    }
}
