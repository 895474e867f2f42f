//! The thread driver: a thread of its own (from a pool of reused workers) reads the side
//! channel into a [`Capture`].

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::{Capture, Config, Subscriber};
use crate::sys::io::{Again, read_retrying};
use crate::sys::poll::{Wait, wait_or_woken};
use crate::sys::{Waker, hint};

/// The size of the thread's one read buffer.
pub(super) const READ_BUF: usize = 64 * 1024;

/// How much [`Drain::finish`] reads after the wake-up when the kernel cannot say how much is
/// queued (`FIONREAD` failed): enough for any default pipe or socket buffer.
pub(super) const FINISH_BUDGET: u64 = 16 * 1024 * 1024;

/// What the thread (or task) and the owner share, behind one mutex locked per chunk.
pub(super) struct State {
    pub(super) capture: Capture,
    pub(super) eof: bool,
    pub(super) done: bool,
    pub(super) read_error: Option<io::Error>,
    pub(super) sink_error: Option<io::Error>,
}

impl State {
    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            tail: self.capture.tail(),
            bytes: self.capture.bytes(),
            lines: self.capture.lines(),
            dropped: self.capture.dropped(),
        }
    }

    /// Records why the reading stopped and flushes the capture's last line into `out`.
    pub(super) fn conclude(&mut self, stop: Stop, out: &mut Vec<u8>) {
        match stop {
            Stop::Eof => self.eof = true,
            Stop::Error(e) => self.read_error = Some(e),
            Stop::Woken => {}
        }
        self.capture.finish(out);
    }

    /// The report as things stand, taking the errors.
    pub(super) fn report(&mut self, joined: bool) -> Report {
        Report {
            tail: self.capture.tail(),
            bytes: self.capture.bytes(),
            lines: self.capture.lines(),
            dropped: self.capture.dropped(),
            eof: self.eof,
            joined,
            sink_error: self.sink_error.take(),
            read_error: self.read_error.take(),
        }
    }
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// Signalled when `done` becomes true.
    done: Condvar,
}

impl Shared {
    pub(super) fn new(capture: Capture) -> Shared {
        Shared {
            state: Mutex::new(State {
                capture,
                eof: false,
                done: false,
                read_error: None,
                sink_error: None,
            }),
            done: Condvar::new(),
        }
    }

    /// Locks the state; a panic elsewhere (in a subscriber or the sink) does not make it
    /// unreadable: counters and tail stay consistent per chunk.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sets `done` when the drain's run ends, by return or by panic (recorded as a read error).
pub(super) struct DoneGuard(pub(super) Arc<Shared>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        if std::thread::panicking() && state.read_error.is_none() {
            state.read_error = Some(io::Error::other(
                "the stderr drain panicked (in the sink or a subscriber)",
            ));
        }
        state.done = true;
        drop(state);
        self.0.done.notify_all();
    }
}

/// The counters and tail of a running [`Drain`], from [`Drain::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last [`Config::tail`](super::Config::tail) bytes read so far.
    pub tail: Vec<u8>,
    /// Bytes read so far.
    pub bytes: u64,
    /// Lines produced so far (see [`Capture::lines`]).
    pub lines: u64,
    /// Lines the subscriber refused so far.
    pub dropped: u64,
}

/// What a [`Drain`] captured, from [`Drain::finish`].
#[derive(Debug)]
pub struct Report {
    /// The last [`Config::tail`](super::Config::tail) bytes of the stream.
    pub tail: Vec<u8>,
    /// Bytes read.
    pub bytes: u64,
    /// Lines produced (see [`Capture::lines`]).
    pub lines: u64,
    /// Lines the subscriber refused.
    pub dropped: u64,
    /// The source reached EOF: every writer had closed it. `false` when the drain was ended by
    /// [`Drain::finish`] while a writer (a descendant of the child, say) still held it open.
    pub eof: bool,
    /// The drain ended within the grace period: its thread let go of the source and the sink
    /// (and went back to the pool). When `false` the other fields are the state at the
    /// deadline, the last partial line was not flushed, and the drain ends on its own once its
    /// read or sink write returns.
    pub joined: bool,
    /// The first error writing or flushing the sink. After it nothing more is forwarded; the
    /// capture (tail, counts, subscriber) went on.
    pub sink_error: Option<io::Error>,
    /// The read (or `poll`) error that ended the drain early, if any; `EAGAIN` and `EINTR` are
    /// not errors. Also set, with kind `Other`, if the thread panicked (in the sink or a
    /// subscriber).
    pub read_error: Option<io::Error>,
}

