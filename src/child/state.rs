//! The state every handle of one child shares: which watchdog fired, the byte counters the
//! watchdog samples, and the ways to wake a reader or writer blocked on the wire.
//!
//! The leaf of `child`'s dependency order: it knows nothing of processes or threads. The
//! [`Reader`](super::Reader), the [`Writer`](super::Writer), the [`Handle`](super::Handle) and the
//! watchdog thread each hold an `Arc` of it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::net::Shutdown;

use super::{TimedOut, Watchdog};
use crate::sys::Waker;
use crate::sys::poll::wait_or_woken;

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

/// Which way a call moved bytes, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// From the child's stdout to us: counts for the connect and the stall watchdog.
    Read,
    /// From us to the child's stdin: counts for the stall watchdog only.
    Write,
}

/// The counters and flags the watchdog samples, read at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Bytes read from the child's stdout so far.
    pub(crate) read: u64,
    /// Bytes moved either way so far.
    pub(crate) moved: u64,
    /// The connect watchdog was cancelled.
    pub(crate) connect_cancelled: bool,
    /// The reader was dropped.
    pub(crate) reader_gone: bool,
}

/// See `Shared::pause`.
#[derive(Debug, Default)]
struct Pause {
    stopped: bool,
    poked: bool,
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
    /// The watchdog's pause: whether it is stopped for good, and whether it was poked (a flag
    /// changed) since it last looked. Both under one lock, so a poke that lands between the
    /// watchdog's sample and its wait is not lost.
    stop: Mutex<Pause>,
    poke: Condvar,
    /// The async watchdog's wake-up, notified beside `poke` (a stored permit stands for a poke
    /// that came while the task was not waiting).
    #[cfg(feature = "tokio")]
    poke_task: tokio::sync::Notify,
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
            stop: Mutex::new(Pause::default()),
            poke: Condvar::new(),
            #[cfg(feature = "tokio")]
            poke_task: tokio::sync::Notify::new(),
        })
    }

    pub(crate) fn fired(&self) -> Option<Fired> {
        self.fired.get().copied()
    }

    /// The public view of [`fired`](Self::fired), as `Reader`, `Writer` and `Handle` give it.
    pub(crate) fn timed_out(&self) -> Option<(Watchdog, Duration)> {
        self.fired().map(|f| (f.watchdog, f.after))
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

    /// The watchdog's error once one fired.
    #[inline]
    pub(crate) fn check(&self) -> io::Result<()> {
        match self.fired() {
            Some(f) => Err(f.error()),
            None => Ok(()),
        }
    }

    /// Before a read or write on `fd`: fails once a watchdog fired, and in poll mode (`poll`:
    /// pipes with a watchdog armed) waits in poll(2) until `fd` is ready or the watchdog's
    /// eventfd fires, so the call never sleeps inside `read(2)`/`write(2)` where nothing could
    /// wake it.
    #[inline]
    pub(crate) fn ready(
        &self,
        fd: BorrowedFd<'_>,
        events: PollFlags,
        poll: bool,
    ) -> io::Result<()> {
        self.check()?;
        if poll {
            if let Some(wake) = self.waker() {
                wait_or_woken(fd, events, Some(wake), None)?;
                self.check()?;
            }
        }
        Ok(())
    }

    /// After a read or write: counts what moved; an end of file, an empty move or an error
    /// after a watchdog shut the wire down is reported as the watchdog's error.
    #[inline]
    pub(crate) fn settle(&self, r: io::Result<usize>, dir: Dir) -> io::Result<usize> {
        match r {
            Ok(n) if n > 0 => {
                if dir == Dir::Read {
                    self.read_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                self.moved.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            other => {
                self.check()?;
                other
            }
        }
    }

    pub(crate) fn sample(&self) -> Sample {
        Sample {
            read: self.read_bytes.load(Ordering::Relaxed),
            moved: self.moved.load(Ordering::Relaxed),
            connect_cancelled: self.connect_cancelled.load(Ordering::Relaxed),
            reader_gone: self.reader_gone.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn cancel_connect(&self) {
        self.connect_cancelled.store(true, Ordering::Relaxed);
        self.poke_watchdog();
    }

    pub(crate) fn reader_gone(&self) {
        self.reader_gone.store(true, Ordering::Relaxed);
        self.poke_watchdog();
    }

    /// Makes the watchdog look again: at once if it is pausing, or as soon as it next pauses.
    fn poke_watchdog(&self) {
        self.stop.lock().unwrap_or_else(|e| e.into_inner()).poked = true;
        self.poke.notify_all();
        #[cfg(feature = "tokio")]
        self.poke_task.notify_one();
    }

    /// Stops the watchdog thread for good (nothing will be killed or woken by it any more).
    pub(crate) fn disarm(&self) {
        self.stop.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
        self.poke.notify_all();
        #[cfg(feature = "tokio")]
        self.poke_task.notify_one();
    }

    /// [`pause`](Self::pause) for the async watchdog: a tokio timer beside the notification.
    #[cfg(feature = "tokio")]
    pub(crate) async fn pause_async(&self, d: Duration) -> bool {
        if let Some(stopped) = self.take_poke() {
            return stopped;
        }
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = self.poke_task.notified() => {}
        }
        self.take_poke().unwrap_or(false)
    }

    /// Whether stopped, and clears a poke; `None` when neither happened.
    #[cfg(feature = "tokio")]
    fn take_poke(&self) -> Option<bool> {
        let mut p = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        let seen = p.stopped || p.poked;
        p.poked = false;
        seen.then_some(p.stopped)
    }

    /// Sleeps `d` (`None`: until stopped) unless stopped or poked first (a poke since the last
    /// pause counts); true when stopped.
    pub(crate) fn pause(&self, d: Option<Duration>) -> bool {
        let mut p = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        if !p.stopped && !p.poked {
            p = match d {
                Some(d) => {
                    self.poke
                        .wait_timeout_while(p, d, |p| !p.stopped && !p.poked)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self
                    .poke
                    .wait_while(p, |p| !p.stopped && !p.poked)
                    .unwrap_or_else(|e| e.into_inner()),
            };
        }
        p.poked = false;
        p.stopped
    }

    /// Records `fired` (first one wins) and wakes every blocked reader and writer; false when
    /// another fired first.
    pub(crate) fn fire(&self, fired: Fired) -> bool {
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
            let _ = crate::sys::io::shutdown(fd.as_fd(), Shutdown::Both);
        }
        true
    }
}
