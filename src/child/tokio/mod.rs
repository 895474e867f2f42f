//! The async child (feature `tokio`): [`Command::spawn_async`] gives a [`Child`] whose halves
//! are [`AsyncRead`]/[`AsyncWrite`], whose [`wait`](Handle::wait) awaits the child's pidfd, and
//! whose watchdogs, close policy and stderr drain are tasks and timers on the caller's runtime:
//! no thread per child, so one `current_thread` runtime can run a thousand.
//!
//! It is the same child as the blocking one ([`super::Child`]): the same plan, wire, side
//! channel, pre-exec hooks and rollback (`spawn.rs`; the fork/exec itself is short and runs
//! inline), the same watchdog step machine (`watchdog.rs`, driven here by `tokio::time`), the
//! same close policy (`policy.rs`, driven here by an async function), the same stderr
//! [`Capture`](crate::stderr::Capture) (driven by [`stderr::tokio::Drain`]). The halves are the
//! wire's own async halves ([`AsyncReadHalf`], [`AsyncWriteHalf`]: readiness, half-close and
//! their caveats are written there once) with the child's watchdog accounting on top; the
//! [end-at-exit](Reader::end_at_exit) reader keeps the relay's owner rule (the same budget as
//! the blocking reader), and [`Child::wait_with_output`], [`Reader::splice_to`] and
//! [`Writer::splice_from`] are the blocking forms' twins. The parity tests
//! (`tests/child/parity.rs`) run the same programs through both and compare what they report.
//!
//! # Waiting
//!
//! A pidfd ([pidfd_open(2)], Linux 5.3+) polls readable once the child has exited; it is
//! registered with tokio's reactor (epoll(7)), so `wait` is one readiness wait and then a
//! `waitpid(WNOHANG)` that reaps (under the same lock the signalling code holds, so a pid we
//! signal is never a recycled one; the pidfd pins the process until that reap, so this is the
//! same as `waitid(P_PIDFD)`). No `SIGCHLD` handler and no reaper thread, unlike
//! `tokio::process`, which installs a `SIGCHLD` handler (or, on kernels with pidfds, also
//! registers them). Without pidfds (old kernels, seccomp) it polls `waitpid(WNOHANG)` on a timer
//! (200 µs, doubling to 20 ms).
//!
//! # Watchdogs
//!
//! The connect and stall watchdogs run as one task per armed child, on tokio timers; when one
//! fires it records which, sends `SIGTERM` (then `SIGKILL` after [`KillPolicy::term`]) and
//! wakes every handle: on socket topologies by `shutdown(2)` of our ends (readiness follows),
//! on pipes through the watchdog's eventfd, which each half registers beside its end. Reads,
//! writes and [`Handle::wait`] then return [`io::ErrorKind::TimedOut`] with a
//! [`TimedOut`](super::TimedOut).
//!
//! # Drop
//!
//! Dropping a [`Handle`] that was not waited for never blocks: it runs the close policy with
//! [`KillPolicy::DROP`]'s deadlines in a task spawned on the current runtime, which then, if
//! the child still lives, goes on awaiting its exit and reaps it. Outside a runtime (a handle
//! dropped after its runtime, or from a plain thread), a background thread does the same. If
//! the runtime shuts down while that task is pending, the task's own drop hands the child to
//! such a thread, so no child stays a zombie for longer than it lives.
//!
//! # Runtime
//!
//! Spawn inside a tokio runtime with I/O and time enabled (`Builder::enable_all`); the tasks
//! (stderr drain, watchdog, drop policy) run on that runtime.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use procwire::child::{Command, Topology};
//! use procwire::stderr::Settings;
//!
//! let mut child = Command::new("sh")
//!     .args(["-c", "echo started >&2; cat"])
//!     .topology(Topology::SocketPair)
//!     .stderr(Settings::new().sink(std::io::sink()))
//!     .spawn_async()?;
//! child.write_all(b"hello").await?;
//! child.close_input()?;
//! let mut echoed = Vec::new();
//! child.read_to_end(&mut echoed).await?;
//! let exit = child.wait().await?;
//! assert_eq!(echoed, b"hello");
//! assert_eq!(exit.stderr_tail(), b"started\n");
//! # Ok(())
//! # }
//! ```
//!
//! [pidfd_open(2)]: https://man7.org/linux/man-pages/man2/pidfd_open.2.html

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest, ReadBuf};
use tokio::task::JoinHandle;

