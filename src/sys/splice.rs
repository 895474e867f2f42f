//! [splice(2)], written once, and the rules that keep it from stalling other processes.
//!
//! Linux holds a pipe's lock for the whole of a `splice` call. A call that *blocks* inside the
//! kernel therefore freezes, uninterruptibly, any process using the other end of that pipe
//! (ssh's stdin reader stalled this way and a transfer deadlocked). So procwire never blocks
//! inside `splice`: it waits for readiness in poll(2) and splices with `SPLICE_F_NONBLOCK`.
//! That flag governs the pipes and an `AF_UNIX` socket being *read*, but not a socket being
//! *written*, nor a TCP socket being read (both follow the socket's own `O_NONBLOCK`:
//! `tcp_splice_read` looks only at the file's flag), so [`splice_waiting`] only writes into
//! pipes, and reads a socket of another family only when that socket is non-blocking itself.
//! `SPLICE_F_MOVE` is never passed (it is a no-op since Linux 2.6.21).
//!
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use rustix::event::PollFlags;
use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

use super::Waker;
use super::poll::{Wait, wait_or_woken};

/// Whether `fd` is a pipe (or FIFO), asked with fstat(2).
pub(crate) fn is_pipe(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode) == FileType::Fifo)
}

/// Whether a splice reading `from` could block inside the kernel despite `SPLICE_F_NONBLOCK`:
/// a socket of a family other than `AF_UNIX` without `O_NONBLOCK` of its own.
/// Cheapest question first: a non-blocking descriptor costs one `fcntl(2)`.
fn may_block_inside(from: BorrowedFd<'_>) -> io::Result<bool> {
    if rustix::fs::fcntl_getfl(from)?.contains(rustix::fs::OFlags::NONBLOCK) {
        return Ok(false);
    }
    if FileType::from_raw_mode(rustix::fs::fstat(from)?.st_mode) != FileType::Socket {
        return Ok(false);
    }
    Ok(rustix::net::sockopt::socket_domain(from)? != rustix::net::AddressFamily::UNIX)
}

/// Whether a splice error means "this pair of descriptors cannot splice" (`EINVAL`: a tty, a
/// file opened with `O_APPEND`, an old kernel's socket; `ENOSYS`; or the `InvalidInput` that
/// [`splice_waiting`] returns for a destination that is not a pipe): copy instead. Only
/// meaningful before any byte moved.
pub(crate) fn cannot_splice(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidInput || super::error::is(e, Errno::NOSYS)
}

/// One `splice(from, to, len, SPLICE_F_NONBLOCK)`, `EINTR` retried. `EAGAIN` comes back as
/// `WouldBlock`.
pub(crate) fn splice_once(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    splice_nonblock(from, to, len, false)
}

/// [`splice_once`], with `SPLICE_F_MORE` when `more` (the caller knows more bytes follow this
/// call: a socket destination may then hold back a partial segment, as with `MSG_MORE`).
pub(crate) fn splice_nonblock(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    more: bool,
) -> io::Result<usize> {
    let flags = if more {
        SpliceFlags::NONBLOCK | SpliceFlags::MORE
    } else {
        SpliceFlags::NONBLOCK
    };
    loop {
        match rustix::pipe::splice(from, None, to, None, len, flags) {
            Err(Errno::INTR) => {}
            r => return Ok(r?),
        }
    }
}

/// Moves up to `len` bytes from `from` into the pipe `to`, waiting (in poll(2), never inside
/// `splice`) until some moved, `from` is at EOF (`Ok(Some(0))`), an error, or `waker` fired
/// (`Ok(None)`).
///
/// # Errors
///
/// `InvalidInput` before anything moved when `to` is not a pipe (see the module docs);
/// `EINVAL` from the kernel when `from` cannot be spliced. [`cannot_splice`] recognises both.
pub(crate) fn splice_waiting(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    waker: Option<&Waker>,
) -> io::Result<Option<usize>> {
    if may_block_inside(from)? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "splice from a blocking TCP (non-AF_UNIX) socket can sleep inside the kernel while \
             it holds the pipe's lock (SPLICE_F_NONBLOCK does not reach it); copy with read and \
             write instead, or make the socket non-blocking",
        ));
    }
    splice_from_wire(from, to, len, waker)
}

/// [`splice_waiting`] for a source known to honour `SPLICE_F_NONBLOCK` (a wire end: a pipe or
/// an `AF_UNIX` socket), without asking the kernel what `from` is on every call: the hot path
/// of a child's reader.
pub(crate) fn splice_from_wire(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    waker: Option<&Waker>,
) -> io::Result<Option<usize>> {
    if !is_pipe(to)? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "splice needs a pipe to write into: a splice into a socket or file can block while \
             it holds the source pipe's lock; copy with read and write instead",
        ));
    }
    splice_when_ready(from, to, len, false, waker)
}

