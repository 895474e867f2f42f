//! The streams under test behind one trait: the model, a kernel `UnixStream` pair, and the
//! `wire` kinds. Kernel readiness comes from poll(2) with a zero timeout.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use procwire::model::{MemStream, Readiness};
use procwire::wire::{Builder, End, Kind};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// Behaviours that differ between kinds for documented reasons; a scenario that needs one is
/// skipped (with a note on stderr) where it does not apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// A zero-length read of an empty, open, non-blocking end is `WouldBlock`: `recv(2)` (the
    /// model, std's `UnixStream`). `wire` ends read with `read(2)`, which returns 0 at once.
    ZeroReadWouldBlock,
    /// Writes to a dropped peer fail at once with `BrokenPipe` (not TCP, which may first accept
    /// bytes or say `ConnectionReset`).
    PromptBrokenPipe,
    /// `shutdown(Read)` fails the peer's writes (not TCP, which does not tell the peer).
    ShutReadFailsPeer,
    /// `shutdown(Read)` keeps queued bytes readable (AF_UNIX; closing a pipe discards them).
    ShutReadKeepsQueued,
    /// A peer dropped with unread bytes makes the survivor's read fail once with
    /// `ConnectionReset` after its own bytes (AF_UNIX; TCP resets differently, pipes never).
    ResetOnUnread,
    /// Byte counts of small transfers are exact: no network stack in between (not TCP).
    Exact,
    /// Readiness from poll(2) maps onto [`Readiness`] (sockets of AF_UNIX and the model).
    Readiness,
    /// A writer's room comes back only when the peer reads, so once a write would block, a
    /// blocking write blocks until a read (AF_UNIX, pipes, the model). Not TCP: acknowledgements
    /// and window updates free send room later, asynchronously, even with nobody reading.
    RoomOnlyFromReads,
    /// `set_read_timeout`/`set_write_timeout` (`SO_RCVTIMEO`/`SO_SNDTIMEO`): the model and
    /// std's `UnixStream`; `wire` ends have none.
    Timeouts,
}

/// One end of a duplex stream under test.
pub trait Stream: Send + Sync + Sized + 'static {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn set_nonblocking(&self, on: bool);
    fn shutdown(&mut self, how: Shutdown);
    fn readiness(&self) -> Readiness;
    /// Another handle to the same end, where the type has one.
    fn try_clone(&self) -> Option<Self>;
    /// `set_write_timeout` if `write`, else `set_read_timeout` (see [`Feature::Timeouts`]).
    fn set_timeout(&self, write: bool, t: Option<Duration>) -> io::Result<()>;
    /// `write_timeout` if `write`, else `read_timeout`.
    fn timeout(&self, write: bool) -> Option<Duration>;

    fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Makes pairs of one stream type.
pub trait Maker {
    type S: Stream;
    fn name(&self) -> String;
    fn pair(&self) -> (Self::S, Self::S);
    fn has(&self, f: Feature) -> bool;
}

macro_rules! delegate_io {
    () => {
        fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            Read::read(&mut &*self, buf)
        }
        fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
            Read::read_vectored(&mut &*self, bufs)
        }
        fn write(&self, buf: &[u8]) -> io::Result<usize> {
            Write::write(&mut &*self, buf)
        }
        fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            Write::write_vectored(&mut &*self, bufs)
        }
    };
}

/// The timeout methods of a type with `UnixStream`'s timeout API.
macro_rules! delegate_timeouts {
    () => {
        fn set_timeout(&self, write: bool, t: Option<Duration>) -> io::Result<()> {
            if write {
                self.set_write_timeout(t)
            } else {
                self.set_read_timeout(t)
            }
        }
        fn timeout(&self, write: bool) -> Option<Duration> {
            if write {
                self.write_timeout().unwrap()
            } else {
                self.read_timeout().unwrap()
            }
        }
    };
}

impl Stream for MemStream {
    delegate_io!();
    fn set_nonblocking(&self, on: bool) {
        MemStream::set_nonblocking(self, on).unwrap();
    }
    fn shutdown(&mut self, how: Shutdown) {
        MemStream::shutdown(self, how).unwrap();
    }
    fn readiness(&self) -> Readiness {
        MemStream::readiness(self)
    }
    fn try_clone(&self) -> Option<Self> {
        Some(MemStream::try_clone(self).unwrap())
    }
    delegate_timeouts!();
}