pub use self::halves::{Reader, Writer};

use super::command::{Command, StderrTo};
use super::handle::{reap_in_background, unreaped, with_firing};
use super::policy::{Close, Ending, Seen as Observed, Step};
use super::process::{Exited, Kill, OsProcess, Reap};
use super::signaller::signal_number;
use super::spawn::{Launched, dup};
use super::state::Shared;
use super::watchdog::{Act, Seen, ThreadSide, Watch, Watched};
use super::{Exit, KillPolicy, Output, Watchdog};
use crate::stderr;
use crate::wire::tokio::{AsyncReadHalf, AsyncWriteHalf};

mod halves;

impl Command {
    /// [`spawn`](Command::spawn) for tokio: the same child (topology, side channel, watchdogs,
    /// hooks), with async halves, an async [`Handle`], and its stderr drain and watchdog as
    /// tasks on the current runtime (see the [module docs](self)).
    ///
    /// Our ends are made non-blocking (`fcntl(F_SETFL, O_NONBLOCK)`, on our own open file
    /// descriptions: the child's ends are untouched) and registered with the reactor, as are a
    /// duplicate of the child's pidfd and, on pipes with a watchdog, of the watchdog's eventfd.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn); and an error, not a panic, outside a tokio runtime.
    ///
    /// # Panics
    ///
    /// Inside a runtime built without I/O or time (tokio's own panic).
    pub fn spawn_async(&mut self) -> io::Result<Child> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "Command::spawn_async must be called inside a tokio runtime with I/O and time \
                 enabled (Runtime::enable_all); use Command::spawn outside one",
            ));
        }
        let Launched {
            plan,
            shared,
            ours_in,
            ours_out,
            probe,
            side_ours,
            process,
        } = self.launch()?;
        // The rollback guard: from here a failure drops the handle, whose drop policy reaps.
        let mut handle = Handle {
            process: process.clone(),
            exit: None,
            shared: shared.clone(),
            drain: None,
            grace: stderr::Settings::new().grace_period(),
            watchdog: None,
            policy: self.policy,
            done: false,
        };
        let hinted = |e| crate::sys::hint(e, "registering the child's wire with tokio");
        let wake = |shared: &Shared| -> io::Result<Option<AsyncFd<OwnedFd>>> {
            match (plan.poll, shared.waker()) {
                (true, Some(w)) => {
                    crate::sys::tokio::register_for(dup(w.fd())?, Interest::READABLE)
                        .map(Some)
                        .map_err(hinted)
                }
                _ => Ok(None),
            }
        };
        if let Some(fd) = process.exit_fd() {
            let fd = crate::sys::tokio::register_for(dup(fd)?, Interest::READABLE);
            handle.exit = Some(Arc::new(fd.map_err(hinted)?));
        }
        let reader = Reader::new(
            AsyncReadHalf::new(ours_in).map_err(hinted)?,
            shared.clone(),
            wake(&shared)?,
            process.clone(),
            handle.exit.clone(),
        );
        let mut writer = Writer::new(
            AsyncWriteHalf::new(ours_out).map_err(hinted)?,
            shared.clone(),
            wake(&shared)?,
        );
        if plan.stdin_elsewhere {
            writer.close();
        }
        if let (Some(ours), StderrTo::Capture(settings)) = (side_ours, &mut self.stderr) {
            handle.grace = settings.grace_period();
            handle.drain = Some(settings.start_task(ours)?);
        }
        if plan.armed {
            let watch = Watch::new(self.timeouts, self.policy.term, plan.group);
            let side = ThreadSide { shared, probe };
            handle.watchdog = Some(tokio::spawn(run_watchdog(
                watch,
                process,
                handle.exit.clone(),
                side,
            )));
        }
        Ok(Child {
            writer,
            reader,
            handle,
        })
    }
}

