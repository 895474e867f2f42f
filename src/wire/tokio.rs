//! Async wire ends (feature `tokio`): [`AsyncEnd`] and its owned halves, for every [`Kind`].
//!
//! An [`AsyncEnd`] is an [`End`] whose descriptors are registered with tokio's reactor
//! (`epoll(7)` through [`AsyncFd`], made non-blocking with `fcntl(F_SETFL, O_NONBLOCK)`). Reads
//! and writes are the very calls the blocking end makes ([read(2)]/[readv(2)] on every kind;
//! [send(2)]/[sendmsg(2)] with `MSG_NOSIGNAL` on sockets, so a gone peer is `BrokenPipe` and
//! never `SIGPIPE`; [write(2)]/[writev(2)] on pipes), run when the reactor says the descriptor is
//! ready; readiness is cleared only when the call really returns `EAGAIN`.
//!
//! - [`Builder::build_async`] and [`Builder::pipe_async`] make async pairs with the same
//!   fallback policy, capacity and refusals as [`Builder::build`] and [`Builder::pipe`].
//! - [`AsyncEnd::new`] / [`AsyncEnd::into_end`] convert from and to a blocking [`End`].
//! - [`AsyncEnd::into_split`] gives owned halves ([`AsyncReadHalf`], [`AsyncWriteHalf`]) for two
//!   tasks; a [`ReadHalf`]/[`WriteHalf`] (e.g. a child's stdout or stdin) becomes one with
//!   [`AsyncReadHalf::new`]/[`AsyncWriteHalf::new`].
//! - `tokio::net::UnixStream` (socketpair ends), `tokio::net::TcpStream` (loopback ends) and
//!   `tokio::net::unix::pipe::{Receiver, Sender}` (pipe halves) convert both ways with
//!   `TryFrom`.
//!
//! `poll_shutdown` is [`End::shutdown_write`]'s half-close on every kind: `shutdown(SHUT_WR)` on
//! a socket, closing the write descriptor of a pipe; the peer reads what was written, then EOF.
//!
//! # Caveat: a pending write and the peer's `shutdown_read`
//!
//! On a socketpair, Linux wakes a writer blocked in `sendmsg(2)` when the peer shuts its read
//! side down, but `poll(2)`/`epoll(7)` report no `EPOLLOUT` for it while the send budget is
//! full, so an async write pending then stays pending until something else happens on the
//! socket (the peer reading or closing). Close the end (drop it), not just its read side, to
//! make a pending peer's write fail. The in-memory model (`procwire::model`) wakes such a
//! writer.
//!
//! # Cancel safety
//!
//! Every operation is one `AsyncRead`/`AsyncWrite` poll, so the usual tokio rules hold:
//! `read`, `read_buf`, `write`, `write_vectored` and `shutdown` futures are cancel safe (a
//! dropped future moved no bytes, or its whole count was returned); `read_exact`, `write_all`
//! and `read_to_end` are not (bytes moved before the cancellation are lost to the caller), as
//! for `tokio::net::UnixStream`.
//!
//! [read(2)]: https://man7.org/linux/man-pages/man2/read.2.html
//! [readv(2)]: https://man7.org/linux/man-pages/man2/readv.2.html
//! [send(2)]: https://man7.org/linux/man-pages/man2/send.2.html
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [write(2)]: https://man7.org/linux/man-pages/man2/write.2.html
//! [writev(2)]: https://man7.org/linux/man-pages/man2/writev.2.html

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustix::net::Shutdown;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::end::EndFds;
use super::{Builder, End, Kind, ReadHalf, Refusal, WriteHalf};
use crate::sys::io::Target;
use crate::sys::tokio as rt;

type Fd = Arc<AsyncFd<OwnedFd>>;

fn register(fd: OwnedFd, interest: Interest) -> io::Result<Fd> {
    rt::register_for(fd, interest).map(Arc::new)
}

/// The descriptor back from the reactor (deregistered), if no half shares it any more.
fn unregister(fd: Fd) -> io::Result<OwnedFd> {
    let fd = Arc::into_inner(fd).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "this async wire end shares its descriptor with a split half that is still alive",
        )
    })?;
    Ok(fd.into_inner())
}

