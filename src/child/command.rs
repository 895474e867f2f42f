//! Building and spawning a child on a wire.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::KillPolicy;
use super::watchdog::Timeouts;
use crate::ParseNameError;
use crate::stderr;
use crate::sys::ffi::PreExec;

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

impl crate::names::Named for Topology {
    const WHAT: &'static str = "topology";
    const ALL: &'static [Topology] = &Topology::ALL;
    fn name(self) -> &'static str {
        Topology::name(self)
    }
}

/// `pipes`, `socketpairs` or `socketpair`; anything else is a [`ParseNameError`] listing them.
impl std::str::FromStr for Topology {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Topology, ParseNameError> {
        crate::names::parse(s)
    }
}

/// Where the child's stderr goes. (Named for what it chooses, not after the
/// [`stderr`](crate::stderr) module that does the capturing.)
#[derive(Debug)]
pub enum StderrTo {
    /// On a side channel (a socketpair, else a pipe) drained by a thread into a
    /// [`Capture`](stderr::Capture): forwarded, kept and published as the
    /// [`Settings`](stderr::Settings) say, the tail kept for
    /// [`Exit::stderr_tail`](super::Exit::stderr_tail).
    Capture(stderr::Settings),
    /// Our own stderr, inherited.
    Inherit,
    /// `/dev/null`.
    Null,
}

impl Default for StderrTo {
    /// Captured with the default [`Settings`](stderr::Settings): forwarded raw to our stderr,
    /// with the default tail.
    fn default() -> StderrTo {
        StderrTo::Capture(stderr::Settings::new())
    }
}

impl From<stderr::Settings> for StderrTo {
    fn from(settings: stderr::Settings) -> StderrTo {
        StderrTo::Capture(settings)
    }
}

/// The child's `SIGPIPE` disposition. See the [module docs](super#sigpipe-in-the-child) and
/// what a child sees [when the reader goes away](super#when-the-reader-goes-away).
///
/// [`Ignore`](Sigpipe::Ignore) needs a hook in the child, so std spawns with `fork` and
/// `execvp` instead of `posix_spawn` (see [`Command::die_with_parent`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sigpipe {
    /// The default action: a write to a wire nobody reads kills the child quietly, except a
    /// write already blocked on a full socket, which fails with `EPIPE` (see the
    /// [table](super#when-the-reader-goes-away)).
    #[default]
    Default,
    /// Ignored: such a write fails with `EPIPE`, and the program decides.
    Ignore,
}

/// A builder for a child on a wire, like [`std::process::Command`] plus the wire's topology,
/// the stderr side channel, watchdogs and the close policy.
///
/// Setters take `&mut self` and return `&mut Command`, as std's and tokio's do: chain them on a
/// temporary (`Command::new("cat").topology(t).spawn()`), or call them on a variable in a loop
/// or an `if`. [`spawn`](Self::spawn) takes `&mut self` too, so one command can start several
/// children.
pub struct Command {
    pub(super) inner: std::process::Command,
    pub(super) program: OsString,
    pub(super) topology: Topology,
    pub(super) child_stdout_nonblocking: bool,
    pub(super) stderr: StderrTo,
    pub(super) timeouts: Timeouts,
    pub(super) policy: KillPolicy,
    pub(super) sigpipe: Sigpipe,
    pub(super) die_with_parent: bool,
    pub(super) process_group: Option<i32>,
    pub(super) new_session: bool,
    pub(super) stdin_set: bool,
    pub(super) stdout_set: bool,
    pub(super) hooks: Option<Arc<PreExec>>,
    /// Descriptors and environment for the next spawn only ([`Command::fd`],
    /// [`Command::listen_fds`]; see `passing.rs`).
    pub(super) passing: super::passing::ToPass,
    /// What [`arg0`](Command::arg0) set (std has no getter; the exec done by the pre-exec hook
    /// for `LISTEN_PID` needs it).
    pub(super) arg0: Option<OsString>,
    /// Whether [`env_clear`](Command::env_clear) was called (as above).
    pub(super) env_cleared: bool,
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
            stderr: StderrTo::default(),
            timeouts: Timeouts::default(),
            policy: KillPolicy::DEFAULT,
            sigpipe: Sigpipe::Default,
            die_with_parent: false,
            process_group: None,
            new_session: false,
            stdin_set: false,
            stdout_set: false,
            hooks: None,
            passing: Default::default(),
            arg0: None,
            env_cleared: false,
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
        let mut cmd = Command::new(program);
        cmd.args(words);
        Ok(cmd)
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
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child with an empty environment, plus what [`env`](Self::env) adds after
    /// this call (as [`std::process::Command::env_clear`]). `PATH` is then unset: a program
    /// named without a slash is looked up as std does, in the `PATH` given to the child if
    /// one is, else in the C library's default path (`/bin:/usr/bin`).
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self.env_cleared = true;
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Command {
        self.inner.current_dir(dir.into());
        self
    }