/// Waits in poll(2) until `from` is readable and `to` writable (or hung up, or in error), or
/// `waker` fired (`Ok(None)`), then one `splice(SPLICE_F_NONBLOCK)` (`SPLICE_F_MORE` when
/// `more`); `EAGAIN` waits again. The callers decide which pairs are safe: the call can still
/// sleep inside the kernel where `SPLICE_F_NONBLOCK` does not reach (a blocking socket being
/// written, a file's disk I/O), holding the pipe's lock meanwhile. Safe: out of a pipe
/// **private to the caller** (a relay's own) into anything, which then stalls nobody else;
/// into a file (only disk I/O to wait for).
///
/// # Errors
///
/// `EPIPE` when `to` is a socket whose peer is gone (and `SIGPIPE` raised on the calling
/// thread: block it, see `ffi::SigpipeBlocked`); `EINVAL` when the pair cannot splice (a file
/// opened with `O_APPEND` as `to`, a procfs file as `from`).
pub(crate) fn splice_when_ready(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    more: bool,
    waker: Option<&Waker>,
) -> io::Result<Option<usize>> {
    loop {
        for (fd, events) in [(from, PollFlags::IN), (to, PollFlags::OUT)] {
            if wait_or_woken(fd, events, waker, None::<Instant>)? == Wait::Woken {
                return Ok(None);
            }
        }
        match splice_nonblock(from, to, len, more) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => return r.map(Some),
        }
    }
}

/// [sendfile(2)] of up to `len` bytes from `file` (at and advancing its file offset) to `to`,
/// waiting in poll(2) until `to` is writable first and again on `EAGAIN`; `EINTR` retried.
/// `Ok(0)`: `file` is at EOF.
///
/// The kernel moves the file's page-cache pages to `to` without a copy through user space
/// (through a pipe of its own, per task). `to` may be any descriptor since Linux 2.6.33;
/// `file` must support mmap-like reads (a regular file or a block device): a socket, a pipe
/// or a tty as `file` is `EINVAL`, which [`cannot_splice`] recognises. Into a socket whose
/// peer is gone it is `EPIPE` and raises `SIGPIPE` (block it, see `ffi::SigpipeBlocked`).
///
/// [sendfile(2)]: https://man7.org/linux/man-pages/man2/sendfile.2.html
pub(crate) fn sendfile_waiting(
    file: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    loop {
        super::poll::wait(to, PollFlags::OUT, None)?;
        match rustix::fs::sendfile(to, file, None, len) {
            Err(Errno::INTR | Errno::AGAIN) => {}
            r => return Ok(r?),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn splices_into_pipes_only_and_stops_when_woken() {
        let (sa, sb) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let (pr, pw) = rustix::pipe::pipe().unwrap();
        assert!(is_pipe(pr.as_fd()).unwrap());
        assert!(!is_pipe(sa.as_fd()).unwrap());
        rustix::io::write(&sa, b"hello").unwrap();
        assert_eq!(
            splice_waiting(sb.as_fd(), pw.as_fd(), 64, None).unwrap(),
            Some(5)
        );
        let mut buf = [0u8; 8];
        assert_eq!(rustix::io::read(&pr, &mut buf).unwrap(), 5);
        // Into a socket: refused before anything moves.
        rustix::io::write(&pw, b"x").unwrap();
        let e = splice_waiting(pr.as_fd(), sa.as_fd(), 64, None).unwrap_err();
        assert!(cannot_splice(&e), "{e}");
        assert_eq!(rustix::io::read(&pr, &mut buf).unwrap(), 1);
        // Nothing to read and the waker fired: None.
        let waker = Waker::new("test").unwrap();
        waker.wake();
        assert_eq!(
            splice_waiting(sb.as_fd(), pw.as_fd(), 64, Some(&waker)).unwrap(),
            None
        );
        // From a blocking TCP socket: refused before anything moves (it could sleep in the
        // kernel holding the pipe's lock); non-blocking, it splices.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut client, b"tcp").unwrap();
        let e = splice_waiting(server.as_fd(), pw.as_fd(), 64, None).unwrap_err();
        assert!(cannot_splice(&e), "{e}");
        server.set_nonblocking(true).unwrap();
        assert_eq!(
            splice_waiting(server.as_fd(), pw.as_fd(), 64, None).unwrap(),
            Some(3)
        );
        assert_eq!(rustix::io::read(&pr, &mut buf).unwrap(), 3);
        // EOF.
        drop(sa);
        assert_eq!(
            splice_waiting(sb.as_fd(), pw.as_fd(), 64, None).unwrap(),
            Some(0)
        );
    }
}
