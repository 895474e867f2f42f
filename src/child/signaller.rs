//! [`Signaller`]: signals for a child whose [`Handle`] another thread is waiting on.

use std::io;
use std::sync::Arc;

use rustix::process::Signal;

use super::handle::Handle;
use super::process::{Kill, OsProcess};

/// Sends signals to a child while another thread owns its [`Handle`] and waits on it: a tool
/// that forwards its own `SIGINT` and `SIGTERM` to the programs it runs, say (`procwire
/// connect`). Cheap to clone, `Send` and `Sync`; get one with [`Handle::signaller`].
///
/// std's [`Child::kill`](std::process::Child::kill) and tokio's need `&mut` of the one handle
/// that also waits, so a thread blocked in `wait` leaves nobody able to signal. A `Signaller`
/// signals as [`Handle::signal`] does, with the same guarantee: never after the reap (the
/// handle's wait reaps under the lock the signaller takes, so the pid cannot have been reused;
/// with a pidfd, [pidfd_send_signal(2)], it could not name another process anyway). Once the
/// child is reaped, signalling is a no-op that returns `Ok`.
///
/// [pidfd_send_signal(2)]: https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html
#[derive(Clone)]
pub struct Signaller {
    process: Arc<OsProcess>,
}

impl Signaller {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    /// Sends signal number `sig` (`libc::SIGINT`, ...), as [`Handle::signal`].
    ///
    /// # Errors
    ///
    /// As [`Handle::signal`]: `InvalidInput` for a number that is not a signal, else the OS's
    /// error from [kill(2)] or [pidfd_send_signal(2)].
    ///
    /// [kill(2)]: https://man7.org/linux/man-pages/man2/kill.2.html
    /// [pidfd_send_signal(2)]: https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.process.signal(signal_number(sig)?)
    }
}

impl std::fmt::Debug for Signaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signaller")
            .field("pid", &self.id())
            .finish()
    }
}

impl Handle {
    /// A [`Signaller`] for this child, so other threads can signal it while this handle waits.
    ///
    /// From then on [`wait`](Self::wait) waits on the pidfd in [poll(2)] (without pidfds, on
    /// old kernels, it asks `waitpid(WNOHANG)` with short naps) rather than blocking in
    /// waitpid(2) under the lock a signaller needs, so a signal is never held up by the wait.
    ///
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn signaller(&mut self) -> Signaller {
        self.signallers = true;
        Signaller {
            process: Arc::clone(&self.process),
        }
    }
}

/// The [`Signal`] numbered `sig`, or an error that says it is none.
pub(super) fn signal_number(sig: i32) -> io::Result<Signal> {
    Signal::from_named_raw(sig).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{sig} is not a signal number procwire can send (see signal(7))"),
        )
    })
}
