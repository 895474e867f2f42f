//! The task driver (feature `tokio`): a tokio task reads the side channel into the same sans-IO
//! [`Capture`] as the thread driver ([`super::Drain`]), so one event loop can drain the stderr of
//! a thousand children without a thread each.
//!
//! The task waits for readiness of the source (registered with tokio's reactor through
//! `crate::sys::tokio`, epoll(7) underneath) and, beside it, for a stop signal (a
//! [`tokio::sync::oneshot`]). On each readiness it reads one chunk, feeds the capture (under
//! the same mutex as the thread driver, locked per chunk, so [`Drain::snapshot`] never waits for
//! a read or a sink) and writes the capture's output to the sink. [`Drain::finish`] sends the
//! stop: the task reads what `ioctl(FIONREAD)` says is queued at that moment, without waiting
//! for more, flushes the last unfinished line, writes the rest and ends; `finish` awaits it at
//! most the grace period ([`tokio::time::timeout`]). It never waits for the channel's EOF, which
//! a descendant holding the write end (an ssh `ControlMaster`) may hold off forever.
//!
//! Everything the thread driver reports is reported the same way ([`Report`], [`Snapshot`]):
//! the parity tests (`tests/child/parity.rs`) run the same child programs through both and
//! compare forwarded bytes, tails, subscriber lines and counts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::io::Write;
//! use std::time::Duration;
//! use procwire::stderr::{self, Capture, Config, tokio::{Drain, Sink}};
//!
//! let (ours, theirs, _kind) = stderr::channel()?;
//! let drain = Drain::spawn(ours, Capture::new(Config::default()), Sink::Blocking(Box::new(std::io::sink())))?;
//! let mut child = std::fs::File::from(theirs); // would be the child's fd 2
//! child.write_all(b"warning: something\n")?;
//! // A descendant still holds the write end: finish does not wait for EOF.
//! let report = drain.finish(Duration::from_secs(1)).await;
//! assert_eq!(report.tail, b"warning: something\n");
//! assert!(report.joined && !report.eof);
//! # drop(child);
//! # Ok(())
//! # }
//! ```

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::drain::{DoneGuard, Shared, Stop, read_queued};
use super::{Capture, Line, Report, Settings, Snapshot, Subscriber};
use crate::sys::hint;
use crate::sys::io::{Again, read_retrying};

/// The task's read buffer. Smaller than the thread driver's (64 KiB): a task reads again as
/// soon as it is ready, and a thousand drains on one loop should not hold 64 MiB of buffers.
const READ_BUF: usize = 16 * 1024;

/// Where a task [`Drain`] writes what the capture forwards.
pub enum Sink {
    /// A blocking writer, written from the task (each chunk with `write_all`, then `flush`).
    /// For writers that do not block (a `Vec` behind a mutex, [`io::sink`]); one that can
    /// block (a terminal, a pipe) stalls the runtime's thread while it does, so give that one
    /// as [`Sink::Async`].
    Blocking(Box<dyn Write + Send>),
    /// An async writer, awaited (`write_all`, then `flush`): [`tokio::io::stderr`] (which
    /// writes on tokio's blocking pool), a file, a socket.
    Async(Pin<Box<dyn AsyncWrite + Send>>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Blocking(_) => "Sink::Blocking",
            Sink::Async(_) => "Sink::Async",
        })
    }
}

impl Sink {
    async fn write(&mut self, out: &[u8]) -> io::Result<()> {
        match self {
            Sink::Blocking(w) => w.write_all(out).and_then(|()| w.flush()),
            Sink::Async(w) => {
                w.write_all(out).await?;
                w.flush().await
            }
        }
    }
}

impl Subscriber for tokio::sync::mpsc::Sender<Line> {
    /// [`Sender::try_send`](tokio::sync::mpsc::Sender::try_send): refused when the channel is
    /// full or its receiver is gone.
    fn try_send(&mut self, line: Line) -> bool {
        tokio::sync::mpsc::Sender::try_send(self, line).is_ok()
    }
}

/// A tokio task that reads a child's stderr side channel into a [`Capture`] and forwards it:
/// the async twin of [`super::Drain`], with the same reports.
///
/// Needs a tokio runtime with I/O and time enabled (`enable_all`); a `current_thread` runtime
/// is enough. The task runs on whichever runtime [`spawn`](Self::spawn) was called in.
pub struct Drain {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("running", &self.stop.is_some())
            .finish_non_exhaustive()
    }
}

impl Drain {
    /// Starts a task that reads `source` until EOF or [`finish`](Self::finish), feeds
    /// `capture` and writes its forwarding output to `sink`.
    ///
    /// `source` is set `O_NONBLOCK` ([fcntl(2)] `F_SETFL`, on its open file description: pass
    /// our end of a side channel as [`channel`](super::channel) makes it, not a duplicate
    /// others read) and registered with the runtime's reactor.
    ///
    /// # Errors
    ///
    /// When called outside a tokio runtime, or when `F_SETFL` or the epoll registration fails.
    /// `source` is closed on every error path.
    ///
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    pub fn spawn(source: OwnedFd, capture: Capture, sink: Sink) -> io::Result<Drain> {
        let source = crate::sys::tokio::register_for(source, Interest::READABLE)
            .map_err(|e| hint(e, "registering the stderr source with the tokio reactor"))?;
        let shared = Arc::new(Shared::new(capture));
        let (tx, rx) = oneshot::channel();
        let join = tokio::spawn(run(source, rx, Arc::clone(&shared), sink));
        Ok(Drain {
            shared,
            stop: Some(tx),
            join: Some(join),
        })
    }

