//! The reader, the writer and the unsplit child.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::ExitStatus;
use std::sync::Arc;

use rustix::event::{PollFd, PollFlags};
use rustix::net::Shutdown;

use super::handle::Handle;
use super::process::{Exited, OsProcess};
use super::state::{Dir, Shared};
use super::{Exit, Watchdog};
use crate::sys::io::{Again, read_retrying};
use crate::sys::poll;
use crate::sys::splice::{splice_from_wire, splice_waiting};
use crate::wire::{Kind, ReadHalf, WriteHalf};

/// Our end of the child's stdout. Dropping it never touches the process: a child that writes
/// on gets `EPIPE` (or dies of `SIGPIPE`), the same on every topology, as the
/// [module docs](super#when-the-reader-goes-away) detail. On a socket the drop first shuts our
/// end for reading ([shutdown(2)] `SHUT_RD`) and discards what is queued unread, so that the
/// close does not make the kernel reset the connection (`ECONNRESET` for the child).
///
/// One thing changes for an armed connect watchdog: with no reader left, nobody can see a
/// byte (or EOF) arrive, so at its deadline it fires unless a byte was already read or it was
/// cancelled ([`Child::wait`] and [`Child::close`] drop the reader first). Cancel it
/// ([`Handle::cancel_connect_watchdog`](super::Handle::cancel_connect_watchdog)) when the
/// child's silence is expected.
///
/// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
///
/// Once a watchdog has fired, every read fails with [`io::ErrorKind::TimedOut`] carrying a
/// [`TimedOut`](super::TimedOut).
pub struct Reader {
    /// Always `Some` until [`into_inner`](Self::into_inner) takes it.
    half: Option<ReadHalf>,
    shared: Arc<Shared>,
    poll: bool,
    process: Arc<OsProcess>,
    end_at_exit: bool,
    /// In the end-at-exit mode, once the child has exited: how many of the bytes queued at
    /// that moment are still to read.
    left: Option<u64>,
}

impl Reader {
    pub(crate) fn new(
        half: ReadHalf,
        shared: Arc<Shared>,
        process: Arc<OsProcess>,
        poll: bool,
    ) -> Reader {
        Reader {
            half: Some(half),
            shared,
            poll,
            process,
            end_at_exit: false,
            left: None,
        }
    }