impl Stream for UnixStream {
    delegate_io!();
    fn set_nonblocking(&self, on: bool) {
        UnixStream::set_nonblocking(self, on).unwrap();
    }
    fn shutdown(&mut self, how: Shutdown) {
        UnixStream::shutdown(self, how).unwrap();
    }
    fn readiness(&self) -> Readiness {
        fd_readiness(Some(self.as_fd()), Some(self.as_fd()))
    }
    fn try_clone(&self) -> Option<Self> {
        Some(UnixStream::try_clone(self).unwrap())
    }
    delegate_timeouts!();
}

impl Stream for End {
    delegate_io!();
    fn set_nonblocking(&self, on: bool) {
        End::set_nonblocking(self, on).unwrap();
    }
    fn shutdown(&mut self, how: Shutdown) {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.shutdown_read().unwrap();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.shutdown_write().unwrap();
        }
    }
    fn readiness(&self) -> Readiness {
        fd_readiness(self.read_fd(), self.write_fd())
    }
    fn try_clone(&self) -> Option<Self> {
        Some(End::try_clone(self).unwrap())
    }
    fn set_timeout(&self, _: bool, _: Option<Duration>) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn timeout(&self, _: bool) -> Option<Duration> {
        None
    }
}

fn revents(fd: BorrowedFd<'_>, events: PollFlags) -> PollFlags {
    let mut fds = [PollFd::from_borrowed_fd(fd, events)];
    poll(&mut fds, Some(&Timespec::default())).unwrap();
    fds[0].revents()
}

/// poll(2) on a read and a write descriptor (the same one for sockets), mapped onto
/// [`Readiness`]. `write_closed` is not observable through poll on a socket and stays false.
pub fn fd_readiness(read: Option<BorrowedFd<'_>>, write: Option<BorrowedFd<'_>>) -> Readiness {
    let mut r = Readiness::default();
    match read {
        Some(fd) => {
            let ev = revents(fd, PollFlags::IN | PollFlags::RDHUP);
            r.readable = ev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR);
            r.read_closed = ev.contains(PollFlags::RDHUP);
            r.error = ev.contains(PollFlags::ERR);
        }
        None => {
            r.readable = true;
            r.read_closed = true;
        }
    }
    match write {
        Some(fd) => {
            let ev = revents(fd, PollFlags::OUT);
            r.writable = ev.intersects(PollFlags::OUT | PollFlags::ERR);
        }
        None => {
            r.writable = true;
            r.write_closed = true;
        }
    }
    r
}

/// The model.
pub struct Mem;

impl Maker for Mem {
    type S = MemStream;
    fn name(&self) -> String {
        "model".into()
    }
    fn pair(&self) -> (MemStream, MemStream) {
        MemStream::pair().unwrap()
    }
    fn has(&self, _: Feature) -> bool {
        true
    }
}

/// std's kernel socketpair.
pub struct Kernel;

impl Maker for Kernel {
    type S = UnixStream;
    fn name(&self) -> String {
        "UnixStream::pair".into()
    }
    fn pair(&self) -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }
    fn has(&self, _: Feature) -> bool {
        true
    }
}

/// A `wire` kind.
pub struct Wire(pub Kind);

impl Maker for Wire {
    type S = End;
    fn name(&self) -> String {
        format!("wire {}", self.0)
    }
    fn pair(&self) -> (End, End) {
        Builder::new().kind(self.0).build().unwrap().into_ends()
    }
    fn has(&self, f: Feature) -> bool {
        use Feature::*;
        match (self.0, f) {
            (_, ZeroReadWouldBlock | Timeouts) => false,
            (Kind::SocketPair, _) => true,
            (Kind::Pipes, PromptBrokenPipe | ShutReadFailsPeer | Exact | RoomOnlyFromReads) => true,
            (Kind::Pipes, _) => false,
            (Kind::Loopback, _) => false,
        }
    }
}
