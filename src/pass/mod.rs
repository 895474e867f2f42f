//! Descriptors between processes: `SCM_RIGHTS` over Unix sockets, done safely.
//!
//! A process hands another an open file, pipe, socket or listening socket by sending it in the
//! control data of a message on an `AF_UNIX` socket ([unix(7)], [cmsg(3)], [sendmsg(2)],
//! [recvmsg(2)]); the receiver gets a new descriptor for the same open file description. Two
//! levels:
//!
//! - [`send_fds`] / [`recv_fds`]: one message with 1..=[`MAX_FDS`] descriptors on any connected
//!   Unix stream, seqpacket or datagram socket (a [`wire`](crate::wire) socketpair end,
//!   [`UnixStream`](std::os::unix::net::UnixStream),
//!   [`UnixDatagram`](std::os::unix::net::UnixDatagram), a [`Channel`]).
//! - [`Channel`]: a `SOCK_SEQPACKET` socketpair where one [`Channel::send`] is one
//!   [`Channel::recv`] (data and descriptors together), with a stream fallback.
//!
//! And around them:
//!
//! - [Descriptors into a child](#descriptors-into-a-child) at chosen numbers:
//!   [`child::Command::fd`](crate::child::Command::fd), and
//!   [socket activation](#socket-activation) with
//!   [`Command::listen_fds`](crate::child::Command::listen_fds) and, in the child,
//!   [`listen_fds`].
//! - [The broker](#the-broker): a parent with one control channel per child that introduces
//!   two children with a socketpair ([`Broker`]), and the child's side ([`Control`]), over a
//!   [protocol](#the-broker-protocol) any language can speak.
//! - The async forms (feature `tokio`): [`tokio::send_fds`], [`tokio::recv_fds`] on tokio's
//!   sockets and split halves, and [`tokio::Channel`].
//!
//! What the crates in use today get wrong, and this module does not:
//!
//! - Received descriptors are close-on-exec from birth: [recvmsg(2)] gets `MSG_CMSG_CLOEXEC`,
//!   so a child spawned on another thread at that moment never inherits one (a later
//!   `fcntl(F_SETFD)` would leave that window open).
//! - `MSG_CTRUNC` is checked. The kernel sets it when it could not install every descriptor:
//!   the control buffer was too small, this process is at `RLIMIT_NOFILE`, or a security
//!   module (SELinux, AppArmor) refused one. The descriptors it did not install are closed by
//!   the kernel; the ones it did are [`OwnedFd`]s, which procwire drops before returning an
//!   `InvalidData` error that says so and what to try. Nothing leaks, nothing vanishes silently.
//! - The control buffer is sized for the descriptors asked for (`CMSG_SPACE`, so an odd count
//!   has room for one more, which is refused like any excess), plus an `SCM_CREDENTIALS`
//!   message when `SO_PASSCRED` is on for the socket (the kernel then adds the sender's
//!   credentials to every message, ahead of the descriptors; a buffer without room for them
//!   would cut descriptors).
//! - Descriptors are [`OwnedFd`] / [`BorrowedFd`], never raw integers; several per message.
//! - Sends use `MSG_NOSIGNAL`: a gone peer is `BrokenPipe`, never `SIGPIPE`.
//!
//! # Stream sockets
//!
//! On `SOCK_STREAM` there are no messages, only bytes; the kernel attaches the descriptors to
//! the first byte the [sendmsg(2)] call sent, and delivers them to the [recvmsg(2)] that reads
//! that byte. Hence:
//!
//! - At least one data byte must go with the descriptors: a stream cannot carry descriptors on
//!   nothing. [`send_fds`] refuses empty data (`InvalidInput`) on every socket type, so code
//!   written against a seqpacket socket keeps working on a stream.
//! - A receiver that reads that byte with plain [read(2)] (or [`std::io::Read`]) loses the
//!   descriptors: the kernel closes them, nothing leaks into the receiver, but they are gone.
//!   Read every byte that may carry descriptors with [`recv_fds`].
//! - A read never spans two sends that both carry descriptors, so one [`recv_fds`] returns at
//!   most one send's descriptors; it may return fewer data bytes than were sent.
//! - [`send_fds`] may send fewer bytes than given (a signal, a non-blocking socket); the
//!   descriptors went with the first of them, so send the rest with plain writes.
//!
//! # Limits
//!
//! - At most [`MAX_FDS`] (253, the kernel's `SCM_MAX_FD`) descriptors per message; more is an
//!   `InvalidInput` error before any syscall.
//! - Descriptors sent and not yet received count against the sender's `RLIMIT_NOFILE`; past it
//!   [sendmsg(2)] fails with `ETOOMANYREFS`, and the error says so.
//! - `SO_PASSPIDFD` (Linux 6.5) is not supported: the pidfd it adds to every message would not
//!   be closed.
//!
//! # Descriptors into a child
//!
//! std's `Command` passes a child its stdin, stdout and stderr and nothing else (every
//! descriptor procwire makes is close-on-exec). [`Command::fd(n, fd)`](crate::child::Command::fd)
//! gives the child `fd` as number `n`: in the pre-exec hook (between [fork(2)] and
//! [execve(2)], where only async-signal-safe calls are allowed and nothing is allocated),
//! every source numbered at or below the highest target is first moved above it with
//! [fcntl(2)] `F_DUPFD_CLOEXEC` (so mapping 5→7 and 7→5 works), then [dup3(2)] without
//! `O_CLOEXEC` puts each on its target (`dup2(fd, fd)` would leave the flag set). The targets
//! are inherited through `exec`; nothing else is. Caveats:
//!
//! - 0, 1 and 2 are refused: they are the child's wire and stderr.
//! - A number at or above `RLIMIT_NOFILE` ([getrlimit(2)]) is refused before the spawn; the
//!   child inherits the limit and could not hold it. A program that expects descriptors at
//!   high numbers needs the limit raised first.
//! - Before the fork, the target numbers free in this process are held by placeholders until
//!   the spawn returns, so std's own close-on-exec error pipe (made just before the fork, on the
//!   lowest free numbers) never lands on a target. Otherwise the child's `dup3` would replace it
//!   and a failed `exec` would look like a successful spawn. A number another thread holds is
//!   left alone (std's pipe cannot take it either), unless that thread closes it at that very
//!   moment.
//! - The hook means std spawns with `fork` and `execvp` rather than `posix_spawn`.
//!
//! # Socket activation
//!
//! [`Command::listen_fds`](crate::child::Command::listen_fds) speaks systemd's protocol
//! ([sd_listen_fds(3)]): descriptors from 3, `LISTEN_FDS` (how many), `LISTEN_FDNAMES` (their
//! names, `:`-separated) and `LISTEN_PID`, the pid of the process they are meant for, so a
//! grandchild that inherits the environment (but not the descriptors) does not take numbers
//! that are not its own. Only the child knows its pid, and std builds the child's environment
//! before the fork (and installs it after the pre-exec hooks run). So for such a child
//! procwire builds the whole environment itself before the fork, with ten bytes of room for
//! the pid; the hook writes [getpid(2)] there and calls [execvpe(3)] itself, with the same
//! program, `argv[0]`, arguments and `PATH` search std would have used.
//!
//! The child takes them over with [`listen_fds`]: it checks `LISTEN_PID`, checks each
//! descriptor is open and not close-on-exec (inherited, not opened here), makes it
//! close-on-exec, and unsets the three variables if this process has a single thread
//! (unsetting races with `getenv` on other threads, which std makes `unsafe`; left set, they
//! are harmless, since `LISTEN_PID` names this process). Until the call the descriptors are
//! inheritable: call it first thing in `main`. A process that forks without `exec` keeps its pid in neither
//! child, so `LISTEN_PID` still protects; a pid reused after the intended process died while
//! the variables lingered in a descendant is the protocol's own residual race.
//!
//! # The broker
//!
//! The design of the reference article on socketpairs and `SCM_RIGHTS`: a parent starts
//! children, each with one control [`Channel`] (the child's end at descriptor 3, announced in
//! `PROCWIRE_CONTROL=3`, with `PROCWIRE_CONTROL_PID` for the same reason as `LISTEN_PID`).
//! [`Broker::introduce(a, b)`](Broker::introduce) makes a fresh `AF_UNIX` `SOCK_STREAM`
//! [socketpair(2)] and sends one end to each child with a header naming the other; the parent
//! then closes both ends, and the two children talk directly, the parent out of their path.
//! An introduction costs one `socketpair`, two small `sendmsg` and two closes in the parent,
//! and one `recvmsg` in each child: microseconds, once per pair, against a relay through the
//! parent that would cost two copies per byte for the life of the conversation.
//!
//! A child that exited is found when it is introduced: its control socket is hung up
//! ([poll(2)], checked first, so nobody is told) or the send fails with `EPIPE`. The error
//! names the member; nothing leaks (the pair's ends are closed either way). The parent's copy
//! of each child's control end is closed once the child has started, which is what makes a
//! gone child visible.
//!
//! An async program (feature `tokio`) uses [`tokio::Broker`] and [`tokio::Control`]: the same
//! bookkeeping, checks, errors and decoder (one sans-IO core, two drivers), with `introduce`
//! and `recv` awaiting readiness on the control sockets instead of blocking a thread.
//!
//! # The broker protocol
//!
//! Enough to write a child in any language (the tests have Python children that use nothing
//! but its standard library):
//!
//! 1. The child's environment has `PROCWIRE_CONTROL=<n>` (3 with [`Broker::attach`]) and
//!    `PROCWIRE_CONTROL_PID=<pid>`. If the pid is not the child's own, the socket is not its
//!    own: ignore both. Otherwise descriptor `n` is the control socket, an `AF_UNIX`
//!    `SOCK_SEQPACKET` socket. (Only on a kernel without seqpacket is it `SOCK_STREAM`, each
//!    message then preceded by its length as 4 bytes little-endian, the descriptors on the
//!    length's first byte.) Set it close-on-exec and unset both variables.
//! 2. Each message from the broker is one [recvmsg(2)] record. An **introduction** is: byte
//!    `'I'` (0x49), the peer's id as 4 bytes little-endian (ids count from 0 in the order the
//!    broker added its children), then the peer's name in UTF-8 (the rest of the message, at
//!    most 1024 bytes), with exactly one descriptor in an `SCM_RIGHTS` message: a connected
//!    `AF_UNIX` `SOCK_STREAM` socket whose other end went to the peer. Receive with room for
//!    at least one descriptor and `MSG_CMSG_CLOEXEC`; other type bytes are reserved for
//!    applications ([`Broker::channel`], [`Control::channel`]).
//! 3. End of file on the control socket: the broker is gone. Introductions already received
//!    keep working; the sockets are the children's.
//!
//! In Python: `msg, fds, flags, _ = socket.recv_fds(ctl, 65536, 1)`, then `msg[:1] == b"I"`,
//! `int.from_bytes(msg[1:5], "little")`, `msg[5:].decode()`, `socket.socket(fileno=fds[0])`.
//!
//! ```
//! use std::io::{IoSlice, IoSliceMut, Read, Write};
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//!
//! let (a, b) = UnixStream::pair()?;
//! // Pass one end of another socketpair over (a, b).
//! let (mut mine, theirs) = UnixStream::pair()?;
//! procwire::pass::send_fds(&a, &[IoSlice::new(b"take this")], &[theirs.as_fd()])?;
//! drop(theirs); // the receiver has its own descriptor now
//! let mut buf = [0u8; 16];
//! let (n, mut fds) = procwire::pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 1)?;
//! assert_eq!(&buf[..n], b"take this");
//! let mut passed = UnixStream::from(fds.pop().unwrap());
//! passed.write_all(b"hello")?;
//! let mut got = [0u8; 5];
//! mine.read_exact(&mut got)?;
//! assert_eq!(&got, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [unix(7)]: https://man7.org/linux/man-pages/man7/unix.7.html
//! [cmsg(3)]: https://man7.org/linux/man-pages/man3/cmsg.3.html
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
//! [read(2)]: https://man7.org/linux/man-pages/man2/read.2.html
//! [fork(2)]: https://man7.org/linux/man-pages/man2/fork.2.html
//! [execve(2)]: https://man7.org/linux/man-pages/man2/execve.2.html
//! [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
//! [dup3(2)]: https://man7.org/linux/man-pages/man2/dup3.2.html
//! [getrlimit(2)]: https://man7.org/linux/man-pages/man2/getrlimit.2.html
//! [getpid(2)]: https://man7.org/linux/man-pages/man2/getpid.2.html
//! [execvpe(3)]: https://man7.org/linux/man-pages/man3/execvpe.3.html
//! [sd_listen_fds(3)]: https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html
//! [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html

