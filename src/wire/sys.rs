//! The few syscalls every end and half shares: read, write, their vectored forms, shutdown.
//!
//! Sockets are written with `send(2)`/`sendmsg(2)` and `MSG_NOSIGNAL` so a gone peer is
//! `EPIPE`, never `SIGPIPE`; pipes can only use `write(2)`/`writev(2)`.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::BorrowedFd;

use rustix::net::{SendAncillaryBuffer, SendFlags};

/// One descriptor and whether it is a socket.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub fd: BorrowedFd<'a>,
    pub socket: bool,
}

#[inline(always)]
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::io::read(fd, buf)?)
}

#[inline]
pub(crate) fn read_vectored(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    Ok(rustix::io::readv(fd, bufs)?)
}

#[inline(always)]
pub(crate) fn write(t: Target<'_>, buf: &[u8]) -> io::Result<usize> {
    if t.socket {
        Ok(rustix::net::send(t.fd, buf, SendFlags::NOSIGNAL)?)
    } else {
        Ok(rustix::io::write(t.fd, buf)?)
    }
}

#[inline(always)]
pub(crate) fn write_all(t: Target<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write(t, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

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

pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: rustix::net::Shutdown) -> io::Result<()> {
    match rustix::net::shutdown(fd, how) {
        // The peer already closed: the direction is shut either way.
        Ok(()) | Err(rustix::io::Errno::NOTCONN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds what failed and, for descriptor exhaustion, what to do, keeping the error's kind.
pub(crate) fn with_hint(e: io::Error, what: &str) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(n) if n == rustix::io::Errno::MFILE.raw_os_error() => {
            "; this process is at RLIMIT_NOFILE: close unused descriptors or raise the limit \
             (ulimit -n)"
        }
        Some(n) if n == rustix::io::Errno::NFILE.raw_os_error() => {
            "; the system-wide file table is full (fs.file-max)"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("{what} failed: {e}{hint}"))
}

/// The error a write to a locally shut or closed write side returns on every kind.
pub(crate) fn write_side_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the write side of this wire end was shut down",
    )
}

/// Implements `Read` for `$t` and `&$t`, given `fn reader(&self) -> Option<BorrowedFd>` (`None`
/// reads as EOF).
macro_rules! impl_read {
    ($t:ty) => {
        impl std::io::Read for &$t {
            #[inline(always)]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.reader() {
                    Some(fd) => $crate::wire::sys::read(fd, buf),
                    None => Ok(0),
                }
            }
            #[inline]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                match self.reader() {
                    Some(fd) => $crate::wire::sys::read_vectored(fd, bufs),
                    None => Ok(0),
                }
            }
        }
        impl std::io::Read for $t {
            #[inline(always)]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }
            #[inline]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }
    };
}

/// Implements `Write` for `$t` and `&$t`, given `fn writer(&self) -> io::Result<Target>`.
macro_rules! impl_write {
    ($t:ty) => {
        impl std::io::Write for &$t {
            #[inline(always)]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                $crate::wire::sys::write(self.writer()?, buf)
            }
            #[inline]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $crate::wire::sys::write_vectored(self.writer()?, bufs)
            }
            /// One descriptor lookup for the whole buffer, then a tight loop of `write(2)`
            /// (or `send(2)`) calls, retrying `EINTR`.
            #[inline(always)]
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                $crate::wire::sys::write_all(self.writer()?, buf)
            }
            #[inline]
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl std::io::Write for $t {
            #[inline(always)]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }
            #[inline]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            #[inline(always)]
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                (&*self).write_all(buf)
            }
            #[inline]
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use {impl_read, impl_write};
