//! The connect and stall watchdogs: a step machine ([`Watch`]), its blocking driver
//! ([`drive`]) generic over the [process seam](super::process) and a [`Clock`], and the thread
//! that runs it.
//!
//! One thread per child, only when a watchdog is configured. It samples a byte counter the
//! reader and writer bump (one relaxed atomic add per call, no clock reads on the hot path), so
//! a stall is detected at most a tick late (an eighth of the stall timeout, 5 ms to 1 s).
//!
//! [`decide`] is the pure timing rule; [`Watch`] wraps it in the whole sequence: sample, probe
//! the read end at the connect deadline, check whether the child already exited, fire (record
//! and wake every handle), `SIGTERM`, wait, `SIGKILL`. Both are sans-IO (no descriptor, thread
//! or clock), so the sequence is unit-tested against a scripted process and a fake clock, and
//! an async driver can run the same machine.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use rustix::process::Signal;

use super::Watchdog;
use super::process::{Clock, Process, SystemClock};
use super::state::{Fired, Sample, Shared};
use crate::sys::poll::wait;

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

/// What the timing rule says.
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

/// What the watchdog does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// Sleep this long (or until poked); then report a fresh [`Seen::Sample`], or stop if the
    /// watchdog was disarmed meanwhile.
    Sleep(Duration),
    /// Is a byte (or EOF) waiting unread in our read end? Report [`Seen::Answered`].
    Probe,
    /// Has the child exited (without reaping it)? Report [`Seen::Exited`].
    CheckExited,
    /// Record the firing and wake every handle; report [`Seen::Fired`] (false when another
    /// firing came first).
    Fire(Fired),
    /// Send this signal; report [`Seen::Signalled`].
    Signal(Signal),
    /// Wait up to this long for the child to exit; report [`Seen::Waited`].
    WaitExit(Duration),
    /// Nothing left to do.
    Stop,
}

/// What the last act observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The shared counters, read at `at`.
    Sample { at: Instant, sample: Sample },
    /// Data or EOF is waiting in our read end.
    Answered(bool),
    /// The child has exited.
    Exited(bool),
    /// This firing was the first.
    Fired(bool),
    /// The signal was sent (or could not be: nothing else to do about it).
    Signalled,
    /// The child exited within the wait.
    Waited(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Watching,
    ProbingConnect,
    CheckingExit,
    ProbingAfterExit,
    FiringExited,
    Firing,
    Terming,
    WaitingTerm,
    Over,
}

/// The watchdog's sequence as a step machine.
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    timeouts: Timeouts,
    /// The wait between `SIGTERM` and `SIGKILL`.
    term: Duration,
    /// Signals reach the child's process group: a silent descendant holding the wire after the
    /// child exited is signalled too.
    group: bool,
    start: Option<Instant>,
    at: Option<Instant>,
    moved: u64,
    last_change: Option<Instant>,
    connect_settled: bool,
    reader_gone: bool,
    pending: Option<Fired>,
    phase: Phase,
}

impl Watch {
    pub(crate) fn new(timeouts: Timeouts, term: Duration, group: bool) -> Watch {
        Watch {
            timeouts,
            term,
            group,
            start: None,
            at: None,
            moved: 0,
            last_change: None,
            connect_settled: timeouts.connect.is_none(),
            reader_gone: false,
            pending: None,
            phase: Phase::Watching,
        }
    }

    /// The next act, given what the last one observed. The first observation is a sample.
    pub(crate) fn step(&mut self, seen: Seen) -> Act {
        use Phase::*;
        match (self.phase, seen) {
            (Watching, Seen::Sample { at, sample }) => {
                let start = *self.start.get_or_insert(at);
                if self.last_change.is_none() || sample.moved != self.moved {
                    self.moved = sample.moved;
                    self.last_change = Some(if self.last_change.is_none() {
                        start
                    } else {
                        at
                    });
                }
                self.at = Some(at);
                self.reader_gone |= sample.reader_gone;
                if sample.connect_cancelled || sample.read > 0 {
                    self.connect_settled = true;
                }
                self.decide()
            }
            (ProbingConnect, Seen::Answered(true)) => {
                // A byte (or EOF) waiting unread in our end: the child did answer.
                self.connect_settled = true;
                self.phase = Watching;
                self.decide()
            }
            (ProbingConnect, Seen::Answered(false)) => self.fire_pending(Fired {
                watchdog: Watchdog::Connect,
                after: self.timeouts.connect.unwrap_or_default(),
            }),
            // Nothing to kill. If the wire still has something for the reader, or EOF, or there
            // is no reader left, nobody hangs: not a timeout.
            (CheckingExit, Seen::Exited(true)) if self.reader_gone => self.stop(),
            (CheckingExit, Seen::Exited(true)) => {
                self.phase = ProbingAfterExit;
                Act::Probe
            }
            (ProbingAfterExit, Seen::Answered(true)) => self.stop(),
            // A descendant holds the wire open in silence and a blocked read would never
            // return: wake the handles all the same.
            (ProbingAfterExit, Seen::Answered(false)) => {
                self.phase = FiringExited;
                Act::Fire(self.pending.expect("a pending firing"))
            }
            (FiringExited, Seen::Fired(true)) if self.group => {
                // The child is a zombie not yet reaped, so its group id is still its own: the
                // descendant holding the wire is in that group.
                self.phase = Over;
                Act::Signal(Signal::TERM)
            }
            (CheckingExit, Seen::Exited(false)) => {
                self.phase = Firing;
                Act::Fire(self.pending.expect("a pending firing"))
            }
            (Firing, Seen::Fired(true)) => {
                self.phase = Terming;
                Act::Signal(Signal::TERM)
            }
            (Terming, Seen::Signalled) => {
                self.phase = WaitingTerm;
                Act::WaitExit(self.term)
            }
            (WaitingTerm, Seen::Waited(false)) => {
                self.phase = Over;
                Act::Signal(Signal::KILL)
            }
            _ => self.stop(),
        }
    }

