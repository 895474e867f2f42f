//! [`Command::spawn`] in four parts: a pure [`Plan`] (what to make, validated, no descriptor),
//! the wire's set-up ([`Wired`]), the pre-exec hooks, and a short spawn whose one rollback guard
//! is the [`Child`] itself (dropping it closes our ends, then reaps the process).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;

use super::command::{Command, Sigpipe, StderrTo, Topology, spawn_error};
use super::handle::Handle;
use super::io_halves::{Child, Reader, Writer};
use super::process::OsProcess;
use super::state::Shared;
use super::watchdog::{Watch, WatchdogThread};
use crate::stderr;
use crate::sys::ffi::{Passing, PreExec};
use crate::wire::{self, Kind, ReadHalf, WriteHalf};

/// What one spawn makes, decided from the command alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) topology: Topology,
    pub(super) child_stdout_nonblocking: bool,
    /// A watchdog will run (the shared state gets an eventfd; our read end gets a probe).
    pub(super) armed: bool,
    /// Our ends are pipes with a watchdog armed: reads and writes wait in poll(2) beside the
    /// eventfd, and our write end is non-blocking.
    pub(super) poll: bool,
    /// Our ends are sockets: a watchdog wakes blocked calls with shutdown(2).
    pub(super) sockets: bool,
    /// Stderr goes on a side channel.
    pub(super) capture: bool,
    /// The child's stdin comes from what [`Command::stdin`] gave, not from the wire.
    pub(super) stdin_elsewhere: bool,
    /// The child's stdout goes where [`Command::stdout`] said, not to the wire.
    pub(super) stdout_elsewhere: bool,
    /// Signals reach the child's whole process group.
    pub(super) group: bool,
    pub(super) ignore_sigpipe: bool,
    pub(super) new_session: bool,
    pub(super) death_signal: Option<i32>,
}

impl Plan {
    /// Validates the command's settings and decides what to make.
    pub(super) fn of(cmd: &Command) -> io::Result<Plan> {
        let invalid = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()));
        if cmd.child_stdout_nonblocking && cmd.topology == Topology::SocketPair {
            return invalid(
                "a non-blocking stdout needs its own descriptor: on the single-socketpair \
                 topology the child's stdin and stdout share O_NONBLOCK; use socketpairs or pipes",
            );
        }
        if cmd.new_session && cmd.process_group.is_some() {
            return invalid(
                "new_session and process_group both set: a new session is a new process group \
                 already (and setsid(2) fails in a group leader); keep one",
            );
        }
        let armed = cmd.timeouts.armed();
        if armed && cmd.stdout_set {
            return invalid(
                "a watchdog watches the child's stdout on the wire, and stdout was given \
                 elsewhere (Command::stdout); drop the timeouts or the stdout",
            );
        }
        let sockets = cmd.topology != Topology::Pipes;
        Ok(Plan {
            topology: cmd.topology,
            child_stdout_nonblocking: cmd.child_stdout_nonblocking,
            armed,
            poll: armed && !sockets,
            sockets,
            capture: matches!(cmd.stderr, StderrTo::Capture(_)),
            stdin_elsewhere: cmd.stdin_set,
            stdout_elsewhere: cmd.stdout_set,
            group: cmd.signals_group(),
            ignore_sigpipe: cmd.sigpipe == Sigpipe::Ignore,
            new_session: cmd.new_session,
            death_signal: cmd.die_with_parent.then_some(libc::SIGTERM),
        })
    }

    /// Whether the child needs a pre-exec hook (std then forks instead of `posix_spawn`).
    fn needs_hook(&self) -> bool {
        PreExec::needed(self.ignore_sigpipe, self.new_session, self.death_signal)
    }
}

/// The descriptors one spawn makes, set up as the plan says.
pub(super) struct Wired {
    wire: Wire,
    /// The watchdog's duplicate of our read end.
    probe: Option<OwnedFd>,
    /// Our end and the child's end of the stderr side channel.
    side: Option<(OwnedFd, OwnedFd)>,
}