/// One read into `buf` when `fd` is readable: the blocking end's [read(2)] call.
///
/// [read(2)]: https://man7.org/linux/man-pages/man2/read.2.html
fn poll_read_fd(
    fd: Option<&Fd>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // A direction shut down locally reads as EOF, as the blocking end does.
    let Some(fd) = fd else {
        return Poll::Ready(Ok(()));
    };
    let n = ready!(rt::poll_read(fd, cx, |fd| crate::sys::io::read(
        fd.as_fd(),
        buf.initialize_unfilled()
    )))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// The half-close of a write side: `shutdown(SHUT_WR)` on a socket (the descriptor stays, it
/// may be shared with the read side), closing the descriptor of a pipe.
fn shutdown_write(kind: Kind, write: &mut Option<Fd>) -> io::Result<()> {
    if !kind.is_socket() {
        drop(write.take());
        return Ok(());
    }
    match write {
        Some(fd) => crate::sys::io::shutdown(fd.get_ref().as_fd(), Shutdown::Write),
        None => Ok(()),
    }
}

fn writer(fd: Option<&Fd>) -> io::Result<&Fd> {
    fd.ok_or_else(super::rw::write_side_closed)
}

fn poll_write_fd(
    fd: Option<&Fd>,
    socket: bool,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let fd = writer(fd)?;
    rt::poll_write(fd, cx, |fd| {
        crate::sys::io::write(
            Target {
                fd: fd.as_fd(),
                socket,
            },
            buf,
        )
    })
}

fn poll_write_vectored_fd(
    fd: Option<&Fd>,
    socket: bool,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let fd = writer(fd)?;
    rt::poll_write(fd, cx, |fd| {
        crate::sys::io::write_vectored(
            Target {
                fd: fd.as_fd(),
                socket,
            },
            bufs,
        )
    })
}

/// The async form of [`End`]: one end of a duplex wire of any [`Kind`], with
/// [`AsyncRead`]/[`AsyncWrite`] (vectored writes included). See the [module docs](self).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use procwire::wire::Builder;
///
/// let (mut a, mut b) = Builder::new().build_async()?.into_ends();
/// a.write_all(b"ping").await?;
/// a.shutdown().await?; // b reads EOF after the bytes, whatever the kind
/// let mut got = Vec::new();
/// b.read_to_end(&mut got).await?;
/// assert_eq!(got, b"ping");
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// As `tokio::net::UnixStream`: see the [module docs](self#cancel-safety).
pub struct AsyncEnd {
    kind: Kind,
    /// For a socket both are the same registration.
    read: Option<Fd>,
    write: Option<Fd>,
}

impl AsyncEnd {
    /// Registers a blocking-API [`End`] with the current tokio runtime; its descriptors become
    /// non-blocking (`O_NONBLOCK`, shared with any clone of the end).
    ///
    /// # Errors
    ///
    /// No tokio runtime with I/O enabled in this context, or `fcntl(2)`/`epoll_ctl(2)` failing;
    /// the end is closed then.
    pub fn new(end: End) -> io::Result<AsyncEnd> {
        let kind = end.kind;
        match end.into_fds() {
            EndFds::Socket(fd) => {
                let fd = register(fd, Interest::READABLE | Interest::WRITABLE)?;
                Ok(AsyncEnd {
                    kind,
                    read: Some(Arc::clone(&fd)),
                    write: Some(fd),
                })
            }
            EndFds::Pipes { read, write } => Ok(AsyncEnd {
                kind,
                read: read
                    .map(|fd| register(fd, Interest::READABLE))
                    .transpose()?,
                write: write
                    .map(|fd| register(fd, Interest::WRITABLE))
                    .transpose()?,
            }),
        }
    }

    /// Takes the descriptors back from the reactor as a blocking-API [`End`]. They stay
    /// non-blocking: call [`End::set_nonblocking`]`(false)` for blocking calls.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if a split half still shares a descriptor (only [`AsyncEnd::into_split`]
    /// makes them, and it consumes the end, so this does not happen through the public API).
    pub fn into_end(self) -> io::Result<End> {
        let AsyncEnd { kind, read, write } = self;
        if kind.is_socket() {
            drop(write);
            let fd = read.expect("a socket end always holds its descriptor");
            return Ok(End::socket(kind, unregister(fd)?));
        }
        Ok(End {
            kind,
            fds: EndFds::Pipes {
                read: read.map(unregister).transpose()?,
                write: write.map(unregister).transpose()?,
            },
            asked: Default::default(),
        })
    }

    /// The kind of kernel object behind this end.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The descriptor this end reads from (`None` for pipes after the read side was shut down).
    pub fn read_fd(&self) -> Option<BorrowedFd<'_>> {
        self.read.as_ref().map(|fd| fd.get_ref().as_fd())
    }

    /// The descriptor this end writes to (`None` for pipes after the write side was shut down).
    pub fn write_fd(&self) -> Option<BorrowedFd<'_>> {
        self.write.as_ref().map(|fd| fd.get_ref().as_fd())
    }

    /// Half-closes the outgoing direction at once, as [`End::shutdown_write`] (and as
    /// `AsyncWriteExt::shutdown`, which calls it): `shutdown(SHUT_WR)` for sockets, closing the
    /// write pipe for pipes. Never waits. Calling it twice is harmless.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        shutdown_write(self.kind, &mut self.write)
    }

    /// Half-closes the incoming direction, as [`End::shutdown_read`] (see its caveats: a TCP
    /// peer is not told). Never waits.
    pub fn shutdown_read(&mut self) -> io::Result<()> {
        if self.kind.is_socket() {
            if let Some(fd) = &self.read {
                crate::sys::io::shutdown(fd.get_ref().as_fd(), Shutdown::Read)?;
            }
        } else {
            drop(self.read.take());
        }
        Ok(())
    }

    /// Owned halves for two tasks. A socket's halves share one registration (no `dup`); a
    /// pipes end's halves are its two pipes. Dropping a half half-closes its direction, as the
    /// blocking halves do ([`ReadHalf`], [`WriteHalf`]).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a direction of a pipes end was already shut down; the end is
    /// closed then.
    pub fn into_split(self) -> io::Result<(AsyncReadHalf, AsyncWriteHalf)> {
        let AsyncEnd { kind, read, write } = self;
        match (read, write) {
            (Some(read), Some(write)) => Ok((
                AsyncReadHalf {
                    kind,
                    fd: Some(read),
                },
                AsyncWriteHalf {
                    kind,
                    fd: Some(write),
                },
            )),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an async pipes end cannot be split: one of its directions was already shut down",
            )),
        }
    }

    fn into_socket(self, kind: Kind, wanted: &str) -> io::Result<OwnedFd> {
        if self.kind != kind {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {} async end cannot become {wanted}; build the pair with that kind \
                     (Builder::kinds)",
                    self.kind
                ),
            ));
        }
        match self.into_end()?.into_fds() {
            EndFds::Socket(fd) => Ok(fd),
            EndFds::Pipes { .. } => unreachable!("a socket kind has one descriptor"),
        }
    }
}

