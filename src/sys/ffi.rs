//! The calls with no safe wrapper in `rustix` or `std`: the one file of procwire allowed
//! `unsafe` (`#![deny(unsafe_code)]` holds everywhere else). Two jobs, each a small type:
//!
//! - [`PreExec`]: what a child runs between `fork` and `exec`.
//! - [`SigpipeBlocked`]: `SIGPIPE` kept away from a thread that splices into sockets.
//!
//! Every `unsafe` block has a `// SAFETY:` line saying why it is sound.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

// ---- PreExec ------------------------------------------------------------------------
// What a child runs between `fork` and `exec`.
//
// [`CommandExt::pre_exec`] is unsafe because the closure runs in the forked child, where only
// async-signal-safe calls are allowed (no allocation, no locks). The hook here reads atomics
// set before the spawn and makes only these calls:
//
// - [signal(2)] `SIGPIPE` to `SIG_IGN`, when asked (the disposition survives `exec`);
// - [setsid(2)], when asked, so the child leads a new session and process group that a
// signal to `-pgid` reaches whole;
// - [prctl(2)] `PR_SET_PDEATHSIG`, then [getppid(2)] to catch a parent that died before the
// setting took hold (nothing would ever send the signal then).
//
// Errors are built from errno without allocating (`io::Error::from_raw_os_error`).
//
// [`CommandExt::pre_exec`]: std::os::unix::process::CommandExt::pre_exec
// [signal(2)]: https://man7.org/linux/man-pages/man2/signal.2.html
// [setsid(2)]: https://man7.org/linux/man-pages/man2/setsid.2.html
// [prctl(2)]: https://man7.org/linux/man-pages/man2/prctl.2.html
// [getppid(2)]: https://man7.org/linux/man-pages/man2/getppid.2.html

/// The settings of one `Command`'s hook, set before each spawn. Atomics, because the hook may
/// only do async-signal-safe things.
#[derive(Debug, Default)]
pub(crate) struct PreExec {
    ignore_sigpipe: AtomicBool,
    new_session: AtomicBool,
    /// 0: none.
    death_signal: AtomicI32,
    /// Our pid when spawning, to catch a parent that died before `PR_SET_PDEATHSIG` took hold.
    parent: AtomicI32,
}

impl PreExec {
    /// Sets what the next spawn's hook does. `death_signal`: the raw signal number, or `None`.
    pub(crate) fn set(&self, ignore_sigpipe: bool, new_session: bool, death_signal: Option<i32>) {
        self.ignore_sigpipe.store(ignore_sigpipe, Ordering::Relaxed);
        self.new_session.store(new_session, Ordering::Relaxed);
        self.death_signal
            .store(death_signal.unwrap_or(0), Ordering::Relaxed);
        self.parent.store(
            rustix::process::getpid().as_raw_nonzero().get(),
            Ordering::Relaxed,
        );
    }

    /// Whether the hook has anything to do (std then uses `posix_spawn` when it can, which is
    /// faster than `fork`: install the hook only when this is true).
    pub(crate) fn needed(
        ignore_sigpipe: bool,
        new_session: bool,
        death_signal: Option<i32>,
    ) -> bool {
        ignore_sigpipe || new_session || death_signal.is_some()
    }

    /// Installs the hook on `cmd`, once; later spawns read the atomics as [`set`](Self::set) left
    /// them.
    pub(crate) fn install(self: &Arc<Self>, cmd: &mut std::process::Command) {
        let hooks = Arc::clone(self);
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed: it reads atomics and calls signal(2), setsid(2),
        // prctl(2) and getppid(2), and builds errors from errno without allocating.
        unsafe {
            cmd.pre_exec(move || hooks.run());
        }
    }

    fn run(&self) -> io::Result<()> {
        if self.ignore_sigpipe.load(Ordering::Relaxed) {
            // SAFETY: signal(2) is async-signal-safe; SIG_IGN is a valid disposition for SIGPIPE.
            if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) } == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        if self.new_session.load(Ordering::Relaxed) {
            rustix::process::setsid()?;
        }
        let sig = self.death_signal.load(Ordering::Relaxed);
        if sig != 0 {
            // SAFETY: prctl(2) with PR_SET_PDEATHSIG takes an integer signal number; it is
            // async-signal-safe and touches no memory of ours.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) } == -1 {
                return Err(io::Error::last_os_error());
            }
            let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
            if parent != self.parent.load(Ordering::Relaxed) {
                // The parent is already gone: nothing would ever send the signal.
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    }
}

// ---- SigpipeBlocked -------------------------------------------------------------------
// Keeping `SIGPIPE` away from a thread that splices into sockets.
//
// [splice(2)] into a socket whose peer is gone raises `SIGPIPE` on the calling thread: the
// kernel sends it as `send(2)` without `MSG_NOSIGNAL` would, and splice has no such flag. With
// the default disposition that kills the process. `SigpipeBlocked` blocks `SIGPIPE` on the calling
// thread ([pthread_sigmask(3)]) for its lifetime, so the splice returns `EPIPE` and the
// signal stays pending on the thread; `SigpipeBlocked::discard` takes it off with a zero-timeout
// [sigtimedwait(2)] before the mask is restored. Caveat: that also takes a process-wide
// `SIGPIPE` pending at the same moment (another thread's write to a closed pipe while every
// thread blocks it), which is as if it were ignored.
//
// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
// [pthread_sigmask(3)]: https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html
// [sigtimedwait(2)]: https://man7.org/linux/man-pages/man2/sigtimedwait.2.html

/// `SIGPIPE` blocked on this thread until drop (then discarded if pending, and unblocked if it
/// was not blocked before).
#[derive(Debug)]
pub(crate) struct SigpipeBlocked {
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

impl SigpipeBlocked {
    /// Blocks `SIGPIPE` on the calling thread.
    pub(crate) fn new() -> io::Result<SigpipeBlocked> {
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
        Ok(SigpipeBlocked { was_blocked })
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

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        if !self.was_blocked {
            self.discard();
            let set = sigpipe_set();
            // SAFETY: a valid set; the old mask is not wanted.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        }
    }
}

/// Registers an owned descriptor with the current tokio runtime's reactor
/// ([`AsyncFd::register_with_interest`](tokio::io::unix::AsyncFd::register_with_interest),
/// unsafe since tokio 1.54 because an arbitrary `AsRawFd` could hand it a number it does not
/// own). Only [`OwnedFd`](std::os::fd::OwnedFd) is accepted here, which keeps the promise by
/// construction. Callers go through [`super::tokio::register_for`].
#[cfg(feature = "tokio")]
pub(crate) fn async_fd(
    fd: std::os::fd::OwnedFd,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: an `OwnedFd` is open and owned; `AsyncFd` keeps it (and so the same open file
    // description) until it is dropped or `into_inner`ed, and `OwnedFd::as_raw_fd` always
    // returns the same number.
    let registered = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) };
    registered.map_err(io::Error::from)
}
