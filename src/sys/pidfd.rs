//! Process descriptors: a handle on a child that can never name another process, even after
//! its pid is recycled.
//!
//! [pidfd_open(2)] (Linux 5.3+) gives a close-on-exec descriptor that polls readable once the
//! process has exited, so a wait with a deadline is one poll(2), with no `SIGCHLD` handler and
//! no sleeping loop; [pidfd_send_signal(2)] signals through it.
//!
//! [pidfd_open(2)]: https://man7.org/linux/man-pages/man2/pidfd_open.2.html
//! [pidfd_send_signal(2)]: https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use rustix::event::PollFlags;
use rustix::process::{Pid, PidfdFlags, Signal};

/// A pidfd for `child`, or `None` where the kernel has none (old kernels, seccomp): callers
/// then poll `waitpid(WNOHANG)`.
pub(crate) fn open(child: &std::process::Child) -> Option<OwnedFd> {
    rustix::process::pidfd_open(Pid::from_child(child), PidfdFlags::empty()).ok()
}

/// Sends `sig` through `pidfd`.
pub(crate) fn send_signal(pidfd: &OwnedFd, sig: Signal) -> rustix::io::Result<()> {
    rustix::process::pidfd_send_signal(pidfd, sig)
}

/// Waits until the process has exited (readable pidfd) or `deadline` passes; false on the
/// deadline. The process is not reaped.
pub(crate) fn wait_exited(pidfd: &OwnedFd, deadline: Option<Instant>) -> io::Result<bool> {
    let mut fds = [rustix::event::PollFd::from_borrowed_fd(
        pidfd.as_fd(),
        PollFlags::IN,
    )];
    Ok(super::poll::poll(&mut fds, deadline)? > 0)
}
