//! The side channel for a child's stderr: forward it, keep its tail, count and publish its
//! lines, and never let it hold up the parent.
//!
//! A child on a wire talks over stdin/stdout; its stderr is a second, one-way stream that the
//! parent must read concurrently (a full stderr buffer blocks the child's next diagnostic, and
//! with it the protocol), forward to the user (`ssh` password prompts and progress without a
//! newline must appear at once), and keep a little of (the last lines explain a failed
//! handshake). Exiting must not wait for it either: a descendant such as an ssh
//! `ControlMaster` can hold the write end open long after the child is gone, so EOF may never
//! come.
//!
//! # Layers
//!
//! - [`Capture`] (sans-IO): bytes in; forwarding output ([`Forward`]), a bounded tail, counters
//!   and [`Line`]s for a [`Subscriber`] out. No thread, no descriptor, no clock, so every rule
//!   is tested by feeding it slices. Memory is bounded by [`Config::tail`] and
//!   [`Config::max_line`] whatever the child writes.
//! - [`Drain`]: one thread that reads the channel and drives a `Capture`. It waits in [poll(2)]
//!   on the channel and an [eventfd(2)], so [`Drain::finish`] can wake it whether the channel
//!   is a pipe or a socket and whoever holds the write end; it then reads only what is already
//!   queued and ends, within a grace period.
//! - [`channel`]: the descriptors to give the child: an `AF_UNIX` socketpair whose parent end
//!   is shut for writing, or a pipe when the socketpair is refused.
//!
//! # An async driver
//!
//! [`tokio::Drain`] (feature `tokio`) is the same driver as a tokio task over the same
//! `Capture`: the source is an `AsyncFd`, the finish is a oneshot the task selects on beside
//! readiness, and `finish` awaits the task under `tokio::time::timeout(grace)`.
//!
//! ```
//! use std::io::Write;
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use procwire::stderr::{self, Capture, Config, Drain, Forward, Line};
//!
//! let (ours, theirs, kind) = stderr::channel()?; // `theirs` becomes the child's fd 2
//! let (tx, rx) = mpsc::sync_channel::<Line>(64);
//! let capture = Capture::new(Config::default().forward(Forward::Lines { prefix: b"[child] ".to_vec() }))
//!     .with_subscriber(Box::new(tx));
//! let drain = Drain::spawn(ours, capture, Box::new(std::io::stderr()))?;
//!
//! let mut child = std::fs::File::from(theirs);
//! child.write_all(b"Permission denied (publickey).\n")?;
//! // The child exits, but a descendant keeps fd 2 open: finish does not wait for EOF.
//! let report = drain.finish(Duration::from_millis(200));
//! assert!(report.joined && !report.eof);
//! assert_eq!(rx.try_recv().unwrap().bytes, b"Permission denied (publickey).");
//! # drop(child);
//! # let _ = kind;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
//! [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html

use std::io;
use std::os::fd::OwnedFd;

use crate::wire::{Builder, Kind};

mod capture;
mod drain;
mod pool;
#[cfg(test)]
mod tests;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use capture::{Capture, Config, DEFAULT_MAX_LINE, DEFAULT_TAIL, Forward, Line, Subscriber};
pub use drain::{Drain, Report, Settings, Snapshot};

/// Makes a stderr side channel: `(ours, theirs, kind)`. Read `ours` (hand it to
/// [`Drain::spawn`]); give `theirs` to the child as its fd 2 (e.g. `Stdio::from(theirs)`),
/// then drop it here.
///
/// First choice: an `AF_UNIX, SOCK_STREAM` [socketpair(2)] ([`Kind::SocketPair`]), our end
/// [shutdown(2)] with `SHUT_WR` so a child that reads its fd 2 gets EOF instead of blocking on
/// bytes nobody will write (a socket is duplex; without the shutdown such a read would hang).
/// A socket is preferred over a pipe for its larger default buffer (`net.core.wmem_default`,
/// about 208 KiB, against a pipe's 64 KiB), so a chatty child stalls later while the parent is
/// busy; for the child both are just a writable fd 2 (neither is a terminal). When the kernel
/// refuses the socketpair (`EMFILE`, `ENFILE`, a seccomp filter), a [pipe2(2)]
/// ([`Kind::Pipes`]) is made instead. Both ends are close-on-exec and blocking either way.
///
/// # Errors
///
/// When both are refused; the message gives both reasons and, for descriptor exhaustion, what
/// to raise.
///
/// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
/// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
/// [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
pub fn channel() -> io::Result<(OwnedFd, OwnedFd, Kind)> {
    channel_with(socket_channel)
}

/// [`channel`] with the socketpair attempt injected, so the fallback can be tested.
fn channel_with(
    socket: impl FnOnce() -> io::Result<(OwnedFd, OwnedFd)>,
) -> io::Result<(OwnedFd, OwnedFd, Kind)> {
    let refused = match socket() {
        Ok((ours, theirs)) => return Ok((ours, theirs, Kind::SocketPair)),
        Err(e) => e,
    };
    match crate::wire::pipe() {
        Ok((ours, theirs)) => Ok((ours.into_fd(), theirs.into_fd(), Kind::Pipes)),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("could not make a stderr channel: {refused}; then the pipe fallback: {e}"),
        )),
    }
}

fn socket_channel() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut ours, theirs) = Builder::new().kind(Kind::SocketPair).build()?.into_ends();
    ours.shutdown_write().map_err(|e| {
        crate::sys::hint(
            e,
            "shutdown(SHUT_WR) on the parent's end of the stderr channel",
        )
    })?;
    Ok((OwnedFd::try_from(ours)?, OwnedFd::try_from(theirs)?))
}