    /// Ends reading at EOF **or** once the child has exited and the bytes queued at that
    /// moment have been read, whichever comes first: after that, reads return `Ok(0)`.
    ///
    /// Without it a read waits for EOF, which comes only when every process holding the
    /// child's stdout has closed it: a descendant (`sh -c 'sleep 60 & echo hi'`, an ssh
    /// `ControlMaster`) keeps it open long after the child is gone. This is the rule
    /// `procwire exec` follows: reads wait in [poll(2)] on the wire and on the child's pidfd
    /// (which polls readable at its exit; without pidfds, on old kernels, the exit is checked
    /// every 50 ms); once it has exited, [`FIONREAD`] says how many bytes are queued, and
    /// exactly those are read, so a descendant that goes on writing cannot keep the reader.
    ///
    /// Applies to [`read`](Read::read) and [`read_vectored`](Read::read_vectored), not to
    /// [`splice_to`](Self::splice_to). Bytes a descendant writes after the child's exit are
    /// not read.
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    /// [`FIONREAD`]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    pub fn end_at_exit(&mut self, on: bool) -> &mut Reader {
        self.end_at_exit = on;
        self
    }

    /// One read in the end-at-exit mode.
    fn read_until_exit(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.check()?;
        if self.left.is_none() && self.exited_first()? {
            // FIONREAD works on pipes and sockets; if it cannot say, read nothing more rather
            // than risk waiting on a wire a descendant holds.
            self.left = Some(crate::sys::io::queued(self.half().as_fd()).unwrap_or(0));
        }
        let want = match self.left {
            Some(0) => return Ok(0),
            Some(l) => buf.len().min(usize::try_from(l).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let r = self.half_mut().read(&mut buf[..want]);
        let r = self.shared.settle(r, Dir::Read);
        if let (Ok(n), Some(l)) = (&r, self.left.as_mut()) {
            *l = if *n == 0 {
                0
            } else {
                l.saturating_sub(*n as u64)
            };
        }
        r
    }

    /// Waits until the wire has data or EOF (false) or the child has exited (true), or a
    /// watchdog fires (its error). An exit seen together with data wins, so a descendant that
    /// writes without pause cannot hide it.
    fn exited_first(&self) -> io::Result<bool> {
        let wire = self.half().as_fd();
        let exit_fd = self.process.exit_fd();
        loop {
            let mut fds = vec![PollFd::from_borrowed_fd(wire, PollFlags::IN)];
            if let Some(fd) = exit_fd {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            }
            if let Some(wake) = self.shared.waker() {
                fds.push(PollFd::from_borrowed_fd(wake.fd(), PollFlags::IN));
            }
            let deadline = match exit_fd {
                Some(_) => None,
                None => poll::deadline(Some(std::time::Duration::from_millis(50))),
            };
            poll::poll(&mut fds, deadline)?;
            self.shared.check()?;
            let exited = match exit_fd {
                Some(_) => !fds[1].revents().is_empty(),
                None => self.process.has_exited()?,
            };
            if exited {
                return Ok(true);
            }
            if !fds[0].revents().is_empty() {
                return Ok(false);
            }
        }
    }

    #[inline]
    fn half(&self) -> &ReadHalf {
        self.half.as_ref().expect("only into_inner takes the half")
    }

    #[inline]
    fn half_mut(&mut self) -> &mut ReadHalf {
        self.half.as_mut().expect("only into_inner takes the half")
    }

    /// The kind of kernel object this end is (pipes or socketpair).
    pub fn kind(&self) -> Kind {
        self.half().kind()
    }

    /// Disarms the connect watchdog (see [`Handle::cancel_connect_watchdog`]); here so the code
    /// that reads the greeting can do it.
    pub fn cancel_connect_watchdog(&self) {
        self.shared.cancel_connect();
    }

    /// The watchdog that fired, if one did.
    pub fn timed_out(&self) -> Option<(Watchdog, std::time::Duration)> {
        self.shared.timed_out()
    }

    /// Gives up the procwire wrapper: the bare half. Reads on it are no longer counted, so this
    /// disarms the child's watchdogs (they would otherwise kill a child that is busy sending).
    pub fn into_inner(mut self) -> ReadHalf {
        self.shared.disarm();
        self.half.take().expect("only into_inner takes the half")
    }

    /// Moves up to `len` bytes of the child's output into the pipe `dst` with [splice(2)],
    /// without copying them through user space; counts for the watchdogs like a read. `Ok(0)` is
    /// EOF.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when `dst` is not a pipe (see
    /// Caveats) or the kernel cannot splice from this end (`EINVAL`); fall back to
    /// [`read`](Read::read) then. [`TimedOut`](super::TimedOut) once a watchdog fired.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    ///
    /// # Caveats
    ///
    /// It waits in [poll(2)] and splices with `SPLICE_F_NONBLOCK`, never blocking inside
    /// `splice(2)`, which holds the pipes' locks for the whole call: a process at the other end
    /// of such a pipe would sleep on the lock, uninterruptibly. `SPLICE_F_NONBLOCK` does not
    /// cover a socket being written, hence `dst` must be a pipe. `dst` may be non-blocking; the
    /// call still blocks until something moved.
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn splice_to(&mut self, dst: impl AsFd, len: usize) -> io::Result<usize> {
        self.shared.check()?;
        // None: woken by the watchdog, whose error settle reports.
        // Our end is a pipe or an AF_UNIX socket: SPLICE_F_NONBLOCK reaches it.
        let r = splice_from_wire(self.half().as_fd(), dst.as_fd(), len, self.shared.waker());
        self.shared.settle(r.map(|n| n.unwrap_or(0)), Dir::Read)
    }
}

impl Read for Reader {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.end_at_exit {
            return self.read_until_exit(buf);
        }
        self.shared
            .ready(self.half().as_fd(), PollFlags::IN, self.poll)?;
        let r = self.half_mut().read(buf);
        self.shared.settle(r, Dir::Read)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if self.end_at_exit {
            let first = bufs.iter_mut().find(|b| !b.is_empty());
            return first.map_or(Ok(0), |b| self.read_until_exit(b));
        }
        self.shared
            .ready(self.half().as_fd(), PollFlags::IN, self.poll)?;
        let r = self.half_mut().read_vectored(bufs);
        self.shared.settle(r, Dir::Read)
    }
}

impl Drop for Reader {
    /// Lets go of the child's stdout so that a child writing on sees `EPIPE` at once, on every
    /// topology: on a socket, shut down and discard (see `let_go`); then tell the watchdog
    /// to drop its duplicate of our read end (on a pipe that duplicate alone would keep the
    /// child writing into a pipe nobody reads).
    fn drop(&mut self) {
        if let Some(half) = self.half.take() {
            let_go(half);
        }
        self.shared.reader_gone();
    }
}

