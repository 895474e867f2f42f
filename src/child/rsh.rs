//! Remote-shell commands the way rsync reads them, and an ssh argv that cannot be hijacked.
//!
//! rsync starts its peer through a *remote shell*: `-e COMMAND` (or the `RSYNC_RSH` environment
//! variable) names a program and its arguments in **one** string, and rsync splits that string
//! itself — no `/bin/sh` is involved, so shell rules do not apply. A tool that accepts the same
//! setting has to split it the same way, or a command that works with rsync breaks with the tool
//! (or, worse, runs with different arguments). [`split`] and [`split_bytes`] are that splitter;
//! [`quote`] and [`join`] go the other way.
//!
//! [`Ssh`] then builds the complete argv for such a program: the split command, caller options,
//! `-l user`, the port flag, the host and the remote command. Its job is to make host and user
//! strings that came from elsewhere (a config file, a URL, a peer) safe to put on a command line:
//! a "host" such as `-oProxyCommand=…` would otherwise be read by ssh as an option and run a local
//! command (the class of bug behind CVE-2017-1000117 in git). [`parse_remote`] reads rsync's
//! `[user@]host:path` specs.
//!
//! # The splitting rules
//!
//! rsync's manual (`--rsh`) says, in short: arguments are separated by spaces — not tabs or other
//! whitespace; single and double quotes keep spaces inside an argument, backslashes do not; and
//! a quote doubled inside a string quoted with that same quote stands for one literal quote.
//! The source (`do_cmd()` in rsync's `main.c`, the same loop in the 3.0 and 3.2.x sources
//! read for this module) pins down the rest. [`split`] implements exactly these rules:
//!
//! 1. **Only the space byte (0x20) separates words.** Tabs, newlines and every other byte are
//!    ordinary characters.
//! 2. **Runs of spaces are one separator; leading and trailing spaces are dropped.**
//! 3. **Outside quotes, `'` or `"` opens a quoted part anywhere in a word**, and the quoted part
//!    joins the text around it: `a'b c'd` is the one word `ab cd`.
//! 4. **Inside a quoted part, spaces and the other kind of quote are literal**: `'say "hi"'` is
//!    `say "hi"`.
//! 5. **Inside a quoted part, the same quote doubled is one literal quote**: `'it''s'` is `it's`.
//!    A consequence shells do not share: `'a''b'` is `a'b`, not `ab`. A closing quote followed
//!    by the *other* quote does concatenate: `'a'"b"` is `ab`.
//! 6. **Backslashes are literal everywhere**, inside and outside quotes: `a\ b` is the two words
//!    `a\` and `b`, and `"a\" b` is `a\` and `b` (the backslash does not escape the quote).
//! 7. **An empty quoted part makes an empty word when it is the whole word**: `ssh '' x` is three
//!    words, the middle one empty. rsync keeps such words too (its loop records a word before it
//!    looks inside it).
//! 8. **A quote still open at the end is an error** ([`RshErrorKind::UnterminatedQuote`]);
//!    rsync's message is `Missing trailing-' in remote-shell command.` Ours names the quote and
//!    the byte offset where the unclosed string opened.
//!
//! Two cases are errors here where rsync goes on, because rsync's result is never what was meant:
//!
//! - **A command with no words** (empty, or only spaces): rsync would run the host name as the
//!   program. [`RshErrorKind::EmptyCommand`].
//! - **A NUL byte**: rsync works on C strings, so it silently ends the command there; no argv
//!   element can carry one. [`RshErrorKind::Nul`].
//!
//! The man page and the source do not disagree on any rule above; the source only adds the
//! cases the manual leaves open (3, 5's `'a''b'`, 7 and 8). Where they would, the source wins.
//!
//! # The ssh argv
//!
//! [`Ssh::argv`] produces, in this order:
//!
//! ```text
//! program words   options   [-l USER]   [-p PORT]   [--]   HOST   [remote command words]
//! ```
//!
//! - **Host forms.** `host`, `user@host`, `[v6]`, `[v6%zone]`, `user@[v6%zone]` and a bare
//!   `fe80::1%eth0`. Brackets are removed, as rsync does (`parse_hostspec()` elides them and keeps
//!   everything between them, scope id included), because ssh wants the bare address; a zone is
//!   passed on unchanged (`%25` is not decoded: that spelling belongs to URIs, and rsync does not
//!   decode it either). What is inside brackets must be an IPv6 address, optionally with a
//!   non-empty `%zone`. An unbracketed `:` is refused unless the whole host is an IPv6 address,
//!   since ssh has no `host:port` or `host:path` syntax.
//! - **User.** `user@host` is split at the last `@` before any `[` (rsync and ssh both split at the
//!   last `@`) and passed as `-l user`, as rsync does. If [`Ssh::user`] also names a user, the two
//!   must agree or [`Ssh::argv`] fails with [`RshErrorKind::UserConflict`]: silently preferring
//!   one would hide a mistake. Note that ssh keeps the *first* `-l` it sees, so a `-l` inside
//!   [`Ssh::program`] or [`Ssh::option`] wins over the user given here; `argv()` does not look.
//! - **Refusals.** A host or user that is empty, begins with `-`, or contains whitespace or a
//!   control character is refused ([`RshErrorKind::Host`], [`RshErrorKind::User`]).
//! - **`--`.** When the program is ssh (its file name is exactly `ssh`, the test rsync uses before
//!   adding `-4`/`-6`), `--` goes before the host. OpenSSH's option parser accepts it, and after
//!   it ssh takes the next word as the host and stops parsing options (`opt_terminated` in
//!   `ssh.c`, read in OpenSSH 9.1): without it ssh parses
//!   options again after the host, so a remote-command word such as `-oProxyCommand=…` right
//!   after the host would be an ssh option. Other programs (rsh, plink, wrappers) get no `--`,
//!   since not all of them accept one; instead a first remote-command word beginning with `-` is
//!   refused for them ([`RshErrorKind::RemoteCommand`]).
//! - **Port.** rsync never passes a port to the remote shell (its `--port` is for daemons; ssh
//!   users write `-e 'ssh -p 2234'`). [`Ssh::port`] adds `-p PORT` when the program is `ssh` and
//!   `-P PORT` when it is `plink`; for any other program it is an error
//!   ([`RshErrorKind::Port`]) rather than a guess — pass the flag with [`Ssh::option`] instead.
//! - **Remote command.** ssh joins the words after the host with spaces and the remote user's
//!   shell parses the result, so quoting them for that shell is the caller's job.
//!
//! ```
//! use procwire::child::rsh::Ssh;
//!
//! let argv = Ssh::new("backup@[fe80::1%eth0]")
//!     .program("ssh -o BatchMode=yes")?
//!     .port(2222)
//!     .remote_command(["rsync", "--server", "."])
//!     .argv()?;
//! assert_eq!(
//!     argv,
//!     [
//!         "ssh", "-o", "BatchMode=yes", "-l", "backup", "-p", "2222", "--", "fe80::1%eth0",
//!         "rsync", "--server", ".",
//!     ]
//! );
//!
//! // A "host" that is really an option never reaches ssh.
//! assert!(Ssh::new("-oProxyCommand=touch /tmp/pwned").argv().is_err());
//! # Ok::<(), procwire::child::rsh::RshError>(())
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

