//! [`Channel`]: messages with descriptors over a `SOCK_SEQPACKET` socketpair, or a stream one
//! with length-prefixed framing where seqpacket is missing.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

use rustix::net::{AddressFamily, RecvFlags, ReturnFlags, SocketFlags, SocketType};

use crate::sys::io::{Again, Target, write_all};
use crate::sys::scm;

/// Which socket a [`Channel`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `AF_UNIX, SOCK_SEQPACKET`: the kernel keeps message boundaries; one [sendmsg(2)] is one
    /// [recvmsg(2)], data and descriptors together, never split or merged.
    ///
    /// [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
    /// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
    SeqPacket,
    /// `AF_UNIX, SOCK_STREAM`, the fallback: each message is a 4-byte little-endian length and
    /// the data, the descriptors attached to the length's first byte.
    Stream,
}

impl Kind {
    /// Every kind, in [`Channel::pair`]'s order of preference.
    pub const ALL: [Kind; 2] = [Kind::SeqPacket, Kind::Stream];

    /// The kind's name: `seqpacket` or `stream` (what `Display` prints).
    pub fn name(self) -> &'static str {
        match self {
            Kind::SeqPacket => "seqpacket",
            Kind::Stream => "stream",
        }
    }

    fn socket_type(self) -> SocketType {
        match self {
            Kind::SeqPacket => SocketType::SEQPACKET,
            Kind::Stream => SocketType::STREAM,
        }
    }

    /// The `socketpair(2)` type constant, for errors.
    fn constant(self) -> &'static str {
        match self {
            Kind::SeqPacket => "SOCK_SEQPACKET",
            Kind::Stream => "SOCK_STREAM",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One message received on a [`Channel`].
#[derive(Debug, Default)]
pub struct Message {
    /// The data, 0..=[`Channel::MAX_DATA`] bytes.
    pub data: Vec<u8>,
    /// The descriptors, 0..=[`MAX_FDS`](super::MAX_FDS), each close-on-exec since the kernel
    /// installed it, in the order they were sent.
    pub fds: Vec<OwnedFd>,
}

/// One end of a message channel for data with descriptors: what one [`send`](Channel::send)
/// puts in, one [`recv`](Channel::recv) takes out, in order.
///
/// Made by [`Channel::pair`] on an `AF_UNIX` `SOCK_SEQPACKET` [socketpair(2)], so the kernel
/// keeps the boundaries and no framing is done by hand; where seqpacket is refused, a
/// `SOCK_STREAM` pair with a 4-byte little-endian length before each message ([`Kind::Stream`]).
/// Both ends are close-on-exec and blocking; keep them blocking (a stream end that returned
/// `WouldBlock` mid-frame would be out of step). An end becomes an [`OwnedFd`] (`From`) to hand to a
/// child, and the child makes its end back with [`Channel::from_fd`] (`TryFrom<OwnedFd>`), which
/// finds the kind from the socket.
///
/// The rules, the same on both kinds:
///
/// - A message carries 0..=[`MAX_DATA`](Channel::MAX_DATA) bytes and 0..=[`MAX_FDS`](super::MAX_FDS)
///   descriptors, and not nothing: on a seqpacket socket an empty message without descriptors
///   would read as end of file, so [`send`](Channel::send) refuses it (`InvalidInput`).
/// - [`recv`](Channel::recv) returns `Ok(None)` at end of file: every end of the peer's socket
///   is closed (in every process that had it) and every message has been read.
/// - A message longer than `MAX_DATA` (a peer that is not a procwire `Channel`) is an
///   `InvalidData` error, never cut silently; its descriptors are closed.
/// - Descriptors that could not all be installed (`MSG_CTRUNC`: `RLIMIT_NOFILE`, a security
///   module) are an `InvalidData` error after the ones that arrived are closed; see
///   [`recv_fds`](super::recv_fds).
/// - `send` and `recv` take `&self` and may be called from several threads: a seqpacket
///   message is atomic in the kernel; a stream end serialises its sends and its receives with
///   a lock, so frames never interleave.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// use procwire::pass::Channel;
///
/// let (a, b) = Channel::pair()?;
/// let (mut mine, theirs) = UnixStream::pair()?;
/// a.send(b"your end", &[theirs.as_fd()])?;
/// drop(theirs);
/// let msg = b.recv()?.expect("a message");
/// assert_eq!(msg.data, b"your end");
/// let mut passed = UnixStream::from(msg.fds.into_iter().next().unwrap());
/// passed.write_all(b"hi")?;
/// let mut got = [0u8; 2];
/// mine.read_exact(&mut got)?;
/// assert_eq!(&got, b"hi");
/// drop(a);
/// assert!(b.recv()?.is_none()); // the peer is gone
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    kind: Kind,
    /// Whether `SO_PASSCRED` was on when the end was made (the receive buffer makes room for
    /// the credentials the kernel then adds).
    creds: bool,
    /// Serialises a stream end's sends (a frame may take several writes).
    send_lock: Mutex<()>,
    /// A seqpacket end's receive buffer; for a stream end, the lock that serialises receives.
    recv_buf: Mutex<Vec<u8>>,
}

