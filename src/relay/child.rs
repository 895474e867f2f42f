//! A child's wire halves as relay ends: [`child::Reader`] is a [`Source`] and [`child::Writer`]
//! a [`Sink`], and their zero-copy moves ([`child::Reader::splice_to`],
//! [`child::Writer::splice_from`]) are written here, beside the relay's other splices, and
//! counted for the child's watchdogs through the halves' accounting.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use super::{Sink, Source};
use crate::child;
use crate::sys::splice::{splice_from_wire, splice_waiting, splice_when_ready};
use crate::wire::Kind;

impl child::Reader {
    /// Moves up to `len` bytes of the child's output into the pipe `dst` with [splice(2)],
    /// without copying them through user space; counts for the watchdogs like a read. `Ok(0)`
    /// is EOF.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when `dst` is not a pipe (see
    /// Caveats) or the kernel cannot splice from this end (`EINVAL`); fall back to
    /// [`read`](Read::read) then. [`TimedOut`](child::TimedOut) once a watchdog fired.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    ///
    /// # Caveats
    ///
    /// It waits in [poll(2)] and splices with `SPLICE_F_NONBLOCK`, never blocking inside
    /// `splice(2)`, which holds the pipes' locks for the whole call: a process at the other end
    /// of such a pipe would sleep on the lock, uninterruptibly. `SPLICE_F_NONBLOCK` does not
    /// cover a socket being written, hence `dst` must be a pipe (a [`Bridge`](super::Bridge)
    /// with a [pool](super::Bridge::pool) reaches a socket through a pipe of its own). `dst`
    /// may be non-blocking; the call still blocks until something moved. The
    /// [end-at-exit](Self::end_at_exit) rule does not apply to it.
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn splice_to(&mut self, dst: impl AsFd, len: usize) -> io::Result<usize> {
        // Our end is a pipe or an AF_UNIX socket: SPLICE_F_NONBLOCK reaches it.
        self.counted(|src, waker| splice_from_wire(src, dst.as_fd(), len, waker))
    }
}

impl child::Writer {
    /// Moves up to `len` bytes from `src` into the child's input with [splice(2)], without
    /// copying them through user space; counts for the watchdogs like a write. `Ok(0)` means
    /// `src` is at EOF. Only on [`Topology::Pipes`](child::Topology::Pipes), where this end is
    /// a pipe.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when this end is a socket (see
    /// Caveats) or the kernel cannot splice from `src` (`EINVAL`); fall back to
    /// [`write`](Write::write) then. `BrokenPipe` after [`close`](Self::close);
    /// [`TimedOut`](child::TimedOut) once a watchdog fired.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    ///
    /// # Caveats
    ///
    /// As for [`Reader::splice_to`](child::Reader::splice_to): never blocks inside
    /// `splice(2)`, so `src` may be non-blocking and a process at the other end of a pipe is
    /// never stalled on its lock.
    pub fn splice_from(&mut self, src: impl AsFd, len: usize) -> io::Result<usize> {
        // Ok(0) after a wake-up is the watchdog's doing; the accounting reports it.
        self.counted(|dst, waker| splice_waiting(src.as_fd(), dst, len, waker))
    }
}

impl Source for child::Reader {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// [`child::Reader::splice_to`] into the sink's [`pipe_fd`](Sink::pipe_fd), so the
    /// splice counts for the child's watchdogs; into a sink that splices only on its own
    /// account (another child's [`child::Writer`]), that sink's accounts are kept instead.
    fn splice_into(&mut self, dst: &mut dyn Sink, len: usize) -> io::Result<usize> {
        match dst.pipe_fd() {
            Some(pipe) => self.splice_to(pipe, len),
            None => dst.splice_from_fd(self.as_fd(), len),
        }
    }
}

impl Sink for child::Writer {
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }

    /// On [`Topology::Pipes`](child::Topology::Pipes), until [`close`](child::Writer::close).
    fn is_pipe(&self) -> bool {
        self.kind() == Kind::Pipes && !self.is_closed()
    }

    /// `None`: the writer splices itself ([`child::Writer::splice_from`]), counted for the
    /// child's watchdogs.
    fn pipe_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        self.splice_from(src, len)
    }

    /// Our end of the child's input, until [`close`](child::Writer::close).
    fn stream_fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.is_closed()).then(|| self.as_fd())
    }

    /// Counted for the child's watchdogs, and woken by them.
    fn splice_out_of(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize> {
        self.counted(|dst, waker| splice_when_ready(pipe, dst, len, more, waker))
    }
}