/// A thread that reads a child's stderr side channel into a [`Capture`] and forwards it.
///
/// The thread waits in [poll(2)] on the source and on an [eventfd(2)]; [`finish`](Self::finish)
/// writes the eventfd, so the wake-up works whatever the source is (pipe or socket) and whoever
/// still holds its write end. Nothing is lost that was already queued when `finish` was called:
/// the thread reads the byte count `ioctl(FIONREAD)` reports at the wake-up ([pipe(7)],
/// [unix(7)] `SIOCINQ`), then stops.
///
/// ```
/// use std::io::{self, Write};
/// use std::time::Duration;
/// use procwire::stderr::{self, Capture, Config, Drain};
///
/// let (ours, theirs, _kind) = stderr::channel()?;
/// let drain = Drain::spawn(ours, Capture::new(Config::default()), Box::new(io::sink()))?;
/// let mut child_stderr = std::fs::File::from(theirs); // would be the child's fd 2
/// child_stderr.write_all(b"warning: something\n")?;
/// drop(child_stderr);
/// let report = drain.finish(Duration::from_secs(1));
/// assert_eq!(report.tail, b"warning: something\n");
/// assert!(report.joined);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
/// [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html
/// [pipe(7)]: https://man7.org/linux/man-pages/man7/pipe.7.html
/// [unix(7)]: https://man7.org/linux/man-pages/man7/unix.7.html
pub struct Drain {
    shared: Arc<Shared>,
    wake: Arc<Waker>,
    /// Until `finish` or drop.
    running: bool,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl Drain {
    /// Starts a thread named `procwire-stderr` (an idle one from the pool when there is one:
    /// spawning a thread costs more than the rest of a drain's start) that reads `source` until
    /// EOF or
    /// [`finish`](Self::finish), feeds `capture` and writes its forwarding output to `sink`
    /// (each chunk written with `write_all` and flushed, outside the lock, so a slow sink never
    /// delays [`snapshot`](Self::snapshot)).
    ///
    /// `source` is set `O_NONBLOCK` ([fcntl(2)] `F_SETFL`). The flag belongs to the open file
    /// description, so pass our end of a side channel (as [`channel`](super::channel) makes),
    /// not a duplicate of a descriptor others read.
    ///
    /// # Errors
    ///
    /// When `F_SETFL` fails, when the kernel refuses the [eventfd(2)] (descriptor exhaustion:
    /// the message says what to raise) or when the thread cannot be spawned. `source` is closed
    /// on every error path.
    ///
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    /// [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html
    pub fn spawn(
        source: OwnedFd,
        capture: Capture,
        sink: Box<dyn Write + Send>,
    ) -> io::Result<Drain> {
        crate::fd::set_nonblocking(&source, true).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("fcntl(F_SETFL, O_NONBLOCK) on the stderr source failed: {e}"),
            )
        })?;
        let wake = Arc::new(Waker::new("the stderr drain")?);
        let shared = Arc::new(Shared::new(capture));
        {
            let (shared, wake) = (Arc::clone(&shared), Arc::clone(&wake));
            super::pool::run(Box::new(move || {
                // A panic in the sink or a subscriber ends this drain (its guard records it),
                // not the pooled worker.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(source, &wake, shared, sink)
                }));
            }))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("spawning the procwire-stderr thread failed: {e}"),
                )
            })?;
        }
        Ok(Drain {
            shared,
            wake,
            running: true,
        })
    }

    /// The tail and counters so far. Takes the lock the thread holds only while it feeds one
    /// chunk, never across a read or a sink write.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.lock().snapshot()
    }

    /// Ends the drain without waiting for EOF, and returns what was captured.
    ///
    /// The child may be gone while a descendant (an ssh ControlMaster, a daemon) keeps the
    /// write end of the channel open for ever, so exit must not wait for EOF. This wakes the
    /// thread through its eventfd; the thread asks the kernel how many bytes are queued
    /// (`ioctl(FIONREAD)`), reads that many without waiting for more (stopping early at EOF or
    /// `EAGAIN`), calls [`Capture::finish`] (flushing an unfinished line), writes the last
    /// output, and ends. This waits for that at most `grace`; if the thread is still busy (a
    /// sink that blocks), the report is the state at the deadline with
    /// [`joined`](Report::joined) `false`, and the thread is detached.
    pub fn finish(mut self, grace: Duration) -> Report {
        self.wake();
        let deadline = Instant::now().checked_add(grace);
        let mut state = self.shared.lock();
        while !state.done {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let joined = state.done;
        let report = state.report(joined);
        drop(state);
        self.running = false;
        report
    }

    /// Writes the eventfd. Errors are impossible short of a counter overflow (`EAGAIN`), which
    /// leaves it readable anyway.
    fn wake(&self) {
        self.wake.wake();
    }
}