impl Wired {
    /// Makes the wire and the side channel; registers our socket ends with `shared` so a
    /// watchdog can shut them down.
    pub(super) fn set_up(plan: &Plan, shared: &Shared) -> io::Result<Wired> {
        let wire = make_wire(plan.topology)?;
        if plan.stdout_elsewhere && plan.topology == Topology::SocketPair {
            // The child's stdin is the other end of this very socket: without the shutdown
            // our reads would wait for the child's exit instead of ending at once.
            crate::sys::io::shutdown(wire.ours_in.as_fd(), rustix::net::Shutdown::Read)?;
        }
        if plan.child_stdout_nonblocking {
            crate::fd::set_nonblocking(&wire.child_stdout, true)?;
        }
        if plan.armed && plan.sockets {
            shared.add_socket(dup(wire.ours_in.as_fd())?);
            shared.add_socket(dup(wire.ours_out.as_fd())?);
        }
        // The watchdog's view of our read end: has a byte (or EOF) arrived?
        let probe = match plan.armed {
            true => Some(dup(wire.ours_in.as_fd())?),
            false => None,
        };
        if plan.poll {
            // So that a write never blocks inside write(2), where the watchdog could not wake
            // it (a descendant holding the child's stdin would keep it there for ever): the
            // Writer waits in poll(2) instead. The flag is on our end's own file description.
            crate::fd::set_nonblocking(&wire.ours_out, true)?;
        }
        let side = match plan.capture {
            true => {
                let (ours, theirs, _kind) = stderr::channel()?;
                Some((ours, theirs))
            }
            false => None,
        };
        Ok(Wired { wire, probe, side })
    }
}

impl Command {
    /// Installs procwire's pre-exec hook once and sets what it does for this spawn. Hooks
    /// accumulate on std's `Command`, so ours is installed at most once, with settings per
    /// spawn.
    ///
    /// `passing`: the descriptors (and exec) of this spawn, from
    /// [`prepare_passing`](Command::prepare_passing); a later spawn without any resets them.
    fn hooks(&mut self, plan: &Plan, passing: Option<Passing>) {
        if plan.needs_hook() || self.hooks.is_some() || passing.is_some() {
            let inner = &mut self.inner;
            let hooks = self.hooks.get_or_insert_with(|| {
                let h = Arc::new(PreExec::default());
                h.install(inner);
                h
            });
            hooks.set(plan.ignore_sigpipe, plan.new_session, plan.death_signal);
            hooks.set_passing(passing.unwrap_or_default());
        }
    }

    /// Starts the program with the child's ends; they are closed here after the spawn, and
    /// `inner` forgets them so a later spawn cannot reuse a stale descriptor.
    fn start(
        &mut self,
        plan: &Plan,
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: Option<OwnedFd>,
    ) -> io::Result<std::process::Child> {
        if !plan.stdin_elsewhere {
            self.inner.stdin(Stdio::from(stdin));
        }
        if !plan.stdout_elsewhere {
            self.inner.stdout(Stdio::from(stdout));
        }
        self.inner.stderr(match (stderr, &self.stderr) {
            (Some(theirs), _) => Stdio::from(theirs),
            (None, StderrTo::Inherit) => Stdio::inherit(),
            (None, _) => Stdio::null(),
        });
        let spawned = self.inner.spawn();
        if !plan.stdin_elsewhere {
            self.inner.stdin(Stdio::null());
        }
        if !plan.stdout_elsewhere {
            self.inner.stdout(Stdio::null());
        }
        self.inner.stderr(Stdio::null());
        spawned.map_err(|e| spawn_error(&self.program, e))
    }

    /// Makes the wire and the side channel, starts the program on them, and starts the stderr
    /// drain and the watchdog thread.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::NotFound`] when the program does not exist (shells exit 127 for this),
    ///   [`io::ErrorKind::PermissionDenied`] when it cannot be executed (126); the message names
    ///   the program and the error carries a [`SpawnError`](super::SpawnError).
    /// - [`io::ErrorKind::InvalidInput`] for a non-blocking stdout on [`Topology::SocketPair`],
    ///   or both [`new_session`](Self::new_session) and [`process_group`](Self::process_group).
    /// - The OS's error, with a hint, when the wire, side channel or threads cannot be made.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let Launched {
            plan,
            shared,
            ours_in,
            ours_out,
            probe,
            side_ours,
            process,
        } = self.launch()?;

        // The one rollback guard: from here on a failure drops `child`, which closes our ends
        // (the child sees EOF) and then runs the drop policy on the process.
        let mut child = Child::new(
            Reader::new(ours_in, shared.clone(), process.clone(), plan.poll),
            Writer::new(ours_out, shared.clone(), plan.poll),
            Handle::new(process.clone(), shared.clone(), self.policy),
        );
        if plan.stdin_elsewhere {
            child.writer.close()?;
        }
        if let (Some(ours), StderrTo::Capture(settings)) = (side_ours, &mut self.stderr) {
            child.handle.stderr_grace = settings.grace_period();
            child.handle.drain = Some(settings.start(ours)?);
        }
        if plan.armed {
            let watch = Watch::new(self.timeouts, self.policy.term, plan.group);
            child.handle.watchdog = Some(WatchdogThread::spawn(shared, process, watch, probe)?);
        }
        Ok(child)
    }
}