/// Waits for the child's exit and reaps it: on the pidfd's readiness, or polling without one;
/// `Ok(None)` when `timeout` ran out first.
async fn exited(
    process: &OsProcess,
    exit: Option<&AsyncFd<OwnedFd>>,
    timeout: Option<Duration>,
) -> io::Result<Option<ExitStatus>> {
    let reaped = async {
        let mut nap = Duration::from_micros(200);
        loop {
            if let Some(status) = process.try_reap()? {
                return Ok(status);
            }
            match exit {
                // Readable = exited; the reap then succeeds. Readiness is cleared only if the
                // reap found nothing (it cannot, short of a spurious wake-up): the reader's
                // end-at-exit polls the same registration, and a readiness cleared here after
                // the exit could hide the exit from it for good.
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    if let Some(status) = process.try_reap()? {
                        return Ok(status);
                    }
                    ready.clear_ready();
                }
                None => {
                    tokio::time::sleep(nap).await;
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
            }
        }
    };
    match timeout {
        None => reaped.await.map(Some),
        Some(d) => match tokio::time::timeout(d, reaped).await {
            Ok(r) => r.map(Some),
            Err(_elapsed) => Ok(None),
        },
    }
}

/// The close policy ([`Close`]) driven by awaiting: the async twin of `policy::terminate`.
async fn terminate(
    process: &OsProcess,
    exit: Option<&AsyncFd<OwnedFd>>,
    policy: &KillPolicy,
    close_input: &mut (dyn FnMut() + Send),
) -> io::Result<Ending> {
    let mut machine = Close::new(*policy);
    let mut seen = Observed::Nothing;
    loop {
        seen = match machine.step(seen) {
            Step::TryReap => Observed::Status(process.try_reap()?),
            Step::CloseInput => {
                close_input();
                Observed::Nothing
            }
            Step::Wait(d) => Observed::Status(exited(process, exit, Some(d)).await?),
            Step::Signal(sig) => {
                process.signal(sig)?;
                Observed::Nothing
            }
            Step::Done(ending) => return Ok(ending),
        };
    }
}

/// The watchdog ([`Watch`]) driven by tokio timers: the async twin of `watchdog::drive`.
async fn run_watchdog(
    mut watch: Watch,
    process: Arc<OsProcess>,
    exit: Option<Arc<AsyncFd<OwnedFd>>>,
    mut side: ThreadSide,
) {
    let mut seen = Seen::Sample {
        at: Instant::now(),
        sample: side.sample(),
    };
    loop {
        seen = match watch.step(seen) {
            Act::Sleep(d) => {
                if side.shared.pause_async(d).await {
                    return;
                }
                Seen::Sample {
                    at: Instant::now(),
                    sample: side.sample(),
                }
            }
            Act::Probe => Seen::Answered(side.answered()),
            Act::CheckExited => Seen::Exited(process.has_exited().unwrap_or(false)),
            Act::Fire(f) => Seen::Fired(side.fire(f)),
            Act::Signal(sig) => {
                let _ = process.signal(sig);
                Seen::Signalled
            }
            Act::WaitExit(d) => Seen::Waited(!matches!(
                exited(&process, exit.as_deref(), Some(d)).await,
                Ok(None)
            )),
            Act::Stop => return,
        };
    }
}

