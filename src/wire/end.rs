//! One end of a duplex wire.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;

use rustix::net::Shutdown;

use super::Kind;
use super::capacity::{self, Asked, Capacity};
use super::half::{ReadHalf, WriteHalf};
use super::rw::{self, impl_read, impl_write};
use crate::sys::io::Target;

/// One end of a duplex wire: read what the peer wrote, write what the peer reads.
///
/// `Read` and `Write` are implemented for `End` and `&End` (like [`UnixStream`]), vectored forms
/// included. [`split`](End::split) gives owned halves for two threads.
///
/// An end of a pipes wire holds two descriptors, so `End` does not implement `AsFd`: use
/// [`read_fd`](End::read_fd) and [`write_fd`](End::write_fd) (for sockets both are the same
/// descriptor), or the halves, which do.
pub struct End {
    pub(super) kind: Kind,
    pub(super) fds: EndFds,
    pub(super) asked: Asked,
}

/// The descriptors behind an [`End`], as [`End::into_fds`] hands them over.
#[derive(Debug)]
pub enum EndFds {
    /// A socket ([`Kind::SocketPair`] or [`Kind::Loopback`]): one descriptor for both directions.
    Socket(OwnedFd),
    /// [`Kind::Pipes`]: the read end of the incoming pipe and the write end of the outgoing pipe.
    /// Either is `None` once that direction was shut down locally.
    Pipes {
        /// The read end of the pipe the peer writes into.
        read: Option<OwnedFd>,
        /// The write end of the pipe the peer reads from.
        write: Option<OwnedFd>,
    },
}

impl End {
    pub(super) fn socket(kind: Kind, fd: OwnedFd) -> End {
        End {
            kind,
            fds: EndFds::Socket(fd),
            asked: Asked::default(),
        }
    }

    pub(super) fn pipes(read: OwnedFd, write: OwnedFd) -> End {
        End {
            kind: Kind::Pipes,
            fds: EndFds::Pipes {
                read: Some(read),
                write: Some(write),
            },
            asked: Asked::default(),
        }
    }

