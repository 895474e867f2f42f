//! Descriptors into a child at chosen numbers: [`Command::fd`] and the socket-activation form
//! [`Command::listen_fds`]. Validated and prepared before the fork; mapped by the pre-exec
//! hook (`sys::ffi::Passing`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::command::Command;
use crate::sys::ffi::{Exec, Passing};

/// The environment variable with the number of descriptors passed from 3 (socket activation,
/// [sd_listen_fds(3)]).
///
/// [sd_listen_fds(3)]: https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html
pub(crate) const LISTEN_FDS: &str = "LISTEN_FDS";
/// The environment variable with the pid the socket-activation variables are meant for.
pub(crate) const LISTEN_PID: &str = "LISTEN_PID";
/// The environment variable with the colon-separated names of the passed descriptors.
pub(crate) const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";

/// What the next spawn passes: descriptors at chosen numbers, environment entries, and the
/// names of variables that get the child's pid.
#[derive(Debug, Default)]
pub(crate) struct ToPass {
    fds: Vec<(RawFd, OwnedFd)>,
    listen: Vec<(OwnedFd, String)>,
    env: Vec<(OsString, OsString)>,
    pid_vars: Vec<&'static str>,
}

/// One spawn's descriptors, prepared: the hook's plan and what must stay open until the spawn
/// returns (the sources, and placeholders on the target numbers).
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) passing: Passing,
    pub(super) keep: Vec<OwnedFd>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Command {
    /// Passes `fd` to the next child spawned as its descriptor number `child_fd` (what std's
    /// `Command` lacks and the `command-fds` crate exists for). The child gets it without
    /// close-on-exec, so the program inherits it; every other descriptor of ours stays
    /// close-on-exec. Ours is closed once the child has started (or the spawn failed): a
    /// socket end handed over this way reads end of file when the child is gone.
    ///
    /// Done in the pre-exec hook, between [fork(2)] and [execve(2)]: every source whose number
    /// is at or below the highest target is first moved above it ([fcntl(2)]
    /// `F_DUPFD_CLOEXEC`), so a source numbered like another mapping's target is never
    /// clobbered, then each is placed with [dup3(2)] without `O_CLOEXEC` (`dup2` onto the
    /// same number would leave the flag set). No allocation happens there. Before the fork,
    /// the target numbers free in this process are held by placeholders for the moment of the
    /// spawn, so std's own close-on-exec error pipe cannot land on one of them (the child
    /// would overwrite it and a failed `exec` would go unreported).
    ///
    /// Like [`die_with_parent`](Self::die_with_parent), it needs the hook, so std spawns with
    /// `fork` and `execvp` instead of `posix_spawn`.
    ///
    /// # Errors (at [`spawn`](Self::spawn))
    ///
    /// `InvalidInput` for `child_fd` 0, 1 or 2 (the child's stdin and stdout are the wire,
    /// its stderr what [`stderr`](Self::stderr) chose: use [`stdin`](Self::stdin) and
    /// [`stdout`](Self::stdout) for others), for a number mapped twice (also by [`listen_fds`](Self::listen_fds) or a
    /// [`Broker`](crate::pass::Broker), which use 3 and up), or for one at or above this
    /// process's `RLIMIT_NOFILE` soft limit ([getrlimit(2)]; the child inherits the limit and
    /// `dup3` would fail with `EBADF`).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::fd::OwnedFd;
    /// use procwire::child::Command;
    ///
    /// let (mut ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    /// let mut child = Command::new("sh")
    ///     .args(["-c", "echo hello >&5"])
    ///     .fd(5, OwnedFd::from(theirs))
    ///     .spawn()?;
    /// let mut got = String::new();
    /// ours.read_to_string(&mut got)?; // EOF once sh exits: our copy of its end is closed
    /// assert_eq!(got, "hello\n");
    /// assert!(child.wait()?.success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [fork(2)]: https://man7.org/linux/man-pages/man2/fork.2.html
    /// [execve(2)]: https://man7.org/linux/man-pages/man2/execve.2.html
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    /// [dup3(2)]: https://man7.org/linux/man-pages/man2/dup3.2.html
    /// [getrlimit(2)]: https://man7.org/linux/man-pages/man2/getrlimit.2.html
    pub fn fd(&mut self, child_fd: RawFd, fd: impl Into<OwnedFd>) -> &mut Command {
        self.passing.fds.push((child_fd, fd.into()));
        self
    }

    /// Passes descriptors the way systemd's socket activation does ([sd_listen_fds(3)]), for
    /// the next child spawned: the first at number 3, the next at 4 and so on (mapped as
    /// [`fd`](Self::fd) maps), with `LISTEN_FDS` (how many), `LISTEN_FDNAMES` (the names,
    /// colon-separated) and `LISTEN_PID` (the child's pid) in its environment. Any of the three
    /// that our environment has is replaced. A later call replaces the set. The child takes
    /// them over with [`pass::listen_fds`](crate::pass::listen_fds) (or `sd_listen_fds`,
    /// Python's and Go's activation libraries, anything that speaks the protocol).
    ///
    /// `LISTEN_PID` is why this is more than `fd` plus `env`: only the child knows its pid,
    /// and std builds the child's environment before the fork. So the environment is built
    /// here instead, before the fork (ours, or empty after [`env_clear`](Self::env_clear), with
    /// [`env`](Self::env) and [`env_remove`](Self::env_remove) applied, and the three
    /// variables), with room for the pid; the pre-exec hook writes [getpid(2)] into that room
    /// and calls [execvpe(3)] itself (the same `PATH` search std's `execvp` does). Nothing is
    /// allocated after the fork.
    ///
    /// # Errors (at [`spawn`](Self::spawn))
    ///
    /// As [`fd`](Self::fd), and `InvalidInput` for a name that is not 1 to 255 printable ASCII
    /// characters without `:` (the protocol's rule), or an environment entry with a NUL byte.
    ///
    /// [sd_listen_fds(3)]: https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html
    /// [getpid(2)]: https://man7.org/linux/man-pages/man2/getpid.2.html
    /// [execvpe(3)]: https://man7.org/linux/man-pages/man3/execvpe.3.html
    pub fn listen_fds<I, N>(&mut self, fds: I) -> &mut Command
    where
        I: IntoIterator<Item = (OwnedFd, N)>,
        N: Into<String>,
    {
        self.passing.listen = fds.into_iter().map(|(fd, n)| (fd, n.into())).collect();
        self
    }

    /// For the crate's own protocols (the broker's control socket): sets `key=value` and
    /// `pid_var=<the child's pid>` in the next child's environment, built as
    /// [`listen_fds`](Self::listen_fds) builds it.
    pub(crate) fn announce(&mut self, key: &str, value: String, pid_var: &'static str) {
        self.passing.env.push((key.into(), value.into()));
        self.passing.pid_vars.push(pid_var);
    }

    /// Takes what the next spawn passes, validates it and prepares the hook's plan; `None` when
    /// nothing is passed. Consumed either way: a failed spawn closes the descriptors.
    pub(super) fn prepare_passing(&mut self) -> io::Result<Option<Prepared>> {
        let ToPass {
            mut fds,
            listen,
            mut env,
            mut pid_vars,
        } = std::mem::take(&mut self.passing);
        if !listen.is_empty() {
            let mut names = Vec::new();
            for (i, (fd, name)) in listen.into_iter().enumerate() {
                check_name(&name)?;
                names.push(name);
                fds.push((3 + i as RawFd, fd));
            }
            env.push((LISTEN_FDS.into(), names.len().to_string().into()));
            env.push((LISTEN_FDNAMES.into(), names.join(":").into()));
            pid_vars.push(LISTEN_PID);
        }
        if fds.is_empty() && env.is_empty() {
            return Ok(None);
        }
        check_targets(&fds)?;
        for (_, fd) in &mut fds {
            // A source on 0, 1 or 2 (this process closed its stdio) would be replaced by the
            // child's stdio before the hook runs: move it up first.
            if fd.as_raw_fd() < 3 {
                *fd = rustix::io::fcntl_dupfd_cloexec(&*fd, 3).map_err(|e| {
                    crate::sys::hint(e.into(), "Command::fd: moving a descriptor above 2")
                })?;
            }
        }
        let exec = match env.is_empty() && pid_vars.is_empty() {
            true => None,
            false => Some(self.exec_with(&env, &pid_vars)?),
        };
        let maps = fds.iter().map(|(t, fd)| (fd.as_raw_fd(), *t)).collect();
        let mut keep: Vec<OwnedFd> = Vec::new();
        if let Some((_, any)) = fds.first() {
            for (target, _) in &fds {
                if fds.iter().any(|(_, fd)| fd.as_raw_fd() == *target) {
                    continue;
                }
                // The lowest free number at or above the target: the target itself if free,
                // and then held until the spawn returns. If not free, something else holds it
                // and std's pipe cannot take it either; the placeholder is closed at once.
                if let Ok(held) = rustix::io::fcntl_dupfd_cloexec(any, *target)
                    && held.as_raw_fd() == *target
                {
                    keep.push(held);
                }
            }
        }
        keep.extend(fds.into_iter().map(|(_, fd)| fd));
        Ok(Some(Prepared {
            passing: Passing::new(maps, exec),
            keep,
        }))
    }

    /// The exec the hook does when the child's pid goes into its environment: std's program,
    /// `argv[0]` and arguments, and the environment std would build plus `env`.
    fn exec_with(&self, env: &[(OsString, OsString)], pid_vars: &[&str]) -> io::Result<Exec> {
        let mut all: BTreeMap<OsString, OsString> = match self.env_cleared {
            true => BTreeMap::new(),
            false => std::env::vars_os().collect(),
        };
        for (k, v) in self.inner.get_envs() {
            match v {
                Some(v) => all.insert(k.to_owned(), v.to_owned()),
                None => all.remove(k),
            };
        }
        for (k, v) in env {
            all.insert(k.clone(), v.clone());
        }
        for k in pid_vars {
            all.remove(OsStr::new(k));
        }
        let program = self.inner.get_program();
        let arg0 = self.arg0.as_deref().unwrap_or(program);
        let argv = std::iter::once(arg0).chain(self.inner.get_args());
        Exec::new(
            program,
            argv,
            all.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())),
            pid_vars,
        )
    }
}

