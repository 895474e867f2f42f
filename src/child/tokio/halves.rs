//! The async reader and writer: a child's watchdog accounting and drop rules over the wire's
//! own async halves ([`AsyncReadHalf`], [`AsyncWriteHalf`]), which do the readiness, the
//! half-close and the system calls (written once, in `wire::tokio`).

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustix::event::PollFlags;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::child::Watchdog;
use crate::child::io_halves::discard_socket;
use crate::child::process::{Exited, OsProcess};
use crate::child::state::{Dir, Shared};
use crate::relay::owner::{AtExit, OWNER_TICK};
use crate::sys::splice::is_pipe;
use crate::wire::Kind;
use crate::wire::tokio::{AsyncReadHalf, AsyncWriteHalf};

/// Before a read or write: the watchdog's error once one fired. On pipes, also registers the
/// task's waker on the watchdog's eventfd (beside the end's own readiness), so a firing wakes
/// a task that waits on a silent pipe.
pub(super) fn fired(
    shared: &Shared,
    wake: Option<&AsyncFd<OwnedFd>>,
    cx: &mut Context<'_>,
) -> io::Result<()> {
    shared.check()?;
    // The eventfd is written once, when a watchdog fires, and never read: ready for good.
    if wake.is_some_and(|w| w.poll_read_ready(cx).is_ready()) {
        shared.check()?;
    }
    Ok(())
}

/// How an end-at-exit reader learns that the child exited: the pidfd's readiness (shared with
/// the [`Handle`](super::Handle), polled here without ever clearing it: a pidfd stays readable
/// once its process exited), or, without pidfds, asking every [`OWNER_TICK`] on a tokio timer
/// (the blocking reader's rule).
struct ExitWatch {
    process: Arc<OsProcess>,
    exit: Option<Arc<AsyncFd<OwnedFd>>>,
    tick: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ExitWatch {
    /// Whether the child has exited; if not, `cx` is woken when that may have changed.
    fn poll_exited(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        if let Some(fd) = &self.exit {
            return match fd.poll_read_ready(cx) {
                Poll::Ready(r) => r.map(|_ready| true),
                Poll::Pending => Ok(false),
            };
        }
        let tick = self
            .tick
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(OWNER_TICK)));
        while tick.as_mut().poll(cx).is_ready() {
            if self.process.has_exited()? {
                return Ok(true);
            }
            tick.as_mut()
                .reset(tokio::time::Instant::now() + OWNER_TICK);
        }
        Ok(false)
    }
}

/// Our end of the child's stdout, async: the twin of [`crate::child::Reader`], over an
/// [`AsyncReadHalf`] of the wire, with the same drop (a child writing on gets `EPIPE` on every
/// topology: on a socket our end is shut for reading and what is queued discarded before the
/// close), the same watchdog errors and the same [end-at-exit](Self::end_at_exit) rule.
///
/// Reads are [`AsyncRead::poll_read`] on the registered end: `read(2)` when the reactor said
/// readable, readiness cleared only on `EAGAIN`. `Ok(())` with nothing filled is EOF. Once a
/// watchdog has fired, every read fails with [`io::ErrorKind::TimedOut`] carrying a
/// [`TimedOut`](crate::child::TimedOut).
///
/// # Cancel safety
///
/// As [`AsyncReadHalf`]: a `read` future dropped before it completed moved no byte.
pub struct Reader {
    /// `None` once let go of (dropped, or [`Child::wait`](super::Child::wait)).
    half: Option<AsyncReadHalf>,
    kind: Kind,
    shared: Arc<Shared>,
    wake: Option<AsyncFd<OwnedFd>>,
    watch: ExitWatch,
    end_at_exit: bool,
    /// In the end-at-exit mode, once the child has exited: how many of the bytes queued at
    /// that moment are still to read.
    at_exit: AtExit,
}

impl Reader {
    pub(super) fn new(
        half: AsyncReadHalf,
        shared: Arc<Shared>,
        wake: Option<AsyncFd<OwnedFd>>,
        process: Arc<OsProcess>,
        exit: Option<Arc<AsyncFd<OwnedFd>>>,
    ) -> Reader {
        Reader {
            kind: half.kind(),
            half: Some(half),
            shared,
            wake,
            watch: ExitWatch {
                process,
                exit,
                tick: None,
            },
            end_at_exit: false,
            at_exit: AtExit::default(),
        }
    }