/// The length prefix of a stream frame.
pub(super) const HEADER: usize = 4;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread mid-send leaves nothing inconsistent that the lock protects.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Channel {
    /// The most data bytes one message may carry: 64 KiB.
    ///
    /// A seqpacket message must fit the socket's send buffer (`SO_SNDBUF`, about 208 KiB by
    /// default, `net.core.wmem_default`), and the receiver allocates this much once per end.
    /// Send bulk data over a wire, and its descriptor over a channel.
    pub const MAX_DATA: usize = 64 * 1024;

    /// A connected pair: [`Kind::SeqPacket`] if the kernel grants one, else [`Kind::Stream`].
    /// [`kind`](Channel::kind) says which was made.
    ///
    /// # Errors
    ///
    /// When both are refused, one error naming both refusals (for descriptor exhaustion, with
    /// what to do).
    pub fn pair() -> io::Result<(Channel, Channel)> {
        match Channel::pair_of(Kind::SeqPacket) {
            Ok(pair) => Ok(pair),
            Err(seq) => Channel::pair_of(Kind::Stream).map_err(|stream| {
                io::Error::new(
                    stream.kind(),
                    format!("Channel::pair: seqpacket refused ({seq}); stream refused ({stream})"),
                )
            }),
        }
    }

    /// A connected pair of exactly this kind, from [socketpair(2)] with `SOCK_CLOEXEC`.
    ///
    /// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
    pub fn pair_of(kind: Kind) -> io::Result<(Channel, Channel)> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            kind.socket_type(),
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| {
            crate::sys::hint(
                e.into(),
                &format!("socketpair(AF_UNIX, {}, SOCK_CLOEXEC)", kind.constant()),
            )
        })?;
        Ok((Channel::new(a, kind, false), Channel::new(b, kind, false)))
    }

    fn new(fd: OwnedFd, kind: Kind, creds: bool) -> Channel {
        Channel {
            fd,
            kind,
            creds,
            send_lock: Mutex::new(()),
            recv_buf: Mutex::new(Vec::new()),
        }
    }

    /// A channel end on a descriptor made elsewhere: an end handed over by a parent (as
    /// `OwnedFd`), or any connected `AF_UNIX` seqpacket or stream socket whose peer speaks this
    /// module's framing. The kind comes from `SO_TYPE`, and `SO_PASSCRED` is read once
    /// ([getsockopt(2)]).
    ///
    /// # Errors
    ///
    /// `InvalidInput` (and `fd` is closed) when it is not a socket, or not an `AF_UNIX`
    /// seqpacket or stream one.
    ///
    /// [getsockopt(2)]: https://man7.org/linux/man-pages/man2/getsockopt.2.html
    pub fn from_fd(fd: OwnedFd) -> io::Result<Channel> {
        use rustix::net::sockopt;
        let what = "Channel::from_fd: getsockopt(SO_DOMAIN, SO_TYPE, SO_PASSCRED)";
        let domain = sockopt::socket_domain(&fd).map_err(|e| match e {
            rustix::io::Errno::NOTSOCK => scm::invalid(
                "Channel::from_fd: the descriptor is not a socket; a channel needs an AF_UNIX \
                 SOCK_SEQPACKET or SOCK_STREAM socket"
                    .into(),
            ),
            e => crate::sys::hint(e.into(), what),
        })?;
        let ty = sockopt::socket_type(&fd).map_err(|e| crate::sys::hint(e.into(), what))?;
        let kind = match (domain, ty) {
            (AddressFamily::UNIX, SocketType::SEQPACKET) => Kind::SeqPacket,
            (AddressFamily::UNIX, SocketType::STREAM) => Kind::Stream,
            _ => {
                return Err(scm::invalid(format!(
                    "Channel::from_fd: the descriptor is a {domain:?} {ty:?} socket; a channel \
                     needs AF_UNIX SOCK_SEQPACKET or SOCK_STREAM"
                )));
            }
        };
        let creds = sockopt::socket_passcred(&fd).map_err(|e| crate::sys::hint(e.into(), what))?;
        Ok(Channel::new(fd, kind, creds))
    }

    /// Which socket this end is on.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Sends one message: `data` with `fds` attached, each descriptor duplicated into the
    /// receiver (they stay open here). Blocks while the socket's buffer is full.
    ///
    /// # Errors
    ///
    /// - `InvalidInput`, before any syscall: more than [`MAX_DATA`](Channel::MAX_DATA) bytes or
    ///   [`MAX_FDS`](super::MAX_FDS) descriptors, or neither data nor descriptors.
    /// - `BrokenPipe` when the peer is gone (`MSG_NOSIGNAL`: never `SIGPIPE`).
    /// - `EMSGSIZE` when a seqpacket message does not fit the socket's `SO_SNDBUF` (lowered
    ///   below `MAX_DATA`).
    pub fn send(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        check_send(self.kind, data, fds)?;
        match self.kind {
            Kind::SeqPacket => {
                scm::send(self.fd.as_fd(), &[IoSlice::new(data)], fds)?;
                Ok(())
            }
            Kind::Stream => {
                let header = frame_header(data);
                let _guard = lock(&self.send_lock);
                let sent = scm::send(
                    self.fd.as_fd(),
                    &[IoSlice::new(&header), IoSlice::new(data)],
                    fds,
                )?;
                // The descriptors went with the first byte; the rest goes plain.
                let socket = Target {
                    fd: self.fd.as_fd(),
                    socket: true,
                };
                let (header, data) = frame_rest(&header, data, sent);
                write_all(socket, header, Again::Wait)?;
                write_all(socket, data, Again::Wait)
            }
        }
    }

    /// Receives the next message, or `Ok(None)` at end of file (the peer's socket closed
    /// everywhere, every message read). Blocks until one arrives.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a message longer than [`MAX_DATA`](Channel::MAX_DATA) or whose
    /// descriptors could not all be installed (`MSG_CTRUNC`), its descriptors closed by then;
    /// `UnexpectedEof` when a stream peer closed mid-message. A stream channel that returned
    /// `InvalidData` for a length is out of step: drop it.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        let mut buf = lock(&self.recv_buf);
        match self.kind {
            Kind::SeqPacket => {
                let room = seqpacket_room(&mut buf);
                let got = scm::recv(
                    self.fd.as_fd(),
                    &mut [IoSliceMut::new(room)],
                    scm::MAX_FDS,
                    self.creds,
                    RecvFlags::TRUNC,
                )?;
                seqpacket_message(&buf, got)
            }
            Kind::Stream => {
                // A fresh frame each call: a blocking end never stops mid-frame without an
                // error, after which the channel is out of step anyway.
                let mut frame = Frame::default();
                loop {
                    // recvmsg(2), never a plain read, so descriptors on any byte are kept.
                    let got = scm::recv(
                        self.fd.as_fd(),
                        &mut [IoSliceMut::new(frame.room())],
                        scm::MAX_FDS,
                        self.creds,
                        RecvFlags::empty(),
                    )?;
                    if let Some(done) = frame.advance(got.bytes, got.fds)? {
                        return Ok(done);
                    }
                }
            }
        }
    }

    /// The end's parts, for the async form (`pass::tokio::Channel`): the socket, its kind, and
    /// whether `SO_PASSCRED` was on.
    #[cfg(feature = "tokio")]
    pub(super) fn into_parts(self) -> (OwnedFd, Kind, bool) {
        (self.fd, self.kind, self.creds)
    }
}