    fn stop(&mut self) -> Act {
        self.phase = Phase::Over;
        Act::Stop
    }

    fn fire_pending(&mut self, fired: Fired) -> Act {
        self.pending = Some(fired);
        self.phase = Phase::CheckingExit;
        Act::CheckExited
    }

    fn decide(&mut self) -> Act {
        let (Some(start), Some(at), Some(last)) = (self.start, self.at, self.last_change) else {
            return self.stop();
        };
        match decide(
            &self.timeouts,
            at.saturating_duration_since(start),
            self.connect_settled,
            at.saturating_duration_since(last),
        ) {
            Decision::Sleep(d) => Act::Sleep(d),
            Decision::Idle => self.stop(),
            // Without a reader there is no read end to probe: the connect watchdog fires.
            Decision::CheckConnect if self.reader_gone => self.fire_pending(Fired {
                watchdog: Watchdog::Connect,
                after: self.timeouts.connect.unwrap_or_default(),
            }),
            Decision::CheckConnect => {
                self.phase = Phase::ProbingConnect;
                Act::Probe
            }
            Decision::Fire(f) => self.fire_pending(f),
        }
    }
}

/// What the watchdog watches besides the process: the shared counters, our read end, and the
/// handles to wake. [`ThreadSide`] is the real one; tests script it.
pub(crate) trait Watched {
    /// The counters now.
    fn sample(&mut self) -> Sample;
    /// Sleeps `d` unless poked or stopped first; true when stopped.
    fn pause(&mut self, d: Duration) -> bool;
    /// Whether data or EOF waits in our read end.
    fn answered(&mut self) -> bool;
    /// Records the firing and wakes every handle; false when another came first.
    fn fire(&mut self, fired: Fired) -> bool;
}

/// The blocking driver: runs `watch` until it stops or the watchdog is disarmed.
pub(crate) fn drive<P, C, W>(mut watch: Watch, process: &P, clock: &C, watched: &mut W)
where
    P: Process + ?Sized,
    C: Clock,
    W: Watched,
{
    let mut seen = Seen::Sample {
        at: clock.now(),
        sample: watched.sample(),
    };
    loop {
        seen = match watch.step(seen) {
            Act::Sleep(d) => {
                if watched.pause(d) {
                    return;
                }
                Seen::Sample {
                    at: clock.now(),
                    sample: watched.sample(),
                }
            }
            Act::Probe => Seen::Answered(watched.answered()),
            Act::CheckExited => Seen::Exited(process.has_exited().unwrap_or(false)),
            Act::Fire(f) => Seen::Fired(watched.fire(f)),
            Act::Signal(sig) => {
                let _ = process.signal(sig);
                Seen::Signalled
            }
            Act::WaitExit(d) => Seen::Waited(!matches!(process.wait_exit(Some(d)), Ok(None))),
            Act::Stop => return,
        };
    }
}

/// The thread's side: the shared state and `probe`, a duplicate of our read end of the child's
/// stdout, polled at the connect deadline so a byte waiting unread counts as arrived, and when
/// a watchdog is due after the child exited. Dropped with the reader (so a child writing on to
/// a pipe sees it closed).
pub(super) struct ThreadSide {
    pub(super) shared: Arc<Shared>,
    pub(super) probe: Option<OwnedFd>,
}

impl Watched for ThreadSide {
    fn sample(&mut self) -> Sample {
        let sample = self.shared.sample();
        if sample.reader_gone {
            self.probe = None;
        }
        sample
    }

    fn pause(&mut self, d: Duration) -> bool {
        self.shared.pause(Some(d))
    }

    fn answered(&mut self) -> bool {
        self.probe
            .as_ref()
            .is_none_or(|fd| wait(fd.as_fd(), PollFlags::IN, Some(Duration::ZERO)).unwrap_or(true))
    }

    fn fire(&mut self, fired: Fired) -> bool {
        self.shared.fire(fired)
    }
}

/// The running watchdog thread of one child.
pub(crate) struct WatchdogThread {
    shared: Arc<Shared>,
    join: JoinHandle<()>,
}

impl WatchdogThread {
    /// `probe`: see [`ThreadSide`]. `term`: the wait between `SIGTERM` and `SIGKILL` when
    /// firing.
    pub(crate) fn spawn<P: Process + Send + Sync + 'static>(
        shared: Arc<Shared>,
        process: Arc<P>,
        watch: Watch,
        probe: Option<OwnedFd>,
    ) -> io::Result<WatchdogThread> {
        let mut side = ThreadSide {
            shared: shared.clone(),
            probe,
        };
        let join = std::thread::Builder::new()
            .name("procwire-watchdog".into())
            .spawn(move || drive(watch, &*process, &SystemClock, &mut side))
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
