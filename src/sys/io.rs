//! Reads and writes, written once: the wire's hot path and every copy loop use these.
//!
//! Sockets are written with [send(2)]/[sendmsg(2)] and `MSG_NOSIGNAL`, so a gone peer is
//! `EPIPE` (`BrokenPipe`), never `SIGPIPE`; pipes can only use [write(2)]/[writev(2)], where only
//! the signal's disposition can help (see [`crate::child::Sigpipe`]).
//!
//! [send(2)]: https://man7.org/linux/man-pages/man2/send.2.html
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [write(2)]: https://man7.org/linux/man-pages/man2/write.2.html
//! [writev(2)]: https://man7.org/linux/man-pages/man2/writev.2.html

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::BorrowedFd;

use rustix::event::PollFlags;
use rustix::io::Errno;
use rustix::net::{SendAncillaryBuffer, SendFlags};

/// One descriptor and whether it is a socket (which decides `send` or `write`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub fd: BorrowedFd<'a>,
    pub socket: bool,
}

impl<'a> Target<'a> {
    /// Asks [fstat(2)] whether `fd` is a socket. For descriptors we did not make (our stdout).
    ///
    /// [fstat(2)]: https://man7.org/linux/man-pages/man2/fstat.2.html
    pub(crate) fn detect(fd: BorrowedFd<'a>) -> io::Result<Target<'a>> {
        let mode = rustix::fs::fstat(fd)?.st_mode;
        let socket = rustix::fs::FileType::from_raw_mode(mode) == rustix::fs::FileType::Socket;
        Ok(Target { fd, socket })
    }
}

/// What a loop does on `EAGAIN` (a non-blocking descriptor that is not ready).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Again {
    /// Return `WouldBlock`, as `std`'s loops do: the caller owns the event loop.
    Fail,
    /// Wait in poll(2) until the descriptor is ready, then go on: for descriptors someone else
    /// made non-blocking (upstream rsync hands its remote shell a non-blocking stdout).
    Wait,
}

/// [read(2)] once.
///
/// [read(2)]: https://man7.org/linux/man-pages/man2/read.2.html
#[inline(always)]
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::io::read(fd, buf)?)
}

/// [readv(2)] once.
///
/// [readv(2)]: https://man7.org/linux/man-pages/man2/readv.2.html
#[inline]
pub(crate) fn read_vectored(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    Ok(rustix::io::readv(fd, bufs)?)
}

/// One read that retries `EINTR` and treats `EAGAIN` as `again` says.
pub(crate) fn read_retrying(fd: BorrowedFd<'_>, buf: &mut [u8], again: Again) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if again == Again::Wait => {
                super::poll::wait(fd, PollFlags::IN, None)?;
            }
            r => return Ok(r?),
        }
    }
}

/// `send(MSG_NOSIGNAL)` or `write(2)` once.
#[inline(always)]
pub(crate) fn write(t: Target<'_>, buf: &[u8]) -> io::Result<usize> {
    if t.socket {
        Ok(rustix::net::send(t.fd, buf, SendFlags::NOSIGNAL)?)
    } else {
        Ok(rustix::io::write(t.fd, buf)?)
    }
}

/// Writes all of `buf`: one descriptor lookup by the caller, then a tight loop of `write`
/// calls, retrying `EINTR`; `EAGAIN` as `again` says. `WriteZero` if the kernel takes nothing.
#[inline(always)]
pub(crate) fn write_all(t: Target<'_>, mut buf: &[u8], again: Again) -> io::Result<()> {
    while !buf.is_empty() {
        match write(t, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock if again == Again::Wait => {
                    super::poll::wait(t.fd, PollFlags::OUT, None)?;
                }
                _ => return Err(e),
            },
        }
    }
    Ok(())
}

/// `sendmsg(MSG_NOSIGNAL)` or `writev(2)` once: a header and a payload without a linear copy.
#[inline]
pub(crate) fn write_vectored(t: Target<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    if t.socket {
        let mut no_control = SendAncillaryBuffer::default();
        Ok(rustix::net::sendmsg(
            t.fd,
            bufs,
            &mut no_control,
            SendFlags::NOSIGNAL,
        )?)
    } else {
        Ok(rustix::io::writev(t.fd, bufs)?)
    }
}

/// [shutdown(2)]; `ENOTCONN` (the peer already closed) counts as done: the direction is shut
/// either way.
///
/// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: rustix::net::Shutdown) -> io::Result<()> {
    match rustix::net::shutdown(fd, how) {
        Ok(()) | Err(Errno::NOTCONN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// How many bytes are queued to read (`ioctl(FIONREAD)`, [ioctl_fionread(2)]-style); `None`
/// when the kernel cannot say for this descriptor.
///
/// [ioctl_fionread(2)]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
pub(crate) fn queued(fd: BorrowedFd<'_>) -> Option<u64> {
    rustix::io::ioctl_fionread(fd).ok()
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn write_all_on_a_full_non_blocking_pipe_fails_or_waits() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        crate::fd::set_nonblocking(&w, true).unwrap();
        let big = vec![7u8; 1 << 20];
        let t = Target::detect(w.as_fd()).unwrap();
        assert!(!t.socket);
        let e = write_all(t, &big, Again::Fail).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        // Drain on another thread until EOF; the waiting form completes.
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0usize;
            loop {
                match read_retrying(r.as_fd(), &mut buf, Again::Wait).unwrap() {
                    0 => return total,
                    n => total += n,
                }
            }
        });
        write_all(t, &big, Again::Wait).unwrap();
        drop(w);
        assert!(reader.join().unwrap() >= big.len());
    }

    #[test]
    fn queued_counts_what_is_waiting() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        assert_eq!(queued(r.as_fd()), Some(0));
        rustix::io::write(&w, b"abc").unwrap();
        assert_eq!(queued(r.as_fd()), Some(3));
    }
}
