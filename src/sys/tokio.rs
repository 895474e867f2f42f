//! The async half of the OS layer (feature `tokio`): one way to wait for readiness and act on
//! it, written once, for every async driver in the crate (wire ends, child halves, the relay,
//! descriptor passing, the stderr drain).
//!
//! A descriptor is registered with tokio's reactor ([`AsyncFd`], epoll(7) underneath, edge
//! triggered) after being made non-blocking (`fcntl(F_SETFL, O_NONBLOCK)`). Readiness is a
//! cached hint: an operation runs when the reactor last said "ready", and the hint is cleared
//! **only** when the operation really returns `EAGAIN`/`EWOULDBLOCK`
//! ([`AsyncFdReadyGuard::try_io`](tokio::io::unix::AsyncFdReadyGuard::try_io)). Clearing it
//! after a short read instead (a tempting shortcut) loses wake-ups on descriptors where a short
//! read does not mean "drained" (a pipe written in several pieces, a socket with an urgent
//! byte) and hangs the task. `EINTR` is retried here, so callers never see it.
//!
//! Every helper takes the operation as a closure over the registered descriptor, so a caller's
//! syscall goes through the same [`super::io`], [`super::splice`] or [`super::scm`] function as
//! its blocking twin: the async forms differ from the sync ones only in how they wait.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::task::{Context, Poll, ready};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Makes `fd` non-blocking and registers it with the current runtime's reactor for reading and
/// writing.
///
/// # Errors
/// `fcntl(2)` failing, or no tokio runtime with I/O enabled in this context (tokio's own error:
/// "there is no reactor running").
///
/// # Panics
/// Not for a missing runtime (checked first, an error above); tokio itself panics if the
/// runtime was built without I/O (`enable_io`), which no procwire caller can detect first.
pub(crate) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    register_for(fd, Interest::READABLE | Interest::WRITABLE)
}

/// [`register`] for the given interest only (a pipe's read end needs no write readiness).
pub(crate) fn register_for(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other(
            "procwire's async forms must be created inside a tokio runtime with I/O enabled \
             (Runtime::enable_io / enable_all)",
        ));
    }
    crate::fd::set_nonblocking(&fd, true)?;
    super::ffi::async_fd(fd, interest)
}

/// Runs `op` once the descriptor is ready for `interest`, retrying `EINTR`, clearing readiness
/// and waiting again only when `op` returns `WouldBlock`.
///
/// # Cancel safety
/// Cancel safe if `op` is: dropping the future between attempts loses nothing, because an
/// attempt either completed (its result returned) or returned `WouldBlock` (nothing moved).
pub(crate) async fn io<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    interest: Interest,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> io::Result<R> {
    fd.async_io(interest, |inner| retry_intr(|| op(inner)))
        .await
}

/// The poll form of [`io`] for reading, for `AsyncRead::poll_read` and friends: `Pending` with
/// the waker registered until the descriptor is readable and `op` does not return
/// `WouldBlock`.
pub(crate) fn poll_read<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let mut guard = ready!(fd.poll_read_ready(cx))?;
        match guard.try_io(|inner| retry_intr(|| op(inner.get_ref()))) {
            Ok(result) => return Poll::Ready(result),
            // `try_io` cleared readiness: poll again, which registers the waker.
            Err(_would_block) => continue,
        }
    }
}

/// The poll form of [`io`] for writing, for `AsyncWrite::poll_write` and friends.
pub(crate) fn poll_write<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let mut guard = ready!(fd.poll_write_ready(cx))?;
        match guard.try_io(|inner| retry_intr(|| op(inner.get_ref()))) {
            Ok(result) => return Poll::Ready(result),
            Err(_would_block) => continue,
        }
    }
}

fn retry_intr<R>(mut op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, OwnedFd};

    use super::*;
    use crate::sys::io::{Target, read, write};

    fn pair() -> (OwnedFd, OwnedFd) {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
    }

    #[test]
    fn outside_a_runtime_registering_is_an_error_not_a_panic() {
        let (r, _w) = pair();
        let e = register(r).unwrap_err();
        assert!(e.to_string().contains("tokio runtime"), "{e}");
    }

    #[test]
    fn a_read_waits_for_data_and_readiness_is_cleared_only_on_would_block() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (r, w) = pair();
            let r = register_for(r, Interest::READABLE).unwrap();
            let w = register_for(w, Interest::WRITABLE).unwrap();
            let writer = tokio::spawn(async move {
                for piece in [&b"ab"[..], b"cd", b"ef"] {
                    tokio::task::yield_now().await;
                    io(&w, Interest::WRITABLE, |fd| {
                        let t = Target {
                            fd: fd.as_fd(),
                            socket: false,
                        };
                        write(t, piece)
                    })
                    .await
                    .unwrap();
                }
            });
            let mut got = Vec::new();
            while got.len() < 6 {
                let mut buf = [0u8; 1];
                // One byte at a time: every read but the last of a piece is short of what is
                // queued, and must not clear readiness.
                let n = io(&r, Interest::READABLE, |fd| read(fd.as_fd(), &mut buf))
                    .await
                    .unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            writer.await.unwrap();
            assert_eq!(got, b"abcdef");
        });
    }
}