#[cfg(test)]
mod tests;

/// What went wrong, for callers that branch on it; the [`RshError`] message says the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RshErrorKind {
    /// The remote-shell command has no words: it is empty or only spaces.
    EmptyCommand,
    /// A quoted string is never closed; the quote character (`'` or `"`) is given.
    UnterminatedQuote(char),
    /// A NUL byte, which no argv element can carry.
    Nul,
    /// The program (the first word of the command) is empty, as in `''`.
    EmptyProgram,
    /// The host is empty, looks like an option, or is malformed.
    Host,
    /// The user is empty, looks like an option, or contains whitespace or control characters.
    User,
    /// The host names one user (`user@host`) and [`Ssh::user`] another.
    UserConflict,
    /// A port was asked for, but the program has no port flag `argv()` knows, or the port is 0.
    Port,
    /// A remote-command word would be taken by the program as one of its own options.
    RemoteCommand,
    /// A remote spec is not of the form `[user@]host:path`.
    Spec,
}

/// An error from splitting a remote-shell command or building an argv: what failed, where (a
/// byte offset into the input, when there is one), and what to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RshError {
    kind: RshErrorKind,
    offset: Option<usize>,
    message: String,
}

impl RshError {
    fn new(kind: RshErrorKind, offset: Option<usize>, message: String) -> RshError {
        RshError {
            kind,
            offset,
            message,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> RshErrorKind {
        self.kind
    }

    /// The byte offset into the offending input (the command, host, user or spec) where the
    /// problem is, if it has a place. For an unterminated quote, the offset of the opening quote.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
}

impl fmt::Display for RshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RshError {}

impl From<RshError> for io::Error {
    fn from(e: RshError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Splits a remote-shell command (rsync's `-e` / `RSYNC_RSH`) into words, by rsync's rules.
///
/// See the [module documentation](self) for the exact rules.
///
/// ```
/// use procwire::child::rsh::split;
///
/// assert_eq!(
///     split(r#"ssh -o "ProxyCommand nohup ssh firewall nc -w1 %h %p""#)?,
///     ["ssh", "-o", "ProxyCommand nohup ssh firewall nc -w1 %h %p"]
/// );
/// assert_eq!(split("ssh  'it''s'\tx")?, ["ssh", "it's\tx"]);
/// # Ok::<(), procwire::child::rsh::RshError>(())
/// ```
///
/// # Errors
///
/// [`RshErrorKind::EmptyCommand`] when there are no words, [`RshErrorKind::UnterminatedQuote`]
/// when a quote is never closed, [`RshErrorKind::Nul`] for a NUL byte.
pub fn split(command: &str) -> Result<Vec<String>, RshError> {
    Ok(split_bytes(command.as_bytes())?
        .into_iter()
        // Only ASCII quote bytes are removed and words end only at ASCII spaces, so every word
        // of valid UTF-8 is valid UTF-8; the lossy path is never taken.
        .map(|w| String::from_utf8(w).unwrap_or_else(|e| lossy(e.as_bytes())))
        .collect())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`split`] for bytes that need not be UTF-8 (argv may hold any byte but NUL).
///
/// # Errors
///
/// As for [`split`].
pub fn split_bytes(command: &[u8]) -> Result<Vec<Vec<u8>>, RshError> {
    if let Some(at) = command.iter().position(|&b| b == 0) {
        return Err(RshError::new(
            RshErrorKind::Nul,
            Some(at),
            format!(
                "NUL byte at byte {at} of the remote-shell command: no program argument can \
                 carry one; remove it"
            ),
        ));
    }
    let mut words = Vec::new();
    let mut i = 0;
    while i < command.len() {
        if command[i] == b' ' {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        // The open quote and where it opened.
        let mut open: Option<(u8, usize)> = None;
        while i < command.len() {
            let c = command[i];
            match open {
                None if c == b' ' => break,
                None if c == b'\'' || c == b'"' => open = Some((c, i)),
                Some((q, _)) if c == q => {
                    if command.get(i + 1) == Some(&q) {
                        word.push(q);
                        i += 1;
                    } else {
                        open = None;
                    }
                }
                _ => word.push(c),
            }
            i += 1;
        }
        if let Some((q, at)) = open {
            let q = char::from(q);
            return Err(RshError::new(
                RshErrorKind::UnterminatedQuote(q),
                Some(at),
                format!(
                    "missing trailing {q} in remote-shell command: the {q} at byte {at} is never \
                     closed; close it, or write {q}{q} inside a {q}-quoted string for a literal {q}"
                ),
            ));
        }
        words.push(word);
    }
    if words.is_empty() {
        return Err(RshError::new(
            RshErrorKind::EmptyCommand,
            None,
            "the remote-shell command is empty or only spaces: name a program, such as \"ssh\""
                .to_string(),
        ));
    }
    Ok(words)
}

/// Quotes one word so that [`split`] gives it back unchanged: wraps it in single quotes and
/// doubles the single quotes inside. The empty word becomes `''`.
///
/// A word containing NUL cannot round-trip: [`split`] refuses NUL.
///
/// ```
/// use procwire::child::rsh::{quote, split};
///
/// assert_eq!(quote("it's"), "'it''s'");
/// assert_eq!(split(&quote("a b\\c"))?, ["a b\\c"]);
/// # Ok::<(), procwire::child::rsh::RshError>(())
/// ```
pub fn quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Quotes every word with [`quote`] and joins them with single spaces: the inverse of
/// [`split`], for building an `-e` / `RSYNC_RSH` value from an argv.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let quoted: Vec<String> = words.into_iter().map(|w| quote(w.as_ref())).collect();
    quoted.join(" ")
}

/// A user, host and path from an rsync remote-shell spec (see [`parse_remote`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Remote {
    /// The user before `@`, if any.
    pub user: Option<String>,
    /// The host, with IPv6 brackets removed (a `%zone` is kept).
    pub host: String,
    /// Everything after the `:` that ends the host; may be empty (the remote home directory).
    pub path: String,
}

/// Parses an rsync remote-shell spec: `[user@]host:path` or `[user@][v6addr]:path`.
///
/// The host ends at the first `:` outside brackets, as in rsync's `parse_hostspec()`; a `/`
/// before that `:` makes the argument a local path, as in rsync. An IPv6 address must be
/// bracketed here (a bare one would end at its first `:`). Host and user are checked with the
/// same rules as [`Ssh::argv`], so a spec that parses is safe to hand to [`Ssh`].
///
/// ```
/// use procwire::child::rsh::parse_remote;
///
/// let r = parse_remote("root@[fe80::1%eth0]:/srv/data")?;
/// assert_eq!((r.user.as_deref(), &*r.host, &*r.path), (Some("root"), "fe80::1%eth0", "/srv/data"));
/// # Ok::<(), procwire::child::rsh::RshError>(())
/// ```
///
/// # Errors
///
/// [`RshErrorKind::Spec`] when there is no `:` after the host, when a `/` comes first (a local
/// path), or for rsync-daemon syntax (`host::module`); [`RshErrorKind::Host`] and
/// [`RshErrorKind::User`] as for [`Ssh::argv`].
pub fn parse_remote(spec: &str) -> Result<Remote, RshError> {
    let bytes = spec.as_bytes();
    let mut i = 0;
    let colon = loop {
        match bytes.get(i) {
            None => {
                return Err(RshError::new(
                    RshErrorKind::Spec,
                    None,
                    format!(
                        "{spec:?} has no ':' after the host: a remote-shell spec is \
                         [user@]host:path (use host: for the remote home directory)"
                    ),
                ));
            }
            Some(b':') => break i,
            Some(b'/') => {
                return Err(RshError::new(
                    RshErrorKind::Spec,
                    Some(i),
                    format!(
                        "{spec:?} has a '/' at byte {i} before any ':', so rsync reads it as a \
                         local path; write [user@]host:path for a remote one"
                    ),
                ));
            }
            // Skip an address in brackets: its ':'s do not end the host.
            Some(b'[') => match bytes[i..].iter().position(|&b| b == b']' || b == b'/') {
                Some(n) if bytes[i + n] == b']' => i += n + 1,
                _ => {
                    return Err(RshError::new(
                        RshErrorKind::Spec,
                        Some(i),
                        format!(
                            "the '[' at byte {i} of {spec:?} is not closed by ']' before the \
                             path: write [v6addr]:path"
                        ),
                    ));
                }
            },
            Some(_) => i += 1,
        }
    };
    let (user, host) = parse_host(&spec[..colon])?;
    let path = &spec[colon + 1..];
    if path.starts_with(':') {
        return Err(RshError::new(
            RshErrorKind::Spec,
            Some(colon),
            format!(
                "{spec:?} uses '::' at byte {colon}, rsync's syntax for a daemon module, not a \
                 remote shell; write host:path"
            ),
        ));
    }
    Ok(Remote {
        user,
        host,
        path: path.to_string(),
    })
}

/// Builds the argv of an ssh-like remote shell: program, options, user, port, host, command.
///
/// See the [module documentation](self) for the order, the host forms and the refusals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssh {
    program: Vec<OsString>,
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
            program: vec![OsString::from("ssh")],
            host: host.into(),
            user: None,
            port: None,
            options: Vec::new(),
            remote: Vec::new(),
        }
    }

    /// The remote-shell program and its arguments, as one string split by [`split`] (rsync's
    /// `-e` rules), e.g. `"ssh -o BatchMode=yes"`. The default is `ssh`.
    ///
    /// # Errors
    ///
    /// Those of [`split`], and [`RshErrorKind::EmptyProgram`] when the first word is empty.
    pub fn program(self, rsh: &str) -> Result<Ssh, RshError> {
        self.program_bytes(rsh.as_bytes())
    }

    /// [`program`](Self::program) for a command that need not be UTF-8.
    ///
    /// # Errors
    ///
    /// As for [`program`](Self::program).
    pub fn program_bytes(mut self, rsh: &[u8]) -> Result<Ssh, RshError> {
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
        self.program = words.into_iter().map(OsString::from_vec).collect();
        Ok(self)
    }

    /// The remote user, passed as `-l user`. If the host also names a user they must agree.
    pub fn user(mut self, user: impl Into<String>) -> Ssh {
        self.user = Some(user.into());
        self
    }

    /// The remote port: `-p PORT` for `ssh`, `-P PORT` for `plink`; an error from
    /// [`argv`](Self::argv) for other programs.
    pub fn port(mut self, port: u16) -> Ssh {
        self.port = Some(port);
        self
    }

    /// One more argument placed after the program's own words and before `-l`, the port and
    /// the host, e.g. `"-oStrictHostKeyChecking=no"`, or `"-i"` then `"key"`. Options are the
    /// caller's: they are not checked, so an option that takes a value must be given one.
    pub fn option(mut self, arg: impl Into<OsString>) -> Ssh {
        self.options.push(arg.into());
        self
    }

    /// The words after the host: the command to run remotely. ssh joins them with spaces for
    /// the remote shell, which parses them again; quote them for that shell if needed.
    pub fn remote_command<I, S>(mut self, args: I) -> Ssh
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.remote = args.into_iter().map(Into::into).collect();
        self
    }