impl TryFrom<End> for AsyncEnd {
    type Error = io::Error;

    /// [`AsyncEnd::new`].
    fn try_from(end: End) -> io::Result<AsyncEnd> {
        AsyncEnd::new(end)
    }
}

impl TryFrom<tokio::net::UnixStream> for AsyncEnd {
    type Error = io::Error;

    /// A [`Kind::SocketPair`] end over a tokio `UnixStream` (e.g. one of
    /// `tokio::net::UnixStream::pair`), moved from tokio's registration to this one.
    fn try_from(s: tokio::net::UnixStream) -> io::Result<AsyncEnd> {
        AsyncEnd::new(End::socket(Kind::SocketPair, s.into_std()?.into()))
    }
}

impl TryFrom<tokio::net::TcpStream> for AsyncEnd {
    type Error = io::Error;

    /// A [`Kind::Loopback`] end over a tokio `TcpStream`.
    fn try_from(s: tokio::net::TcpStream) -> io::Result<AsyncEnd> {
        AsyncEnd::new(End::socket(Kind::Loopback, s.into_std()?.into()))
    }
}

impl TryFrom<AsyncEnd> for tokio::net::UnixStream {
    type Error = io::Error;

    /// Succeeds for [`Kind::SocketPair`] ends; `InvalidInput` otherwise.
    fn try_from(end: AsyncEnd) -> io::Result<tokio::net::UnixStream> {
        let fd = end.into_socket(Kind::SocketPair, "a tokio UnixStream")?;
        tokio::net::UnixStream::from_std(fd.into())
    }
}

impl TryFrom<AsyncEnd> for tokio::net::TcpStream {
    type Error = io::Error;

    /// Succeeds for [`Kind::Loopback`] ends; `InvalidInput` otherwise.
    fn try_from(end: AsyncEnd) -> io::Result<tokio::net::TcpStream> {
        let fd = end.into_socket(Kind::Loopback, "a tokio TcpStream")?;
        tokio::net::TcpStream::from_std(fd.into())
    }
}

