//! The async forms of descriptor passing (feature `tokio`): [`send_fds`] / [`recv_fds`] on
//! tokio's Unix sockets and their split halves, an async [`Channel`], and the broker's two
//! sides, [`Broker`] and [`Control`].
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

use super::broker::{Members, decode};
use super::channel::{self as sync, Frame, Kind, Message};
use super::{Introduction, MemberId};
use crate::child::Command;
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

/// The async [`pass::Broker`](super::Broker): the same members, checks, protocol and errors
/// (one bookkeeping core, two drivers), with an async [`introduce`](Broker::introduce) that
/// waits for room on a member's control socket instead of blocking the thread. Its control
/// channels are async [`Channel`]s registered with the runtime it was made in.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use procwire::pass::{self, tokio::{Broker, Control}};
///
/// let mut broker = Broker::new();
/// // Members started by other means (a child gets its end at CONTROL_FD through
/// // `attach`); here, two controls in this process.
/// let (a, end_a) = broker.add("a")?;
/// let (b, end_b) = broker.add("b")?;
/// let ctl_a = Control::from_sync(pass::Control::new(pass::Channel::from_fd(end_a)?))?;
/// let ctl_b = Control::from_sync(pass::Control::new(pass::Channel::from_fd(end_b)?))?;
/// broker.introduce(a, b).await?;
/// let to_a = ctl_a.recv().await?.expect("an introduction");
/// let to_b = ctl_b.recv().await?.expect("an introduction");
/// assert_eq!((to_a.peer.name.as_str(), to_b.peer.id), ("b", a));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Broker {
    members: Members<Channel>,
}

impl Broker {
    /// A broker with no members.
    pub fn new() -> Broker {
        Broker::default()
    }

    /// The async form of a blocking broker, with the same members, ids and names: its control
    /// channels are made non-blocking and registered with the current runtime.
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime with I/O enabled; `fcntl(2)` failing. The broker is dropped
    /// then (its members' controls read end of file).
    pub fn from_sync(broker: super::Broker) -> io::Result<Broker> {
        Ok(Broker {
            members: broker.into_members().map(Channel::from_sync)?,
        })
    }

    /// Adds a member, as [`pass::Broker::add`](super::Broker::add); our end of its control
    /// channel is registered with the current runtime.
    ///
    /// # Errors
    ///
    /// As the blocking `add`; and outside a tokio runtime with I/O enabled (nothing added).
    pub fn add(&mut self, name: impl Into<String>) -> io::Result<(MemberId, OwnedFd)> {
        self.members.add(name.into(), Channel::from_sync)
    }

    /// Adds a member for the next child `cmd` spawns (with [`spawn`](Command::spawn) or
    /// `spawn_async`), as [`pass::Broker::attach`](super::Broker::attach): descriptor
    /// [`CONTROL_FD`](super::CONTROL_FD) and the two variables.
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add), and at spawn as the blocking `attach`.
    pub fn attach(&mut self, cmd: &mut Command, name: impl Into<String>) -> io::Result<MemberId> {
        self.members.attach(cmd, name.into(), Channel::from_sync)
    }

    /// The member's name, if it is a member.
    pub fn name(&self, id: MemberId) -> Option<&str> {
        self.members.name(id)
    }

    /// The member's control channel, for messages of an application's own; `None` once the
    /// member is gone or removed.
    pub fn channel(&self, id: MemberId) -> Option<&Channel> {
        self.members.channel(id)
    }

    /// Removes a member and gives back its control channel (dropping it tells the child).
    pub fn remove(&mut self, id: MemberId) -> Option<Channel> {
        self.members.remove(id)
    }

    /// Introduces `a` and `b`, as [`pass::Broker::introduce`](super::Broker::introduce): the
    /// same zero-timeout [poll(2)] hang-up check, one [socketpair(2)], then one message to
    /// `a` and one to `b`, each awaiting room on that member's control socket (a member that
    /// does not read its control socket makes this wait, not the thread).
    ///
    /// # Errors
    ///
    /// Exactly the blocking form's: `NotFound`, `InvalidInput`, and `BrokenPipe` naming a
    /// gone member, who is then marked gone. Nothing is leaked.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, but leak free: dropping the future while it waits for room on `b`'s
    /// socket leaves `a` told and `b` not; `b`'s end of the pair is closed with the future,
    /// so `a` reads end of file on its end, as when `b` dies mid-way. Dropped before the first
    /// send (waiting on `a`), nobody is told. On a stream control channel a send cancelled
    /// mid-frame finishes at the next send to that member (see [`Channel::send`]).
    ///
    /// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub async fn introduce(&mut self, a: MemberId, b: MemberId) -> io::Result<()> {
        for t in self.members.plan(a, b)? {
            let sent = self
                .members
                .live(t.to)?
                .send(&t.header, &[t.end.as_fd()])
                .await;
            self.members.sent(t.to, sent)?;
        }
        Ok(())
    }
}

/// The async [`pass::Control`](super::Control): a child's side of the broker, on an async
/// [`Channel`], with the same checks at take-over and the same decoder of introductions.
#[derive(Debug)]
pub struct Control {
    channel: Channel,
}

impl Control {
    /// Takes over the control socket this process was started with by a broker, exactly as
    /// [`pass::Control::from_env`](super::Control::from_env) (the same variables, checks,
    /// errors, and one take-over per process, shared with the blocking form), then registers
    /// it with the current runtime. Call it early, as the blocking form says.
    ///
    /// # Errors
    ///
    /// As the blocking form; and outside a tokio runtime, checked first, so the socket is not
    /// taken over (and a later call inside a runtime still can).
    pub fn from_env() -> io::Result<Control> {
        if ::tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "pass::tokio::Control::from_env must be called inside a tokio runtime with I/O \
                 enabled; the control socket was not taken over (or use pass::Control::from_env)",
            ));
        }
        Control::from_sync(super::Control::from_env()?)
    }

    /// The async form of a blocking control (its channel made non-blocking and registered
    /// with the current runtime).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime with I/O enabled; `fcntl(2)` failing.
    pub fn from_sync(control: super::Control) -> io::Result<Control> {
        Channel::from_sync(control.into_channel()).map(Control::new)
    }

    /// A control on an async channel made elsewhere.
    pub fn new(channel: Channel) -> Control {
        Control { channel }
    }

    /// The control channel, for messages of an application's own.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Waits for the next introduction; `Ok(None)` when the broker is gone and every
    /// introduction has been read.
    ///
    /// # Errors
    ///
    /// As [`pass::Control::recv`](super::Control::recv) (the same decoder): `InvalidData` for
    /// a message that is not an introduction, its descriptors closed, the next call reading
    /// the next message.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it is [`Channel::recv`] (cancel safe on both kinds: a message leaves the
    /// socket only in the poll that returns it; a stream frame received in part stays in the
    /// channel, descriptors included) followed by decoding in that same poll, so a dropped
    /// future loses no introduction and no descriptor.
    pub async fn recv(&self) -> io::Result<Option<Introduction>> {
        decode(self.channel.recv().await?)
    }
}