/// The checks before a send, the same for the blocking and the async channel.
pub(super) fn check_send(kind: Kind, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if data.len() > Channel::MAX_DATA {
        return Err(scm::invalid(format!(
            "Channel::send: {} data bytes; a message carries at most {} \
             (Channel::MAX_DATA): send bulk data over a wire",
            data.len(),
            Channel::MAX_DATA
        )));
    }
    scm::check_count(fds.len(), "Channel::send")?;
    if kind == Kind::SeqPacket && data.is_empty() && fds.is_empty() {
        return Err(scm::invalid(
            "Channel::send: an empty message without descriptors would read as end of file; \
             send at least one byte or one descriptor"
                .into(),
        ));
    }
    Ok(())
}

/// The receive buffer of a seqpacket end, grown to [`Channel::MAX_DATA`] once.
pub(super) fn seqpacket_room(buf: &mut Vec<u8>) -> &mut [u8] {
    if buf.len() < Channel::MAX_DATA {
        buf.resize(Channel::MAX_DATA, 0);
    }
    &mut buf[..]
}

/// What one seqpacket [recvmsg(2)] (with `MSG_TRUNC`, into [`seqpacket_room`]) got, as a
/// message: `None` at end of file, an error for a message longer than
/// [`Channel::MAX_DATA`] (its descriptors closed by then).
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
pub(super) fn seqpacket_message(buf: &[u8], got: scm::Received) -> io::Result<Option<Message>> {
    if got.flags.contains(ReturnFlags::TRUNC) || got.bytes > Channel::MAX_DATA {
        return Err(super::truncated(Channel::MAX_DATA, Some(got.bytes)));
    }
    if got.bytes == 0 && got.fds.is_empty() {
        return Ok(None);
    }
    Ok(Some(Message {
        data: buf[..got.bytes].to_vec(),
        fds: got.fds,
    }))
}