/// `AsyncRead` for `$t` over its optional read registration `$read`.
macro_rules! impl_async_read {
    ($t:ty, $read:ident) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_fd(self.$read.as_ref(), cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for `$t` over its optional write registration `$write`; `poll_shutdown` calls
/// `$t::shutdown_write`, which never waits.
macro_rules! impl_async_write {
    ($t:ty, $write:ident) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write_fd(self.$write.as_ref(), self.kind.is_socket(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                poll_write_vectored_fd(self.$write.as_ref(), self.kind.is_socket(), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown_write())
            }
        }
    };
}

impl_async_read!(AsyncEnd, read);
impl_async_write!(AsyncEnd, write);

impl fmt::Debug for AsyncEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fds = [
            ("read_fd", self.read.as_ref()),
            ("write_fd", self.write.as_ref()),
        ];
        debug(f, "AsyncEnd", self.kind, &fds)
    }
}

/// The reading half of an [`AsyncEnd`], or the async read end of a pipe (a child's stdout is
/// one: [`AsyncReadHalf::new`] over its [`ReadHalf`]).
///
/// Dropping it half-closes the incoming direction like [`ReadHalf`] does: a pipe's descriptor
/// closes (the writer gets `BrokenPipe`), a socket gets `shutdown(SHUT_RD)`.
///
/// # Cancel safety
///
/// As `tokio::net::unix::pipe::Receiver`: see the [module docs](self#cancel-safety).
pub struct AsyncReadHalf {
    kind: Kind,
    // `None` only after `into_half` took it.
    fd: Option<Fd>,
}

/// The writing half of an [`AsyncEnd`], or the async write end of a pipe (a child's stdin is
/// one: [`AsyncWriteHalf::new`] over its [`WriteHalf`]).
///
/// Dropping it half-closes the outgoing direction like [`WriteHalf`] does: the peer reads the
/// bytes already sent, then EOF. `poll_shutdown` does it at once: `shutdown(SHUT_WR)` on a
/// socket, closing the descriptor of a pipe (later writes fail with `BrokenPipe`).
///
/// # Cancel safety
///
/// As `tokio::net::unix::pipe::Sender`: see the [module docs](self#cancel-safety).
pub struct AsyncWriteHalf {
    kind: Kind,
    // `None` after `poll_shutdown` closed a pipe, or `into_half` took it.
    fd: Option<Fd>,
}

impl AsyncReadHalf {
    /// Registers a blocking-API [`ReadHalf`] (e.g. a child's stdout, or a [`pipe`](super::pipe)'s
    /// read end) with the current tokio runtime, for reading only; it becomes non-blocking.
    ///
    /// # Errors
    ///
    /// As [`AsyncEnd::new`].
    pub fn new(half: ReadHalf) -> io::Result<AsyncReadHalf> {
        let kind = half.kind();
        Ok(AsyncReadHalf {
            kind,
            fd: Some(register(half.into_fd(), Interest::READABLE)?),
        })
    }

    /// The kind of the wire this half belongs to.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The descriptor back from the reactor as a blocking-API [`ReadHalf`] (still
    /// non-blocking), without half-closing anything.
    ///
    /// # Errors
    ///
    /// `InvalidInput` while the [`AsyncWriteHalf`] of the same socket is alive (they share the
    /// descriptor): drop it or use [`AsyncReadHalf::reunite`].
    pub fn into_half(mut self) -> io::Result<ReadHalf> {
        let fd = self.fd.take().expect("a read half holds its descriptor");
        match unregister(fd) {
            Ok(fd) => Ok(ReadHalf::from_fd(self.kind, fd)),
            Err(e) => Err(e),
        }
    }

    /// Puts the halves of one [`AsyncEnd::into_split`] back together.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when they are not halves of the same end, or the write half of a pipes
    /// end was shut down; both halves are dropped then.
    pub fn reunite(mut self, mut write: AsyncWriteHalf) -> io::Result<AsyncEnd> {
        let (r, w) = (self.fd.take(), write.fd.take());
        let same = match (&r, &w) {
            (Some(r), Some(w)) if self.kind.is_socket() => Arc::ptr_eq(r, w),
            (Some(_), Some(_)) => self.kind == write.kind,
            _ => false,
        };
        if !same {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "these async halves are not the two halves of one live end",
            ));
        }
        Ok(AsyncEnd {
            kind: self.kind,
            read: r,
            write: w,
        })
    }
}