impl Drop for Drain {
    /// Without [`finish`](Drain::finish): wakes the thread and detaches it. The thread drains
    /// what is queued and ends on its own; nothing here blocks.
    fn drop(&mut self) {
        if self.running {
            self.wake();
        }
    }
}

/// Why the read loop stopped.
pub(super) enum Stop {
    Eof,
    Woken,
    Error(io::Error),
}

/// The thread's state that is not shared: the source, the buffers and the sink.
struct Reader {
    source: OwnedFd,
    buf: Vec<u8>,
    out: Vec<u8>,
    sink: Option<Box<dyn Write + Send>>,
    shared: Arc<Shared>,
}

fn run(source: OwnedFd, wake: &Waker, shared: Arc<Shared>, sink: Box<dyn Write + Send>) {
    let _done = DoneGuard(Arc::clone(&shared));
    let mut r = Reader {
        source,
        buf: vec![0; READ_BUF],
        out: Vec::new(),
        sink: Some(sink),
        shared,
    };
    let stop = loop {
        match r.wait(wake) {
            Err(e) => break Stop::Error(e),
            Ok(Wait::Woken) => break Stop::Woken,
            Ok(Wait::TimedOut) => {}
            Ok(Wait::Ready) => match r.read_chunk(usize::MAX) {
                Ok(Some(0)) => break Stop::Eof,
                Ok(_) => {}
                Err(e) => break Stop::Error(e),
            },
        }
    };
    let stop = match stop {
        Stop::Woken => r.read_queued(),
        other => other,
    };
    r.shared.lock().conclude(stop, &mut r.out);
    r.forward();
    // Close the sink before `done` (the guard) so a joined drain has let go of it.
    drop(r.sink.take());
}

impl Reader {
    /// Waits in poll(2) for the source (data, EOF or an error) or the wake-up, which wins.
    fn wait(&self, wake: &Waker) -> io::Result<Wait> {
        wait_or_woken(self.source.as_fd(), PollFlags::IN, Some(wake), None)
            .map_err(|e| hint(e, "poll on the stderr source"))
    }

    /// One non-blocking read of at most `limit` bytes, fed and forwarded. `Ok(None)` for
    /// `EAGAIN`, `Ok(Some(0))` for EOF; `EINTR` retried.
    fn read_chunk(&mut self, limit: usize) -> io::Result<Option<usize>> {
        let len = self.buf.len().min(limit);
        let n = match read_retrying(self.source.as_fd(), &mut self.buf[..len], Again::Fail) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(hint(e, "read from the stderr source")),
        };
        if n > 0 {
            self.shared
                .lock()
                .capture
                .feed(&self.buf[..n], &mut self.out);
            self.forward();
        }
        Ok(Some(n))
    }

    /// After the wake-up: reads what the kernel says is queued now, and no more.
    fn read_queued(&mut self) -> Stop {
        let queued = crate::sys::io::queued(self.source.as_fd());
        read_queued(queued, |limit| self.read_chunk(limit))
    }

    /// Writes and flushes `out` to the sink, unless an earlier write failed; clears `out`.
    fn forward(&mut self) {
        if !self.out.is_empty() {
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write_all(&self.out).and_then(|()| sink.flush()) {
                    self.shared.lock().sink_error.get_or_insert(e);
                    // Forwarding stops; the sink is dropped at the end as usual.
                    self.sink = None;
                }
            }
        }
        self.out.clear();
    }
}

