//! The end-at-exit rule, written once: wait for a source to be readable *or* for the process
//! that owns it to exit ([`Owner::wait`]), and then move only what was queued in the source at
//! that moment ([`AtExit`]). The [engine](super::engine) keeps its budget in an [`AtExit`] and
//! the blocking [`Bridge`](super::Bridge) waits with an [`Owner`]; [`child::Reader`]'s
//! end-at-exit reads use the same two.
//!
//! Why: a child's descendant (an ssh `ControlMaster`, `sh -c 'sleep 60 & echo hi'`) can hold
//! the child's stdout open long after the child is gone, so EOF may never come; and a
//! descendant that keeps writing could keep a reader busy for ever, so only the bytes queued
//! at the exit ([FIONREAD]) are taken.
//!
//! [`child::Reader`]: crate::child::Reader
//! [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use crate::sys;
use crate::sys::Waker;

/// How often the owner is asked whether it exited when no descriptor says so (no pidfd): after
/// this long with nothing to read, and at most this often while bytes flow.
pub(crate) const OWNER_TICK: Duration = Duration::from_millis(50);

/// The owner rule's budget, sans-IO: unset while the owner runs; once it exited, the bytes
/// still to take of those queued then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AtExit {
    left: Option<u64>,
}

impl AtExit {
    /// The owner exited with `queued` bytes waiting (`None`: the kernel could not say, then
    /// `unknown` is the budget). The first report counts.
    pub(crate) fn exited(&mut self, queued: Option<u64>, unknown: u64) {
        if self.left.is_none() {
            self.left = Some(queued.unwrap_or(unknown));
        }
    }

    /// Whether the owner's exit was reported.
    pub(crate) fn is_set(&self) -> bool {
        self.left.is_some()
    }

    /// Whether everything queued at the exit was taken (or the source ran dry).
    pub(crate) fn spent(&self) -> bool {
        self.left == Some(0)
    }

    /// `len`, capped to the budget.
    pub(crate) fn cap(&self, len: usize) -> usize {
        match self.left {
            Some(left) => usize::try_from(left).map_or(len, |left| len.min(left)),
            None => len,
        }
    }

    /// `n` bytes were taken (0: EOF, nothing more will come).
    pub(crate) fn took(&mut self, n: usize) {
        if let Some(left) = self.left.as_mut() {
            *left = if n == 0 {
                0
            } else {
                left.saturating_sub(n as u64)
            };
        }
    }

    /// Nothing more is taken.
    pub(crate) fn stop(&mut self) {
        if self.left.is_some() {
            self.left = Some(0);
        }
    }
}

/// What [`Owner::wait`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The source is readable (or at EOF, or in error: the next read says).
    Readable,
    /// The owner has exited (seen together with data, the exit wins, so a descendant that
    /// writes without pause cannot hide it).
    Exited,
    /// The waker fired.
    Woken,
}

/// How to learn that a source's owner exited: a descriptor that polls readable at the exit (a
/// pidfd), and a question asked every [`OWNER_TICK`] when there is none.
pub(crate) struct Owner<'a> {
    exit_fd: Option<BorrowedFd<'a>>,
    ask: &'a mut dyn FnMut() -> io::Result<bool>,
    asked: Instant,
}

impl<'a> Owner<'a> {
    /// An owner whose exit `exit_fd` reports by polling readable, or (`None`) that `ask` is
    /// asked about. `ask` must not block.
    pub(crate) fn new(
        exit_fd: Option<BorrowedFd<'a>>,
        ask: &'a mut dyn FnMut() -> io::Result<bool>,
    ) -> Owner<'a> {
        Owner {
            exit_fd,
            ask,
            asked: Instant::now(),
        }
    }

    /// Waits in [poll(2)] until `src` is readable, the owner has exited, or `waker` fired.
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub(crate) fn wait(&mut self, src: BorrowedFd<'_>, waker: Option<&Waker>) -> io::Result<Seen> {
        loop {
            let mut fds = Vec::with_capacity(3);
            fds.push(PollFd::from_borrowed_fd(src, PollFlags::IN));
            if let Some(fd) = self.exit_fd {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            }
            if let Some(w) = waker {
                fds.push(PollFd::from_borrowed_fd(w.fd(), PollFlags::IN));
            }
            let deadline = match self.exit_fd {
                Some(_) => None,
                None => sys::poll::deadline(Some(OWNER_TICK)),
            };
            sys::poll::poll(&mut fds, deadline)?;
            if waker.is_some() && !fds[fds.len() - 1].revents().is_empty() {
                return Ok(Seen::Woken);
            }
            let readable = !fds[0].revents().is_empty();
            let exited = match self.exit_fd {
                Some(_) => !fds[1].revents().is_empty(),
                // Nothing to read for a while, or a while since we last asked.
                None if !readable || self.asked.elapsed() >= OWNER_TICK => {
                    self.asked = Instant::now();
                    (self.ask)()?
                }
                None => false,
            };
            if exited {
                return Ok(Seen::Exited);
            }
            if readable {
                return Ok(Seen::Readable);
            }
        }
    }
}

/// Whether `src` is readable now (or at EOF, or in error), without waiting: the look taken
/// after the owner exited, when a source with nothing readable is done.
pub(crate) fn readable_now(src: BorrowedFd<'_>) -> io::Result<bool> {
    sys::poll::wait(src, PollFlags::IN, Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn the_budget_caps_counts_and_ends() {
        let mut b = AtExit::default();
        assert!(!b.is_set() && !b.spent());
        assert_eq!(b.cap(100), 100);
        b.took(1000); // before the exit: nothing counted
        b.exited(Some(250), 7);
        b.exited(Some(10_000), 7); // the first report counts
        assert_eq!(b.cap(100), 100);
        b.took(100);
        b.took(120);
        assert_eq!(b.cap(100), 30);
        b.took(30);
        assert!(b.spent());
        let mut b = AtExit::default();
        b.exited(None, 7);
        assert_eq!(b.cap(100), 7);
        b.took(0); // EOF
        assert!(b.spent());
        let mut b = AtExit::default();
        b.stop(); // no effect before the exit
        assert!(!b.is_set());
        b.exited(Some(5), 0);
        b.stop();
        assert!(b.spent());
    }

    #[test]
    fn an_exit_wins_over_data_and_a_waker_over_both() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let mut gone = false;
        let mut ask = || Ok(std::mem::replace(&mut gone, true));
        let mut owner = Owner::new(None, &mut ask);
        // Nothing readable: asked after a tick (not yet gone), then again (gone).
        assert_eq!(owner.wait(r.as_fd(), None).unwrap(), Seen::Exited);
        rustix::io::write(&w, b"x").unwrap();
        assert!(readable_now(r.as_fd()).unwrap());
        // A pidfd-like exit descriptor that is ready: the exit wins over the data.
        let (er, ew) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&ew, b"!").unwrap();
        let mut never = || Ok(false);
        let mut owner = Owner::new(Some(er.as_fd()), &mut never);
        assert_eq!(owner.wait(r.as_fd(), None).unwrap(), Seen::Exited);
        let waker = Waker::new("test").unwrap();
        waker.wake();
        assert_eq!(owner.wait(r.as_fd(), Some(&waker)).unwrap(), Seen::Woken);
        // Not exited, data: readable.
        let mut owner = Owner::new(None, &mut never);
        assert_eq!(owner.wait(r.as_fd(), None).unwrap(), Seen::Readable);
    }
}