impl AsyncWriteHalf {
    /// Registers a blocking-API [`WriteHalf`] (e.g. a child's stdin, or a
    /// [`pipe`](super::pipe)'s write end) with the current tokio runtime, for writing only; it
    /// becomes non-blocking.
    ///
    /// # Errors
    ///
    /// As [`AsyncEnd::new`].
    pub fn new(half: WriteHalf) -> io::Result<AsyncWriteHalf> {
        let kind = half.kind();
        Ok(AsyncWriteHalf {
            kind,
            fd: Some(register(half.into_fd(), Interest::WRITABLE)?),
        })
    }

    /// The kind of the wire this half belongs to.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Half-closes the outgoing direction at once, as [`AsyncEnd::shutdown_write`] (and as
    /// `AsyncWriteExt::shutdown`, which calls it): `shutdown(SHUT_WR)` on a socket, closing the
    /// descriptor of a pipe (later writes fail with `BrokenPipe`). Never waits; twice is
    /// harmless.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        shutdown_write(self.kind, &mut self.fd)
    }

    /// The descriptor back from the reactor as a blocking-API [`WriteHalf`] (still
    /// non-blocking), without half-closing anything.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` after a pipe half was shut down (its descriptor is closed); `InvalidInput`
    /// while the [`AsyncReadHalf`] of the same socket is alive.
    pub fn into_half(mut self) -> io::Result<WriteHalf> {
        let fd = writer(self.fd.take().as_ref())?.clone();
        Ok(WriteHalf::from_fd(self.kind, unregister(fd)?))
    }
}

impl AsFd for AsyncReadHalf {
    /// The registered descriptor (to ask [`FIONREAD`], say, or splice from it).
    ///
    /// [`FIONREAD`]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
            .as_ref()
            .expect("a read half holds its descriptor")
            .get_ref()
            .as_fd()
    }
}

impl AsyncReadHalf {
    /// Runs `op` on the descriptor once the reactor says it is readable, clearing readiness
    /// only on `WouldBlock` (as [`AsyncRead::poll_read`] does): for an operation other than
    /// `read(2)`, such as a splice out of this half.
    pub(crate) fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let fd = self.fd.as_ref().expect("a read half holds its descriptor");
        rt::poll_read(fd, cx, |fd| op(fd.as_fd()))
    }
}

impl AsyncWriteHalf {
    /// The registered descriptor; `None` after [`shutdown_write`](Self::shutdown_write) closed
    /// a pipe's.
    pub fn write_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.get_ref().as_fd())
    }

    /// Runs `op` on the descriptor once the reactor says it is writable, clearing readiness
    /// only on `WouldBlock` (as [`AsyncWrite::poll_write`] does): for an operation other than
    /// `write(2)`, such as a splice into this half. `BrokenPipe` after a pipe's shutdown.
    pub(crate) fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        rt::poll_write(writer(self.fd.as_ref())?, cx, |fd| op(fd.as_fd()))
    }
}

impl Drop for AsyncReadHalf {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take()
            && self.kind.is_socket()
        {
            // Best effort, as the blocking half's drop.
            let _ = crate::sys::io::shutdown(fd.get_ref().as_fd(), Shutdown::Read);
        }
    }
}

impl Drop for AsyncWriteHalf {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take()
            && self.kind.is_socket()
        {
            let _ = crate::sys::io::shutdown(fd.get_ref().as_fd(), Shutdown::Write);
        }
    }
}

impl_async_read!(AsyncReadHalf, fd);
impl_async_write!(AsyncWriteHalf, fd);

/// `Debug` of an async end or half: its kind and its descriptors' numbers.
fn debug(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    kind: Kind,
    fds: &[(&str, Option<&Fd>)],
) -> fmt::Result {
    let mut d = f.debug_struct(name);
    d.field("kind", &kind);
    for (what, fd) in fds {
        d.field(what, &fd.map(|fd| fd.as_raw_fd()));
    }
    d.finish()
}

impl fmt::Debug for AsyncReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug(f, "AsyncReadHalf", self.kind, &[("fd", self.fd.as_ref())])
    }
}

impl fmt::Debug for AsyncWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug(f, "AsyncWriteHalf", self.kind, &[("fd", self.fd.as_ref())])
    }
}

impl TryFrom<tokio::net::unix::pipe::Receiver> for AsyncReadHalf {
    type Error = io::Error;

    /// The read end of a pipe, moved from tokio's registration to this one.
    fn try_from(r: tokio::net::unix::pipe::Receiver) -> io::Result<AsyncReadHalf> {
        AsyncReadHalf::new(ReadHalf::from_fd(Kind::Pipes, r.into_nonblocking_fd()?))
    }
}

