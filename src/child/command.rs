//! Building and spawning a child on a wire.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::KillPolicy;
use super::io_halves::{Child, Reader, Writer};
use super::process::{Handle, OsProcess};
use super::watchdog::{Shared, Timeouts, WatchdogThread};
use crate::stderr;
use crate::sys::hooks::PreExec;
use crate::wire::{self, Kind, ReadHalf, WriteHalf};

/// The kernel objects behind the child's stdin and stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Two pipes, one per direction: what [`std::process::Command`] does. The child's ends are
    /// pipes, so its `splice(2)` to and from them works directly.
    Pipes,
    /// One AF_UNIX socketpair per direction, as upstream rsync's `piped_child` makes them.
    SocketPairs,
    /// One AF_UNIX socketpair for both: the child's fd 0 and fd 1 are the same socket, and so
    /// share one open file description (and its `O_NONBLOCK` flag).
    #[default]
    SocketPair,
}

impl Topology {
    /// `"pipes"`, `"socketpairs"` or `"socketpair"`.
    pub fn name(self) -> &'static str {
        match self {
            Topology::Pipes => "pipes",
            Topology::SocketPairs => "socketpairs",
            Topology::SocketPair => "socketpair",
        }
    }

    /// All three, in the order of the table in the module docs.
    pub const ALL: [Topology; 3] = [Topology::Pipes, Topology::SocketPairs, Topology::SocketPair];
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Topology {
    type Err = io::Error;
    fn from_str(s: &str) -> io::Result<Topology> {
        Topology::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown topology {s:?}: expected pipes, socketpairs or socketpair"),
                )
            })
    }
}

/// Where the child's stderr goes.
#[derive(Clone, Debug)]
pub enum Stderr {
    /// On a side channel (a socketpair, else a pipe) drained by a thread into a
    /// [`Capture`](stderr::Capture): forwarded as the config says, the tail kept for
    /// [`Exit::stderr_tail`](super::Exit::stderr_tail).
    Capture(stderr::Config),
    /// Our own stderr, inherited.
    Inherit,
    /// `/dev/null`.
    Null,
}

impl Default for Stderr {
    /// Captured, forwarded raw to our stderr, with the default tail.
    fn default() -> Stderr {
        Stderr::Capture(stderr::Config::default())
    }
}

/// The child's `SIGPIPE` disposition. See the [module docs](super#sigpipe-in-the-child).
///
/// [`Ignore`](Sigpipe::Ignore) needs a hook in the child, so std spawns with `fork` and
/// `execvp` instead of `posix_spawn` (see [`Command::die_with_parent`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sigpipe {
    /// The default action: a write to a wire nobody reads kills the child quietly.
    #[default]
    Default,
    /// Ignored: such a write fails with `EPIPE`, and the program decides.
    Ignore,
}

/// A builder for a child on a wire, like [`std::process::Command`] plus the wire's topology,
/// the stderr side channel, watchdogs and the close policy.
pub struct Command {
    inner: std::process::Command,
    program: OsString,
    topology: Topology,
    child_stdout_nonblocking: bool,
    stderr: Stderr,
    sink: Option<Box<dyn io::Write + Send>>,
    subscriber: Option<Box<dyn stderr::Subscriber>>,
    stderr_grace: Duration,
    timeouts: Timeouts,
    policy: KillPolicy,
    sigpipe: Sigpipe,
    die_with_parent: bool,
    hooks: Option<Arc<PreExec>>,
}

