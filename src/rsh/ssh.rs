//! The ssh argv builder, [`Ssh`]: every check happens in [`Ssh::argv`].

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::error::{RshError, RshErrorKind};
use super::preset::{Preset, Program, Setting};
use super::remote::{Remote, check_user, parse_host};
use super::split::split_bytes;
#[cfg(doc)]
use super::{sh_quote, split};
use crate::child::Command;

/// Builds the argv of an ssh-like remote shell: program, options, user, port, host, command.
///
/// The setters only record; every check (the program's splitting, the host and user, the port
/// flag, conflicts between the program's words and the builder's settings) happens in
/// [`argv`](Self::argv) and [`command`](Self::command). See the [module documentation](super)
/// for the order, the host forms and the refusals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssh {
    /// The remote-shell command as given, split by `argv()`.
    program: Vec<u8>,
    host: String,
    user: Option<String>,
    port: Option<u16>,
    options: Vec<OsString>,
    remote: Vec<OsString>,
}

impl Ssh {
    /// A builder for `host`: `host`, `user@host`, `[v6]`, `[v6%zone]`, `user@[v6%zone]` or a bare
    /// `fe80::1%eth0`. The program is `ssh`. Nothing is checked until [`argv`](Self::argv).
    pub fn new(host: impl Into<String>) -> Ssh {
        Ssh {
            program: b"ssh".to_vec(),
            host: host.into(),
            user: None,
            port: None,
            options: Vec::new(),
            remote: Vec::new(),
        }
    }

    /// A builder for the user and host of a parsed `[user@]host:path` spec (see
    /// [`parse_remote`](super::parse_remote)). The path is not used: it belongs in the remote
    /// command (quote it with [`sh_quote`] if a shell will read it there).
    ///
    /// ```
    /// use procwire::rsh::{Ssh, parse_remote};
    ///
    /// let remote = parse_remote("backup@[fe80::1%eth0]:/srv/data")?;
    /// let argv = Ssh::from_remote(&remote).port(2222).argv()?;
    /// assert_eq!(argv, ["ssh", "-l", "backup", "-p", "2222", "--", "fe80::1%eth0"]);
    /// # Ok::<(), procwire::rsh::RshError>(())
    /// ```
    pub fn from_remote(remote: &Remote) -> Ssh {
        Ssh {
            user: remote.user.clone(),
            ..Ssh::new(remote.host.clone())
        }
    }

    /// The remote-shell program and its arguments, as one string split by [`split`] (rsync's
    /// `-e` rules), e.g. `"ssh -o BatchMode=yes"`. The default is `ssh`. It is split, and its
    /// words checked against the other settings, by [`argv`](Self::argv).
    pub fn program(self, rsh: &str) -> Ssh {
        self.program_bytes(rsh.as_bytes())
    }

    /// [`program`](Self::program) for a command that need not be UTF-8.
    pub fn program_bytes(mut self, rsh: &[u8]) -> Ssh {
        self.program = rsh.to_vec();
        self
    }

    /// The remote user, passed as `-l user`. If the host or the program's words also name a
    /// user they must agree.
    pub fn user(mut self, user: impl Into<String>) -> Ssh {
        self.user = Some(user.into());
        self
    }

    /// The remote port: `-p PORT` for `ssh`, `-P PORT` for `plink`; an error from
    /// [`argv`](Self::argv) for other programs, and if the program's words give another port.
    pub fn port(mut self, port: u16) -> Ssh {
        self.port = Some(port);
        self
    }

    /// One more argument placed after the program's own words and before `-l`, the port and
    /// the host, e.g. `"-oStrictHostKeyChecking=no"`, or `"-i"` then `"key"`. Options are read
    /// with the program's words: an option that takes a value must be given one, and one that
    /// sets the user, port or host must agree with the builder's.
    pub fn option(mut self, arg: impl Into<OsString>) -> Ssh {
        self.options.push(arg.into());
        self
    }