/// Owns a child spawned with [`Command::spawn_async`]: the async twin of [`super::Handle`].
///
/// Dropping it without a completed [`wait`](Self::wait) or [`close`](Self::close) runs the
/// close policy with [`KillPolicy::DROP`] in a task (never blocking the runtime; see the
/// [module docs](self#drop)). [`detach`](Self::detach) opts out.
pub struct Handle {
    process: Arc<OsProcess>,
    /// A duplicate of the pidfd, registered (`None` without pidfds).
    exit: Option<Arc<AsyncFd<OwnedFd>>>,
    shared: Arc<Shared>,
    drain: Option<stderr::tokio::Drain>,
    grace: Duration,
    watchdog: Option<JoinHandle<()>>,
    policy: KillPolicy,
    done: bool,
}

impl Handle {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    /// Disarms the connect watchdog; the stall watchdog stays armed.
    pub fn cancel_connect_watchdog(&self) {
        self.shared.cancel_connect();
    }

    /// The watchdog that killed the child, if one did, and after how long.
    pub fn timed_out(&self) -> Option<(Watchdog, Duration)> {
        self.shared.timed_out()
    }

    /// What the stderr side channel holds so far (`None` when stderr is not captured).
    pub fn stderr_snapshot(&self) -> Option<stderr::Snapshot> {
        self.drain.as_ref().map(|d| d.snapshot())
    }

    /// Reaps the child if it has exited, without blocking (`waitpid(WNOHANG)`).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process.try_reap()
    }

    /// Sends `SIGKILL` (to the process group when the child leads one), as
    /// [`super::Handle::kill`]; nothing once reaped.
    ///
    /// # Errors
    ///
    /// The OS's error from kill(2) or pidfd_send_signal(2).
    pub fn kill(&mut self) -> io::Result<()> {
        self.process.signal(Signal::KILL)
    }

    /// Sends signal number `sig`, as [`super::Handle::signal`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a number that is not a signal procwire can send; otherwise as
    /// [`kill`](Self::kill).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.process.signal(signal_number(sig)?)
    }

    /// Waits for the child to exit (the pidfd's readiness, then the reap), then stops the
    /// stderr side channel, awaiting it at most the
    /// [grace](crate::stderr::Settings::grace) (never stderr's EOF), and returns the status
    /// with what stderr captured. Does not close the child's input ([`Child::wait`] does).
    ///
    /// Calling it again after it returned gives the same status, without the stderr report.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::TimedOut`] with a [`TimedOut`](super::TimedOut) holding the [`Exit`] when a watchdog
    /// killed the child; the OS's error if waiting failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe while it waits for the exit (the usual case: in a `select!` with a timeout,
    /// say): nothing is lost, and a later call waits on. Cancelled in the stderr grace after
    /// the reap, the stderr report is lost (the drain ends on its own); a later call returns
    /// the exit without it.
    pub async fn wait(&mut self) -> io::Result<Exit> {
        let status = exited(&self.process, self.exit.as_deref(), None)
            .await?
            .ok_or_else(|| io::Error::other("waiting for the child ended early"))?;
        self.finish(status).await
    }

    /// Waits at most `timeout` for the exit and reaps it: `Ok(None)` if it still runs then.
    /// The status only; [`wait`](Self::wait) afterwards returns at once with the [`Exit`].
    ///
    /// # Errors
    ///
    /// The OS's error if waiting failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is reaped without being recorded.
    pub async fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        exited(&self.process, self.exit.as_deref(), Some(timeout)).await
    }

    /// Runs the close policy ([`KillPolicy`]; the input is closed by whoever owns the
    /// [`Writer`]): wait, `SIGTERM`, wait, `SIGKILL`, bounded reap, each wait a tokio timer.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::TimedOut`] if the child was not reaped even after `SIGKILL` and the
    /// last deadline (a task then goes on awaiting its exit); otherwise as
    /// [`wait`](Self::wait).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping it part-way may leave the child signalled but not yet reaped.
    /// The handle's drop (or a later `wait`) still reaps it.
    pub async fn close(&mut self) -> io::Result<Exit> {
        let policy = self.policy;
        self.close_with(&policy, &mut || {}).await
    }

    async fn close_with(
        &mut self,
        policy: &KillPolicy,
        close_input: &mut (dyn FnMut() + Send),
    ) -> io::Result<Exit> {
        let ending = terminate(&self.process, self.exit.as_deref(), policy, close_input).await;
        match ending {
            Ok(Ending::Exited(s) | Ending::Terminated(s) | Ending::Killed(s)) => {
                self.finish(s).await
            }
            Ok(Ending::Unreaped) => {
                self.let_go();
                Err(unreaped(self.id(), policy.kill, "task"))
            }
            Err(e) => {
                // ECHILD: reaped elsewhere; any other error may leave it running.
                if e.raw_os_error() == Some(rustix::io::Errno::CHILD.raw_os_error()) {
                    self.done = true;
                    self.shared.disarm();
                    drop(self.drain.take());
                } else {
                    self.let_go();
                }
                Err(io::Error::new(
                    e.kind(),
                    format!("closing child {}: {e}", self.id()),
                ))
            }
        }
    }

    /// Lets the child run on: no close policy on drop, no watchdog, no stderr forwarding any
    /// more. A task (or, outside a runtime, a thread) reaps it when it exits. The wire's ends
    /// are untouched.
    pub fn detach(mut self) {
        self.shared.disarm();
        self.let_go();
    }

    /// Stops everything and leaves the process to a reaper (task or thread).
    fn let_go(&mut self) {
        self.done = true;
        self.shared.disarm();
        drop(self.drain.take());
        reap_later(
            self.process.clone(),
            self.exit.clone(),
            self.shared.clone(),
            None,
        );
    }

    async fn finish(&mut self, status: ExitStatus) -> io::Result<Exit> {
        self.shared.disarm();
        if let Some(w) = self.watchdog.take() {
            // Disarmed, and the child is reaped: it ends at once.
            let _ = w.await;
        }
        let stderr = match self.drain.take() {
            Some(d) => Some(d.finish(self.grace).await),
            None => None,
        };
        self.done = true;
        let exit = Exit { status, stderr };
        with_firing(&self.shared, exit)
    }
}

