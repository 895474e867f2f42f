//! The connect and stall watchdogs, and the state every handle of a child shares.
//!
//! One thread per child, only when a watchdog is configured. It samples a byte counter the
//! reader and writer bump (one relaxed atomic add per call, no clock reads on the hot path), so
//! a stall is detected at most a tick late (an eighth of the stall timeout, 5 ms to 1 s). The
//! decision is the pure function [`decide`], unit-tested without threads or clocks.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use rustix::net::Shutdown;
use rustix::process::Signal;

use super::process::{OsProcess, Process};
use super::{TimedOut, Watchdog};
use crate::sys::Waker;
use crate::sys::poll::wait;

/// A watchdog that fired: which, and the timeout that ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fired {
    pub(crate) watchdog: Watchdog,
    pub(crate) after: Duration,
}

impl Fired {
    pub(crate) fn error(self) -> io::Error {
        TimedOut {
            watchdog: self.watchdog,
            after: self.after,
            exit: None,
        }
        .into_io()
    }
}

/// What the reader, writer, handle and watchdog thread of one child share.
pub(crate) struct Shared {
    fired: OnceLock<Fired>,
    /// Fires when a watchdog fires (only when one is armed); reads and writes on pipes poll it
    /// beside the wire.
    wake: Option<Waker>,
    /// Duplicates of our socket ends, shut down when a watchdog fires to wake blocked calls.
    sockets: Mutex<Vec<OwnedFd>>,
    read_bytes: AtomicU64,
    moved: AtomicU64,
    connect_cancelled: AtomicBool,
    /// The reader was dropped: the watchdog lets go of its duplicate of the read end.
    reader_gone: AtomicBool,
    stop: Mutex<bool>,
    poke: Condvar,
}

impl Shared {
    /// `armed`: whether any watchdog will run (creates the eventfd).
    pub(crate) fn new(armed: bool) -> io::Result<Shared> {
        let wake = if armed {
            Some(Waker::new("the child's watchdog")?)
        } else {
            None
        };
        Ok(Shared {
            fired: OnceLock::new(),
            wake,
            sockets: Mutex::new(Vec::new()),
            read_bytes: AtomicU64::new(0),
            moved: AtomicU64::new(0),
            connect_cancelled: AtomicBool::new(false),
            reader_gone: AtomicBool::new(false),
            stop: Mutex::new(false),
            poke: Condvar::new(),
        })
    }

    pub(crate) fn fired(&self) -> Option<Fired> {
        self.fired.get().copied()
    }

    pub(crate) fn waker(&self) -> Option<&Waker> {
        self.wake.as_ref()
    }

    pub(crate) fn add_socket(&self, fd: OwnedFd) {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fd);
    }

    #[inline]
    pub(crate) fn note_read(&self, n: usize) {
        if n > 0 {
            self.read_bytes.fetch_add(n as u64, Ordering::Relaxed);
            self.moved.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn note_write(&self, n: usize) {
        if n > 0 {
            self.moved.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    pub(crate) fn cancel_connect(&self) {
        self.connect_cancelled.store(true, Ordering::Relaxed);
        self.poke.notify_all();
    }

    pub(crate) fn reader_gone(&self) {
        self.reader_gone.store(true, Ordering::Relaxed);
        self.poke.notify_all();
    }

    /// Stops the watchdog thread for good (nothing will be killed or woken by it any more).
    pub(crate) fn disarm(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.poke.notify_all();
    }

    /// Records `fired` (first one wins) and wakes every blocked reader and writer.
    fn fire(&self, fired: Fired) -> bool {
        if self.fired.set(fired).is_err() {
            return false;
        }
        if let Some(wake) = &self.wake {
            wake.wake();
        }
        for fd in self
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = rustix::net::shutdown(fd, Shutdown::Both);
        }
        true
    }
}

/// The configured timeouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) connect: Option<Duration>,
    pub(crate) stall: Option<Duration>,
}

impl Timeouts {
    pub(crate) fn armed(&self) -> bool {
        self.connect.is_some() || self.stall.is_some()
    }
}

/// What the watchdog thread does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Sleep this long (or until poked), then decide again.
    Sleep(Duration),
    /// The connect deadline passed and no byte was read: check whether one is waiting unread.
    CheckConnect,
    /// Fire this watchdog.
    Fire(Fired),
    /// Nothing left to watch.
    Idle,
}

