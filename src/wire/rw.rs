//! `Read` and `Write` for ends and halves, over [`crate::sys::io`]; the error of a write to
//! a shut write side.
//!
//! Sockets are written with `send(2)`/`sendmsg(2)` and `MSG_NOSIGNAL` so a gone peer is
//! `EPIPE`, never `SIGPIPE`; pipes can only use `write(2)`/`writev(2)`.

use std::io;

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
                    Some(fd) => $crate::sys::io::read(fd, buf),
                    None => Ok(0),
                }
            }
            #[inline]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                match self.reader() {
                    Some(fd) => $crate::sys::io::read_vectored(fd, bufs),
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
                $crate::sys::io::write(self.writer()?, buf)
            }
            #[inline]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                $crate::sys::io::write_vectored(self.writer()?, bufs)
            }
            /// One descriptor lookup for the whole buffer, then a tight loop of `write(2)`
            /// (or `send(2)`) calls, retrying `EINTR`.
            #[inline(always)]
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                $crate::sys::io::write_all(self.writer()?, buf, $crate::sys::io::Again::Fail)
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