/// After the wake-up, for either driver: reads (with `read_chunk`, which never waits: `Ok(None)`
/// for `EAGAIN`, `Ok(Some(0))` for EOF) what the kernel said was `queued` at the wake-up, then
/// one more chunk to tell EOF from a writer that is still there.
pub(super) fn read_queued(
    queued: Option<u64>,
    mut read_chunk: impl FnMut(usize) -> io::Result<Option<usize>>,
) -> Stop {
    let mut budget = queued.unwrap_or(FINISH_BUDGET);
    while budget > 0 {
        let limit = usize::try_from(budget).unwrap_or(usize::MAX);
        match read_chunk(limit) {
            Ok(Some(0)) => return Stop::Eof,
            Ok(Some(n)) => budget = budget.saturating_sub(n as u64),
            Ok(None) => break,
            Err(e) => return Stop::Error(e),
        }
    }
    // One more read, bounded by the buffer and never waiting, tells EOF from a writer
    // that is still there (and delivers what it wrote since, if anything).
    match read_chunk(usize::MAX) {
        Ok(Some(0)) => Stop::Eof,
        Ok(_) => Stop::Woken,
        Err(e) => Stop::Error(e),
    }
}

/// Everything about a captured stderr in one value: how the [`Capture`] forwards and what it
/// keeps ([`Config`]), where the forwarded bytes go (the sink; our own stderr by default), who
/// gets each line (a [`Subscriber`], none by default), and how long waiting for the child gives
/// the drain after the reap ([`grace`](Self::grace)). Given to
/// [`child::StderrTo::Capture`](crate::child::StderrTo::Capture).
///
/// The sink and the subscriber serve one drain: a second child spawned from the same settings
/// forwards to our stderr again and has no subscriber.
pub struct Settings {
    config: Config,
    sink: Option<Box<dyn Write + Send>>,
    subscriber: Option<Box<dyn Subscriber>>,
    grace: Duration,
}

impl Settings {
    /// The default [`Config`], our stderr as the sink, no subscriber, a grace of 250 ms.
    pub fn new() -> Settings {
        Settings {
            config: Config::default(),
            sink: None,
            subscriber: None,
            grace: Duration::from_millis(250),
        }
    }

    /// How the capture forwards and what it keeps.
    pub fn config(mut self, config: Config) -> Settings {
        self.config = config;
        self
    }

    /// Where forwarded bytes are written (our own stderr by default).
    pub fn sink(mut self, sink: impl Write + Send + 'static) -> Settings {
        self.sink = Some(Box::new(sink));
        self
    }

    /// A subscriber that receives each line with try-send semantics (lines it cannot take are
    /// counted as dropped).
    pub fn subscriber(mut self, subscriber: impl Subscriber + 'static) -> Settings {
        self.subscriber = Some(Box::new(subscriber));
        self
    }

    /// How long waiting for the child gives the drain, after the reap, to deliver what is
    /// already queued (250 ms by default). Never a wait for stderr's EOF, which a descendant
    /// may hold off forever.
    pub fn grace(mut self, grace: Duration) -> Settings {
        self.grace = grace;
        self
    }

    /// The grace period (see [`grace`](Self::grace)).
    pub fn grace_period(&self) -> Duration {
        self.grace
    }

    /// The capture's configuration.
    pub fn get_config(&self) -> &Config {
        &self.config
    }

    /// Starts a [`Drain`] on `source` with these settings, taking the sink and the subscriber.
    pub(crate) fn start(&mut self, source: OwnedFd) -> io::Result<Drain> {
        let (capture, sink) = self.take_parts();
        let sink = sink.unwrap_or_else(|| Box::new(io::stderr()) as Box<dyn Write + Send>);
        Drain::spawn(source, capture, sink)
    }

    /// A capture with the subscriber, and the sink if one was set (each driver has its own
    /// default: our stderr, blocking or async).
    pub(super) fn take_parts(&mut self) -> (Capture, Option<Box<dyn Write + Send>>) {
        let mut capture = Capture::new(self.config.clone());
        if let Some(s) = self.subscriber.take() {
            capture.subscribe(s);
        }
        (capture, self.sink.take())
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::new()
    }
}

impl From<Config> for Settings {
    fn from(config: Config) -> Settings {
        Settings::new().config(config)
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("config", &self.config)
            .field("sink", &self.sink.as_ref().map(|_| "custom"))
            .field("subscriber", &self.subscriber.is_some())
            .field("grace", &self.grace)
            .finish()
    }
}
