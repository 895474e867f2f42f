//! One way to wake a thread out of [`poll`](super::poll): an [eventfd(2)].
//!
//! [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{EventfdFlags, eventfd};

/// An eventfd (`EFD_CLOEXEC | EFD_NONBLOCK`) that polls readable once [`wake`](Self::wake) was
/// called, and stays readable: every later wait sees it too. One descriptor, no pipe pair.
#[derive(Debug)]
pub(crate) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// `what` names the user in the error (descriptor exhaustion is the usual cause).
    pub(crate) fn new(what: &str) -> io::Result<Waker> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| super::hint(e.into(), &format!("eventfd for {what}")))?;
        Ok(Waker { fd })
    }

    /// Makes the eventfd readable. Cannot fail short of a counter overflow (`EAGAIN` after
    /// 2^64-2 wakes), which leaves it readable anyway.
    pub(crate) fn wake(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// The descriptor to poll for `POLLIN`.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
