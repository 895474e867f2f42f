//! Byte wires between processes.
//!
//! procwire makes the right kernel pair for a job, hands it to another process, and measures
//! which primitive wins on the machine at hand. Each capability lives in its own module:
//!
//! - [`wire`]: duplex pairs (AF_UNIX socketpair, two pipes, TCP loopback) and one-way pipes,
//!   with a run-time fallback policy, per-end blocking mode, one capacity API, half-close with the
//!   same meaning on every kind, and no `SIGPIPE` on sockets.
//! - [`fd`]: small descriptor helpers (close-on-exec and non-blocking flags, open-descriptor
//!   listings) used by the tests and by callers that want to check what a child inherits.
//! - [`probe`]: what this machine's kernel grants for wires (pipe and socket buffer limits,
//!   `RLIMIT_NOFILE`, whether `splice` works), the facts every benchmark report carries.
//! - [`child`]: a program on a wire (pipes, a socketpair per direction, or one socketpair),
//!   its stderr on a bounded side channel, connect and stall watchdogs, a close policy that
//!   always ends in a reap.
//! - [`rsh`]: remote shells as rsync runs them: splitting `-e` commands by rsync's rules, host
//!   specs, POSIX-shell quoting of remote words, and an ssh argv builder that refuses option-like
//!   hosts and conflicting settings (its [`Command`](child::Command) comes from [`child`]).
//! - [`pass`]: descriptors between processes (`SCM_RIGHTS`): `send_fds`/`recv_fds` on any Unix
//!   socket, close-on-exec at birth, `MSG_CTRUNC` an error, and a seqpacket message `Channel`.
//! - [`stderr`]: that side channel: a sans-IO capture core and a thread driver.
//! - [`relay`]: bytes from one descriptor to another by `splice(2)` where the kernel can and a
//!   buffered copy where it cannot, with an outcome that says which, why, and how many bytes
//!   moved (the seed of the full relay; `procwire exec` runs its bridge on it).
//! - [`model`]: an in-memory twin of a socketpair with Linux's semantics and scripted faults,
//!   for deterministic tests of protocol code.
//!
//! # How the code is laid out
//!
//! Each capability is a module, and each module is built the same way, so the ones still to
//! come (a splice relay, fd passing, the `tokio` forms) have a place to go:
//!
//! - **Sans-IO cores** hold the policy: no descriptor, no thread, no clock. They take what
//!   happened and return what to do next, and are unit-tested with plain values:
//!   [`stderr::Capture`] (forwarding, the bounded tail, line splitting), the child's watchdog
//!   decisions and close policy (a step machine), the relay's per-direction state.
//! - **OS effects behind one-method traits** in leaf modules (the child's process seam: reap,
//!   signal, wait; a clock), with scripted fakes beside them in the tests, so a policy is tested
//!   without sleeps or real processes.
//! - **Thin drivers** run a core: a blocking one (a thread, [poll(2)]) in the module itself, and a
//!   `tokio` one (`AsyncFd`, readiness cleared only on a real `WouldBlock`) in `<module>/tokio.rs`
//!   behind the `tokio` feature, mirroring the sync tree the way `tokio::process` mirrors
//!   `std::process`.
//! - **One OS layer**, the private `sys` module: poll with a deadline, the eventfd waker,
//!   read/write/write-all loops, splice, pidfds, the pre-exec hooks and error hints, written
//!   once and used by every module. The Linux-only calls live there, so a port knows what to
//!   replace; it is also the only place `unsafe` is allowed (`#![deny(unsafe_code)]` holds
//!   everywhere else).
//! - Dependencies between files point one way: state <- OS seam <- policy <- handle.
//!
//! Errors are [`std::io::Error`]s with a kind to match on; where there is more to say, a payload
//! type rides inside and each has the same accessor, `of`: [`wire::PairError::of`],
//! [`child::TimedOut::of`], [`rsh::RshError::of`], [`ParseNameError::of`].
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
//!
//! Every descriptor procwire creates is an [`OwnedFd`](std::os::fd::OwnedFd) from birth and
//! close-on-exec, so a child spawned on another thread at the same moment inherits none of them.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! // A socketpair if the kernel grants one, else two pipes, else a TCP-loopback pair.
//! let pair = procwire::wire::Builder::new().capacity(1 << 20).build()?;
//! println!("got a {} pair", pair.kind());
//! let (mut a, mut b) = pair.into_ends();
//! a.write_all(b"ping")?;
//! a.shutdown_write()?; // b reads EOF after the bytes, whatever the kind
//! let mut got = Vec::new();
//! b.read_to_end(&mut got)?;
//! assert_eq!(got, b"ping");
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]
// `unsafe` lives in one file, `sys/ffi.rs`, which allows it; everything else is safe Rust.
#![deny(unsafe_code)]

// Say so plainly instead of a page of unresolved imports.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "procwire supports Linux only for now: it builds on pipe2, F_SETPIPE_SZ, MSG_NOSIGNAL, \
     splice, eventfd and pidfds (see src/sys/mod.rs for what a port replaces)"
);

pub mod child;
pub mod fd;
pub mod model;
mod names;
pub mod pass;

// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
pub mod probe;
pub mod relay;
pub mod rsh;
pub mod stderr;
mod sys;
#[cfg(feature = "uring")]
pub mod uring;
pub mod wire;

pub use names::ParseNameError;

/// The payload of type `T` inside `e`: the one body of every error type's `of` accessor
/// (`PairError::of`, `TimedOut::of`, `SpawnError::of`, `RshError::of`, `ParseNameError::of`).
pub(crate) fn payload<T: std::error::Error + 'static>(e: &std::io::Error) -> Option<&T> {
    e.get_ref()?.downcast_ref()
}
