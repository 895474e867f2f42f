//! Descriptors in a socket message's control data: `SCM_RIGHTS` ([unix(7)], [cmsg(3)]) sent
//! with [sendmsg(2)] and received with [recvmsg(2)], through `rustix`'s safe ancillary buffers.
//!
//! The public API and its documentation are in [`crate::pass`]; this file is the syscall level:
//! control buffers sized exactly, `MSG_NOSIGNAL` on send, `MSG_CMSG_CLOEXEC` on receive, `EINTR`
//! retried, and `MSG_CTRUNC` turned into an error after every descriptor that did arrive is
//! closed.
//!
//! [unix(7)]: https://man7.org/linux/man-pages/man7/unix.7.html
//! [cmsg(3)]: https://man7.org/linux/man-pages/man3/cmsg.3.html
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

/// The kernel's `SCM_MAX_FD`: the most descriptors one `SCM_RIGHTS` message may carry.
pub(crate) const MAX_FDS: usize = 253;

/// Control space for `MAX_FDS` descriptors, as `cmsg_space!` sizes it (it includes the slack
/// to align the buffer for `cmsghdr`).
const SEND_SPACE: usize = rustix::cmsg_space!(ScmRights(MAX_FDS));

/// Control space for one `SCM_CREDENTIALS` message (a `struct ucred`), padded.
const CREDS_SPACE: usize = rustix::cmsg_aligned_space!(ScmCredentials(1));

/// `CMSG_LEN(0)`: the header of one control message, aligned.
const HEADER: usize = rustix::cmsg_aligned_space!(ScmRights(0));

/// The largest receive control buffer, plus the slack to align it (`cmsghdr` is aligned as
/// `size_t`).
const RECV_SPACE: usize = CREDS_SPACE + rustix::cmsg_space!(ScmRights(MAX_FDS));

/// A `InvalidInput` error with `msg`.
pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Refuses more than [`MAX_FDS`] descriptors before any syscall.
pub(crate) fn check_count(n: usize, what: &str) -> io::Result<()> {
    if n > MAX_FDS {
        return Err(invalid(format!(
            "{what}: {n} descriptors in one message; the kernel takes at most {MAX_FDS} \
             (SCM_MAX_FD): split them over several messages"
        )));
    }
    Ok(())
}

/// Adds what failed to a send error, with the hint for `ETOOMANYREFS` (descriptors in flight
/// count against the sender's `RLIMIT_NOFILE`).
fn send_error(e: Errno, n: usize) -> io::Error {
    let what = format!("sendmsg(SCM_RIGHTS, {n} descriptors, MSG_NOSIGNAL)");
    if e == Errno::TOOMANYREFS {
        return io::Error::new(
            io::Error::from(e).kind(),
            format!(
                "{what} failed: {e}; more descriptors are in flight (sent, not yet received) \
                 than this process's RLIMIT_NOFILE allows: let the receiver catch up or raise \
                 the limit (ulimit -n)"
            ),
        );
    }
    super::hint(e.into(), &what)
}

/// One [sendmsg(2)] of `data` with `fds` (0..=[`MAX_FDS`]) attached, `MSG_NOSIGNAL`, `EINTR`
/// retried. Returns the bytes sent, which on a stream socket may be fewer than `data` holds;
/// the descriptors went with the first of them.
///
/// [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
pub(crate) fn send(
    socket: BorrowedFd<'_>,
    data: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    check_count(fds.len(), "sendmsg(SCM_RIGHTS)")?;
    let mut space = [MaybeUninit::<u8>::uninit(); SEND_SPACE];
    let used = if fds.is_empty() {
        0
    } else {
        rustix::cmsg_space!(ScmRights(fds.len()))
    };
    let mut control = SendAncillaryBuffer::new(&mut space[..used]);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        // Unreachable: the buffer is sized for exactly this message.
        return Err(io::Error::other(
            "sendmsg(SCM_RIGHTS): the control buffer is too small (a procwire bug)",
        ));
    }
    loop {
        match sendmsg(socket, data, &mut control, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => {}
            Err(e) => return Err(send_error(e, fds.len())),
            Ok(n) => return Ok(n),
        }
    }
}

