//! The process seam: one small trait per OS effect the policies need, a clock, and
//! [`OsProcess`], the real process behind them.
//!
//! A leaf module (it knows nothing of the wire, the watchdog or the handle), as tokio's
//! `process/kill.rs` and `unix/reap.rs` are: the close policy ([`super::policy`]) and the
//! watchdog's kill sequence ([`super::watchdog`]) are written against these traits, so their unit
//! tests run them on a scripted process and a fake [`Clock`], with no process, thread or sleep.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitStatus;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::sys::{pidfd, poll};

/// Reaping without blocking: `waitpid(WNOHANG)`.
pub(crate) trait Reap {
    /// Reaps the process if it has exited, without blocking.
    fn try_reap(&self) -> io::Result<Option<ExitStatus>>;
}

/// Whether the process has exited, without reaping it (a zombie counts as exited).
pub(crate) trait Exited {
    /// True once the process has exited (reaped or not).
    fn has_exited(&self) -> io::Result<bool>;
}

/// Sending a signal.
pub(crate) trait Kill {
    /// Sends `sig` unless the process has been reaped already (then it is a no-op).
    fn signal(&self, sig: Signal) -> io::Result<()>;
}

/// Waiting for the exit with a bound.
pub(crate) trait WaitExit {
    /// Waits until the process has exited (`None`: without limit) and reaps it; `Ok(None)` when
    /// the time ran out first.
    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>>;
}

/// Everything the policies need of a process.
pub(crate) trait Process: Reap + Exited + Kill + WaitExit {}

impl<T: Reap + Exited + Kill + WaitExit + ?Sized> Process for T {}

/// The time, for the watchdog's deadlines. [`SystemClock`] reads `Instant::now()`; tests use a
/// fake that only moves when told.
pub(crate) trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A spawned child: std's handle (reaping happens only under its lock, so a pid we signal can
/// never have been recycled) and, where the kernel has it (Linux 5.3+), a pidfd to wait on
/// with a deadline without holding that lock.
pub(crate) struct OsProcess {
    child: Mutex<std::process::Child>,
    status: OnceLock<ExitStatus>,
    pidfd: Option<OwnedFd>,
    pid: u32,
    /// The child leads its own process group: signals go to the whole group.
    group: bool,
}

impl OsProcess {
    /// `group`: the child was started as the leader of a new process group (or session), so
    /// [`Kill::signal`] signals the group.
    pub(crate) fn new(child: std::process::Child, group: bool) -> OsProcess {
        let pid = child.id();
        // pidfd_open(2) is always close-on-exec. Without it (old kernels, seccomp) waits poll.
        let pidfd = pidfd::open(&child);
        OsProcess {
            child: Mutex::new(child),
            status: OnceLock::new(),
            pidfd,
            pid,
            group,
        }
    }

    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// The pidfd, which polls readable once the child has exited (`None` on kernels without
    /// pidfds: callers then ask [`Exited::has_exited`] now and then).
    pub(crate) fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|fd| fd.as_fd())
    }

    /// Blocks in waitpid(2) under the lock until the child exits. Only for when nothing else
    /// needs to signal it meanwhile (no watchdog thread).
    pub(crate) fn wait_blocking(&self) -> io::Result<ExitStatus> {
        let mut child = self.lock();
        if let Some(status) = self.status.get() {
            return Ok(*status);
        }
        let status = child.wait()?;
        let _ = self.status.set(status);
        Ok(status)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::process::Child> {
        // A panic while holding this lock leaves the Child intact; go on with it.
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reap for OsProcess {
    fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status.get() {
            return Ok(Some(*status));
        }
        let mut child = self.lock();
        if let Some(status) = self.status.get() {
            return Ok(Some(*status));
        }
        match child.try_wait()? {
            Some(status) => {
                let _ = self.status.set(status);
                Ok(Some(status))
            }
            None => Ok(None),
        }
    }
}

impl Exited for OsProcess {
    fn has_exited(&self) -> io::Result<bool> {
        if self.status.get().is_some() {
            return Ok(true);
        }
        match &self.pidfd {
            Some(fd) => pidfd::wait_exited(fd, Some(Instant::now())),
            None => Ok(self.try_reap()?.is_some()),
        }
    }
}

impl Kill for OsProcess {
    fn signal(&self, sig: Signal) -> io::Result<()> {
        let _child = self.lock();
        if self.status.get().is_some() {
            return Ok(());
        }
        // Not reaped by us while we hold the lock, so the pid is still this child's (a zombie
        // keeps it, and with it the process group's id) unless something else in the process
        // reaped it behind our back: the pidfd, when we have one, cannot name another process
        // even then.
        let pid = Pid::from_raw(self.pid as i32).expect("a child's pid is positive");
        let sent = match (&self.pidfd, self.group) {
            (_, true) => rustix::process::kill_process_group(pid, sig),
            (Some(fd), false) => pidfd::send_signal(fd, sig),
            (None, false) => rustix::process::kill_process(pid, sig),
        };
        match sent {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(io::Error::new(
                io::Error::from(e).kind(),
                format!(
                    "sending signal {} to child {}{} failed: {e}",
                    sig.as_raw(),
                    self.pid,
                    if self.group { "'s process group" } else { "" },
                ),
            )),
        }
    }
}

impl WaitExit for OsProcess {
    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.try_reap()? {
            return Ok(Some(status));
        }
        let deadline = poll::deadline(timeout);
        match &self.pidfd {
            Some(fd) => {
                // The pidfd polls readable once the process has exited (not yet reaped).
                pidfd::wait_exited(fd, deadline)?;
                self.try_reap()
            }
            None => {
                let mut nap = Duration::from_micros(200);
                loop {
                    if let Some(status) = self.try_reap()? {
                        return Ok(Some(status));
                    }
                    let remaining = poll::left(deadline);
                    if remaining == Some(Duration::ZERO) {
                        return Ok(None);
                    }
                    std::thread::sleep(remaining.map_or(nap, |r| r.min(nap)));
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
            }
        }
    }
}