/// A started process and our ends of everything around it, before any driver (the blocking
/// one above, or the tokio one) wraps them. Dropping it closes our ends but does not reap the
/// process: wrap it at once.
pub(super) struct Launched {
    pub(super) plan: Plan,
    pub(super) shared: Arc<Shared>,
    pub(super) ours_in: ReadHalf,
    pub(super) ours_out: WriteHalf,
    /// The watchdog's duplicate of our read end (when armed).
    pub(super) probe: Option<OwnedFd>,
    /// Our end of the stderr side channel (when captured).
    pub(super) side_ours: Option<OwnedFd>,
    pub(super) process: Arc<OsProcess>,
}

impl Command {
    /// The plan, the wire and side channel, the hooks and the start: everything of a spawn
    /// that does not depend on the driver.
    pub(super) fn launch(&mut self) -> io::Result<Launched> {
        // First: it consumes the descriptors to pass, so a refused spawn closes them too.
        let passing = self.prepare_passing()?;
        let plan = Plan::of(self)?;
        let shared = Arc::new(Shared::new(plan.armed)?);
        let Wired { wire, probe, side } = Wired::set_up(&plan, &shared)?;
        let (side_ours, side_theirs) = side.unzip();
        let (passing, passed) = passing.map(|p| (p.passing, p.keep)).unzip();
        self.hooks(&plan, passing);
        let started = self.start(&plan, wire.child_stdin, wire.child_stdout, side_theirs);
        // The child has its copies (or the spawn failed): ours close, and the hook forgets
        // their numbers.
        drop(passed);
        if let Some(hooks) = &self.hooks {
            hooks.set_passing(Passing::default());
        }
        let process = started?;
        Ok(Launched {
            plan,
            shared,
            ours_in: wire.ours_in,
            ours_out: wire.ours_out,
            probe,
            side_ours,
            process: Arc::new(OsProcess::new(process, plan.group)),
        })
    }
}

/// Our two ends and the child's two ends of the wire.
struct Wire {
    ours_in: ReadHalf,
    ours_out: WriteHalf,
    child_stdin: OwnedFd,
    child_stdout: OwnedFd,
}

fn make_wire(topology: Topology) -> io::Result<Wire> {
    let socketpair = || {
        wire::Builder::new()
            .kind(Kind::SocketPair)
            .build()
            .map(|p| p.into_ends())
    };
    let hinted = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("making the {topology} wire for the child: {e}"),
        )
    };
    let into_fd = |end: wire::End| OwnedFd::try_from(end).map_err(io::Error::from);
    match topology {
        Topology::Pipes => {
            let (child_stdin, ours_out) = wire::pipe().map_err(hinted)?;
            let (ours_in, child_stdout) = wire::pipe().map_err(hinted)?;
            Ok(Wire {
                ours_in,
                ours_out,
                child_stdin: child_stdin.into_fd(),
                child_stdout: child_stdout.into_fd(),
            })
        }
        Topology::SocketPairs => {
            let (to_child, child_stdin) = socketpair().map_err(hinted)?;
            let (from_child, child_stdout) = socketpair().map_err(hinted)?;
            Ok(Wire {
                ours_in: ReadHalf::from_fd(Kind::SocketPair, into_fd(from_child)?),
                ours_out: WriteHalf::from_fd(Kind::SocketPair, into_fd(to_child)?),
                child_stdin: into_fd(child_stdin)?,
                child_stdout: into_fd(child_stdout)?,
            })
        }
        Topology::SocketPair => {
            let (ours, theirs) = socketpair().map_err(hinted)?;
            let (ours_in, ours_out) = ours.split().map_err(io::Error::from)?;
            let child_stdin = into_fd(theirs)?;
            let child_stdout = dup(child_stdin.as_fd())?;
            Ok(Wire {
                ours_in,
                ours_out,
                child_stdin,
                child_stdout,
            })
        }
    }
}

/// A close-on-exec duplicate (`fcntl(F_DUPFD_CLOEXEC)`).
pub(super) fn dup(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 3)
        .map_err(|e| crate::sys::hint(e.into(), "duplicating a wire descriptor"))
}