impl Command {
    /// A command running `program` (looked up in `PATH` if it has no slash), on a single
    /// socketpair, with stderr captured and forwarded raw to ours, no watchdog, and the default
    /// [`KillPolicy`].
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: std::process::Command::new(program.as_ref()),
            program: program.as_ref().to_owned(),
            topology: Topology::default(),
            child_stdout_nonblocking: false,
            stderr: Stderr::default(),
            sink: None,
            subscriber: None,
            stderr_grace: Duration::from_millis(250),
            timeouts: Timeouts::default(),
            policy: KillPolicy::DEFAULT,
            sigpipe: Sigpipe::Default,
            die_with_parent: false,
            hooks: None,
        }
    }

    /// Builds a command from an argv: the first word is the program.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for an empty argv.
    pub fn from_argv<I, S>(argv: I) -> io::Result<Command>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut words = argv.into_iter();
        let program = words.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty command has no program to run",
            )
        })?;
        Ok(Command::new(program).args(words))
    }

    /// The program, as given to [`new`](Self::new).
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments after the program.
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.inner.get_args()
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.inner.env_remove(key);
        self
    }

    /// The child's working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.inner.current_dir(dir.into());
        self
    }

    /// The topology of the child's stdin and stdout ([`Topology::SocketPair`] by default).
    pub fn topology(mut self, topology: Topology) -> Command {
        self.topology = topology;
        self
    }

    /// Leaves the child's stdout non-blocking (`O_NONBLOCK` on its end), as upstream rsync does
    /// without `--blocking-io`. Its stdin stays blocking. Refused at spawn on
    /// [`Topology::SocketPair`], where stdin and stdout share the flag.
    pub fn child_stdout_nonblocking(mut self, nonblocking: bool) -> Command {
        self.child_stdout_nonblocking = nonblocking;
        self
    }

    /// Where the child's stderr goes ([`Stderr::Capture`] with the default config by default).
    pub fn stderr(mut self, stderr: Stderr) -> Command {
        self.stderr = stderr;
        self
    }

    /// Where captured stderr is forwarded (our own stderr by default). Used by one spawn: a
    /// second spawn of the same command forwards to our stderr again.
    pub fn stderr_sink(mut self, sink: impl io::Write + Send + 'static) -> Command {
        self.sink = Some(Box::new(sink));
        self
    }

    /// A subscriber that receives each captured stderr line with try-send semantics (lines it
    /// cannot take are counted as dropped). Used by one spawn, like the sink.
    pub fn stderr_subscriber(mut self, subscriber: impl stderr::Subscriber + 'static) -> Command {
        self.subscriber = Some(Box::new(subscriber));
        self
    }

    /// How long waiting for the child gives the stderr side channel, after the reap, to deliver
    /// what is already queued (250 ms by default). Never a wait for stderr's EOF.
    pub fn stderr_grace(mut self, grace: Duration) -> Command {
        self.stderr_grace = grace;
        self
    }

    /// Arms the connect watchdog: kill the child unless a byte of its stdout has arrived within
    /// `timeout`. Cancel it with [`Handle::cancel_connect_watchdog`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Command {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// Arms the stall watchdog: kill the child when neither direction has moved a byte for
    /// `timeout`.
    pub fn stall_timeout(mut self, timeout: Duration) -> Command {
        self.timeouts.stall = Some(timeout);
        self
    }

    /// The deadlines of [`Handle::close`] and of a watchdog's `SIGTERM`-to-`SIGKILL` wait.
    pub fn kill_policy(mut self, policy: KillPolicy) -> Command {
        self.policy = policy;
        self
    }

    /// Has the kernel send the child `SIGTERM` when the thread that spawned it ends
    /// (`prctl(PR_SET_PDEATHSIG)`, see [prctl(2)]), so a wrapper killed by a signal does not
    /// leave, say, an ssh behind. Off by default.
    ///
    /// # Caveats
    ///
    /// It is the spawning *thread* whose end counts, not the process: spawn from a thread that
    /// lives as long as the child should (the main thread, in a tool). Like
    /// [`Sigpipe::Ignore`], it needs a hook in the child, so std spawns with `fork` and
    /// `execvp` rather than `posix_spawn`: a little slower for a large parent, and an executable
    /// file without a `#!` line is then run by `/bin/sh`, as a shell would.
    ///
    /// [prctl(2)]: https://man7.org/linux/man-pages/man2/prctl.2.html
    pub fn die_with_parent(mut self, die: bool) -> Command {
        self.die_with_parent = die;
        self
    }

    /// The child's `SIGPIPE` disposition ([`Sigpipe::Default`] by default).
    pub fn sigpipe(mut self, sigpipe: Sigpipe) -> Command {
        self.sigpipe = sigpipe;
        self
    }

    /// Makes the wire and the side channel, starts the program on them, and starts the stderr
    /// drain and the watchdog thread.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::NotFound`] when the program does not exist (shells exit 127 for this),
    ///   [`io::ErrorKind::PermissionDenied`] when it cannot be executed (126); the message names
    ///   the program.
    /// - [`io::ErrorKind::InvalidInput`] for a non-blocking stdout on [`Topology::SocketPair`].
    /// - The OS's error, with a hint, when the wire, side channel or threads cannot be made.
    pub fn spawn(&mut self) -> io::Result<Child> {
        if self.child_stdout_nonblocking && self.topology == Topology::SocketPair {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a non-blocking stdout needs its own descriptor: on the single-socketpair \
                 topology the child's stdin and stdout share O_NONBLOCK; use socketpairs or pipes",
            ));
        }
        let armed = self.timeouts.armed();
        let shared = Arc::new(Shared::new(armed)?);
        let wire = make_wire(self.topology)?;
        if self.child_stdout_nonblocking {
            crate::fd::set_nonblocking(&wire.child_stdout, true)?;
        }
        // On sockets the watchdog wakes blocked calls with shutdown(2); pipes poll instead.
        let poll = armed && !wire.ours_are_sockets;
        if armed && wire.ours_are_sockets {
            shared.add_socket(dup(wire.ours_in.as_fd())?);
            shared.add_socket(dup(wire.ours_out.as_fd())?);
        }
        // The watchdog's view of our read end: has a byte (or EOF) arrived?
        let probe = match armed {
            true => Some(dup(wire.ours_in.as_fd())?),
            false => None,
        };
        if poll {
            // So that a write never blocks inside write(2), where the watchdog could not wake
            // it (a descendant holding the child's stdin would keep it there for ever): the
            // Writer waits in poll(2) instead. The flag is on our end's own file description.
            crate::fd::set_nonblocking(&wire.ours_out, true)?;
        }

        let mut side = None;
        match &self.stderr {
            Stderr::Capture(_) => {
                let (ours, theirs, _kind) = stderr::channel()?;
                self.inner.stderr(Stdio::from(theirs));
                side = Some(ours);
            }
            Stderr::Inherit => {
                self.inner.stderr(Stdio::inherit());
            }
            Stderr::Null => {
                self.inner.stderr(Stdio::null());
            }
        }
        self.inner.stdin(Stdio::from(wire.child_stdin));
        self.inner.stdout(Stdio::from(wire.child_stdout));
        let ignore_sigpipe = self.sigpipe == Sigpipe::Ignore;
        let death_signal = self.die_with_parent.then_some(libc::SIGTERM);
        if PreExec::needed(ignore_sigpipe, false, death_signal) || self.hooks.is_some() {
            // Hooks accumulate on std's Command: install ours once, with settings per spawn.
            let hooks = self.hooks.get_or_insert_with(|| {
                let h = Arc::new(PreExec::default());
                h.install(&mut self.inner);
                h
            });
            hooks.set(ignore_sigpipe, false, death_signal);
        }
        let spawned = self.inner.spawn();
        // The Stdio values given to `inner` were consumed by this spawn; reset them so a second
        // spawn cannot reuse a stale descriptor (std closed its copies after the spawn).
        self.inner.stdin(Stdio::null());
        self.inner.stdout(Stdio::null());
        self.inner.stderr(Stdio::null());
        let child = spawned.map_err(|e| spawn_error(&self.program, e))?;
        let process = Arc::new(OsProcess::new(child));

        // From here on, a failure must not leave the child running: the handle's drop reaps it
        // (after the wire's ends are dropped, so the child sees EOF first).
        let reader = Reader::new(wire.ours_in, shared.clone(), poll);
        let writer = Writer::new(wire.ours_out, shared.clone(), poll);
        let mut handle = Handle {
            process: process.clone(),
            shared: shared.clone(),
            drain: None,
            stderr_grace: self.stderr_grace,
            watchdog: None,
            policy: self.policy,
            done: false,
        };
        let started = (|| -> io::Result<()> {
            if let (Some(ours), Stderr::Capture(config)) = (side, &self.stderr) {
                let mut capture = stderr::Capture::new(config.clone());
                if let Some(s) = self.subscriber.take() {
                    capture.subscribe(s);
                }
                let sink = self
                    .sink
                    .take()
                    .unwrap_or_else(|| Box::new(io::stderr()) as Box<dyn io::Write + Send>);
                handle.drain = Some(stderr::Drain::spawn(ours, capture, sink)?);
            }
            if armed {
                handle.watchdog = Some(WatchdogThread::spawn(
                    shared.clone(),
                    process,
                    self.timeouts,
                    probe,
                    self.policy.term,
                )?);
            }
            Ok(())
        })();
        match started {
            Ok(()) => Ok(Child::new(reader, writer, handle)),
            Err(e) => {
                drop(writer);
                drop(reader);
                drop(handle);
                Err(e)
            }
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.inner)
            .field("topology", &self.topology)
            .field("stderr", &self.stderr)
            .field("connect_timeout", &self.timeouts.connect)
            .field("stall_timeout", &self.timeouts.stall)
            .field("kill_policy", &self.policy)
            .field("sigpipe", &self.sigpipe)
            .finish_non_exhaustive()
    }
}