mod activation;
mod broker;
mod channel;
#[cfg(feature = "tokio")]
pub mod tokio;

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{RecvFlags, ReturnFlags};

pub use activation::{ListenFd, listen_fds};
pub use broker::{
    Broker, CONTROL_ENV, CONTROL_FD, CONTROL_PID_ENV, Control, Introduction, MAX_NAME, MemberId,
    Peer,
};
pub use channel::{Channel, Kind, Message};

use crate::sys::scm;

/// The most descriptors one message may carry: the kernel's `SCM_MAX_FD`.
pub const MAX_FDS: usize = scm::MAX_FDS;

/// Sends `data` (vectored) with `fds` attached, in one [sendmsg(2)] with `SCM_RIGHTS` and
/// `MSG_NOSIGNAL`, on a connected Unix socket of any type.
///
/// Returns the data bytes sent. On a seqpacket or datagram socket that is all of them; on a
/// stream socket it may be fewer (see the [module docs](self#stream-sockets)): the descriptors
/// went with the first byte, send the rest with plain writes. The descriptors stay open here;
/// the receiver gets its own.
///
/// # Errors
///
/// - `InvalidInput`, before any syscall: no descriptors or more than [`MAX_FDS`] (use a plain
///   write, or split them), or no data bytes (a stream socket carries descriptors on a byte).
/// - `BrokenPipe` when the peer is gone; `WouldBlock` on a non-blocking socket that is full.
/// - `ETOOMANYREFS` when the descriptors in flight exceed this process's `RLIMIT_NOFILE`.
///
/// [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
pub fn send_fds(
    socket: impl AsFd,
    data: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    check_send_fds(data, fds)?;
    scm::send(socket.as_fd(), data, fds)
}

