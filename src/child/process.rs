//! The child process: waiting with deadlines, signalling without pid-reuse races, the close
//! policy, and the [`Handle`] that owns it all.
//!
//! The OS effects sit behind the one-trait seam [`Process`], so the close policy
//! ([`terminate`]) is unit-tested against a scripted process.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::watchdog::{Shared, WatchdogThread};
use super::{Exit, KillPolicy, TimedOut};
use crate::stderr;
use crate::sys::{pidfd, poll};

/// What the close policy needs from a process. Implemented by [`OsProcess`] and by the tests'
/// scripted process.
pub(crate) trait Process {
    /// Reaps the process if it has exited, without blocking.
    fn try_reap(&self) -> io::Result<Option<ExitStatus>>;
    /// Sends `sig` unless the process has been reaped already.
    fn signal(&self, sig: Signal) -> io::Result<()>;
    /// Waits until the process has exited (`None`: without limit) and reaps it; `Ok(None)` when
    /// the time ran out first.
    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>>;
}

/// How [`terminate`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Exited by itself (before or after its input was closed).
    Exited(ExitStatus),
    /// Exited after `SIGTERM`.
    Terminated(ExitStatus),
    /// Reaped after `SIGKILL`.
    Killed(ExitStatus),
    /// Not reaped within the last deadline.
    Unreaped,
}

/// The close policy: close the input, wait, `SIGTERM`, wait, `SIGKILL`, wait; each wait bounded by
/// `policy`.
pub(crate) fn terminate(
    p: &dyn Process,
    policy: &KillPolicy,
    close_input: &mut dyn FnMut(),
) -> io::Result<Ending> {
    if let Some(status) = p.try_reap()? {
        return Ok(Ending::Exited(status));
    }
    close_input();
    if let Some(status) = p.wait_exit(Some(policy.close))? {
        return Ok(Ending::Exited(status));
    }
    p.signal(Signal::TERM)?;
    if let Some(status) = p.wait_exit(Some(policy.term))? {
        return Ok(Ending::Terminated(status));
    }
    p.signal(Signal::KILL)?;
    if let Some(status) = p.wait_exit(Some(policy.kill))? {
        return Ok(Ending::Killed(status));
    }
    Ok(Ending::Unreaped)
}

/// A spawned child: std's handle (reaping happens only under its lock, so a pid we signal can
/// never have been recycled) and, where the kernel has it (Linux 5.3+), a pidfd to wait on
/// with a deadline without holding that lock.
pub(crate) struct OsProcess {
    child: Mutex<std::process::Child>,
    status: OnceLock<ExitStatus>,
    pidfd: Option<OwnedFd>,
    pid: u32,
}

impl OsProcess {
    pub(crate) fn new(child: std::process::Child) -> OsProcess {
        let pid = child.id();
        // pidfd_open(2) is always close-on-exec. Without it (old kernels, seccomp) waits poll.
        let pidfd = pidfd::open(&child);
        OsProcess {
            child: Mutex::new(child),
            status: OnceLock::new(),
            pidfd,
            pid,
        }
    }

    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// Whether the process has exited (reaped or a zombie), without reaping it.
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        if self.status.get().is_some() {
            return Ok(true);
        }
        match &self.pidfd {
            Some(fd) => pidfd::wait_exited(fd, Some(Instant::now())),
            None => Ok(self.try_reap()?.is_some()),
        }
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

impl Process for OsProcess {
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

    fn signal(&self, sig: Signal) -> io::Result<()> {
        let _child = self.lock();
        if self.status.get().is_some() {
            return Ok(());
        }
        // Not reaped by us while we hold the lock, so the pid is still this child's (a zombie
        // keeps it) unless something else in the process reaped it behind our back: the pidfd,
        // when we have one, cannot name another process even then.
        let sent = match &self.pidfd {
            Some(fd) => pidfd::send_signal(fd, sig),
            None => {
                let pid = Pid::from_raw(self.pid as i32).expect("a child's pid is positive");
                rustix::process::kill_process(pid, sig)
            }
        };
        match sent {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(io::Error::new(
                io::Error::from(e).kind(),
                format!(
                    "sending signal {} to child {} failed: {e}",
                    sig.as_raw(),
                    self.pid
                ),
            )),
        }
    }

    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.try_reap()? {
            return Ok(Some(status));
        }
        let deadline = poll::deadline(timeout);
        let left = || poll::left(deadline);
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
                    let remaining = left();
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

/// Owns a spawned child: waits for it, closes or kills it, and reaps it on drop.
///
/// A reader or writer being dropped never touches the process; the handle does, and only when
/// told to ([`wait`](Self::wait), [`close`](Self::close), [`kill`](Self::kill)) or when dropped
/// without having been waited for, which runs the close policy with [`KillPolicy::DROP`]
/// (after which a process still alive is left to a background thread to reap).
pub struct Handle {
    pub(crate) process: Arc<OsProcess>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) drain: Option<stderr::Drain>,
    pub(crate) stderr_grace: Duration,
    pub(crate) watchdog: Option<WatchdogThread>,
    pub(crate) policy: KillPolicy,
    pub(crate) done: bool,
}

impl Handle {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    /// Disarms the connect watchdog, e.g. once the protocol's greeting has been read. The stall
    /// watchdog, if any, stays armed.
    pub fn cancel_connect_watchdog(&self) {
        self.shared.cancel_connect();
    }