/// Runs `policy` (if any) on the process, disarms the watchdog, and reaps the process: in a
/// task on the current runtime or, without one, on a thread. Never blocks the caller.
fn reap_later(
    process: Arc<OsProcess>,
    exit: Option<Arc<AsyncFd<OwnedFd>>>,
    shared: Arc<Shared>,
    policy: Option<KillPolicy>,
) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                // Dropped unfinished (the runtime shutting down): a thread takes over.
                let mut guard = ThreadOnDrop(Some(process.clone()));
                if let Some(policy) = policy {
                    let _ = terminate(&process, exit.as_deref(), &policy, &mut || {}).await;
                }
                shared.disarm();
                // At once if the policy reaped it; otherwise whenever it exits.
                let _ = exited(&process, exit.as_deref(), None).await;
                guard.0 = None;
            });
        }
        Err(_) => {
            drop(exit);
            let spawned = std::thread::Builder::new()
                .name("procwire-reaper".into())
                .spawn(move || {
                    if let Some(policy) = policy {
                        let _ = super::policy::terminate(&*process, &policy, &mut || {});
                    }
                    shared.disarm();
                    let _ = super::process::WaitExit::wait_exit(&*process, None);
                });
            // Without a thread the zombie stays until this process exits.
            drop(spawned);
        }
    }
}

/// Hands the process to the blocking background reaper when dropped still holding it.
struct ThreadOnDrop(Option<Arc<OsProcess>>);

impl Drop for ThreadOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            reap_in_background(p);
        }
    }
}