    /// The child's `argv[0]`, when it should differ from the program's path (as
    /// [`CommandExt::arg0`](std::os::unix::process::CommandExt::arg0)).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg0(arg0.as_ref());
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Runs the child as user `uid` ([setuid(2)] in the child, before `exec`; as
    /// [`CommandExt::uid`](std::os::unix::process::CommandExt::uid)). Needs the privilege to
    /// change user; the spawn fails with `EPERM` otherwise.
    ///
    /// [setuid(2)]: https://man7.org/linux/man-pages/man2/setuid.2.html
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.inner.uid(uid);
        self
    }

    /// Runs the child with group `gid` ([setgid(2)]; as
    /// [`CommandExt::gid`](std::os::unix::process::CommandExt::gid)).
    ///
    /// [setgid(2)]: https://man7.org/linux/man-pages/man2/setgid.2.html
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.inner.gid(gid);
        self
    }

    /// Gives the child this stdin instead of the wire (e.g. [`Stdio::null()`], or a
    /// [`File`](std::fs::File) converted with `Stdio::from`), while its stdout stays on the wire.
    /// The [`Writer`](super::Writer) then starts closed (writes fail with `BrokenPipe`). Kept
    /// for later spawns as std keeps it (a file given here is shared by every child spawned).
    pub fn stdin(&mut self, stdin: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(stdin.into());
        self.stdin_set = true;
        self
    }

    /// Gives the child this stdout instead of the wire (e.g. one end of a wire the caller made
    /// and gives another program too, as `procwire connect` does), while its stdin stays on
    /// the wire unless [`stdin`](Self::stdin) is given as well. The [`Reader`](super::Reader)
    /// then reads EOF (on [`Topology::SocketPair`] our end is shut for reading,
    /// [shutdown(2)] `SHUT_RD`, since the child's stdin holds the same socket). Kept for later
    /// spawns as [`stdin`](Self::stdin) is.
    ///
    /// The watchdogs watch the child's stdout on the wire, so they are refused at spawn
    /// (`InvalidInput`) beside this.
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    pub fn stdout(&mut self, stdout: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(stdout.into());
        self.stdout_set = true;
        self
    }

    /// The topology of the child's stdin and stdout ([`Topology::SocketPair`] by default).
    pub fn topology(&mut self, topology: Topology) -> &mut Command {
        self.topology = topology;
        self
    }

    /// Leaves the child's stdout non-blocking (`O_NONBLOCK` on its end), as upstream rsync does
    /// without `--blocking-io`. Its stdin stays blocking. Refused at spawn on
    /// [`Topology::SocketPair`], where stdin and stdout share the flag.
    pub fn child_stdout_nonblocking(&mut self, nonblocking: bool) -> &mut Command {
        self.child_stdout_nonblocking = nonblocking;
        self
    }

    /// Where the child's stderr goes ([`StderrTo::Capture`] with the default
    /// [`Settings`](stderr::Settings) by default). A captured stderr's sink and subscriber serve
    /// the next spawn only.
    pub fn stderr(&mut self, stderr: impl Into<StderrTo>) -> &mut Command {
        self.stderr = stderr.into();
        self
    }

    /// Arms the connect watchdog: kill the child unless a byte of its stdout has arrived within
    /// `timeout`. Cancel it with [`Handle::cancel_connect_watchdog`](super::Handle::cancel_connect_watchdog).
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Command {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// Arms the stall watchdog: kill the child when neither direction has moved a byte for
    /// `timeout`.
    pub fn stall_timeout(&mut self, timeout: Duration) -> &mut Command {
        self.timeouts.stall = Some(timeout);
        self
    }

    /// The deadlines of [`Handle::close`](super::Handle::close) and of a watchdog's
    /// `SIGTERM`-to-`SIGKILL` wait.
    pub fn kill_policy(&mut self, policy: KillPolicy) -> &mut Command {
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
    pub fn die_with_parent(&mut self, die: bool) -> &mut Command {
        self.die_with_parent = die;
        self
    }

    /// The child's `SIGPIPE` disposition ([`Sigpipe::Default`] by default).
    pub fn sigpipe(&mut self, sigpipe: Sigpipe) -> &mut Command {
        self.sigpipe = sigpipe;
        self
    }

    /// Puts the child in process group `pgid` ([setpgid(2)] before `exec`; as
    /// [`CommandExt::process_group`](std::os::unix::process::CommandExt::process_group)).
    ///
    /// With `0` the child leads a new group of its own, and then every signal procwire sends
    /// it (a watchdog's and the close policy's `SIGTERM` and `SIGKILL`,
    /// [`Handle::signal`](super::Handle::signal)) goes to the whole group with [kill(2)] of
    /// `-pgid`: a shell's children, an ssh `ProxyCommand`, whatever the program started and did
    /// not move elsewhere, end with it. Any other `pgid` joins that existing group, and signals
    /// then go to the child alone (the group is not ours).
    ///
    /// # Caveats
    ///
    /// The group is signalled only while the child is not yet reaped (its zombie keeps the
    /// group's id from being reused); descendants still running after the reap are not
    /// signalled again. A new group is not a new session: the child keeps our controlling
    /// terminal but is not in its foreground group, so a terminal's Ctrl-C no longer reaches
    /// it, and a read from the terminal (ssh's password or host-key prompt on `/dev/tty`)
    /// stops it with `SIGTTIN` until someone makes its group the foreground one. Use it for
    /// programs that do not talk to the terminal, or with batch settings (`ssh -o
    /// BatchMode=yes`). Descendants that call `setsid` or `setpgid` themselves leave the group.
    ///
    /// [setpgid(2)]: https://man7.org/linux/man-pages/man2/setpgid.2.html
    /// [kill(2)]: https://man7.org/linux/man-pages/man2/kill.2.html
    pub fn process_group(&mut self, pgid: i32) -> &mut Command {
        self.inner.process_group(pgid);
        self.process_group = Some(pgid);
        self
    }

    /// Starts the child in a new session ([setsid(2)] before `exec`), which makes it the leader
    /// of a new process group too, with the same effect on signals as
    /// [`process_group(0)`](Self::process_group). It also loses our controlling terminal: a
    /// program that would prompt on `/dev/tty` (ssh asking for a password) cannot. Needs a hook
    /// in the child, as [`die_with_parent`](Self::die_with_parent) does. Refused at spawn
    /// together with [`process_group`](Self::process_group).
    ///
    /// [setsid(2)]: https://man7.org/linux/man-pages/man2/setsid.2.html
    pub fn new_session(&mut self, new_session: bool) -> &mut Command {
        self.new_session = new_session;
        self
    }

    /// Whether signals to the child reach its whole process group (a new group or session).
    pub(super) fn signals_group(&self) -> bool {
        self.new_session || self.process_group == Some(0)
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
            .field("process_group", &self.process_group)
            .field("new_session", &self.new_session)
            .finish_non_exhaustive()
    }
}

/// Why a program could not be started: the error inside [`Command::spawn`]'s `io::Error` when
/// starting the program itself failed (get it back with [`SpawnError::of`]). The `io::Error`
/// keeps the OS error's kind; [`os_error`](Self::os_error) gives the errno, which tells, say,
/// `ENOEXEC` (shells exit 126) from `EMFILE`.
#[derive(Debug)]
pub struct SpawnError {
    message: String,
    source: io::Error,
}

impl SpawnError {
    /// The `SpawnError` inside `e`, if starting the program is what failed (not, say, making
    /// the wire).
    pub fn of(e: &io::Error) -> Option<&SpawnError> {
        crate::payload(e)
    }

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

pub(super) fn spawn_error(program: &OsStr, e: io::Error) -> io::Error {
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