/// The sampling period of the stall watchdog.
pub(crate) fn tick(stall: Duration) -> Duration {
    (stall / 8).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// Decides the next step from how long the child has run, whether the connect watchdog is
/// settled (a byte arrived or it was cancelled), and how long ago the byte counter last moved.
pub(crate) fn decide(
    t: &Timeouts,
    elapsed: Duration,
    connect_settled: bool,
    since_move: Duration,
) -> Decision {
    let mut sleep: Option<Duration> = None;
    if let (Some(c), false) = (t.connect, connect_settled) {
        if elapsed >= c {
            return Decision::CheckConnect;
        }
        sleep = Some(c - elapsed);
    }
    if let Some(s) = t.stall {
        if since_move >= s {
            return Decision::Fire(Fired {
                watchdog: Watchdog::Stall,
                after: s,
            });
        }
        let next = (s - since_move).min(tick(s));
        sleep = Some(sleep.map_or(next, |d| d.min(next)));
    }
    sleep.map_or(Decision::Idle, Decision::Sleep)
}

/// The running watchdog thread of one child.
pub(crate) struct WatchdogThread {
    shared: Arc<Shared>,
    join: JoinHandle<()>,
}

impl WatchdogThread {
    /// `probe`: a duplicate of our read end of the child's stdout, polled at the connect
    /// deadline so a byte waiting unread counts as arrived, and when a watchdog is due after the
    /// child exited (see `run`); dropped with the reader. `term`: the wait between `SIGTERM` and
    /// `SIGKILL` when firing.
    pub(crate) fn spawn(
        shared: Arc<Shared>,
        process: Arc<OsProcess>,
        timeouts: Timeouts,
        probe: Option<OwnedFd>,
        term: Duration,
    ) -> io::Result<WatchdogThread> {
        let s = shared.clone();
        let join = std::thread::Builder::new()
            .name("procwire-watchdog".into())
            .spawn(move || run(&s, &process, timeouts, probe, term))
            .map_err(|e| io::Error::new(e.kind(), format!("starting the watchdog thread: {e}")))?;
        Ok(WatchdogThread { shared, join })
    }

    /// Stops the thread; joins it when `join` (otherwise it ends on its own: it may be in its
    /// `SIGTERM` grace for a child that will not die).
    pub(crate) fn stop(self, join: bool) {
        self.shared.disarm();
        if join {
            let _ = self.join.join();
        }
    }
}

fn run(
    shared: &Shared,
    process: &OsProcess,
    timeouts: Timeouts,
    mut probe: Option<OwnedFd>,
    term: Duration,
) {
    let start = Instant::now();
    let mut seen = shared.moved.load(Ordering::Relaxed);
    let mut last_change = start;
    let mut connect_settled = timeouts.connect.is_none();
    loop {
        let now = Instant::now();
        let moved = shared.moved.load(Ordering::Relaxed);
        if moved != seen {
            seen = moved;
            last_change = now;
        }
        if shared.reader_gone.load(Ordering::Relaxed) {
            probe = None;
        }
        if !connect_settled
            && (shared.connect_cancelled.load(Ordering::Relaxed)
                || shared.read_bytes.load(Ordering::Relaxed) > 0)
        {
            connect_settled = true;
        }
        let decision = decide(&timeouts, now - start, connect_settled, now - last_change);
        // Data or EOF waiting in our read end (or no reader left to hang).
        let answered = || {
            probe.as_ref().is_none_or(|fd| {
                wait(fd.as_fd(), PollFlags::IN, Some(Duration::ZERO)).unwrap_or(true)
            })
        };
        let fired = match decision {
            Decision::Sleep(d) => {
                if sleep_or_stop(shared, Some(d)) {
                    return;
                }
                continue;
            }
            Decision::Idle => {
                sleep_or_stop(shared, None);
                return;
            }
            Decision::CheckConnect => {
                // A byte (or EOF) waiting unread in our end means the child did answer.
                if probe.is_some() && answered() {
                    connect_settled = true;
                    continue;
                }
                Fired {
                    watchdog: Watchdog::Connect,
                    after: timeouts.connect.unwrap_or_default(),
                }
            }
            Decision::Fire(f) => f,
        };
        if process.has_exited().unwrap_or(false) {
            // Nothing to kill. If the wire still has something for the reader, or EOF, nobody
            // hangs: not a timeout. If not, a descendant holds the wire open in silence and a
            // blocked read would never return: wake the handles all the same.
            if answered() {
                sleep_or_stop(shared, None);
                return;
            }
            shared.fire(fired);
            sleep_or_stop(shared, None);
            return;
        }
        if shared.fire(fired) {
            let _ = process.signal(Signal::TERM);
            if let Ok(None) = process.wait_exit(Some(term)) {
                let _ = process.signal(Signal::KILL);
            }
        }
        return;
    }
}

/// Sleeps `d` (`None`: until stopped) unless stopped or poked first; true when stopped.
fn sleep_or_stop(shared: &Shared, d: Option<Duration>) -> bool {
    let stop = shared.stop.lock().unwrap_or_else(|e| e.into_inner());
    if *stop {
        return true;
    }
    let stop = match d {
        Some(d) => {
            shared
                .poke
                .wait_timeout(stop, d)
                .unwrap_or_else(|e| e.into_inner())
                .0
        }
        None => shared
            .poke
            .wait_while(stop, |s| !*s)
            .unwrap_or_else(|e| e.into_inner()),
    };
    *stop
}