    /// The tail and counters so far (the lock is held by the task only while it feeds one
    /// chunk, never across a read or a sink write).
    pub fn snapshot(&self) -> Snapshot {
        self.shared.lock().snapshot()
    }

    /// Ends the drain without waiting for EOF, and returns what was captured: the task reads
    /// what is queued at the stop (`ioctl(FIONREAD)`), flushes the unfinished line, writes the
    /// last output and ends. This awaits that at most `grace`; if the task is still busy (a
    /// sink that does not accept), the report is the state at the deadline with
    /// [`joined`](Report::joined) `false`, and the task runs on detached.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense that the report is lost: once polled, the stop has been
    /// sent, and dropping this future leaves the task to end on its own (as dropping the
    /// `Drain` would).
    pub async fn finish(mut self, grace: Duration) -> Report {
        drop(self.stop.take());
        if let Some(join) = self.join.take() {
            // A panic in the sink or a subscriber is recorded by the task's guard.
            let _ = tokio::time::timeout(grace, join).await;
        }
        let mut state = self.shared.lock();
        let joined = state.done;
        state.report(joined)
    }
}

impl Drop for Drain {
    /// Without [`finish`](Drain::finish): stops the task (it drains what is queued and ends on
    /// its own); nothing here waits.
    fn drop(&mut self) {
        drop(self.stop.take());
    }
}

async fn run(
    source: AsyncFd<OwnedFd>,
    mut stop: oneshot::Receiver<()>,
    shared: Arc<Shared>,
    sink: Sink,
) {
    let _done = DoneGuard(Arc::clone(&shared));
    let mut task = Task {
        buf: vec![0; READ_BUF],
        out: Vec::new(),
        sink: Some(sink),
        shared,
    };
    let stopped = loop {
        let read = tokio::select! {
            biased;
            // A send or the sender's drop: either way, stop.
            _ = &mut stop => break Stop::Woken,
            r = crate::sys::tokio::io(&source, Interest::READABLE, |fd| {
                crate::sys::io::read(fd.as_fd(), &mut task.buf)
            }) => r,
        };
        match read {
            Ok(0) => break Stop::Eof,
            Ok(n) => task.feed(n).await,
            Err(e) => break Stop::Error(hint(e, "read from the stderr source")),
        }
    };
    let stopped = match stopped {
        // What is queued now, read without awaiting readiness (the reactor's hint is not
        // needed: each read is non-blocking, and nothing waits on this descriptor after).
        Stop::Woken => {
            let fd = source.get_ref().as_fd();
            // Fed here, forwarded once after: at most what was queued, a socket buffer's worth.
            read_queued(crate::sys::io::queued(fd), |limit| {
                let len = task.buf.len().min(limit);
                match read_retrying(fd, &mut task.buf[..len], Again::Fail) {
                    Ok(n) => {
                        let chunk = &task.buf[..n];
                        task.shared.lock().capture.feed(chunk, &mut task.out);
                        Ok(Some(n))
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) => Err(hint(e, "read from the stderr source")),
                }
            })
        }
        other => other,
    };
    task.shared.lock().conclude(stopped, &mut task.out);
    task.forward().await;
    // Close the sink before `done` (the guard) so a joined drain has let go of it.
    drop(task.sink.take());
}

/// The task's state that is not shared: the buffers and the sink.
struct Task {
    buf: Vec<u8>,
    out: Vec<u8>,
    sink: Option<Sink>,
    shared: Arc<Shared>,
}

impl Task {
    /// Feeds the first `n` bytes of the buffer and forwards the output.
    async fn feed(&mut self, n: usize) {
        self.shared
            .lock()
            .capture
            .feed(&self.buf[..n], &mut self.out);
        self.forward().await;
    }

    /// Writes `out` to the sink unless an earlier write failed; clears `out`.
    async fn forward(&mut self) {
        if !self.out.is_empty() {
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write(&self.out).await {
                    self.shared.lock().sink_error.get_or_insert(e);
                    self.sink = None;
                }
            }
        }
        self.out.clear();
    }
}

impl Settings {
    /// Starts a task [`Drain`] on `source` with these settings, taking the sink (written as a
    /// [`Sink::Blocking`]; [`tokio::io::stderr`] when none was set) and the subscriber.
    pub(crate) fn start_task(&mut self, source: OwnedFd) -> io::Result<Drain> {
        let (capture, sink) = self.take_parts();
        let sink = match sink {
            Some(w) => Sink::Blocking(w),
            None => Sink::Async(Box::pin(tokio::io::stderr())),
        };
        Drain::spawn(source, capture, sink)
    }
}
