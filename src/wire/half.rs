//! Owned read and write halves of an end, and the ends of a one-way pipe.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Stdio;

use rustix::net::Shutdown;

use super::Kind;
use super::capacity::{self, Asked, Capacity};
use super::rw::{impl_read, impl_write};
use crate::sys::io::Target;

/// The reading half of a split [`End`](super::End), or the read end of a [`pipe`](super::pipe).
///
/// Dropping it half-closes the incoming direction like [`End::shutdown_read`](super::End::shutdown_read):
/// for pipes the descriptor closes (the writer gets `BrokenPipe`), for sockets it calls
/// `shutdown(SHUT_RD)` (a socketpair peer's writes then fail too; a TCP peer is not told).
/// [`into_fd`](ReadHalf::into_fd) and the `Stdio` conversion hand the descriptor over without that.
pub struct ReadHalf {
    kind: Kind,
    // Always `Some` until `into_fd` takes it; an `Option` only so `Drop` can tell.
    fd: Option<OwnedFd>,
    asked: Asked,
}

/// The writing half of a split [`End`](super::End), or the write end of a [`pipe`](super::pipe).
///
/// Dropping it half-closes the outgoing direction like [`End::shutdown_write`](super::End::shutdown_write):
/// the peer reads the bytes already sent, then EOF, on every kind. [`into_fd`](WriteHalf::into_fd)
/// and the `Stdio` conversion hand the descriptor over without that.
pub struct WriteHalf {
    kind: Kind,
    // Always `Some` until `into_fd` takes it; an `Option` only so `Drop` can tell.
    fd: Option<OwnedFd>,
    asked: Asked,
}

macro_rules! half_common {
    ($t:ident, $shut:expr) => {
        impl $t {
            pub(super) fn new(kind: Kind, fd: OwnedFd, asked: Option<usize>) -> $t {
                $t {
                    kind,
                    fd: Some(fd),
                    asked: Asked::new(asked),
                }
            }

            #[inline(always)]
            fn fd(&self) -> BorrowedFd<'_> {
                self.fd
                    .as_ref()
                    .expect("a half holds its descriptor until into_fd")
                    .as_fd()
            }

            /// Wraps a descriptor that carries one direction of a wire of `kind`, e.g. the
            /// stdin or stdout a child process was given. Whether it is close-on-exec is up
            /// to whoever made it (descriptors a process inherited as stdio are not).
            pub fn from_fd(kind: Kind, fd: OwnedFd) -> $t {
                $t::new(kind, fd, None)
            }

            /// The kind of the wire this half belongs to.
            pub fn kind(&self) -> Kind {
                self.kind
            }

            /// Sets or clears `O_NONBLOCK` (`fcntl(F_SETFL)`). For a split socket end the flag is
            /// shared with the other half: both are the same open file description.
            pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                crate::fd::set_nonblocking(self.fd(), nonblocking)
            }

            /// Hands the descriptor over without half-closing anything.
            pub fn into_fd(mut self) -> OwnedFd {
                self.fd
                    .take()
                    .expect("a half holds its descriptor until into_fd")
            }
        }

        impl Drop for $t {
            fn drop(&mut self) {
                if let Some(fd) = self.fd.take() {
                    if self.kind.is_socket() {
                        // Best effort: the descriptor closes next either way.
                        let _ = crate::sys::io::shutdown(fd.as_fd(), $shut);
                    }
                }
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd()
            }
        }

        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.as_fd().as_raw_fd()
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("kind", &self.kind)
                    .field("fd", &self.fd.as_ref().map(|fd| fd.as_raw_fd()))
                    .finish()
            }
        }

        impl From<$t> for Stdio {
            /// Hands the descriptor to a child's stdin/stdout/stderr, without half-closing.
            fn from(half: $t) -> Stdio {
                Stdio::from(half.into_fd())
            }
        }
    };
}

half_common!(ReadHalf, Shutdown::Read);
half_common!(WriteHalf, Shutdown::Write);

impl ReadHalf {
    /// Records a request made through the pipe's other end.
    pub(super) fn note_asked(&self, bytes: usize) {
        self.asked.set(bytes);
    }

    #[inline(always)]
    fn reader(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd())
    }

    /// The kernel's buffer size for the incoming direction (`F_GETPIPE_SZ` or `SO_RCVBUF`), in
    /// [`Capacity::recv`]; `send` is 0.
    pub fn capacity(&self) -> io::Result<Capacity> {
        capacity::read_back(self.kind, self.reader(), None, self.asked.get())
    }

    /// Asks for `bytes` of buffering on the incoming direction and returns the grant (see
    /// [`End::set_capacity`](super::End::set_capacity)).
    pub fn set_capacity(&self, bytes: usize) -> io::Result<Capacity> {
        capacity::request(self.kind, self.reader(), None, bytes, &self.asked)
    }
}

impl WriteHalf {
    #[inline(always)]
    fn writer(&self) -> io::Result<Target<'_>> {
        Ok(Target {
            fd: self.fd(),
            socket: self.kind.is_socket(),
        })
    }

    /// The kernel's buffer size for the outgoing direction (`F_GETPIPE_SZ` or `SO_SNDBUF`), in
    /// [`Capacity::send`]; `recv` is 0.
    pub fn capacity(&self) -> io::Result<Capacity> {
        capacity::read_back(self.kind, None, Some(self.fd()), self.asked.get())
    }

    /// Asks for `bytes` of buffering on the outgoing direction and returns the grant (see
    /// [`End::set_capacity`](super::End::set_capacity)).
    pub fn set_capacity(&self, bytes: usize) -> io::Result<Capacity> {
        capacity::request(self.kind, None, Some(self.fd()), bytes, &self.asked)
    }
}

impl_read!(ReadHalf);
impl_write!(WriteHalf);
