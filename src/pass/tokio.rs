//! The async forms of descriptor passing (feature `tokio`): [`send_fds`] / [`recv_fds`] on
//! tokio's Unix sockets and their split halves, and an async [`Channel`].
//!
//! What tokio has lacked since 2020 (tokio#2975): `SCM_RIGHTS` on `tokio::net::UnixStream`
//! without reaching for `AsRawFd` and a hand-rolled readiness loop that gets the edge cases
//! wrong. The syscalls are the blocking forms' (`MSG_CMSG_CLOEXEC`,
//! `MSG_CTRUNC` an error with every arrived descriptor closed, `MSG_NOSIGNAL`); only the waiting
//! differs. A call runs when tokio's reactor last said the socket was ready, and readiness is
//! cleared **only** when [sendmsg(2)]/[recvmsg(2)] really return `EAGAIN` (tokio's `async_io`
//! / `try_io`), never after a short read; `EINTR` is retried inside.
//!
//! tokio's own sockets are already registered with its reactor, so [`send_fds`] and
//! [`recv_fds`] wait through the socket's own `async_io`; the async [`Channel`] owns its
//! descriptor and registers it through `crate::sys::tokio`, like every other async driver in
//! procwire.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::io::{IoSlice, IoSliceMut};
//! use std::os::fd::AsFd;
//! use procwire::pass::tokio::{recv_fds, send_fds};
//!
//! let (a, b) = tokio::net::UnixStream::pair()?;
//! let (r, w) = std::io::pipe()?;
//! send_fds(&a, &[IoSlice::new(b"a pipe")], &[w.as_fd()]).await?;
//! let mut buf = [0u8; 16];
//! let (n, fds) = recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 1).await?;
//! assert_eq!((&buf[..n], fds.len()), (&b"a pipe"[..], 1));
//! # drop(r);
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::RecvFlags;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

use super::channel::{self as sync, Frame, Kind, Message};
use crate::sys::io::{Target, write};
use crate::sys::scm;

mod sealed {
    pub trait Sealed {}
}