    /// The words after the host: the command to run remotely. ssh joins them with spaces for
    /// the remote user's shell, which parses them again: quote them for that shell with
    /// [`sh_quote`] unless they are plain words.
    pub fn remote_command<I, S>(mut self, args: I) -> Ssh
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.remote = args.into_iter().map(Into::into).collect();
        self
    }

    /// The complete argv: program words, options, `-l user`, the port flag, `--` (ssh only),
    /// the host without brackets, and the remote command.
    ///
    /// # Errors
    ///
    /// Those of [`split`] for the program, and [`RshErrorKind::EmptyProgram`] when its first
    /// word is empty; [`RshErrorKind::Host`], [`RshErrorKind::User`] for a refused host or
    /// user; [`RshErrorKind::UserConflict`], [`RshErrorKind::PortConflict`],
    /// [`RshErrorKind::HostConflict`] and [`RshErrorKind::CommandConflict`] when two places give
    /// different values; [`RshErrorKind::MissingValue`] when the program's or options' last
    /// word needs a value; [`RshErrorKind::Port`] for a port the program cannot be given;
    /// [`RshErrorKind::RemoteCommand`] for a first remote word beginning with `-` when no `--`
    /// protects it; and [`RshErrorKind::Nul`] for an option or remote word containing NUL.
    pub fn argv(&self) -> Result<Vec<OsString>, RshError> {
        let program = split_program(&self.program)?;
        let kind = program_kind(&program[0]);
        let (host_user, host) = parse_host(&self.host)?;
        let user = match (host_user, &self.user) {
            (Some(a), Some(b)) if a != *b => {
                return Err(RshError::new(
                    RshErrorKind::UserConflict,
                    None,
                    format!(
                        "the host {:?} names user {a:?} but user() names {b:?}: give the user \
                         in one place",
                        self.host
                    ),
                ));
            }
            (Some(a), _) => Some(a),
            (None, Some(b)) => {
                check_user(b, 0, b)?;
                Some(b.clone())
            }
            (None, None) => None,
        };
        for (what, words) in [("option", &self.options), ("remote word", &self.remote)] {
            for (n, w) in words.iter().enumerate() {
                if let Some(at) = w.as_bytes().iter().position(|&b| b == 0) {
                    return Err(RshError::new(
                        RshErrorKind::Nul,
                        Some(at),
                        format!(
                            "{what} {n} ({w:?}) has a NUL byte at byte {at}: no program \
                             argument can carry one; remove it"
                        ),
                    ));
                }
            }
        }
        let words: Vec<&[u8]> = program[1..]
            .iter()
            .map(|w| w.as_bytes())
            .chain(self.options.iter().map(|w| w.as_bytes()))
            .collect();
        let preset = Preset::scan(kind, &words)?;
        self.check_agreement(&preset, user.as_deref(), &host)?;

        let name = program_name(&program[0]).to_owned();
        let mut argv = program;
        argv.extend(self.options.iter().cloned());
        if let Some(user) = user {
            argv.push("-l".into());
            argv.push(user.into());
        }
        if let Some(port) = self.port {
            let flag = match kind {
                _ if port == 0 => {
                    return Err(RshError::new(
                        RshErrorKind::Port,
                        None,
                        "port 0 cannot be connected to: give a port from 1 to 65535".to_string(),
                    ));
                }
                Program::Ssh => "-p",
                Program::Plink => "-P",
                Program::Other => {
                    return Err(RshError::new(
                        RshErrorKind::Port,
                        None,
                        format!(
                            "port {port} was asked for, but the program {name:?} is neither ssh \
                             (-p) nor plink (-P), so its port flag is unknown: pass the flag \
                             yourself with option()"
                        ),
                    ));
                }
            };
            argv.push(flag.into());
            argv.push(port.to_string().into());
        }
        let first_is_option = self
            .remote
            .first()
            .filter(|w| w.as_bytes().starts_with(b"-"));
        if kind == Program::Ssh {
            argv.push("--".into());
        } else if let Some(first) = first_is_option {
            return Err(RshError::new(
                RshErrorKind::RemoteCommand,
                Some(0),
                format!(
                    "the remote command starts with {first:?}, which {name:?} may read as its own \
                     option (only ssh gets a protecting \"--\"): start the remote command with a \
                     program name"
                ),
            ));
        }
        argv.push(host.into());
        argv.extend(self.remote.iter().cloned());
        Ok(argv)
    }

    /// Refuses a builder setting that the program's words or the options contradict: the remote
    /// shell keeps the first value it reads (ssh_config(5): "the first obtained value will be
    /// used"), so one of the two would be silently lost.
    fn check_agreement(
        &self,
        preset: &Preset,
        user: Option<&str>,
        host: &str,
    ) -> Result<(), RshError> {
        let conflict = |kind, setting: &Setting, ours: String| {
            Err(RshError::new(
                kind,
                None,
                format!(
                    "{ours}, but the program or options say {:?} ({:?}): the remote shell would \
                     keep only the first; give it in one place",
                    setting.value, setting.written
                ),
            ))
        };
        let port_differs = |s: &&Setting| self.port.is_some_and(|p| s.value.parse() != Ok(p));
        if let (Some(port), Some(s)) = (self.port, preset.port.iter().find(port_differs)) {
            return conflict(
                RshErrorKind::PortConflict,
                s,
                format!("port() asks for {port}"),
            );
        }
        let user_differs = |s: &&Setting| user.is_some_and(|u| s.value != u);
        if let (Some(user), Some(s)) = (user, preset.user.iter().find(user_differs)) {
            let from = if self.user.as_deref() == Some(user) {
                "user() names"
            } else {
                "the host names"
            };
            return conflict(
                RshErrorKind::UserConflict,
                s,
                format!("{from} user {user:?}"),
            );
        }
        // `%h` in HostName stands for the host on the command line.
        if let Some(s) = preset
            .host_name
            .iter()
            .find(|s| s.value != host && s.value != "%h")
        {
            return conflict(
                RshErrorKind::HostConflict,
                s,
                format!("the host is {host:?}"),
            );
        }
        if let (Some(s), false) = (preset.remote_command.first(), self.remote.is_empty()) {
            return conflict(
                RshErrorKind::CommandConflict,
                s,
                format!("remote_command() gives {:?}", self.remote),
            );
        }
        Ok(())
    }

    /// A child [`Command`] for [`argv`](Self::argv), built with [`Command::from_argv`]: the
    /// remote shell on a wire, ready for the topology, stderr and watchdog settings and
    /// [`spawn`](Command::spawn). (For [`std::process::Command`], use `argv()`.)
    ///
    /// # Errors
    ///
    /// Those of [`argv`](Self::argv), as an [`io::ErrorKind::InvalidInput`] error that carries
    /// the [`RshError`] ([`RshError::of`] gives it back).
    pub fn command(&self) -> io::Result<Command> {
        Command::from_argv(self.argv()?)
    }
}

/// Splits the program by rsync's `-e` rules and refuses an empty program name.
fn split_program(rsh: &[u8]) -> Result<Vec<OsString>, RshError> {
    let words = split_bytes(rsh)?;
    if words.first().is_none_or(|w| w.is_empty()) {
        return Err(RshError::new(
            RshErrorKind::EmptyProgram,
            Some(0),
            "the remote-shell command's first word (the program) is empty: name a program, \
             such as \"ssh\""
                .to_string(),
        ));
    }
    Ok(words.into_iter().map(OsString::from_vec).collect())
}

/// The file name of the program (`ssh` for `/usr/bin/ssh`): rsync compares it with `ssh`.
fn program_name(program: &OsStr) -> &OsStr {
    Path::new(program).file_name().unwrap_or_default()
}

fn program_kind(program: &OsStr) -> Program {
    match program_name(program).as_bytes() {
        b"ssh" => Program::Ssh,
        b"plink" => Program::Plink,
        _ => Program::Other,
    }
}
