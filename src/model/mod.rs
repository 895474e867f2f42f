//! The in-memory twin of a kernel socketpair, for deterministic tests of protocol code.
//!
//! [`MemStream::pair`] makes two connected ends that behave like an `AF_UNIX, SOCK_STREAM`
//! [socketpair(2)] on Linux, with the API of [`std::os::unix::net::UnixStream`], but whose bytes
//! live in process memory: no descriptors to leak or exhaust, no scheduler in the way of a test,
//! and faults the kernel only produces under load ([`Fault`]) on demand. Code written against
//! `Read + Write` (and `&T: Read + Write`) can be switched between a `MemStream` and a kernel
//! pair without change; the conformance suite in `tests/model/` runs the same scenarios on both.
//!
//! # Semantics (Linux's, where Linux is deterministic)
//!
//! Each direction is a FIFO of at most [`capacity`](MemStream::capacity) payload bytes
//! ([`DEFAULT_CAPACITY`] = 212992, Linux's default `net.core.wmem_default`). The rules follow
//! `unix_stream_sendmsg`/`unix_stream_read_generic` ([unix(7)], [recv(2)], [send(2)]):
//!
//! - A read returns what is buffered, up to the request, and never waits for more. Empty and
//!   non-blocking: `WouldBlock`; empty and blocking: it waits for data, EOF or an error.
//! - A zero-length read returns 0 without consuming anything when bytes are buffered or at EOF;
//!   on an empty, open end it behaves like any read of an empty end (`WouldBlock`, or it waits),
//!   as [recv(2)] does. (Linux's [readv(2)] returns 0 at once there; the model follows `recv`
//!   for its vectored reads too.)
//! - A zero-length write returns 0, or `BrokenPipe` once this end may no longer write.
//! - A non-blocking write into a full direction is `WouldBlock`, into a partly full one a
//!   partial count. A blocking write returns only when every byte is written, unless the peer
//!   closes meanwhile: then the count written so far, or an error if none was.
//! - [`shutdown`](MemStream::shutdown)`(Write)`: the peer reads the buffered bytes, then EOF;
//!   this end's writes fail with `BrokenPipe`; this end's reads go on. `shutdown(Read)`: the
//!   peer's writes fail with `BrokenPipe`; bytes already buffered here can still be read, then
//!   EOF ([shutdown(2)]).
//! - When the last handle of an end is dropped (an end and its [`try_clone`](MemStream::try_clone)s
//!   are one end, like a descriptor and its `dup`s), the survivor reads what is buffered for it,
//!   then EOF for ever, and its writes fail with `BrokenPipe` (never a signal). If the dropped end
//!   had unread bytes, they are discarded and the survivor's next read that finds nothing
//!   buffered fails once with `ConnectionReset` (Linux's `ECONNRESET` via `sk_err`), then EOF.
//!   A write that was blocked waiting for room when the peer went takes that same pending error
//!   (`ConnectionReset` instead of `BrokenPipe`); with a reader and a writer both blocked, the one
//!   that runs first gets it, on Linux as here.
//! - A thread blocked in a read or a write is woken when the peer writes, reads, shuts down or is
//!   dropped. (Miri's socketpair shim leaves such a thread blocked for ever; Linux wakes it, and
//!   so does the model.)
//! - Non-blocking mode is per end and shared by its clones, like `O_NONBLOCK` on a `dup`ed
//!   descriptor.
//! - Timeouts ([`set_read_timeout`](MemStream::set_read_timeout),
//!   [`set_write_timeout`](MemStream::set_write_timeout)) are per end and shared by its clones,
//!   like `SO_RCVTIMEO`/`SO_SNDTIMEO` ([socket(7)]): a blocking read that waits longer fails with
//!   `WouldBlock` (`EAGAIN`); a blocking write that waits that long for room returns what it
//!   moved, or `WouldBlock` if nothing. A test whose reads have a timeout fails on a deadlock
//!   instead of hanging.
//!
//! - A thread blocked in a write is woken once at most half the capacity is in use (the
//!   kernel's `sock_writeable` threshold), not on every read.
//!
//! # Async (feature `tokio`)
//!
//! `MemStream` implements `tokio::io::AsyncRead` and `AsyncWrite` (vectored writes included)
//! with the same rules, `Pending` where a non-blocking call would be `WouldBlock`, and faults
//! applied as in the sync forms: a drop-in for `tokio::io::duplex` with Linux's semantics. A
//! pending reader is woken by data, EOF, a shutdown or the peer's drop; a pending writer by
//! room, a shutdown or the peer's drop. The rules, the faults and cancel safety are in the
//! docs of the `AsyncRead` and `AsyncWrite` impls.
//!
//! # Where the model and the kernel legitimately differ
//!
//! - Capacity counts payload bytes only. Linux charges each queued `sk_buff`'s true size to the
//!   writer's `SO_SNDBUF`, so how much fits depends on the write sizes (on one machine: 180224
//!   bytes in 4 KiB writes, 278 bytes in 1-byte writes, for the same 212992-byte budget).
//! - [`Readiness::writable`] means one more byte fits; Linux's `POLLOUT` on a unix socket waits
//!   until at most a quarter of the send budget is in use.
//!
//! Tests that must hold on both should assert properties (a fill ends in `WouldBlock`, the bytes
//! arrive in order), not totals.
//!
//! # Faults
//!
//! [`MemStream::inject_reads`] and [`MemStream::inject_writes`] queue [`Fault`]s that the next
//! read or write calls on that end take, one per call: a short read or write, or a
//! `WouldBlock`, `Interrupted` or `ConnectionReset` error, so protocol code can be tested against
//! what a kernel may do under load or with signals. [`MemStream::inject_reads_forever`] and
//! [`MemStream::inject_writes_forever`] give every later call a fault (once the queued ones are
//! spent) until [`MemStream::clear_faults`].
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//! use procwire::model::{Fault, MemStream};
//!
//! let (mut a, mut b) = MemStream::pair()?;
//! a.inject_writes([Fault::Interrupted, Fault::Short(2)]);
//! a.write_all(b"hello")?; // retries EINTR and short writes, as it must on a kernel end
//! drop(a);
//! let mut got = Vec::new();
//! b.read_to_end(&mut got)?;
//! assert_eq!(got, b"hello");
//! assert_eq!(b.write(b"?").unwrap_err().kind(), ErrorKind::BrokenPipe);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
//! [unix(7)]: https://man7.org/linux/man-pages/man7/unix.7.html
//! [recv(2)]: https://man7.org/linux/man-pages/man2/recv.2.html
//! [send(2)]: https://man7.org/linux/man-pages/man2/send.2.html
//! [readv(2)]: https://man7.org/linux/man-pages/man2/readv.2.html
//! [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
//! [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html