/// A tokio Unix socket that can carry descriptors: [`UnixStream`], its borrowed and owned
/// split halves ([`ReadHalf`], [`WriteHalf`], [`OwnedReadHalf`], [`OwnedWriteHalf`]), and
/// [`tokio::net::UnixDatagram`]. Sealed; implemented for these only.
pub trait FdSocket: sealed::Sealed {
    /// Runs `op` on the socket once it is ready for `interest`, clearing readiness only when
    /// `op` returns `WouldBlock`.
    #[doc(hidden)]
    fn ready_io<R>(
        &self,
        interest: Interest,
        op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> impl Future<Output = io::Result<R>>;
}

/// How each socket reaches its `UnixStream` (the halves lend theirs).
macro_rules! fd_socket {
    ($($ty:ty => |$s:ident| $stream:expr;)*) => {$(
        impl sealed::Sealed for $ty {}
        impl FdSocket for $ty {
            async fn ready_io<R>(
                &self,
                interest: Interest,
                mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
            ) -> io::Result<R> {
                let $s = self;
                let socket = $stream;
                socket.async_io(interest, || op(socket.as_fd())).await
            }
        }
    )*};
}

fd_socket! {
    UnixStream => |s| s;
    tokio::net::UnixDatagram => |s| s;
    ReadHalf<'_> => |s| s.as_ref();
    WriteHalf<'_> => |s| s.as_ref();
    OwnedReadHalf => |s| s.as_ref();
    OwnedWriteHalf => |s| s.as_ref();
}

/// The async [`pass::send_fds`](super::send_fds): one [sendmsg(2)] of `data` with `fds`,
/// awaiting write readiness. The same rules and errors (at least one data byte, 1..=253
/// descriptors, `BrokenPipe` for a gone peer); never `WouldBlock`.
///
/// # Cancel safety
///
/// Cancel safe: the future sends on its last poll or not at all, so dropping it sends nothing.
/// On a stream socket the call may send fewer bytes than given, as the blocking form does;
/// write the rest with plain writes.
///
/// [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
pub async fn send_fds(
    socket: &impl FdSocket,
    data: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    super::check_send_fds(data, fds)?;
    socket
        .ready_io(Interest::WRITABLE, |fd| scm::send(fd, data, fds))
        .await
}

/// The async [`pass::recv_fds`](super::recv_fds): one [recvmsg(2)] with `MSG_CMSG_CLOEXEC`,
/// awaiting read readiness. The same rules and errors (`MSG_CTRUNC` and `MSG_TRUNC` errors
/// with every arrived descriptor closed); never `WouldBlock`.
///
/// # Cancel safety
///
/// Cancel safe: a message is taken off the socket only by the poll that returns it.
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
pub async fn recv_fds(
    socket: &impl FdSocket,
    bufs: &mut [IoSliceMut<'_>],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    super::check_recv_fds(max_fds)?;
    socket
        .ready_io(Interest::READABLE, |fd| super::recv_once(fd, bufs, max_fds))
        .await
}

/// The async [`pass::Channel`](super::Channel): the same messages, rules and wire format, so
/// one end may be async and the other blocking (or in another process). Made from a blocking
/// end with [`from_sync`](Channel::from_sync) (which makes the socket non-blocking: keep the
/// blocking end's other uses away from it) or with [`pair`](Channel::pair).
///
/// `send` and `recv` take `&self` and may run from several tasks: each direction is
/// serialised by an async lock, so messages never interleave.
#[derive(Debug)]
pub struct Channel {
    fd: AsyncFd<OwnedFd>,
    kind: Kind,
    creds: bool,
    /// A stream end's frame that a cancelled send left unfinished: its unsent tail, sent before
    /// anything else.
    send: tokio::sync::Mutex<Vec<u8>>,
    recv: tokio::sync::Mutex<Receiving>,
}

/// A receive in progress, kept in the channel so a cancelled `recv` loses nothing.
#[derive(Debug, Default)]
struct Receiving {
    /// A seqpacket end's buffer.
    buf: Vec<u8>,
    /// A stream end's frame so far.
    frame: Frame,
}

impl Channel {
    /// A connected pair, as [`pass::Channel::pair`](super::Channel::pair), registered with the
    /// current runtime.
    ///
    /// # Errors
    ///
    /// As the blocking `pair`; and outside a tokio runtime with I/O enabled.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = super::Channel::pair()?;
        Ok((Channel::from_sync(a)?, Channel::from_sync(b)?))
    }

    /// The async form of a blocking end (made by `pair`, received from a parent through
    /// [`Channel::from_fd`](super::Channel::from_fd), a broker's [`Control`](super::Control)
    /// channel): made non-blocking and registered with the current runtime.
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime with I/O enabled; `fcntl(2)` failing.
    pub fn from_sync(channel: super::Channel) -> io::Result<Channel> {
        let (fd, kind, creds) = channel.into_parts();
        Ok(Channel {
            fd: crate::sys::tokio::register(fd)?,
            kind,
            creds,
            send: Default::default(),
            recv: Default::default(),
        })
    }

    /// Which socket this end is on.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Sends one message, as [`pass::Channel::send`](super::Channel::send).
    ///
    /// # Cancel safety
    ///
    /// On a seqpacket end, cancel safe: the message goes whole on the last poll, or not at
    /// all. On a stream end, a frame may take several writes; if the future is dropped after
    /// the first, the unsent tail is kept and goes first at the next `send` on this end (so
    /// the message is not lost and the stream stays in step), but not before: cancel a stream
    /// send only if another send follows.
    pub async fn send(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        sync::check_send(self.kind, data, fds)?;
        let mut tail = self.send.lock().await;
        self.flush(&mut tail).await?;
        match self.kind {
            Kind::SeqPacket => {
                crate::sys::tokio::io(&self.fd, Interest::WRITABLE, |fd| {
                    scm::send(fd.as_fd(), &[IoSlice::new(data)], fds)
                })
                .await?;
                Ok(())
            }
            Kind::Stream => {
                let header = sync::frame_header(data);
                let sent = crate::sys::tokio::io(&self.fd, Interest::WRITABLE, |fd| {
                    scm::send(
                        fd.as_fd(),
                        &[IoSlice::new(&header), IoSlice::new(data)],
                        fds,
                    )
                })
                .await?;
                let (header, data) = sync::frame_rest(&header, data, sent);
                tail.extend_from_slice(header);
                tail.extend_from_slice(data);
                self.flush(&mut tail).await
            }
        }
    }

    /// Writes `tail` (the rest of a stream frame), draining it as it goes so a cancel keeps
    /// what is left.
    async fn flush(&self, tail: &mut Vec<u8>) -> io::Result<()> {
        while !tail.is_empty() {
            let n = crate::sys::tokio::io(&self.fd, Interest::WRITABLE, |fd| {
                let t = Target {
                    fd: fd.as_fd(),
                    socket: true,
                };
                write(t, tail)
            })
            .await?;
            tail.drain(..n);
        }
        Ok(())
    }

    /// Receives the next message, or `Ok(None)` at end of file, as
    /// [`pass::Channel::recv`](super::Channel::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a seqpacket message is taken off the socket only by the poll that returns
    /// it; a stream frame received in part is kept in the channel (bytes and descriptors) and
    /// the next `recv` continues it.
    pub async fn recv(&self) -> io::Result<Option<Message>> {
        let mut state = self.recv.lock().await;
        let Receiving { buf, frame } = &mut *state;
        match self.kind {
            Kind::SeqPacket => {
                let got = crate::sys::tokio::io(&self.fd, Interest::READABLE, |fd| {
                    let room = sync::seqpacket_room(buf);
                    scm::recv(
                        fd.as_fd(),
                        &mut [IoSliceMut::new(room)],
                        scm::MAX_FDS,
                        self.creds,
                        RecvFlags::TRUNC,
                    )
                })
                .await?;
                sync::seqpacket_message(buf, got)
            }
            Kind::Stream => loop {
                let got = crate::sys::tokio::io(&self.fd, Interest::READABLE, |fd| {
                    scm::recv(
                        fd.as_fd(),
                        &mut [IoSliceMut::new(frame.room())],
                        scm::MAX_FDS,
                        self.creds,
                        RecvFlags::empty(),
                    )
                })
                .await?;
                if let Some(done) = frame.advance(got.bytes, got.fds)? {
                    return Ok(done);
                }
            },
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}
