//! [poll(2)] with a deadline, written once.
//!
//! Every wait in procwire goes through [`poll`]: the timeout becomes a deadline before the first
//! call, so an `EINTR` retries with what is left instead of starting over, and a duration too
//! large to add to `Instant::now()` means "no limit" rather than a panic.
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

use super::Waker;

/// The instant `timeout` from now; `None` (no limit) for `None` or a timeout too far away to
/// represent.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// What is left until `deadline` (`None`: no limit), zero once it has passed.
pub(crate) fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Waits in poll(2) until one of `fds` has an event or `deadline` passes; `EINTR` retried with
/// the time that is left. Returns the number of descriptors with events (0: the deadline).
pub(crate) fn poll(fds: &mut [PollFd<'_>], deadline: Option<Instant>) -> io::Result<usize> {
    loop {
        // poll's own bound: at most a day per call; the loop comes back for the rest.
        let ts = left(deadline).map(|l| {
            let l = l.min(Duration::from_secs(86_400));
            Timespec {
                tv_sec: l.as_secs() as i64,
                tv_nsec: l.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(fds, ts.as_ref()) {
            Ok(0) if deadline.is_some_and(|d| Instant::now() < d) => continue,
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until `fd` is ready for `events` (or hung up or in error, which the next call on it
/// reports) or `timeout` passes (`None`: no limit). False on the timeout.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut fds = [PollFd::from_borrowed_fd(fd, events)];
    Ok(poll(&mut fds, deadline(timeout))? > 0)
}

/// How [`wait_or_woken`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The descriptor is ready (or hung up, or in error).
    Ready,
    /// The waker fired first (or at the same time).
    Woken,
    /// The deadline passed.
    TimedOut,
}

/// Waits until `fd` is ready for `events`, `waker` fires, or `deadline` passes. A fired waker
/// wins over a ready descriptor, so a caller told to stop does stop.
pub(crate) fn wait_or_woken(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    waker: Option<&Waker>,
    deadline: Option<Instant>,
) -> io::Result<Wait> {
    let Some(waker) = waker else {
        let mut fds = [PollFd::from_borrowed_fd(fd, events)];
        return Ok(match poll(&mut fds, deadline)? {
            0 => Wait::TimedOut,
            _ => Wait::Ready,
        });
    };
    let mut fds = [
        PollFd::from_borrowed_fd(fd, events),
        PollFd::from_borrowed_fd(waker.fd(), PollFlags::IN),
    ];
    Ok(match poll(&mut fds, deadline)? {
        0 => Wait::TimedOut,
        _ if !fds[1].revents().is_empty() => Wait::Woken,
        _ => Wait::Ready,
    })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn a_ready_descriptor_a_timeout_and_a_waker() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        // Nothing written: the zero timeout passes.
        assert!(!wait(r.as_fd(), PollFlags::IN, Some(Duration::ZERO)).unwrap());
        // Writable at once.
        assert!(wait(w.as_fd(), PollFlags::OUT, None).unwrap());
        let waker = Waker::new("test").unwrap();
        assert_eq!(
            wait_or_woken(
                r.as_fd(),
                PollFlags::IN,
                Some(&waker),
                deadline(Some(Duration::ZERO))
            )
            .unwrap(),
            Wait::TimedOut
        );
        waker.wake();
        assert_eq!(
            wait_or_woken(r.as_fd(), PollFlags::IN, Some(&waker), None).unwrap(),
            Wait::Woken
        );
        rustix::io::write(&w, b"x").unwrap();
        // Both: the waker wins.
        assert_eq!(
            wait_or_woken(r.as_fd(), PollFlags::IN, Some(&waker), None).unwrap(),
            Wait::Woken
        );
        assert_eq!(
            wait_or_woken(r.as_fd(), PollFlags::IN, None, None).unwrap(),
            Wait::Ready
        );
    }

    #[test]
    fn huge_timeouts_mean_no_limit() {
        assert_eq!(deadline(Some(Duration::MAX)), None);
        assert_eq!(deadline(None), None);
        assert_eq!(left(None), None);
        let (_r, w) = rustix::pipe::pipe().unwrap();
        assert!(wait(w.as_fd(), PollFlags::OUT, Some(Duration::MAX)).unwrap());
    }
}
