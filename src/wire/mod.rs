//! Making pairs: socketpairs, pipes and TCP loopback behind one type.
//!
//! A *wire* is a duplex byte stream between two [`End`]s. Three kinds of kernel object can
//! carry one, and they differ in ways that matter to callers:
//!
//! | [`Kind`] | descriptors per end | made with | half-close | payload a writer can queue |
//! |---|---|---|---|---|
//! | [`Kind::SocketPair`] | 1 | [socketpair(2)] `AF_UNIX, SOCK_STREAM` | [shutdown(2)] `SHUT_WR` | ≥ 3/4 of its `SO_SNDBUF` |
//! | [`Kind::Pipes`] | 2 (one pipe per direction) | [pipe2(2)] twice | close the write pipe | the pipe's size |
//! | [`Kind::Loopback`] | 1 | TCP on `127.0.0.1`, see below | [shutdown(2)] `SHUT_WR` | ≥ 7/16 of `SO_SNDBUF` + peer's `SO_RCVBUF` |
//!
//! (Payload for writes of 4 KiB or more; [`Capacity`] has the estimate, the measurements and
//! the caveats.)
//!
//! [`Builder`] tries kinds in the order of its policy (by default socketpair, then pipes, then
//! loopback, like rsync's `fd_pair` with one more fallback) and reports which kind it produced
//! and why the earlier ones were refused ([`Pair::refusals`]). [`pipe`] and [`Builder::pipe`] make
//! a plain one-way pipe with the same half types.
//!
//! # What is the same on every kind
//!
//! - Every descriptor is an [`OwnedFd`](std::os::fd::OwnedFd) from birth and close-on-exec
//!   (`SOCK_CLOEXEC`, `O_CLOEXEC`), so a child spawned concurrently inherits none of them.
//! - Blocking or non-blocking is chosen per end at creation ([`Builder::nonblocking`]).
//! - One capacity API ([`End::set_capacity`], [`Capacity`]): `F_SETPIPE_SZ` for pipes,
//!   `SO_SNDBUF`/`SO_RCVBUF` for sockets, returning what was asked, what the kernel reads back
//!   (Linux doubles socket buffers) and the payload bytes that fit, the figure that compares
//!   across kinds. A capacity of 0 is refused (`InvalidInput`).
//! - [`End::try_clone`]: a second handle on the same wire end (e.g. a child's stdin and
//!   stdout), like [`UnixStream::try_clone`](std::os::unix::net::UnixStream::try_clone).
//! - [`End::shutdown_write`]: the peer reads the bytes already sent, then EOF; this end can go on
//!   reading. [`End::shutdown_read`]: the peer's further writes fail with `BrokenPipe` (on
//!   sockets of the loopback kind TCP gives no such signal: see [`End::shutdown_read`]).
//! - Writes to a socket whose peer is gone return [`io::ErrorKind::BrokenPipe`] and never raise
//!   `SIGPIPE`: they go out with `send(2)`/`sendmsg(2)` and `MSG_NOSIGNAL`.
//!
//! # Caveat: `SIGPIPE` on pipes
//!
//! There is no per-call way to suppress `SIGPIPE` for [write(2)] on a pipe: a process whose
//! `SIGPIPE` disposition is the default dies when it writes to a pipe whose reader is gone. Rust
//! binaries start with `SIGPIPE` ignored, so they get `BrokenPipe` instead, but a library used
//! from a process that restored the default (or from C) cannot rely on that. Prefer a socket kind
//! where that matters, or ignore the signal.
//!
//! # The loopback shim
//!
//! [`Kind::Loopback`] exists for platforms without `AF_UNIX` socketpairs and as the last
//! fallback. Any local process can connect to a listening port, so the shim binds `127.0.0.1`
//! on an ephemeral port, connects its own socket, and accepts only the connection whose peer
//! address equals that socket's local address (the check CPython added for gh-122133); foreign
//! connections are closed and counted. The handshake is bounded ([`Builder::loopback_timeout`]).
//!
//! [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
//! [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
//! [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
//! [write(2)]: https://man7.org/linux/man-pages/man2/write.2.html

use std::fmt;
use std::io;
use std::str::FromStr;

use crate::ParseNameError;

mod builder;
mod capacity;
mod end;
mod half;
mod loopback;
mod rw;
#[cfg(test)]
mod tests;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::{AsyncEnd, AsyncPair, AsyncReadHalf, AsyncWriteHalf};
pub use builder::{Builder, Pair, PairError, Refusal};
pub use capacity::{Capacity, Size, pipe_max_size};
pub use end::{End, EndFds, KindMismatch};
pub use half::{ReadHalf, WriteHalf};

/// The kind of kernel object that carries a wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
pub enum Kind {
    /// An `AF_UNIX, SOCK_STREAM` socketpair: one duplex descriptor per end.
    SocketPair,
    /// Two pipes, one per direction: a read and a write descriptor per end.
    Pipes,
    /// A TCP connection over `127.0.0.1`, made by the hardened loopback shim.
    Loopback,
}

impl Kind {
    /// Every kind, in the default fallback order.
    pub const ALL: [Kind; 3] = [Kind::SocketPair, Kind::Pipes, Kind::Loopback];

    /// The kind's name as the command line spells it: `socketpair`, `pipes`, `loopback`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SocketPair => "socketpair",
            Kind::Pipes => "pipes",
            Kind::Loopback => "loopback",
        }
    }

    /// Whether ends of this kind are sockets (one descriptor, `send`/`shutdown` apply).
    pub fn is_socket(self) -> bool {
        !matches!(self, Kind::Pipes)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl crate::names::Named for Kind {
    const WHAT: &'static str = "wire kind";
    const ALL: &'static [Kind] = &Kind::ALL;
    fn name(self) -> &'static str {
        Kind::name(self)
    }
}

/// `socketpair`, `pipes` or `loopback`; anything else is a [`ParseNameError`] listing them.
impl FromStr for Kind {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Kind, ParseNameError> {
        crate::names::parse(s)
    }
}

/// Makes a duplex pair with the default policy and options (see [`Builder::new`]).
pub fn pair() -> io::Result<(End, End)> {
    Ok(Builder::new().build()?.into_ends())
}

/// Makes a one-way pipe ([pipe2(2)] with `O_CLOEXEC`), both ends blocking.
///
/// The halves are the same types a split [`End`] gives, so code can take either.
///
/// [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
pub fn pipe() -> io::Result<(ReadHalf, WriteHalf)> {
    Builder::new().pipe()
}
