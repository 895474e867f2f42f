//! Pseudo-terminals for the tests that need a tty: a real `EINVAL` from splice(2), a write
//! that blocks once the terminal's buffer is full.

use std::os::fd::OwnedFd;

/// A pseudo-terminal pair (leader, follower), the follower raw (no echo, no line editing).
pub fn pty() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let leader = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&leader).unwrap();
    unlockpt(&leader).unwrap();
    let name = ptsname(&leader, Vec::new()).unwrap();
    let follower = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let mut t = rustix::termios::tcgetattr(&follower).unwrap();
    t.make_raw();
    rustix::termios::tcsetattr(&follower, rustix::termios::OptionalActions::Now, &t).unwrap();
    (leader, follower)
}