/// What one [`recv`] got.
#[derive(Debug)]
pub(crate) struct Received {
    /// Data bytes; with `MSG_TRUNC` asked for, the message's whole length.
    pub bytes: usize,
    /// The descriptors, close-on-exec since the kernel installed them.
    pub fds: Vec<OwnedFd>,
    /// The returned `msg_flags` (`MSG_TRUNC` is checked by the callers that care).
    pub flags: ReturnFlags,
}

/// One [recvmsg(2)] with `MSG_CMSG_CLOEXEC` (plus `flags`), `EINTR` retried, and a control
/// buffer with room for `max_fds` descriptors (1..=[`MAX_FDS`]) after an `SCM_CREDENTIALS`
/// message when `creds` says `SO_PASSCRED` is on.
///
/// `MSG_CTRUNC`, or more than `max_fds` descriptors (the buffer is `CMSG_SPACE`-padded, so an
/// odd `max_fds` has room for one more), is an `InvalidData` error, returned after every
/// descriptor that did arrive is closed (they are `OwnedFd`s, dropped here).
///
/// [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
pub(crate) fn recv(
    socket: BorrowedFd<'_>,
    bufs: &mut [IoSliceMut<'_>],
    max_fds: usize,
    creds: bool,
    flags: RecvFlags,
) -> io::Result<Received> {
    check_count(max_fds, "recvmsg(SCM_RIGHTS)")?;
    let mut space = [MaybeUninit::<u8>::uninit(); RECV_SPACE];
    // `CMSG_SPACE`, not `CMSG_LEN`: the kernel would fill a `CMSG_LEN` buffer, but the parser
    // (like glibc's `CMSG_NXTHDR`) does not step to a last message whose padded length runs
    // past the buffer, and its descriptors would never be seen or closed.
    let rights = rustix::cmsg_aligned_space!(ScmRights(max_fds));
    let room = (rights - HEADER) / size_of::<i32>();
    let len = if creds { CREDS_SPACE } else { 0 } + rights;
    let start = space.as_ptr().align_offset(align_of::<usize>());
    let mut control = RecvAncillaryBuffer::new(&mut space[start..start + len]);
    let msg = loop {
        match recvmsg(socket, bufs, &mut control, flags | RecvFlags::CMSG_CLOEXEC) {
            Err(Errno::INTR) => {}
            Err(e) => return Err(super::hint(e.into(), "recvmsg(MSG_CMSG_CLOEXEC)")),
            Ok(m) => break m,
        }
    };
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(got) = m {
            fds.extend(got);
        }
    }
    // Everything is drained, so the buffer's `Drop` has nothing to close, and it must not run:
    // rustix 1.1.6 drains again from an offset advanced by each message's unpadded `cmsg_len`
    // (28 for `SCM_CREDENTIALS`), which leaves a misaligned `cmsghdr` in reach; with debug
    // assertions that is a panic that aborts the process, without them undefined behaviour.
    // Forgetting it frees nothing (it borrows `space`).
    std::mem::forget(control);
    let ctrunc = msg.flags.contains(ReturnFlags::CTRUNC);
    if ctrunc || fds.len() > max_fds {
        let got = fds.len();
        drop(fds);
        // All the room used (or more than asked): the message carried too many; room left:
        // the kernel could not install the rest.
        let too_many = got >= room || got > max_fds;
        return Err(lost(got, max_fds, msg.bytes, ctrunc, too_many));
    }
    Ok(Received {
        bytes: msg.bytes,
        fds,
        flags: msg.flags,
    })
}

/// The error for descriptors not all taken, most likely cause first.
fn lost(got: usize, max_fds: usize, bytes: usize, ctrunc: bool, too_many: bool) -> io::Error {
    let causes = if too_many {
        format!(
            "the message carried more than max_fds ({max_fds}): receive with a larger max_fds \
             (at most {MAX_FDS}) or have the sender split them"
        )
    } else {
        "the kernel could not install them all: this process is at RLIMIT_NOFILE (close \
         descriptors or raise the limit, ulimit -n) or a security module (SELinux, AppArmor) \
         refused one"
            .to_string()
    };
    let flag = if ctrunc { " (MSG_CTRUNC)" } else { "" };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "recvmsg: a message's descriptors were not all taken{flag}: {got} arrived and have \
             been closed again, and the message's {bytes} data bytes are consumed; {causes}"
        ),
    )
}