    /// The file name of the program (`ssh` for `/usr/bin/ssh`): rsync compares it with `ssh`.
    fn program_name(&self) -> &OsStr {
        self.program
            .first()
            .and_then(|p| Path::new(p).file_name())
            .unwrap_or_default()
    }

    /// The complete argv: program words, options, `-l user`, the port flag, `--` (ssh only),
    /// the host without brackets, and the remote command.
    ///
    /// # Errors
    ///
    /// [`RshErrorKind::Host`], [`RshErrorKind::User`] and [`RshErrorKind::UserConflict`] for a
    /// refused host or user, [`RshErrorKind::Port`] for a port the program cannot be given,
    /// [`RshErrorKind::RemoteCommand`] for a first remote word beginning with `-` when no `--`
    /// protects it, and [`RshErrorKind::Nul`] for an option or remote word containing NUL.
    pub fn argv(&self) -> Result<Vec<OsString>, RshError> {
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
        let name = self.program_name();
        let is_ssh = name == "ssh";
        let mut argv = self.program.clone();
        argv.extend(self.options.iter().cloned());
        if let Some(user) = user {
            argv.push("-l".into());
            argv.push(user.into());
        }
        if let Some(port) = self.port {
            let flag = match name.to_str() {
                _ if port == 0 => {
                    return Err(RshError::new(
                        RshErrorKind::Port,
                        None,
                        "port 0 cannot be connected to: give a port from 1 to 65535".to_string(),
                    ));
                }
                Some("ssh") => "-p",
                Some("plink") => "-P",
                _ => {
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
        if is_ssh {
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

    /// A child [`Command`](super::Command) for [`argv`](Self::argv): the remote shell on a
    /// wire, ready for the topology, stderr and watchdog settings and
    /// [`spawn`](super::Command::spawn). (For [`std::process::Command`], use `argv()`.)
    ///
    /// # Errors
    ///
    /// Those of [`argv`](Self::argv).
    pub fn command(&self) -> Result<super::Command, RshError> {
        let argv = self.argv()?;
        let mut words = argv.into_iter();
        let program = words.next().unwrap_or_default();
        let mut cmd = super::Command::new(program);
        cmd.args(words);
        Ok(cmd)
    }
}

/// Splits `s` into an optional user and the host without brackets, refusing what ssh would
/// misread. Offsets in errors are into `s`.
fn parse_host(s: &str) -> Result<(Option<String>, String), RshError> {
    let host_err = |at: Option<usize>, why: String| Err(RshError::new(RshErrorKind::Host, at, why));
    if s.is_empty() {
        return host_err(None, "the host is empty: name a host".to_string());
    }
    if let Some((at, c)) = s.char_indices().find(|&(_, c)| bad_char(c)) {
        return host_err(
            Some(at),
            format!(
                "the host {s:?} has {c:?} at byte {at}: hosts and users cannot contain \
                 whitespace or control characters"
            ),
        );
    }
    // The user ends at the last '@' before any '[' (an address in brackets has no '@').
    let before_bracket = &s[..s.find('[').unwrap_or(s.len())];
    let (user, start) = match before_bracket.rfind('@') {
        Some(at) => {
            check_user(&s[..at], 0, s)?;
            (Some(s[..at].to_string()), at + 1)
        }
        None => (None, 0),
    };
    let host = &s[start..];
    if host.is_empty() {
        return host_err(
            Some(start),
            format!(
                "{s:?} has no host after the '@' at byte {}: name a host",
                start - 1
            ),
        );
    }
    if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return host_err(
                Some(start),
                format!(
                    "the '[' at byte {start} of {s:?} is never closed: write [v6addr] or \
                     [v6addr%zone]"
                ),
            );
        };
        let after = start + 1 + close + 1;
        if after != s.len() {
            return host_err(
                Some(after),
                format!(
                    "{s:?} goes on after the ']' at byte {}: give a port with port(), and parse \
                     host:path specs with parse_remote()",
                    after - 1
                ),
            );
        }
        let inner = &inner[..close];
        check_v6(inner, start + 1, s, true)?;
        return Ok((user, inner.to_string()));
    }
    if let Some(at) = host.find(['[', ']']) {
        return host_err(
            Some(start + at),
            format!(
                "{s:?} has a stray {:?} at byte {}: brackets go around a whole IPv6 address, \
                 as in user@[fe80::1%eth0]",
                &host[at..=at],
                start + at
            ),
        );
    }
    if host.starts_with('-') {
        return host_err(
            Some(start),
            format!(
                "the host {host:?} begins with '-' (byte {start} of {s:?}), so ssh would read it \
                 as an option: refusing it; check where the host name came from"
            ),
        );
    }
    if host.contains(':') {
        check_v6(host, start, s, false)?;
    }
    Ok((user, host.to_string()))
}

/// Checks an IPv6 literal with an optional `%zone`; `at` is its offset in `whole`.
fn check_v6(v6: &str, at: usize, whole: &str, bracketed: bool) -> Result<(), RshError> {
    let (addr, zone) = match v6.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (v6, None),
    };
    if addr.parse::<Ipv6Addr>().is_err() {
        let why = if bracketed {
            format!(
                "{addr:?} (byte {at} of {whole:?}) is not an IPv6 address: only IPv6 addresses \
                 go in brackets"
            )
        } else {
            format!(
                "{whole:?} has a ':' but {addr:?} (byte {at}) is not an IPv6 address: ssh has no \
                 host:port or host:path syntax; give a port with port(), parse host:path specs \
                 with parse_remote()"
            )
        };
        return Err(RshError::new(RshErrorKind::Host, Some(at), why));
    }
    if zone == Some("") {
        let pct = at + addr.len();
        return Err(RshError::new(
            RshErrorKind::Host,
            Some(pct),
            format!(
                "the '%' at byte {pct} of {whole:?} has no zone after it: write %eth0 (or the \
                 interface index), or drop the '%'"
            ),
        ));
    }
    Ok(())
}

/// Checks a user name; `at` is its offset in `whole`, for the error.
fn check_user(user: &str, at: usize, whole: &str) -> Result<(), RshError> {
    let why = if user.is_empty() {
        format!("{whole:?} has an empty user before '@': name a user or drop the '@'")
    } else if user.starts_with('-') {
        format!(
            "the user {user:?} begins with '-' (byte {at} of {whole:?}), so the remote shell \
             would read it as an option: refusing it; check where the user name came from"
        )
    } else if let Some((i, c)) = user.char_indices().find(|&(_, c)| bad_char(c)) {
        return Err(RshError::new(
            RshErrorKind::User,
            Some(at + i),
            format!(
                "the user {user:?} has {c:?} at byte {}: users cannot contain whitespace or \
                 control characters",
                at + i
            ),
        ));
    } else {
        return Ok(());
    };
    Err(RshError::new(RshErrorKind::User, Some(at), why))
}

fn bad_char(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}
