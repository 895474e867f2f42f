//! The [`Handle`] that owns a child process: wait, close, kill, and the reap on drop.
//!
//! The top of `child`'s dependency order: it drives the close policy
//! ([`policy::terminate`](super::policy::terminate)) on the [`OsProcess`], and owns the
//! watchdog thread and the stderr drain.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;

use super::policy::{Ending, terminate};
use super::process::{Kill, OsProcess, Reap, WaitExit};
use super::state::Shared;
use super::watchdog::WatchdogThread;
use super::{Exit, KillPolicy, TimedOut};
use crate::stderr;

/// Owns a spawned child: waits for it, closes or kills it, and reaps it on drop.
///
/// A reader or writer being dropped never touches the process; the handle does, and only when
/// told to ([`wait`](Self::wait), [`close`](Self::close), [`kill`](Self::kill)) or when dropped
/// without having been waited for, which runs the close policy with [`KillPolicy::DROP`]
/// (after which a process still alive is left to a background thread to reap).
/// [`detach`](Self::detach) opts out of that.
pub struct Handle {
    pub(crate) process: Arc<OsProcess>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) drain: Option<stderr::Drain>,
    pub(crate) stderr_grace: Duration,
    pub(crate) watchdog: Option<WatchdogThread>,
    pub(crate) policy: KillPolicy,
    pub(crate) done: bool,
    /// A [`Signaller`](super::Signaller) was handed out: never wait under the process lock.
    pub(crate) signallers: bool,
}

impl Handle {
    pub(crate) fn new(process: Arc<OsProcess>, shared: Arc<Shared>, policy: KillPolicy) -> Handle {
        Handle {
            process,
            shared,
            drain: None,
            stderr_grace: stderr::Settings::new().grace_period(),
            watchdog: None,
            policy,
            done: false,
            signallers: false,
        }
    }

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
        self.shared.timed_out()
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
    /// [grace](crate::stderr::Settings::grace) for it: never for stderr's EOF, which a descendant
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
        let status = if self.watchdog.is_none() && !self.signallers {
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

    /// Sends `SIGKILL` to the child (to its process group when it leads one, see
    /// [`Command::process_group`](super::Command::process_group)), as
    /// [`std::process::Child::kill`] does; [`wait`](Self::wait) then reaps it. Nothing is sent
    /// once the child has been reaped (then it is `Ok`, not an error as std's is: the pid may
    /// already name another process, and the caller's intent is met).
    ///
    /// # Errors
    ///
    /// The OS's error from [kill(2)] or [pidfd_send_signal(2)] (`EPERM`, say).
    ///
    /// [kill(2)]: https://man7.org/linux/man-pages/man2/kill.2.html
    /// [pidfd_send_signal(2)]: https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html
    pub fn kill(&mut self) -> io::Result<()> {
        self.process.signal(Signal::KILL)
    }

    /// Sends signal number `sig` (`libc::SIGHUP`, `libc::SIGINT`, ...) as [`kill`](Self::kill)
    /// sends `SIGKILL`: through the pidfd, or to the process group when the child leads one,
    /// never after the reap.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a number that is not a signal (or is one the C
    /// library reserves for itself); otherwise as [`kill`](Self::kill).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.process.signal(super::signaller::signal_number(sig)?)
    }

    /// Waits at most `timeout` for the child to exit and reaps it: `Ok(None)` if it is still
    /// running then. The status only, as [`try_wait`](Self::try_wait); [`wait`](Self::wait)
    /// afterwards returns at once with the [`Exit`] and the stderr report. Waits on the pidfd
    /// in [poll(2)] (without one, on old kernels, it polls `waitpid(WNOHANG)` with short naps).
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        self.process.wait_exit(Some(timeout))
    }

    /// Lets the child run on: no close policy on drop, no watchdog, no stderr forwarding any
    /// more (the drain delivers what is queued and ends). A background thread reaps the child
    /// when it exits, so it does not stay a zombie. The wire's ends are untouched: whoever
    /// holds the [`Reader`](super::Reader) and [`Writer`](super::Writer) can go on using them.
    pub fn detach(mut self) {
        self.done = true;
        self.stop_watchdog(false);
        drop(self.drain.take());
        reap_in_background(self.process.clone());
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
                // Any other error (a signal refused, a wait that failed) may leave it running:
                // a background thread still reaps it when it ends, so no zombie stays.
                self.done = true;
                self.stop_watchdog(false);
                if e.raw_os_error() != Some(rustix::io::Errno::CHILD.raw_os_error()) {
                    reap_in_background(self.process.clone());
                }
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
                Err(unreaped(self.id(), policy.kill, "thread"))
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
        with_firing(&self.shared, exit)
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

/// `exit`, or, when a watchdog fired, the [`TimedOut`] error that carries it.
pub(super) fn with_firing(shared: &Shared, exit: Exit) -> io::Result<Exit> {
    match shared.fired() {
        Some(f) => Err(TimedOut {
            watchdog: f.watchdog,
            after: f.after,
            exit: Some(Box::new(exit)),
        }
        .into_io()),
        None => Ok(exit),
    }
}

/// The error of a close policy that ended with the child not reaped; `by`: who reaps it now
/// (a background "thread" or "task").
pub(super) fn unreaped(pid: u32, kill: Duration, by: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "child {pid} was not reaped within {kill:?} of SIGKILL (uninterruptible sleep?); \
             a background {by} will reap it"
        ),
    )
}

/// Leaves a process that would not die to a detached thread, so it does not stay a zombie.
pub(super) fn reap_in_background(process: Arc<OsProcess>) {
    let spawned = std::thread::Builder::new()
        .name("procwire-reaper".into())
        .spawn(move || {
            let _ = process.wait_exit(None);
        });
    // Without a thread the zombie stays until this process exits; nothing else can be done.
    drop(spawned);
}
