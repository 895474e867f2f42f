//! Keeping `SIGPIPE` away from a thread that splices into sockets.
//!
//! [splice(2)] into a socket whose peer is gone raises `SIGPIPE` on the calling thread: the
//! kernel sends it as `send(2)` without `MSG_NOSIGNAL` would, and splice has no such flag. With
//! the default disposition that kills the process. [`Blocked`] blocks `SIGPIPE` on the calling
//! thread ([pthread_sigmask(3)]) for its lifetime, so the splice returns `EPIPE` and the
//! signal stays pending on the thread; [`Blocked::discard`] takes it off with a zero-timeout
//! [sigtimedwait(2)] before the mask is restored. Caveat: that also takes a process-wide
//! `SIGPIPE` pending at the same moment (another thread's write to a closed pipe while every
//! thread blocks it), which is as if it were ignored.
//!
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
//! [pthread_sigmask(3)]: https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html
//! [sigtimedwait(2)]: https://man7.org/linux/man-pages/man2/sigtimedwait.2.html

use std::io;
use std::mem::MaybeUninit;

/// `SIGPIPE` blocked on this thread until drop (then discarded if pending, and unblocked if it
/// was not blocked before).
#[derive(Debug)]
pub(crate) struct Blocked {
    was_blocked: bool,
}

fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset takes an initialised set.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

impl Blocked {
    /// Blocks `SIGPIPE` on the calling thread.
    pub(crate) fn new() -> io::Result<Blocked> {
        let set = sigpipe_set();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: valid pointers to a set and to storage for the old mask.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
        if rc != 0 {
            return Err(super::hint(
                io::Error::from_raw_os_error(rc),
                "pthread_sigmask(SIG_BLOCK, SIGPIPE) for a relay",
            ));
        }
        // SAFETY: pthread_sigmask succeeded, so it wrote the old mask.
        let old = unsafe { old.assume_init() };
        // SAFETY: `old` is an initialised set.
        let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
        Ok(Blocked { was_blocked })
    }

    /// Takes every pending `SIGPIPE` off this thread (and the process) without handling it.
    pub(crate) fn discard(&self) {
        let set = sigpipe_set();
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid set and timeout; a null siginfo pointer is allowed.
        while unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } == libc::SIGPIPE {}
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        if !self.was_blocked {
            self.discard();
            let set = sigpipe_set();
            // SAFETY: a valid set; the old mask is not wanted.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        }
    }
}