mod stream;
#[cfg(test)]
mod tests;
#[cfg(feature = "tokio")]
mod tokio;

pub use stream::MemStream;

/// The capacity of each direction of a [`MemStream::pair`], in payload bytes: 212992, Linux's
/// default socket send budget (`net.core.wmem_default`).
pub const DEFAULT_CAPACITY: usize = 212_992;

/// A fault the next read or write call on an end takes (see [`MemStream::inject_reads`]), or
/// every call ([`MemStream::inject_reads_forever`]).
///
/// Each call, whatever its size and whether vectored, takes exactly one queued fault. Error
/// faults return at once without touching the buffered bytes or the end's state, even on a
/// blocking end (as a kernel end with a timeout or a signal can).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The call runs as usual. Put it first to aim a later fault at a chosen call.
    Pass,
    /// The call moves at most this many bytes and otherwise runs as usual (it may still block,
    /// fail or move fewer). `Short(0)` counts as `Short(1)`: a kernel never returns 0 for a
    /// non-empty read of an open stream or for a non-empty write.
    Short(usize),
    /// The call fails with `ErrorKind::WouldBlock` (`EAGAIN`).
    WouldBlock,
    /// The call fails with `ErrorKind::Interrupted` (`EINTR`, a signal arrived first).
    Interrupted,
    /// The call fails with `ErrorKind::ConnectionReset` (`ECONNRESET`). The stream is not
    /// otherwise changed: the next call runs as usual.
    ConnectionReset,
}

/// What an end would do now, for event-loop tests: the model's answer to [poll(2)].
///
/// A snapshot: another thread may change it at once. Injected [`Fault`]s are not considered.
///
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Readiness {
    /// A read would not block: bytes are buffered, the read side is closed (EOF), or an error
    /// is pending (`POLLIN`, or `POLLERR`).
    pub readable: bool,
    /// A write would not block: at least one byte fits, or writes fail at once because the write
    /// side is closed. (Linux's `POLLOUT` uses a stricter threshold; see the module docs.)
    pub writable: bool,
    /// Reads return EOF once the buffer is drained: the peer shut down its write side or is
    /// gone, or this end shut down its read side (`POLLRDHUP`).
    pub read_closed: bool,
    /// Writes fail with `BrokenPipe`: this end shut down its write side, or the peer shut down
    /// its read side or is gone.
    pub write_closed: bool,
    /// A `ConnectionReset` is pending: the peer was dropped with unread bytes (`POLLERR`). The
    /// next read that finds nothing buffered, a write that was blocked when the peer went, or
    /// [`MemStream::take_error`] clears it.
    pub error: bool,
}
