//! The calls with no safe wrapper in `rustix` or `std`: the one file of procwire allowed
//! `unsafe` (`#![deny(unsafe_code)]` holds everywhere else). Its jobs, each a small type:
//!
//! - [`PreExec`]: what a child runs between `fork` and `exec`.
//! - [`SigpipeBlocked`]: `SIGPIPE` kept away from a thread that splices into sockets.
//! - `UringSlots` (feature `uring`): io_uring submissions whose buffers the kernel may write
//!   until their completions are reaped.
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

// ---- UringSlots ---------------------------------------------------------------------
// io_uring submissions (feature `uring`). `SubmissionQueue::push` is unsafe because the
// kernel reads or writes the entry's buffer until the completion arrives, with no borrow to
// hold it: the buffers here belong to the ring's owner, every call waits for every completion
// it caused before it returns, and a call that fails with requests possibly in flight poisons
// the ring, whose buffers are then leaked rather than freed while the kernel may still use them.

/// The operation of one [`UringSlots::run`] entry.
#[cfg(feature = "uring")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UringOpcode {
    /// `IORING_OP_READ` (offset 0: a pipe or socket has no position).
    Read,
    /// `IORING_OP_WRITE`.
    Write,
    /// `IORING_OP_RECV`.
    Recv,
    /// `IORING_OP_SEND` with `MSG_NOSIGNAL`.
    Send,
}

/// One entry of a batch: `len` bytes from or into the start of slot `slot`, on `fd`.
#[cfg(feature = "uring")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct UringOp<'a> {
    pub(crate) fd: std::os::fd::BorrowedFd<'a>,
    pub(crate) code: UringOpcode,
    pub(crate) slot: usize,
    pub(crate) len: usize,
}

/// An io_uring instance with buffers ("slots") that only it lends to the kernel.
#[cfg(feature = "uring")]
pub(crate) struct UringSlots {
    ring: io_uring::IoUring,
    slots: Vec<Box<[u8]>>,
    /// A failed wait may have left requests in flight: the slots are leaked on drop.
    poisoned: bool,
}

#[cfg(feature = "uring")]
impl UringSlots {
    /// A ring of `slots` entries ([io_uring_setup(2)]) and as many buffers of `slot_len`
    /// bytes each.
    ///
    /// [io_uring_setup(2)]: https://man7.org/linux/man-pages/man2/io_uring_setup.2.html
    pub(crate) fn new(slots: usize, slot_len: usize) -> io::Result<UringSlots> {
        let entries = u32::try_from(slots.max(1).next_power_of_two())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many io_uring slots"))?;
        let ring = io_uring::IoUring::new(entries)?;
        Ok(UringSlots {
            ring,
            slots: (0..slots)
                .map(|_| vec![0u8; slot_len].into_boxed_slice())
                .collect(),
            poisoned: false,
        })
    }

    /// Slot `i`, to fill before a write or read after one.
    pub(crate) fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.slots[i]
    }

    /// Submits `ops` in one [io_uring_enter(2)] (each linked to the next with
    /// `IOSQE_IO_LINK` when `linked`), waits for all their completions and stores each
    /// result (bytes, or a negated errno) in `results[i]`.
    ///
    /// [io_uring_enter(2)]: https://man7.org/linux/man-pages/man2/io_uring_enter.2.html
    pub(crate) fn run(
        &mut self,
        ops: &[UringOp<'_>],
        linked: bool,
        results: &mut [i32],
    ) -> io::Result<()> {
        use io_uring::{opcode, squeue, types};
        use std::os::fd::AsRawFd;
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
        if self.poisoned {
            return Err(io::Error::other(
                "this io_uring failed earlier with requests in flight; make a new one",
            ));
        }
        if ops.len() > self.ring.params().sq_entries() as usize || results.len() < ops.len() {
            return Err(invalid(
                "io_uring batch larger than its ring or its results",
            ));
        }
        if ops
            .iter()
            .any(|op| op.slot >= self.slots.len() || op.len > self.slots[op.slot].len())
        {
            return Err(invalid("io_uring entry outside its slot"));
        }
        for (i, op) in ops.iter().enumerate() {
            let target = types::Fd(op.fd.as_raw_fd());
            let len = u32::try_from(op.len).map_err(|_| invalid("io_uring entry over 4 GiB"))?;
            let buf = self.slots[op.slot].as_mut_ptr();
            let entry = match op.code {
                UringOpcode::Read => opcode::Read::new(target, buf, len).build(),
                UringOpcode::Write => opcode::Write::new(target, buf, len).build(),
                UringOpcode::Recv => opcode::Recv::new(target, buf, len).build(),
                UringOpcode::Send => opcode::Send::new(target, buf, len)
                    .flags(libc::MSG_NOSIGNAL)
                    .build(),
            }
            .user_data(i as u64);
            let entry = if linked && i + 1 < ops.len() {
                entry.flags(squeue::Flags::IO_LINK)
            } else {
                entry
            };
            // SAFETY: the buffer is a slot of `self`, which this call borrows mutably until
            // every completion of this batch is reaped below (or, failing that, the ring is
            // poisoned and the slots are never freed); `op.fd` is borrowed for the call, and the
            // kernel takes its own reference to the file when it reads the entry.
            if unsafe { self.ring.submission().push(&entry) }.is_err() {
                // Entries pushed before it would go out with the next batch: never reuse it.
                self.poisoned = true;
                return Err(io::Error::other("the io_uring submission queue is full"));
            }
        }
        let mut left = ops.len();
        while left > 0 {
            match self.ring.submit_and_wait(left) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.poisoned = true;
                    return Err(io::Error::new(
                        e.kind(),
                        format!("io_uring_enter waiting for {left} completions: {e}"),
                    ));
                }
            }
            for cqe in self.ring.completion() {
                if let Some(r) = results.get_mut(cqe.user_data() as usize) {
                    *r = cqe.result();
                    left = left.saturating_sub(1);
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "uring")]
impl Drop for UringSlots {
    fn drop(&mut self) {
        if self.poisoned {
            // The kernel may still write into them: never free them.
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}
