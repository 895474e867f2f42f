//! A process on a wire: spawn a program with its stdin and stdout on a chosen topology, its
//! stderr on a bounded side channel, watchdogs that kill it when it hangs, and a close policy
//! that always ends in a reaped process.
//!
//! This is the remote-shell transport of rsync-like tools (`ssh host rsync --server ...`), built
//! so that the failure modes such transports have hit cannot happen:
//!
//! | failure | what prevents it |
//! |---|---|
//! | a child that writes a flood to stderr blocks on a full stderr pipe, and with it the stdout stream | the stderr [`Drain`](crate::stderr::Drain) thread reads it all the time into a bounded tail |
//! | `wait` hangs because a descendant (an ssh `ControlMaster`) keeps stderr open | wait reaps the child first, then stops the drain with a short grace ([`stderr::Settings::grace`](crate::stderr::Settings::grace)) |
//! | a child stuck before its first byte (host-key prompt, unreachable host) hangs the reader | an opt-in connect watchdog ([`Command::connect_timeout`]) |
//! | a child that stops moving bytes hangs both directions | a stall watchdog ([`Command::stall_timeout`]) |
//! | only the unsplit handle learns that a watchdog fired | every handle ([`Reader`], [`Writer`], [`Handle`]) returns the same [`TimedOut`] |
//! | dropping the reader or writer kills the child | the child belongs to the [`Handle`]; halves only half-close |
//! | a child that ignores `SIGTERM` is never reaped | close runs input-EOF, `SIGTERM`, `SIGKILL`, each with a deadline ([`KillPolicy`]) |
//! | the child inherits our other descriptors | everything procwire makes is close-on-exec; the child holds 0, 1 and 2 only |
//! | stderr shown twice (forwarded live and printed again on failure) | forwarding is live only; [`Exit::stderr_tail`] is returned, never printed |
//! | a read hangs while a descendant (an ssh `ControlMaster`, `sh -c 'sleep 60 & ...'`) holds the child's stdout | [`Reader::end_at_exit`]: reads end once the child has exited and what was queued then is read ([`Child::wait_with_output`] uses it) |
//! | a watchdog or the close policy kills the child but leaves its descendants (a `ProxyCommand`, a shell's jobs) running | [`Command::process_group`]`(0)` or [`Command::new_session`]: every signal goes to the whole group |
//! | a child whose reader went away sees `ECONNRESET` on a socket but `EPIPE` on a pipe | dropping the [`Reader`] shuts down and discards before closing: `EPIPE` on every topology ([below](#when-the-reader-goes-away)) |
//!
//! # Topologies
//!
//! [`Topology`] chooses the kernel objects behind the child's stdin and stdout: two pipes
//! (what [`std::process::Command`] does), one AF_UNIX socketpair per direction (upstream
//! rsync's `piped_child`), or one socketpair for both (the child's fd 0 and fd 1 are the same
//! socket). [`Writer::close`] half-closes the child's input on all three: it closes the pipe or
//! calls `shutdown(SHUT_WR)` on the socket, and the child reads EOF.
//!
//! Our ends are blocking. The child's ends are blocking too unless
//! [`Command::child_stdout_nonblocking`] asks otherwise (upstream rsync leaves the child's stdout
//! non-blocking unless `--blocking-io`).
//!
//! # Watchdogs
//!
//! The **connect** watchdog kills the child if no byte of its stdout has arrived by a deadline
//! (a byte waiting unread in our end counts as arrived). It is opt-in, because a user typing a
//! password at an ssh prompt must not be killed, and cancellable once a greeting has been read
//! ([`Handle::cancel_connect_watchdog`]). Bytes on stderr do not count: ssh prints warnings there
//! before it has connected. The **stall** watchdog kills the child when neither direction has
//! moved a byte for a given time.
//!
//! A watchdog that fires sends `SIGTERM`, then `SIGKILL` after [`KillPolicy::term`] (to the
//! child's whole process group when it leads one: [`Command::process_group`]), and wakes
//! every handle: reads and writes blocked on the wire return [`io::ErrorKind::TimedOut`]
//! carrying a [`TimedOut`] (see [`TimedOut::of`]), and so does [`Handle::wait`], with the exit
//! status inside. On socket topologies the wake-up is `shutdown(2)` of our ends; on pipes, which
//! cannot be shut down, each read and write first waits in [poll(2)] on the wire and an
//! [eventfd(2)] (only when a watchdog is armed: without one a read is one `read(2)`).
//!
//! # `SIGPIPE` in the child
//!
//! [`Sigpipe::Default`] (the default) gives the program the default disposition, as a shell
//! would. (Rust's own runtime ignores `SIGPIPE` in the parent; std resets it in children, and
//! so do we.) [`Sigpipe::Ignore`] starts the program with `SIGPIPE` ignored, so writes to a
//! closed wire fail with `EPIPE` instead; programs that handle errors properly prefer this, and
//! the disposition is inherited through `exec` by the program's own children.
//!
//! # When the reader goes away
//!
//! Dropping the [`Reader`] (or [`Child::wait`], which drops it) gives a child that writes on
//! `EPIPE` on every topology, never `ECONNRESET`: on a socket the reader first shuts our end
//! for reading and discards what is queued, because closing an `AF_UNIX` socket that holds
//! unread bytes makes the kernel reset the connection. What the child then sees:
//!
//! | the child's write | pipes, `Default` | pipes, `Ignore` | sockets, `Default` | sockets, `Ignore` |
//! |---|---|---|---|---|
//! | started after the reader left | dies of `SIGPIPE` | `EPIPE` | dies of `SIGPIPE` | `EPIPE` |
//! | already blocked in [write(2)] on a full wire | dies of `SIGPIPE` | `EPIPE` | `EPIPE`, no signal | `EPIPE` |
//!
//! The one difference is Linux's: a write sleeping for room on an `AF_UNIX` stream socket is
//! failed with `EPIPE` without the signal, so even under `Default` such a child lives on to
//! report the error (GNU `yes` prints "Broken pipe" and exits 1). (A blocked write that had
//! already moved part of its bytes returns that count instead; the program's next write is one
//! "started after".) Each cell is checked by `tests/child/sigpipe.rs`, with and without a
//! watchdog armed.
//!
//! [write(2)]: https://man7.org/linux/man-pages/man2/write.2.html
//!
//! # Layout
//!
//! The files, in dependency order (each uses only those above it):
//!
//! | file | holds |
//! |---|---|
//! | `state.rs` | what every handle of one child shares: which watchdog fired, the byte counters, the eventfd and socket duplicates that wake blocked calls, and the one "has a watchdog fired" check and settle that reads and writes use |
//! | `process.rs` | the process seam: one small trait per OS effect (`Reap`, `Exited`, `Kill`, `WaitExit`), a one-method `Clock`, and `OsProcess`, the real process (std's `Child`, a pidfd, the process group) |
//! | `policy.rs` | the close policy as a **sans-IO step machine** (`Close`: given what the last step observed, the next action), and its thin blocking driver |
//! | `watchdog.rs` | the timing rule (`decide`) and the whole watchdog sequence (sample, probe, fire, `SIGTERM`, wait, `SIGKILL`) as a **sans-IO step machine** (`Watch`); its blocking driver, generic over the process seam and the clock; the thread that runs it |
//! | `handle.rs` | [`Handle`]: wait, close, kill, drop |
//! | `signaller.rs` | [`Signaller`]: signals from other threads while the handle waits |
//! | `io_halves.rs` | [`Reader`], [`Writer`] and [`Child`] |
//! | `command.rs` | the [`Command`] builder, [`Topology`], [`StderrTo`], [`Sigpipe`], [`SpawnError`] |
//! | `passing.rs` | [`Command::fd`] and [`Command::listen_fds`]: descriptors mapped to chosen numbers in the child, validated before the spawn and mapped by the pre-exec hook |
//! | `spawn.rs` | [`Command::spawn`]: a pure plan (validated, no descriptor), the wire's set-up, the pre-exec hooks, and a short spawn whose one rollback guard is the `Child` |
//!
//! The step machines hold no descriptor, thread or clock: their unit tests run them on a
//! scripted process and a fake clock, and an async driver (tokio) can run the same machines,
//! awaiting where the blocking drivers block.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use procwire::child::{Command, Topology};
//!
//! let mut child = Command::new("cat").topology(Topology::SocketPair).spawn()?;
//! child.write_all(b"hello")?;
//! child.close_input()?; // cat reads EOF and exits after echoing
//! let mut echoed = Vec::new();
//! child.read_to_end(&mut echoed)?;
//! let exit = child.wait()?;
//! assert_eq!(echoed, b"hello");
//! assert!(exit.success());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
//! [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html