    /// The kind of kernel object behind this end.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The descriptor this end reads from (`None` for pipes after [`shutdown_read`](Self::shutdown_read)).
    #[inline(always)]
    pub fn read_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.fds {
            EndFds::Socket(fd) => Some(fd.as_fd()),
            EndFds::Pipes { read, .. } => read.as_ref().map(|fd| fd.as_fd()),
        }
    }

    /// The descriptor this end writes to (`None` for pipes after [`shutdown_write`](Self::shutdown_write)).
    #[inline(always)]
    pub fn write_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.fds {
            EndFds::Socket(fd) => Some(fd.as_fd()),
            EndFds::Pipes { write, .. } => write.as_ref().map(|fd| fd.as_fd()),
        }
    }

    #[inline(always)]
    fn reader(&self) -> Option<BorrowedFd<'_>> {
        self.read_fd()
    }

    #[inline(always)]
    fn writer(&self) -> io::Result<Target<'_>> {
        let fd = self.write_fd().ok_or_else(rw::write_side_closed)?;
        Ok(Target {
            fd,
            socket: self.kind.is_socket(),
        })
    }

    /// Half-closes the outgoing direction: the peer reads what was already written, then EOF.
    ///
    /// Sockets: [shutdown(2)] with `SHUT_WR` (later writes here fail with `BrokenPipe`).
    /// Pipes: closes the write descriptor (later writes here fail with `BrokenPipe` too).
    /// Reading from this end keeps working. Calling it twice is harmless.
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match &mut self.fds {
            EndFds::Socket(fd) => crate::sys::io::shutdown(fd.as_fd(), Shutdown::Write),
            EndFds::Pipes { write, .. } => {
                drop(write.take());
                Ok(())
            }
        }
    }

    /// Half-closes the incoming direction: once the bytes already received are read (sockets)
    /// or at once (pipes), reads here return EOF (`Ok(0)`).
    ///
    /// Pipes: closes the read descriptor, which discards unread bytes and fails the peer's
    /// writes with `BrokenPipe` (`EPIPE`). Socketpair: [shutdown(2)] with `SHUT_RD`; bytes
    /// already queued can still be read, and Linux fails the peer's further writes with `EPIPE`.
    /// Loopback (TCP): `SHUT_RD` only stops local reads; the peer is not told and its writes
    /// still succeed until the connection closes.
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    pub fn shutdown_read(&mut self) -> io::Result<()> {
        match &mut self.fds {
            EndFds::Socket(fd) => crate::sys::io::shutdown(fd.as_fd(), Shutdown::Read),
            EndFds::Pipes { read, .. } => {
                drop(read.take());
                Ok(())
            }
        }
    }

    /// Sets or clears `O_NONBLOCK` on this end's descriptors (`fcntl(F_SETFL)`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        for fd in self.distinct_fds() {
            crate::fd::set_nonblocking(fd, nonblocking)?;
        }
        Ok(())
    }

    /// The buffer sizes the kernel reports for this end now, the payload estimate, and the
    /// last size asked for through this end (see [`Capacity`]).
    pub fn capacity(&self) -> io::Result<Capacity> {
        capacity::read_back(self.kind, self.read_fd(), self.write_fd(), self.asked.get())
    }

    /// Asks the kernel for `bytes` of buffering in each direction and returns what it granted.
    ///
    /// Pipes: `fcntl(F_SETPIPE_SZ)` on both pipes, with the request clamped to
    /// [`pipe_max_size`](super::pipe_max_size); `EPERM` (the user's `pipe-user-pages-*` budget) and `EBUSY` (the pipe
    /// holds more than the new size) leave that pipe's size as it was. Sockets: `SO_SNDBUF` and
    /// `SO_RCVBUF`, which the kernel doubles for its bookkeeping and clamps to
    /// `net.core.wmem_max`/`rmem_max` (and raises to a 4.5 KiB minimum). Pipes are shared with
    /// the peer, so the peer's end sees the new sizes too. See [fcntl(2)] and [socket(7)].
    ///
    /// The result records `bytes` as [`Capacity::asked`] (kept for later
    /// [`capacity`](Self::capacity) calls) beside the kernel's figures and the payload
    /// estimate, the figure to compare across kinds.
    ///
    /// # Errors
    ///
    /// `bytes == 0` is `InvalidInput`: the kernel would not restore a default but shrink the
    /// buffers to their minimum. Otherwise the kernel's refusal of the `fcntl`/`setsockopt`.
    ///
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub fn set_capacity(&self, bytes: usize) -> io::Result<Capacity> {
        capacity::request(
            self.kind,
            self.read_fd(),
            self.write_fd(),
            bytes,
            &self.asked,
        )
    }

    /// A second handle on this end: the same wire, through duplicated descriptors, like
    /// [`UnixStream::try_clone`].
    ///
    /// Each descriptor is duplicated with [fcntl(2)] `F_DUPFD_CLOEXEC` (one for a socket, both
    /// for a pipes end; a direction already shut down stays absent), so the clone is
    /// close-on-exec like every procwire descriptor. The typical use is handing one end to a
    /// child as both stdin and stdout: convert the end and its clone into [`Stdio`] (sockets), or
    /// split each and hand over one half of each (pipes).
    ///
    /// The clone shares the open file descriptions: `O_NONBLOCK` set on one is set on both,
    /// and bytes read through one are gone for the other. Half-closing differs by kind:
    /// on a socket, [`shutdown_write`](Self::shutdown_write) and
    /// [`shutdown_read`](Self::shutdown_read) act on the socket, so they hold for every handle;
    /// on pipes they close only this handle's descriptor, and the peer sees EOF (or
    /// `BrokenPipe`) once every duplicate, including those a child inherited, is closed.
    ///
    /// # Errors
    ///
    /// `F_DUPFD_CLOEXEC`'s, e.g. `EMFILE` at `RLIMIT_NOFILE` (the message says what to do);
    /// nothing is leaked.
    ///
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    pub fn try_clone(&self) -> io::Result<End> {
        let fds = match &self.fds {
            EndFds::Socket(fd) => EndFds::Socket(dup(fd)?),
            EndFds::Pipes { read, write } => EndFds::Pipes {
                read: read.as_ref().map(dup).transpose()?,
                write: write.as_ref().map(dup).transpose()?,
            },
        };
        Ok(End {
            kind: self.kind,
            fds,
            asked: Asked::new(self.asked.get()),
        })
    }

    /// Splits the end into an owned read half and an owned write half.
    ///
    /// Sockets: the write half gets a close-on-exec duplicate (`F_DUPFD_CLOEXEC`), which can fail
    /// with `EMFILE`. Dropping the [`WriteHalf`] half-closes the outgoing direction and dropping
    /// the [`ReadHalf`] the incoming one, exactly as [`shutdown_write`](Self::shutdown_write) and
    /// [`shutdown_read`](Self::shutdown_read) would, on every kind.
    ///
    /// # Errors
    ///
    /// A pipes end whose read or write side was already shut down has no descriptor for that
    /// half: `InvalidInput`, and the end is handed back inside the error's [`KindMismatch`]
    /// (`err.into_inner()`). Split first, then drop the half you do not need.
    pub fn split(self) -> Result<(ReadHalf, WriteHalf), KindMismatch> {
        let (kind, asked) = (self.kind, self.asked.get());
        let halves = |r, w| {
            (
                ReadHalf::new(kind, r, asked),
                WriteHalf::new(kind, w, asked),
            )
        };
        match self.fds {
            EndFds::Socket(fd) => match dup(&fd) {
                Ok(dup) => Ok(halves(fd, dup)),
                Err(e) => Err(KindMismatch {
                    end: End {
                        kind,
                        fds: EndFds::Socket(fd),
                        asked: self.asked,
                    },
                    wanted: "two halves",
                    why: Some(e),
                }),
            },
            EndFds::Pipes {
                read: Some(read),
                write: Some(write),
            } => Ok(halves(read, write)),
            fds => Err(KindMismatch {
                end: End {
                    kind,
                    fds,
                    asked: self.asked,
                },
                wanted: "two halves",
                why: Some(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "one of its directions was already shut down",
                )),
            }),
        }
    }

    /// Hands over the descriptors without any half-close.
    pub fn into_fds(self) -> EndFds {
        self.fds
    }

    fn distinct_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        let (a, b) = match &self.fds {
            EndFds::Socket(fd) => (Some(fd.as_fd()), None),
            EndFds::Pipes { read, write } => (
                read.as_ref().map(|fd| fd.as_fd()),
                write.as_ref().map(|fd| fd.as_fd()),
            ),
        };
        a.into_iter().chain(b)
    }

    fn into_socket(self, wanted: &'static str, ok: bool) -> Result<OwnedFd, KindMismatch> {
        match self.fds {
            EndFds::Socket(fd) if ok => Ok(fd),
            fds => Err(KindMismatch {
                end: End {
                    kind: self.kind,
                    fds,
                    asked: self.asked,
                },
                wanted,
                why: None,
            }),
        }
    }
}