impl TryFrom<tokio::net::unix::pipe::Sender> for AsyncWriteHalf {
    type Error = io::Error;

    /// The write end of a pipe, moved from tokio's registration to this one.
    fn try_from(s: tokio::net::unix::pipe::Sender) -> io::Result<AsyncWriteHalf> {
        AsyncWriteHalf::new(WriteHalf::from_fd(Kind::Pipes, s.into_nonblocking_fd()?))
    }
}

impl TryFrom<AsyncReadHalf> for tokio::net::unix::pipe::Receiver {
    type Error = io::Error;

    /// Succeeds for a half of a pipe ([`Kind::Pipes`]); tokio checks the descriptor is a FIFO.
    fn try_from(half: AsyncReadHalf) -> io::Result<tokio::net::unix::pipe::Receiver> {
        not_a_pipe(half.kind)?;
        tokio::net::unix::pipe::Receiver::from_owned_fd(half.into_half()?.into_fd())
    }
}

impl TryFrom<AsyncWriteHalf> for tokio::net::unix::pipe::Sender {
    type Error = io::Error;

    /// Succeeds for a live half of a pipe ([`Kind::Pipes`]); tokio checks it is a FIFO.
    fn try_from(half: AsyncWriteHalf) -> io::Result<tokio::net::unix::pipe::Sender> {
        not_a_pipe(half.kind)?;
        tokio::net::unix::pipe::Sender::from_owned_fd(half.into_half()?.into_fd())
    }
}

/// `InvalidInput` for a socket kind, whose halves are no tokio pipe type.
fn not_a_pipe(kind: Kind) -> io::Result<()> {
    if kind.is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a half of a {kind} wire is not a pipe: only pipes halves convert to tokio's \
                 pipe types (use the UnixStream/TcpStream conversions of the whole end)"
            ),
        ));
    }
    Ok(())
}

/// A connected pair of [`AsyncEnd`]s and how it was obtained: [`Builder::build_async`].
#[derive(Debug)]
pub struct AsyncPair {
    a: AsyncEnd,
    b: AsyncEnd,
    refusals: Vec<Refusal>,
}

impl AsyncPair {
    /// The kind the kernel granted.
    pub fn kind(&self) -> Kind {
        self.a.kind()
    }

    /// The kinds tried before this one, each with the kernel's reason (see
    /// [`Pair::refusals`](super::Pair::refusals)).
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// Both ends.
    pub fn into_ends(self) -> (AsyncEnd, AsyncEnd) {
        (self.a, self.b)
    }
}

impl Builder {
    /// [`build`](Builder::build) (the same fallback policy, capacity and refusals), with both
    /// ends registered with the current tokio runtime as [`AsyncEnd`]s. Both ends are
    /// non-blocking whatever [`nonblocking`](Builder::nonblocking) says.
    ///
    /// The loopback kind's handshake runs before this returns: a bounded `poll(2)` wait
    /// ([`loopback_timeout`](Builder::loopback_timeout)) on this thread, normally immediate.
    ///
    /// # Errors
    ///
    /// [`build`](Builder::build)'s, or [`AsyncEnd::new`]'s (no runtime).
    pub fn build_async(&self) -> io::Result<AsyncPair> {
        let pair = self.build()?;
        let refusals = pair.refusals;
        Ok(AsyncPair {
            a: AsyncEnd::new(pair.a)?,
            b: AsyncEnd::new(pair.b)?,
            refusals,
        })
    }

    /// [`pipe`](Builder::pipe), with both ends registered with the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`pipe`](Builder::pipe)'s, or [`AsyncEnd::new`]'s (no runtime).
    pub fn pipe_async(&self) -> io::Result<(AsyncReadHalf, AsyncWriteHalf)> {
        let (r, w) = self.pipe()?;
        Ok((AsyncReadHalf::new(r)?, AsyncWriteHalf::new(w)?))
    }
}

/// [`Builder::build_async`] with the default policy: an async duplex pair.
///
/// # Errors
///
/// As [`Builder::build_async`].
pub fn pair() -> io::Result<(AsyncEnd, AsyncEnd)> {
    Ok(Builder::new().build_async()?.into_ends())
}

/// [`Builder::pipe_async`] with the defaults: an async one-way pipe.
///
/// # Errors
///
/// As [`Builder::pipe_async`].
pub fn pipe() -> io::Result<(AsyncReadHalf, AsyncWriteHalf)> {
    Builder::new().pipe_async()
}
