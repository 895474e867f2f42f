//! Remote-shell commands the way rsync reads them, and an ssh argv that cannot be hijacked.
//!
//! The module has three parts, one per job:
//!
//! - **Splitting remote-shell commands** ([`split`], [`split_bytes`], [`quote`], [`join`]): the
//!   one-string `-e` / `RSYNC_RSH` setting of rsync(1), split by rsync's rules (below), and back.
//!   For the *remote* command, which a POSIX shell on the far side parses, [`sh_quote`] and
//!   [`sh_join`] quote by that shell's rules instead; the two quotings are not interchangeable.
//! - **Host specs** ([`Remote`], [`parse_remote`]): rsync's `[user@]host:path`, with the host and
//!   user checks (option-like names, IPv6 brackets and zones) that every [`Ssh`] argv uses too.
//! - **The ssh argv** ([`Ssh`]): a builder whose setters only record and whose
//!   [`argv`](Ssh::argv) (or [`command`](Ssh::command), a [`child::Command`](crate::child::Command))
//!   does every check in one place, following ssh(1)'s option grammar.
//!
//! References: rsync(1) (`--rsh`), ssh(1), ssh_config(5), and POSIX `sh` quoting (XCU 2.2).
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
//!   one would hide a mistake.
//! - **Conflicts with the program's words.** ssh keeps the *first* value it reads for a setting
//!   (ssh_config(5): "the first obtained value will be used"), so a `-p 2222` in
//!   [`Ssh::program`] or [`Ssh::option`] would silently beat [`Ssh::port`]`(22)`. `argv()` reads
//!   the program's words and the options with ssh's own option grammar (clustered flags such
//!   as `-vp2222`, glued or separate values, `-o` config lines with any keyword case and `=` or
//!   spaces) and refuses, naming both values:
//!   - a port (`-p`, `-o Port=`) other than [`Ssh::port`]'s: [`RshErrorKind::PortConflict`];
//!   - a user (`-l`, `-o User=`) other than the one from `user@host` or [`Ssh::user`]:
//!     [`RshErrorKind::UserConflict`];
//!   - `-o HostName=` naming another host, a word that is not an option (ssh would take it as
//!     the host and the builder's host as a remote command), or a `--` (the builder's own
//!     words would become the host): [`RshErrorKind::HostConflict`];
//!   - `-o RemoteCommand=` together with [`Ssh::remote_command`]: [`RshErrorKind::CommandConflict`];
//!   - an option that takes a value as the last word (`ssh -o`), which would swallow the
//!     builder's next word: [`RshErrorKind::MissingValue`].
//!
//!   The same value in both places is accepted (ports compared as numbers, so `-p 022` agrees
//!   with `port(22)`, as ssh reads it). Values that come from a config file (`-F`,
//!   `~/.ssh/config`) are not conflicts: ssh reads the command line first, so the builder's wins.
//!   For plink only whole `-l USER` and `-P PORT` words are read, for other programs `-l USER`.
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
//!   shell parses the result, so quoting them for that shell is the caller's job: [`sh_quote`]
//!   and [`sh_join`] do it for a POSIX shell.
//!
//! ```
//! use procwire::rsh::{RshErrorKind, Ssh, sh_quote};
//!
//! let argv = Ssh::new("backup@[fe80::1%eth0]")
//!     .program("ssh -o BatchMode=yes")
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
//!
//! // Two ports, and ssh would silently use the first: refused, naming both.
//! let e = Ssh::new("h").program("ssh -p 2222").port(22).argv().unwrap_err();
//! assert_eq!(e.kind(), RshErrorKind::PortConflict);
//! assert!(e.to_string().contains("22") && e.to_string().contains("-p 2222"));
//!
//! // A remote word with a space, quoted for the remote user's POSIX shell.
//! let argv = Ssh::new("h").remote_command(["cat", &sh_quote("my file")]).argv()?;
//! assert_eq!(argv, ["ssh", "--", "h", "cat", "'my file'"]);
//! # Ok::<(), procwire::rsh::RshError>(())
//! ```

mod error;
mod preset;
mod remote;
mod sh;
mod split;
mod ssh;
#[cfg(test)]
mod tests;

pub use error::{RshError, RshErrorKind};
pub use remote::{Remote, parse_remote};
pub use sh::{sh_join, sh_join_bytes, sh_quote, sh_quote_bytes};
pub use split::{join, quote, split, split_bytes};
pub use ssh::Ssh;