use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

mod command;
mod handle;
mod io_halves;
pub(crate) mod passing;
mod policy;
mod process;
mod signaller;
mod spawn;
mod state;
#[cfg(test)]
mod tests;
#[cfg(feature = "tokio")]
pub mod tokio;
mod watchdog;

pub use command::{Command, Sigpipe, SpawnError, StderrTo, Topology};
pub use handle::Handle;
pub use io_halves::{Child, Reader, Writer};
pub use signaller::Signaller;

/// The deadlines of the close policy: close the child's input, wait up to [`close`](Self::close)
/// for it to exit, send `SIGTERM`, wait up to [`term`](Self::term), send `SIGKILL`, wait up to
/// [`kill`](Self::kill) for the reap.
///
/// Used by [`Handle::close`] and [`Child::close`]; dropping a handle that has not been waited for
/// runs the same steps with [`KillPolicy::DROP`]'s short deadlines, and a watchdog that fires
/// waits [`term`](Self::term) between its `SIGTERM` and `SIGKILL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillPolicy {
    /// How long to wait for an exit after the child's input was closed.
    pub close: Duration,
    /// How long to wait for an exit after `SIGTERM`.
    pub term: Duration,
    /// How long to wait for the reap after `SIGKILL` (a process in uninterruptible sleep can
    /// take a while).
    pub kill: Duration,
}