    /// The kind of kernel object this end is (pipes or socketpair).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Disarms the connect watchdog (see [`Handle::cancel_connect_watchdog`]).
    ///
    /// [`Handle::cancel_connect_watchdog`]: super::Handle::cancel_connect_watchdog
    pub fn cancel_connect_watchdog(&self) {
        self.shared.cancel_connect();
    }

    /// The watchdog that fired, if one did.
    pub fn timed_out(&self) -> Option<(Watchdog, Duration)> {
        self.shared.timed_out()
    }

    /// Ends reading at EOF **or** once the child has exited and the bytes queued at that
    /// moment have been read, whichever comes first: after that, reads return EOF. The
    /// blocking reader's rule ([`crate::child::Reader::end_at_exit`], whose docs say why),
    /// waiting in the reactor instead of [poll(2)]: a read waits for the wire's readiness and
    /// the child's pidfd's (readable at its exit; without pidfds, on old kernels, the exit is
    /// asked every 50 ms on a tokio timer); once the child has exited, [`FIONREAD`] says how
    /// many bytes are queued, and exactly those are read, so a descendant holding (or still
    /// writing to) the child's stdout cannot keep the reader. Bytes a descendant writes after
    /// the child's exit are not read. If the kernel cannot say what is queued, nothing more is
    /// read.
    ///
    /// The exit is seen when the reactor reports it: bytes already readable may be read
    /// before, counted as before the exit (the blocking reader sees both in one [poll(2)] and
    /// lets the exit win; either way every byte the child wrote before its exit is read).
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    /// [`FIONREAD`]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    pub fn end_at_exit(&mut self, on: bool) -> &mut Reader {
        self.end_at_exit = on;
        self
    }

    /// What dropping does, now: our end is let go of and the watchdog told.
    pub(super) fn let_go(&mut self) {
        if let Some(half) = self.half.take() {
            if self.kind.is_socket() {
                discard_socket(half.as_fd());
            }
            self.shared.reader_gone();
        }
    }

    /// Moves up to `len` bytes of the child's output into the pipe `dst` with [splice(2)],
    /// without copying them through user space: the twin of
    /// [`crate::child::Reader::splice_to`], waiting in the reactor. Counts for the watchdogs
    /// like a read. `Ok(0)` is EOF (or our end was let go of). An [`AsyncEnd`] of a pipes
    /// wire gives its `dst` with [`AsyncEnd::into_split`]; any pipe's write end becomes one
    /// with [`AsyncWriteHalf::new`] or from a `tokio::net::unix::pipe::Sender`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when `dst` is not a pipe (a
    /// splice into a socket can block holding the source pipe's lock) or the kernel cannot
    /// splice from this end (`EINVAL`); copy instead then. `BrokenPipe` when `dst`'s reader
    /// is gone or `dst` was shut down; [`TimedOut`](crate::child::TimedOut) once a watchdog
    /// fired.
    ///
    /// # Caveats
    ///
    /// As for the blocking form: never blocks inside `splice(2)` (`SPLICE_F_NONBLOCK`, both
    /// ends non-blocking); the [end-at-exit](Self::end_at_exit) rule does not apply to it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one `splice(2)` moves the bytes, so a future dropped before it completed
    /// moved none.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    /// [`AsyncEnd`]: crate::wire::tokio::AsyncEnd
    /// [`AsyncEnd::into_split`]: crate::wire::tokio::AsyncEnd::into_split
    pub async fn splice_to(&mut self, dst: &mut AsyncWriteHalf, len: usize) -> io::Result<usize> {
        if let Some(to) = dst.write_fd()
            && !is_pipe(to)?
        {
            return Err(not_a_pipe("Reader::splice_to's destination"));
        }
        std::future::poll_fn(|cx| {
            fired(&self.shared, self.wake.as_ref(), cx)?;
            let Some(half) = &self.half else {
                return Poll::Ready(Ok(0));
            };
            let r = ready!(poll_splice(half, dst, len, cx));
            Poll::Ready(self.shared.settle(r, Dir::Read))
        })
        .await
    }

    /// In the end-at-exit mode, how many bytes of `len` the next read may take (0: done).
    fn budget(&mut self, cx: &mut Context<'_>, len: usize) -> io::Result<usize> {
        if !self.end_at_exit {
            return Ok(len);
        }
        // Seen together with data, the exit wins (as in the blocking reader's wait).
        if !self.at_exit.is_set() && self.watch.poll_exited(cx)? {
            let queued = self
                .half
                .as_ref()
                .and_then(|h| crate::sys::io::queued(h.as_fd()));
            self.at_exit.exited(queued, 0);
        }
        Ok(if self.at_exit.spent() {
            0
        } else {
            self.at_exit.cap(len)
        })
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        fired(&this.shared, this.wake.as_ref(), cx)?;
        if this.half.is_none() || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let want = this.budget(cx, buf.remaining())?;
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let half = this.half.as_mut().expect("checked above");
        let mut capped = ReadBuf::new(buf.initialize_unfilled_to(want));
        let r = ready!(Pin::new(half).poll_read(cx, &mut capped)).map(|()| capped.filled().len());
        let n = this.shared.settle(r, Dir::Read)?;
        this.at_exit.took(n);
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.let_go();
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("kind", &self.kind)
            .field("open", &self.half.is_some())
            .field("end_at_exit", &self.end_at_exit)
            .finish()
    }
}