/// Closes our read end of a wire so the writer gets `EPIPE`, never `ECONNRESET`. Closing an
/// `AF_UNIX` stream socket that still holds unread bytes makes the kernel set `ECONNRESET` on
/// the peer, and that error wins over the shutdown in the peer's next (or current) write. So:
/// [shutdown(2)] `SHUT_RD` first (from then on the peer's writes fail with `EPIPE` and nothing
/// more is queued), read away what is queued (reads after `SHUT_RD` return 0 once the queue is
/// empty, so this cannot block), then close. A pipe just closes.
///
/// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
fn let_go(half: ReadHalf) {
    if half.kind().is_socket() {
        discard_socket(half.as_fd());
    }
}

/// The socket part of [`let_go`]: `SHUT_RD`, then read away what is queued.
pub(super) fn discard_socket(fd: BorrowedFd<'_>) {
    if crate::sys::io::shutdown(fd, Shutdown::Read).is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    while let Ok(1..) = read_retrying(fd, &mut buf, Again::Fail) {}
}

impl AsFd for Reader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.half().as_fd()
    }
}

impl AsRawFd for Reader {
    fn as_raw_fd(&self) -> RawFd {
        self.half().as_raw_fd()
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("half", &self.half).finish()
    }
}

/// Our end of the child's stdin. [`close`](Self::close) (or dropping it) half-closes the
/// child's input on every topology: the child reads EOF; the process is not touched.
///
/// Once a watchdog has fired, every write fails with [`io::ErrorKind::TimedOut`] carrying a
/// [`TimedOut`](super::TimedOut).
pub struct Writer {
    half: Option<WriteHalf>,
    kind: Kind,
    shared: Arc<Shared>,
    poll: bool,
}

impl Writer {
    pub(crate) fn new(half: WriteHalf, shared: Arc<Shared>, poll: bool) -> Writer {
        Writer {
            kind: half.kind(),
            half: Some(half),
            shared,
            poll,
        }
    }

    /// The kind of kernel object this end is (pipes or socketpair).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Half-closes the child's input: closes our pipe end, or `shutdown(SHUT_WR)` on a socket
    /// (the child's stdout stays open on the single-socketpair topology). The child reads the
    /// bytes already written, then EOF. Idempotent; later writes fail with `BrokenPipe`.
    pub fn close(&mut self) -> io::Result<()> {
        // WriteHalf's drop is the half-close: shutdown(SHUT_WR) on sockets, close on pipes.
        drop(self.half.take());
        Ok(())
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.half.is_none()
    }

    /// The watchdog that fired, if one did.
    pub fn timed_out(&self) -> Option<(Watchdog, std::time::Duration)> {
        self.shared.timed_out()
    }

    /// Moves up to `len` bytes from `src` into the child's input with [splice(2)], without
    /// copying them through user space; counts for the watchdogs like a write. `Ok(0)` means
    /// `src` is at EOF. Only on [`Topology::Pipes`](super::Topology::Pipes), where this end is a
    /// pipe.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when this end is a socket (see
    /// Caveats) or the kernel cannot splice from `src` (`EINVAL`); fall back to
    /// [`write`](Write::write) then. `BrokenPipe` after [`close`](Self::close);
    /// [`TimedOut`](super::TimedOut) once a watchdog fired.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    ///
    /// # Caveats
    ///
    /// As for [`Reader::splice_to`]: never blocks inside `splice(2)`, so `src` may be
    /// non-blocking and a process at the other end of a pipe is never stalled on its lock.
    pub fn splice_from(&mut self, src: impl AsFd, len: usize) -> io::Result<usize> {
        self.shared.check()?;
        let half = self.half.as_ref().ok_or_else(closed)?;
        let r = splice_waiting(src.as_fd(), half.as_fd(), len, self.shared.waker());
        // Ok(0) after a wake-up is the watchdog's doing; settle reports it.
        self.shared.settle(r.map(|n| n.unwrap_or(0)), Dir::Write)
    }

    #[inline]
    fn half(&mut self) -> io::Result<&mut WriteHalf> {
        self.shared.check()?;
        let half = self.half.as_mut().ok_or_else(closed)?;
        self.shared.ready(half.as_fd(), PollFlags::OUT, self.poll)?;
        Ok(half)
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the child's input was closed (Writer::close)",
    )
}