/// A stream frame's length prefix.
pub(super) fn frame_header(data: &[u8]) -> [u8; HEADER] {
    (data.len() as u32).to_le_bytes()
}

/// What is left of a stream frame (`header`, then `data`) once `sent` bytes went.
pub(super) fn frame_rest<'a>(
    header: &'a [u8; HEADER],
    data: &'a [u8],
    sent: usize,
) -> (&'a [u8], &'a [u8]) {
    (
        header.get(sent..).unwrap_or(&[]),
        data.get(sent.saturating_sub(HEADER)..).unwrap_or(&[]),
    )
}

/// One stream frame being received, sans-IO: [`room`](Frame::room) says where the next bytes
/// go, [`advance`](Frame::advance) takes what one [recvmsg(2)] got. The blocking
/// [`Channel::recv`] and the async one drive the same frame; the async one keeps it between
/// calls, so a cancelled receive loses nothing.
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
#[derive(Debug, Default)]
pub(super) struct Frame {
    header: [u8; HEADER],
    /// Bytes of the frame (header included) received so far.
    have: usize,
    data: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Frame {
    /// Where the next bytes go: the rest of the header, or the rest of the data.
    pub(super) fn room(&mut self) -> &mut [u8] {
        match self.have < HEADER {
            true => &mut self.header[self.have..],
            false => &mut self.data[self.have - HEADER..],
        }
    }

    /// Takes one receive's `bytes` and descriptors. `Some(Some(message))` when the frame is
    /// complete (the frame is then reset), `Some(None)` at a clean end of file before a
    /// frame, `None` when more is needed.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` at end of file mid-frame; `InvalidData` for a length over
    /// [`Channel::MAX_DATA`] (the peer does not speak this framing).
    pub(super) fn advance(
        &mut self,
        bytes: usize,
        fds: Vec<OwnedFd>,
    ) -> io::Result<Option<Option<Message>>> {
        if bytes == 0 && fds.is_empty() {
            if self.have == 0 && self.fds.is_empty() {
                return Ok(Some(None));
            }
            let (done, of, part) = match self.have < HEADER {
                true => (self.have, HEADER, "length prefix"),
                false => (self.have - HEADER, self.data.len(), "message body"),
            };
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "Channel::recv: the peer closed the stream mid-message ({done} of {of} \
                     bytes of a {part})"
                ),
            ));
        }
        self.fds.extend(fds);
        let had = self.have;
        self.have += bytes;
        if had < HEADER && self.have >= HEADER {
            let len = u32::from_le_bytes(self.header) as usize;
            if len > Channel::MAX_DATA {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "Channel::recv: a stream frame announces {len} bytes, more than \
                         Channel::MAX_DATA ({}); the peer does not speak this framing and \
                         the channel is out of step: drop it",
                        Channel::MAX_DATA
                    ),
                ));
            }
            self.data = vec![0u8; len];
        }
        if self.have >= HEADER && self.have - HEADER == self.data.len() {
            let done = std::mem::take(self);
            return Ok(Some(Some(Message {
                data: done.data,
                fds: done.fds,
            })));
        }
        Ok(None)
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Channel> for OwnedFd {
    fn from(c: Channel) -> OwnedFd {
        c.fd
    }
}

impl TryFrom<OwnedFd> for Channel {
    type Error = io::Error;

    fn try_from(fd: OwnedFd) -> io::Result<Channel> {
        Channel::from_fd(fd)
    }
}