/// Our end of the child's stdin, async: the twin of [`crate::child::Writer`], over an
/// [`AsyncWriteHalf`] of the wire. [`poll_shutdown`](AsyncWrite::poll_shutdown) (tokio's
/// `shutdown()`) and [`close`](Self::close) half-close the child's input on every topology
/// (close our pipe end, or `shutdown(SHUT_WR)` on a socket): the child reads EOF. Sockets are
/// written with `send(MSG_NOSIGNAL)`, so a gone child is `BrokenPipe`, never `SIGPIPE`. Once a
/// watchdog has fired, every write fails with [`io::ErrorKind::TimedOut`] carrying a
/// [`TimedOut`](crate::child::TimedOut).
///
/// # Cancel safety
///
/// As [`AsyncWriteHalf`]: a `write` future dropped before it completed moved no byte.
pub struct Writer {
    /// `None` after [`close`](Self::close).
    half: Option<AsyncWriteHalf>,
    kind: Kind,
    shared: Arc<Shared>,
    wake: Option<AsyncFd<OwnedFd>>,
}

impl Writer {
    pub(super) fn new(
        half: AsyncWriteHalf,
        shared: Arc<Shared>,
        wake: Option<AsyncFd<OwnedFd>>,
    ) -> Writer {
        Writer {
            kind: half.kind(),
            half: Some(half),
            shared,
            wake,
        }
    }

    /// The kind of kernel object this end is (pipes or socketpair).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Half-closes the child's input (see [`crate::child::Writer::close`]). Idempotent; later
    /// writes fail with `BrokenPipe`.
    pub fn close(&mut self) {
        // The half's drop is the half-close: shutdown(SHUT_WR) on a socket, close on a pipe.
        drop(self.half.take());
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.half.is_none()
    }

    /// The watchdog that fired, if one did.
    pub fn timed_out(&self) -> Option<(Watchdog, Duration)> {
        self.shared.timed_out()
    }