impl KillPolicy {
    /// 2 s for the child to exit on input EOF, 2 s after `SIGTERM`, 1 s after `SIGKILL`.
    pub const DEFAULT: KillPolicy = KillPolicy {
        close: Duration::from_secs(2),
        term: Duration::from_secs(2),
        kill: Duration::from_secs(1),
    };
    /// What `Drop` uses: 50 ms, 100 ms and 100 ms, so a drop blocks at most about a quarter of a
    /// second. A child still not reaped then is handed to a background thread that reaps it.
    pub const DROP: KillPolicy = KillPolicy {
        close: Duration::from_millis(50),
        term: Duration::from_millis(100),
        kill: Duration::from_millis(100),
    };
}

impl Default for KillPolicy {
    fn default() -> KillPolicy {
        KillPolicy::DEFAULT
    }
}

/// Which watchdog fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Watchdog {
    /// No byte arrived from the child's stdout by the connect deadline.
    Connect,
    /// Neither direction moved for the stall timeout.
    Stall,
}

impl Watchdog {
    /// `"connect"` or `"stall"`.
    pub fn name(self) -> &'static str {
        match self {
            Watchdog::Connect => "connect",
            Watchdog::Stall => "stall",
        }
    }
}

impl fmt::Display for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error every handle of a child returns once a watchdog has killed it, inside an
/// [`io::Error`] of kind [`io::ErrorKind::TimedOut`]; get it back with [`TimedOut::of`].
#[derive(Debug)]
pub struct TimedOut {
    watchdog: Watchdog,
    after: Duration,
    exit: Option<Box<Exit>>,
}

impl TimedOut {
    /// The `TimedOut` inside `e`, if a watchdog caused it.
    pub fn of(e: &io::Error) -> Option<&TimedOut> {
        crate::payload(e)
    }

    /// Which watchdog fired.
    pub fn watchdog(&self) -> Watchdog {
        self.watchdog
    }

    /// The timeout that ran out: the connect deadline, or how long nothing moved.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// How the child ended, when this error came from [`Handle::wait`] (reads and writes fail
    /// before the child is reaped, so theirs is `None`).
    pub fn exit(&self) -> Option<&Exit> {
        self.exit.as_deref()
    }

    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self)
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = fmt_duration(self.after);
        match self.watchdog {
            Watchdog::Connect => write!(
                f,
                "connect watchdog: the child sent no byte within {after} and was killed \
                 (raise the connect timeout, or check that the remote end answers)"
            ),
            Watchdog::Stall => write!(
                f,
                "stall watchdog: nothing moved in either direction for {after}, so the child \
                 was killed (raise the stall timeout if the peer may legitimately pause)"
            ),
        }
    }
}

impl std::error::Error for TimedOut {}

/// What [`Child::wait_with_output`] collected: the child's whole stdout (up to its exit, see
/// [`Reader::end_at_exit`]) and how it ended, with the tail of its stderr in
/// [`Exit::stderr_tail`] when stderr was captured.
#[derive(Debug)]
pub struct Output {
    /// Everything read from the child's stdout.
    pub stdout: Vec<u8>,
    /// How the child ended.
    pub exit: Exit,
}

/// How a child ended, with what its stderr side channel captured.
#[derive(Debug)]
pub struct Exit {
    status: ExitStatus,
    stderr: Option<crate::stderr::Report>,
}

impl Exit {
    /// The status as std reports it.
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The exit code, if the child exited (rather than died of a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Whether the child exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The side channel's report (tail, counts, whether it reached EOF), when stderr was
    /// captured ([`StderrTo::Capture`]).
    pub fn stderr(&self) -> Option<&crate::stderr::Report> {
        self.stderr.as_ref()
    }

    /// The last bytes the child wrote to stderr (empty unless stderr was captured). This is
    /// returned, never printed: in raw and lines modes the bytes were already forwarded live.
    pub fn stderr_tail(&self) -> &[u8] {
        self.stderr.as_ref().map_or(&[], |r| &r.tail)
    }

    /// The shell's convention for this ending: the exit code, or 128 + the signal number.
    pub fn shell_code(&self) -> i32 {
        match (self.code(), self.signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 128,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(sig)) => write!(f, "killed by signal {sig}"),
            (None, None) => write!(f, "{}", self.status),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