/// Our two ends and the child's two ends of the wire.
struct Wire {
    ours_in: ReadHalf,
    ours_out: WriteHalf,
    child_stdin: OwnedFd,
    child_stdout: OwnedFd,
    ours_are_sockets: bool,
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
                ours_are_sockets: false,
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
                ours_are_sockets: true,
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
                ours_are_sockets: true,
            })
        }
    }
}

/// A close-on-exec duplicate (`fcntl(F_DUPFD_CLOEXEC)`).
fn dup(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 3)
        .map_err(|e| crate::sys::hint(e.into(), "duplicating a wire descriptor"))
}

/// Why a program could not be started: the error inside [`Command::spawn`]'s `io::Error` when
/// starting the program itself failed (get it with `e.get_ref()` and `downcast_ref`). The
/// `io::Error` keeps the OS error's kind; [`os_error`](Self::os_error) gives the errno, which
/// tells, say, `ENOEXEC` (shells exit 126) from `EMFILE`.
#[derive(Debug)]
pub struct SpawnError {
    message: String,
    source: io::Error,
}

impl SpawnError {
    /// The OS error number, e.g. `ENOENT`, `EACCES`, `ENOEXEC`.
    pub fn os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn spawn_error(program: &OsStr, e: io::Error) -> io::Error {
    let shown = program.to_string_lossy();
    let hint = match e.kind() {
        io::ErrorKind::NotFound => {
            "; is it installed, and on PATH (and does the working directory exist)?"
        }
        io::ErrorKind::PermissionDenied => "; is it executable (chmod +x) and not a directory?",
        _ => "",
    };
    let kind = e.kind();
    let message = format!("cannot run {shown:?}: {e}{hint}");
    io::Error::new(kind, SpawnError { message, source: e })
}