    /// The wire's half, after the watchdog check (registering `cx` on its eventfd);
    /// `BrokenPipe` after [`close`](Self::close).
    fn ready_half(&mut self, cx: &mut Context<'_>) -> io::Result<&mut AsyncWriteHalf> {
        fired(&self.shared, self.wake.as_ref(), cx)?;
        self.half.as_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's input was closed (Writer::close)",
            )
        })
    }

    /// Moves up to `len` bytes from `src` into the child's input with [splice(2)], without
    /// copying them through user space: the twin of [`crate::child::Writer::splice_from`],
    /// waiting in the reactor. Counts for the watchdogs like a write. `Ok(0)` means `src` is at
    /// EOF. Only on [`Topology::Pipes`](crate::child::Topology::Pipes), where this end is a
    /// pipe. `src` is any async read half (a pipe, or a socket: registered halves are
    /// non-blocking, so `SPLICE_F_NONBLOCK` or the socket's own flag reaches it); an
    /// [`AsyncEnd`](crate::wire::tokio::AsyncEnd) gives one with
    /// [`into_split`](crate::wire::tokio::AsyncEnd::into_split).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`], before anything moved, when this end is a socket or
    /// the kernel cannot splice from `src` (`EINVAL`); copy instead then. `BrokenPipe` after
    /// [`close`](Self::close) or once the child closed its input;
    /// [`TimedOut`](crate::child::TimedOut) once a watchdog fired.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: one `splice(2)` moves the bytes, so a future dropped before it completed
    /// moved none.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    pub async fn splice_from(&mut self, src: &mut AsyncReadHalf, len: usize) -> io::Result<usize> {
        if self.kind != Kind::Pipes {
            return Err(not_a_pipe("the child's input (Writer::splice_from)"));
        }
        std::future::poll_fn(|cx| {
            let half = self.ready_half(cx)?;
            let r = ready!(poll_splice(src, half, len, cx));
            Poll::Ready(self.shared.settle(r, Dir::Write))
        })
        .await
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = ready!(Pin::new(this.ready_half(cx)?).poll_write(cx, buf));
        Poll::Ready(this.shared.settle(r, Dir::Write))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = ready!(Pin::new(this.ready_half(cx)?).poll_write_vectored(cx, bufs));
        Poll::Ready(this.shared.settle(r, Dir::Write))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close();
        Poll::Ready(Ok(()))
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

/// The refusal of a splice into something that is not a pipe.
fn not_a_pipe(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what} is not a pipe: a splice into a socket or file can block while it holds the \
             source pipe's lock; copy with read and write instead"
        ),
    )
}

/// Whether the pipe `fd` has room now (a zero-timeout poll(2)).
fn writable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    crate::sys::poll::wait(fd, PollFlags::OUT, Some(Duration::ZERO))
}

/// One [splice(2)] from `src` into the pipe `dst` (`SPLICE_F_NONBLOCK`) once the reactor says
/// `dst` is writable and `src` readable.
///
/// A splice's `EAGAIN` does not say which end lacked, and readiness may be cleared only for
/// the end that really would block (clearing the other loses its edge and hangs the task), so
/// a zero-timeout [poll(2)] of `dst` tells them apart: `dst` full clears `dst`'s readiness
/// (and waits for it), otherwise `src`'s.
///
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
fn poll_splice(
    src: &AsyncReadHalf,
    dst: &AsyncWriteHalf,
    len: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(dst.poll_write_with(cx, |to| match writable(to)? {
            true => Ok(()),
            false => Err(io::ErrorKind::WouldBlock.into()),
        }))?;
        let Some(to) = dst.write_fd() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        let moved = ready!(src.poll_read_with(cx, |from| {
            match crate::sys::splice::splice_once(from, to, len) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !writable(to)? => Ok(None),
                r => r.map(Some),
            }
        }))?;
        if let Some(n) = moved {
            return Poll::Ready(Ok(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::process::Stdio;

    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::wire::ReadHalf;

    /// Without a pidfd (old kernels), the end-at-exit reader asks every tick whether the child
    /// exited: a descendant holding stdout does not keep it either.
    #[test]
    fn end_at_exit_without_a_pidfd_asks_on_a_timer() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "sleep 60 </dev/null 2>/dev/null & echo $!; echo hi"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = OwnedFd::from(child.stdout.take().unwrap());
            let half = AsyncReadHalf::new(ReadHalf::from_fd(Kind::Pipes, stdout)).unwrap();
            let process = Arc::new(OsProcess::new(child, false));
            let shared = Arc::new(Shared::new(false).unwrap());
            // No exit descriptor: the timer path.
            let mut reader = Reader::new(half, shared, None, process.clone(), None);
            reader.end_at_exit(true);
            let mut out = String::new();
            // A hang-guard, not a timing: the sleeper holds stdout for 60 s.
            tokio::time::timeout(Duration::from_secs(30), reader.read_to_string(&mut out))
                .await
                .expect("the read waited for the sleeper's EOF")
                .unwrap();
            let (sleeper, rest) = out.split_once('\n').unwrap();
            if let Some(pid) = rustix::process::Pid::from_raw(sleeper.parse().unwrap()) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            assert_eq!(rest, "hi\n");
            assert!(process.has_exited().unwrap());
        });
    }
}