    /// The watchdog that killed the child, if one did, and after how long.
    pub fn timed_out(&self) -> Option<(super::Watchdog, Duration)> {
        self.shared.fired().map(|f| (f.watchdog, f.after))
    }

    /// What the stderr side channel holds so far (`None` when stderr is not captured).
    pub fn stderr_snapshot(&self) -> Option<stderr::Snapshot> {
        self.drain.as_ref().map(|d| d.snapshot())
    }

    /// Reaps the child if it has exited, without blocking. The status only: the stderr report
    /// comes with [`wait`](Self::wait).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process.try_reap()
    }

    /// Waits for the child to exit, then stops the stderr side channel (waiting at most the
    /// [grace](super::Command::stderr_grace) for it: never for stderr's EOF, which a descendant
    /// may hold off forever) and returns the status with what stderr captured.
    ///
    /// Does not close the child's input: close or drop the [`Writer`](super::Writer) first if
    /// the child waits for EOF. ([`Child::wait`](super::Child::wait) does that for you.)
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::TimedOut`] with a [`TimedOut`] holding the [`Exit`] when a watchdog
    /// killed the child; the OS's error if waiting failed.
    pub fn wait(mut self) -> io::Result<Exit> {
        let status = if self.watchdog.is_none() {
            // Nothing else can signal the child now (the handle is ours), so block in
            // waitpid(2) itself, holding the lock: one syscall, as std's wait.
            self.process.wait_blocking()?
        } else {
            self.process
                .wait_exit(None)?
                .ok_or_else(|| io::Error::other("waiting for the child ended early"))?
        };
        self.finish(status)
    }

    /// Runs the close policy ([`KillPolicy`]; the input is closed by whoever owns the
    /// [`Writer`](super::Writer)): wait, `SIGTERM`, wait, `SIGKILL`, bounded reap.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::TimedOut`] if the child was not reaped even after `SIGKILL` and the last
    /// deadline (it is then left to a background thread); otherwise as [`wait`](Self::wait).
    pub fn close(mut self) -> io::Result<Exit> {
        let policy = self.policy;
        self.close_with(&policy, &mut || {})
    }

    /// Sends `SIGKILL` and reaps the child (waiting at most [`KillPolicy::kill`]).
    pub fn kill(mut self) -> io::Result<Exit> {
        self.process.signal(Signal::KILL)?;
        let policy = KillPolicy {
            close: Duration::ZERO,
            term: Duration::ZERO,
            kill: self.policy.kill,
        };
        // Already dead: the policy's first step reaps it; its later signals are never sent.
        self.close_with(&policy, &mut || {})
    }

    pub(crate) fn close_with(
        &mut self,
        policy: &KillPolicy,
        close_input: &mut dyn FnMut(),
    ) -> io::Result<Exit> {
        let ending = match terminate(&*self.process, policy, close_input) {
            Ok(ending) => ending,
            Err(e) => {
                // E.g. ECHILD: something else reaped the child (SIGCHLD ignored, a waitpid(-1)
                // elsewhere). Let go of everything; pid-based signals are never sent again.
                self.done = true;
                self.stop_watchdog(false);
                if let Some(d) = self.drain.take() {
                    d.finish(self.stderr_grace);
                }
                return Err(io::Error::new(
                    e.kind(),
                    format!("closing child {}: {e}", self.id()),
                ));
            }
        };
        match ending {
            Ending::Exited(s) | Ending::Terminated(s) | Ending::Killed(s) => self.finish(s),
            Ending::Unreaped => {
                self.done = true;
                // It may be in its own SIGTERM grace for this very child: do not wait for it.
                self.stop_watchdog(false);
                reap_in_background(self.process.clone());
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "child {} was not reaped within {:?} of SIGKILL (uninterruptible \
                         sleep?); a background thread will reap it",
                        self.id(),
                        policy.kill
                    ),
                ))
            }
        }
    }

    fn stop_watchdog(&mut self, join: bool) {
        if let Some(w) = self.watchdog.take() {
            w.stop(join);
        }
    }

    fn finish(&mut self, status: ExitStatus) -> io::Result<Exit> {
        self.done = true;
        self.stop_watchdog(true);
        let stderr = self.drain.take().map(|d| d.finish(self.stderr_grace));
        let exit = Exit { status, stderr };
        match self.shared.fired() {
            Some(f) => Err(TimedOut {
                watchdog: f.watchdog,
                after: f.after,
                exit: Some(Box::new(exit)),
            }
            .into_io()),
            None => Ok(exit),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = self.close_with(&KillPolicy::DROP, &mut || {});
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("pid", &self.id())
            .field("stderr_captured", &self.drain.is_some())
            .field("timed_out", &self.timed_out())
            .finish()
    }
}

/// Leaves a process that would not die to a detached thread, so it does not stay a zombie.
fn reap_in_background(process: Arc<OsProcess>) {
    let spawned = std::thread::Builder::new()
        .name("procwire-reaper".into())
        .spawn(move || {
            let _ = process.wait_exit(None);
        });
    // Without a thread the zombie stays until this process exits; nothing else can be done.
    drop(spawned);
}
