//! The error type of [`rsh`](super): a kind to branch on and a message that says the rest.

use std::fmt;
use std::io;

#[cfg(doc)]
use super::Ssh;

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
    /// Two places name different users: the host (`user@host`), [`Ssh::user`], and the
    /// program's or options' `-l USER` / `-o User=USER`.
    UserConflict,
    /// A port was asked for, but the program has no port flag `argv()` knows, or the port is 0.
    Port,
    /// [`Ssh::port`] and the program's or options' `-p PORT` / `-o Port=PORT` differ.
    PortConflict,
    /// The program's or options' words name a host of their own: a word that is not an option
    /// (ssh would take it as the host), a `--` (the builder's next word would become the host),
    /// or `-o HostName=…` naming another host.
    HostConflict,
    /// The program's or options' `-o RemoteCommand=…` and [`Ssh::remote_command`] both give a
    /// remote command.
    CommandConflict,
    /// The program's or options' last word is an option that takes a value (`-o`, `-p`, `-i`,
    /// …) and has none: ssh would take the builder's next word as its value.
    MissingValue,
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
    pub(super) fn new(kind: RshErrorKind, offset: Option<usize>, message: String) -> RshError {
        RshError {
            kind,
            offset,
            message,
        }
    }

    /// The `RshError` inside an [`io::Error`] (as [`Ssh::command`](super::Ssh::command)
    /// returns it), if that is what it carries.
    pub fn of(e: &io::Error) -> Option<&RshError> {
        crate::payload(e)
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