/// Targets: 3 or more, distinct, below `RLIMIT_NOFILE`.
fn check_targets(fds: &[(RawFd, OwnedFd)]) -> io::Result<()> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    for (i, (target, _)) in fds.iter().enumerate() {
        if *target < 3 {
            return Err(invalid(format!(
                "Command::fd: cannot map a descriptor onto {target}: 0 and 1 are the child's \
                 wire and 2 its stderr; map onto 3 or more (or use Command::stdin, Command::stdout, \
                 Command::stderr)"
            )));
        }
        if fds[..i].iter().any(|(t, _)| t == target) {
            return Err(invalid(format!(
                "Command::fd: descriptor {target} is mapped twice in the child (Command::fd, \
                 Command::listen_fds from 3, a Broker's control socket at 3): keep one"
            )));
        }
        if let Some(limit) = limit
            && *target as u64 >= limit
        {
            return Err(invalid(format!(
                "Command::fd: descriptor {target} is at or above RLIMIT_NOFILE ({limit}), which \
                 the child inherits: use a lower number or raise the limit (ulimit -n)"
            )));
        }
    }
    Ok(())
}

/// A `LISTEN_FDNAMES` name: 1 to 255 printable ASCII characters, no `:`.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b':');
    match ok {
        true => Ok(()),
        false => Err(invalid(format!(
            "Command::listen_fds: the name {name:?} is not 1 to 255 printable ASCII characters \
             without ':' (LISTEN_FDNAMES's rule)"
        ))),
    }
}