impl Write for Writer {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let r = self.half()?.write(buf);
            // In poll mode our pipe end is O_NONBLOCK (so the watchdog can always wake us):
            // a full pipe means wait in poll again.
            if !(self.poll && matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)) {
                return self.shared.settle(r, Dir::Write);
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        loop {
            let r = self.half()?.write_vectored(bufs);
            if !(self.poll && matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)) {
                return self.shared.settle(r, Dir::Write);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Writer {
    /// Our end of the child's stdin (to poll it, say, or read its flags).
    ///
    /// # Panics
    ///
    /// After [`close`](Writer::close): on pipes the descriptor is gone then (closing it is how
    /// the child gets EOF). Check [`is_closed`](Writer::is_closed) first where that can be.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.half
            .as_ref()
            .expect("Writer::as_fd after Writer::close: the descriptor is closed")
            .as_fd()
    }
}

impl AsRawFd for Writer {
    /// As [`as_fd`](AsFd::as_fd), with the same panic after [`close`](Writer::close).
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("kind", &self.kind)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A running child with its wire: `Read` from its stdout, `Write` to its stdin, and the
/// [`Handle`] that owns the process. [`split`](Self::split) hands the three out separately.
///
/// Dropping it half-closes the input and then drops the handle (see [`Handle`]).
#[derive(Debug)]
pub struct Child {
    // Field order is drop order: the input closes before the handle's drop policy runs.
    pub(crate) writer: Writer,
    pub(crate) reader: Reader,
    pub(crate) handle: Handle,
}

impl Child {
    pub(crate) fn new(reader: Reader, writer: Writer, handle: Handle) -> Child {
        Child {
            writer,
            reader,
            handle,
        }
    }

    /// The reader, writer and process handle, to be used from different threads. Dropping the
    /// reader or writer never kills the child; dropping the handle does (after the drop policy's
    /// grace), so keep it until the work is done.
    pub fn split(self) -> (Reader, Writer, Handle) {
        (self.reader, self.writer, self.handle)
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.handle.id()
    }

    /// Half-closes the child's input (see [`Writer::close`]).
    pub fn close_input(&mut self) -> io::Result<()> {
        self.writer.close()
    }

    /// Disarms the connect watchdog (see [`Handle::cancel_connect_watchdog`]).
    pub fn cancel_connect_watchdog(&self) {
        self.handle.cancel_connect_watchdog();
    }

    /// The reader, borrowed.
    pub fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }

    /// The writer, borrowed.
    pub fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }

    /// The process handle, borrowed.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Reaps the child if it has exited, without blocking (see [`Handle::try_wait`]).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.handle.try_wait()
    }

    /// Closes the child's input and our end of its stdout, then waits as [`Handle::wait`]
    /// does. Read stdout to EOF first if you want it: what is unread is discarded, and a child
    /// still writing gets `EPIPE` (or dies of `SIGPIPE`) rather than blocking forever on a wire
    /// nobody reads.
    pub fn wait(self) -> io::Result<Exit> {
        let Child {
            writer,
            reader,
            handle,
        } = self;
        drop(writer);
        drop(reader);
        handle.wait()
    }

    /// Closes the child's input, reads its stdout until EOF or until it has exited and what
    /// was queued then is read ([`Reader::end_at_exit`], so a descendant holding stdout does
    /// not keep us), then waits as [`wait`](Self::wait) does: std's `wait_with_output`, with
    /// the stderr tail in the [`Exit`].
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait) (a watchdog's [`TimedOut`](super::TimedOut) with the exit
    /// inside); a read error otherwise (the child is then reaped by the drop policy).
    pub fn wait_with_output(mut self) -> io::Result<super::Output> {
        self.writer.close()?;
        self.reader.end_at_exit(true);
        let mut stdout = Vec::new();
        if let Err(e) = self.reader.read_to_end(&mut stdout) {
            return match self.wait() {
                Err(waited) => Err(waited),
                Ok(_) => Err(e),
            };
        }
        let exit = self.wait()?;
        Ok(super::Output { stdout, exit })
    }

    /// Runs the close policy: closes the input, waits, `SIGTERM`, waits, `SIGKILL`, bounded reap
    /// (see [`KillPolicy`](super::KillPolicy)).
    pub fn close(self) -> io::Result<Exit> {
        let Child {
            mut writer,
            reader,
            mut handle,
        } = self;
        drop(reader);
        let policy = handle.policy;
        handle.close_with(&policy, &mut || {
            let _ = writer.close();
        })
    }

    /// Sends `SIGKILL` (see [`Handle::kill`]); [`wait`](Self::wait) then reaps the child.
    pub fn kill(&mut self) -> io::Result<()> {
        self.handle.kill()
    }

    /// Sends signal number `sig` (see [`Handle::signal`]).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.handle.signal(sig)
    }

    /// Waits at most `timeout` for the exit (see [`Handle::wait_timeout`]).
    pub fn wait_timeout(&mut self, timeout: std::time::Duration) -> io::Result<Option<ExitStatus>> {
        self.handle.wait_timeout(timeout)
    }

    /// Lets the child run on (see [`Handle::detach`]), keeping the wire.
    pub fn detach(self) -> (Reader, Writer) {
        let Child {
            writer,
            reader,
            handle,
        } = self;
        handle.detach();
        (reader, writer)
    }
}

impl Read for Child {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.reader.read_vectored(bufs)
    }
}

impl Write for Child {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writer.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