impl Drop for Handle {
    /// Without a completed wait or close: the drop policy in a task (or a thread), which stops
    /// the watchdog once the child is reaped; the stderr drain is stopped now and ends on its
    /// own.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        drop(self.drain.take());
        reap_later(
            self.process.clone(),
            self.exit.clone(),
            self.shared.clone(),
            Some(KillPolicy::DROP),
        );
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

/// A running child with its async wire: [`AsyncRead`] from its stdout, [`AsyncWrite`] to its
/// stdin, and the [`Handle`]. The twin of [`super::Child`]; [`split`](Self::split) hands the
/// three out for different tasks.
///
/// Dropping it half-closes the input, lets go of the output, then drops the handle.
#[derive(Debug)]
pub struct Child {
    // Field order is drop order: the input closes before the handle's drop policy runs.
    writer: Writer,
    reader: Reader,
    handle: Handle,
}

impl Child {
    /// The reader, writer and handle. Dropping the reader or writer never touches the process;
    /// dropping the handle runs the drop policy.
    pub fn split(self) -> (Reader, Writer, Handle) {
        (self.reader, self.writer, self.handle)
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.handle.id()
    }

    /// Half-closes the child's input (see [`Writer::close`]).
    ///
    /// # Errors
    ///
    /// None today; a `Result` for parity with [`super::Child::close_input`].
    pub fn close_input(&mut self) -> io::Result<()> {
        self.writer.close();
        Ok(())
    }

    /// The reader, borrowed.
    pub fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }

    /// The writer, borrowed.
    pub fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }

    /// The handle, borrowed.
    pub fn handle(&mut self) -> &mut Handle {
        &mut self.handle
    }

    /// Disarms the connect watchdog (see [`Handle::cancel_connect_watchdog`]).
    pub fn cancel_connect_watchdog(&self) {
        self.handle.cancel_connect_watchdog();
    }

    /// Closes the child's input and lets go of its stdout (what is unread is discarded; a
    /// child still writing gets `EPIPE`), then waits as [`Handle::wait`].
    ///
    /// # Errors
    ///
    /// As [`Handle::wait`].
    ///
    /// # Cancel safety
    ///
    /// As [`Handle::wait`]; the input and output are let go of at the first poll either way.
    pub async fn wait(&mut self) -> io::Result<Exit> {
        self.writer.close();
        self.reader.let_go();
        self.handle.wait().await
    }

    /// Closes the child's input, reads its stdout until EOF or until it has exited and what
    /// was queued then is read ([`Reader::end_at_exit`], so a descendant holding stdout does
    /// not keep us), then waits as [`wait`](Self::wait) does: tokio's and std's
    /// `wait_with_output`, with the stderr report in the [`Exit`]. The twin of
    /// [`crate::child::Child::wait_with_output`].
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait) (a watchdog's [`TimedOut`](super::TimedOut) with the exit
    /// inside); a read error otherwise, after the child was waited for.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: it owns the child, so dropping the future drops it (the handle's drop
    /// policy then ends and reaps it, without blocking) and loses the bytes read so far.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.writer.close();
        self.reader.end_at_exit(true);
        let mut stdout = Vec::new();
        let read = self.reader.read_to_end(&mut stdout).await;
        let exit = self.wait().await?;
        read?;
        Ok(Output { stdout, exit })
    }

    /// Lets go of the child's stdout and runs the close policy, closing the input as its
    /// first step (see [`KillPolicy`]).
    ///
    /// # Errors
    ///
    /// As [`Handle::close`].
    ///
    /// # Cancel safety
    ///
    /// As [`Handle::close`].
    pub async fn close(&mut self) -> io::Result<Exit> {
        self.reader.let_go();
        let policy = self.handle.policy;
        let writer = &mut self.writer;
        self.handle
            .close_with(&policy, &mut || writer.close())
            .await
    }

    /// Sends `SIGKILL` (see [`Handle::kill`]).
    ///
    /// # Errors
    ///
    /// As [`Handle::kill`].
    pub fn kill(&mut self) -> io::Result<()> {
        self.handle.kill()
    }

    /// Sends signal number `sig` (see [`Handle::signal`]).
    ///
    /// # Errors
    ///
    /// As [`Handle::signal`].
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.handle.signal(sig)
    }
}

impl AsyncRead for Child {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Child {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_shutdown(cx)
    }
}