/// A close-on-exec duplicate of `fd` (`F_DUPFD_CLOEXEC`), with an error that says so.
fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0)
        .map_err(|e| crate::sys::hint(e.into(), "F_DUPFD_CLOEXEC"))
}

impl_read!(End);
impl_write!(End);

impl fmt::Debug for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("End")
            .field("kind", &self.kind)
            .field("read_fd", &self.read_fd().map(|fd| fd.as_raw_fd()))
            .field("write_fd", &self.write_fd().map(|fd| fd.as_raw_fd()))
            .finish()
    }
}

/// A conversion or split this end cannot make; the end is handed back unharmed.
pub struct KindMismatch {
    end: End,
    wanted: &'static str,
    why: Option<io::Error>,
}

impl KindMismatch {
    /// Takes the end back.
    pub fn into_inner(self) -> End {
        self.end
    }
}

impl fmt::Debug for KindMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for KindMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Some(why) => write!(
                f,
                "a {} end cannot become {}: {why}",
                self.end.kind, self.wanted
            ),
            None => write!(
                f,
                "a {} end cannot become {}; build the pair with that kind (Builder::kinds) \
                 or use End::into_fds / End::split",
                self.end.kind, self.wanted
            ),
        }
    }
}

impl std::error::Error for KindMismatch {}

impl From<KindMismatch> for io::Error {
    /// Keeps the kind of the underlying failure (e.g. `EMFILE` from a split), else
    /// `InvalidInput`; the end is closed.
    fn from(e: KindMismatch) -> io::Error {
        let kind = e
            .why
            .as_ref()
            .map_or(io::ErrorKind::InvalidInput, io::Error::kind);
        io::Error::new(kind, e.to_string())
    }
}

impl TryFrom<End> for UnixStream {
    type Error = KindMismatch;

    /// Succeeds for [`Kind::SocketPair`] ends.
    fn try_from(end: End) -> Result<UnixStream, KindMismatch> {
        let ok = end.kind == Kind::SocketPair;
        end.into_socket("a UnixStream", ok).map(UnixStream::from)
    }
}

impl TryFrom<End> for TcpStream {
    type Error = KindMismatch;

    /// Succeeds for [`Kind::Loopback`] ends.
    fn try_from(end: End) -> Result<TcpStream, KindMismatch> {
        let ok = end.kind == Kind::Loopback;
        end.into_socket("a TcpStream", ok).map(TcpStream::from)
    }
}

impl TryFrom<End> for OwnedFd {
    type Error = KindMismatch;

    /// Succeeds for socket kinds, whose end is one descriptor.
    fn try_from(end: End) -> Result<OwnedFd, KindMismatch> {
        let ok = end.kind.is_socket();
        end.into_socket("one OwnedFd", ok)
    }
}

impl TryFrom<End> for Stdio {
    type Error = KindMismatch;

    /// Succeeds for socket kinds; for pipes, split the end and convert each half.
    fn try_from(end: End) -> Result<Stdio, KindMismatch> {
        let ok = end.kind.is_socket();
        end.into_socket("one Stdio", ok).map(Stdio::from)
    }
}