/// [`send_fds`]'s checks, before any syscall (the async form makes the same).
fn check_send_fds(data: &[IoSlice<'_>], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.is_empty() {
        return Err(scm::invalid(
            "send_fds: no descriptors to send; use a plain write for data alone".into(),
        ));
    }
    if data.iter().all(|d| d.is_empty()) {
        return Err(scm::invalid(
            "send_fds: no data bytes; at least one must go with the descriptors (on a stream \
             socket the kernel attaches them to a byte)"
                .into(),
        ));
    }
    Ok(())
}

/// Receives one message into `bufs` (vectored) with up to `max_fds` (1..=[`MAX_FDS`])
/// descriptors, in one [recvmsg(2)] with `MSG_CMSG_CLOEXEC`.
///
/// Returns the data bytes received and the descriptors, each an [`OwnedFd`] that was
/// close-on-exec from the moment the kernel installed it. `(0, [])` is end of file on a stream
/// or seqpacket socket whose peer is gone (a seqpacket peer may also have sent an empty message
/// without descriptors; [`Channel`] never does). The socket may carry descriptors or not: a
/// message without any comes back with an empty vector.
///
/// The control buffer has room for `max_fds` descriptors (rounded up to `CMSG_SPACE`), plus
/// the sender's credentials when `SO_PASSCRED` is on for `socket` (asked with [getsockopt(2)]
/// each call).
///
/// # Errors
///
/// - `InvalidInput`: `max_fds` is 0 or more than [`MAX_FDS`].
/// - `InvalidData` when the message's descriptors were not all taken: the message carried
///   more than `max_fds` (the kernel cut the control data, `MSG_CTRUNC`, or the padding took
///   one more), or, with `MSG_CTRUNC`, this process is at `RLIMIT_NOFILE` or a security module
///   refused one. Every descriptor that did arrive is closed by then, and the message's data is
///   consumed; the error says which cause is likely and what to try.
/// - `InvalidData` when a seqpacket or datagram message was longer than `bufs` (`MSG_TRUNC`):
///   its tail is lost, and so are its descriptors (closed).
/// - `WouldBlock` on a non-blocking socket with nothing to read.
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
/// [getsockopt(2)]: https://man7.org/linux/man-pages/man2/getsockopt.2.html
pub fn recv_fds(
    socket: impl AsFd,
    bufs: &mut [IoSliceMut<'_>],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    check_recv_fds(max_fds)?;
    recv_once(socket.as_fd(), bufs, max_fds)
}

/// [`recv_fds`]'s checks, before any syscall.
fn check_recv_fds(max_fds: usize) -> io::Result<()> {
    if max_fds == 0 {
        return Err(scm::invalid(
            "recv_fds: max_fds is 0; use a plain read for data alone (which would make the \
             kernel close any descriptors it carries)"
                .into(),
        ));
    }
    scm::check_count(max_fds, "recv_fds")
}

/// One [`recv_fds`] receive, after the checks: `SO_PASSCRED` asked, then one [recvmsg(2)];
/// `MSG_TRUNC` is an error.
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
fn recv_once(
    socket: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let creds = rustix::net::sockopt::socket_passcred(socket)
        .map_err(|e| crate::sys::hint(e.into(), "getsockopt(SO_PASSCRED)"))?;
    let got = scm::recv(socket, bufs, max_fds, creds, RecvFlags::empty())?;
    if got.flags.contains(ReturnFlags::TRUNC) {
        let room: usize = bufs.iter().map(|b| b.len()).sum();
        return Err(truncated(room, None));
    }
    Ok((got.bytes, got.fds))
}

/// The error for a message longer than the room for it (`MSG_TRUNC`); its descriptors are
/// closed by the time the caller sees it.
fn truncated(room: usize, len: Option<usize>) -> io::Error {
    let len = match len {
        Some(n) => format!("{n} bytes"),
        None => "more bytes".into(),
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "recvmsg: a message of {len} did not fit the {room} bytes of room (MSG_TRUNC); its \
             tail is lost and its descriptors are closed: receive into larger buffers or have \
             the sender send smaller messages"
        ),
    )
}
