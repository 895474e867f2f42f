//! The calls with no safe wrapper in `rustix` or `std`: the one file of procwire allowed
//! `unsafe` (`#![deny(unsafe_code)]` holds everywhere else). Its jobs:
//!
//! - [`PreExec`]: what a child runs between `fork` and `exec`, including the descriptors it
//!   maps to chosen numbers and, when the child's pid must be in its environment, the exec
//!   itself ([`Passing`], [`Exec`]).
//! - [`SigpipeBlocked`]: `SIGPIPE` kept away from a thread that splices into sockets.
//! - `UringSlots` (feature `uring`): io_uring submissions whose buffers the kernel may write
//!   until their completions are reaped.
//! - [`take_inherited`] and [`remove_env_if_alone`]: taking over a descriptor inherited through
//!   `exec` (socket activation, a broker's control socket) and unsetting the variables that
//!   announced it.
//!
//! Every `unsafe` block has a `// SAFETY:` line saying why it is sound.

use std::ffi::{CString, OsStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

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
// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
// [dup3(2)]: https://man7.org/linux/man-pages/man2/dup3.2.html
// [getpid(2)]: https://man7.org/linux/man-pages/man2/getpid.2.html
// [execvpe(3)]: https://man7.org/linux/man-pages/man3/execvpe.3.html

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
    /// Descriptors for the next spawn and, if needed, the exec done by the hook. Locked in the
    /// parent only by the thread that spawns (it holds `&mut Command`), never across the fork,
    /// so the child's `try_lock` (one atomic compare-and-swap, async-signal-safe) succeeds.
    passing: Mutex<Passing>,
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

    /// Sets the descriptors (and the exec) of the next spawn; [`Passing::default`] for none.
    pub(crate) fn set_passing(&self, passing: Passing) {
        *self.passing.lock().unwrap_or_else(|e| e.into_inner()) = passing;
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
        // prctl(2) and getppid(2), fcntl(2), dup3(2), getpid(2) and execvpe(3) (which searches
        // PATH in a stack buffer), takes an uncontended lock with one compare-and-swap, writes
        // only into memory allocated before the fork, and builds errors from errno without
        // allocating.
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
        let mut passing = match self.passing.try_lock() {
            Ok(p) => p,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // Unreachable (see `passing`): refuse rather than wait in a forked child.
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(io::Error::from_raw_os_error(libc::EDEADLK));
            }
        };
        passing.map_in_child()?;
        match &mut passing.exec {
            Some(exec) => Err(exec.exec_in_child()),
            None => Ok(()),
        }
    }
}

/// The descriptors one spawn maps into the child, and the exec the hook does itself when the
/// child's pid must be in its environment. Built in the parent before the fork; the child
/// only reads it and writes into the room it already has.
#[derive(Debug, Default)]
pub(crate) struct Passing {
    /// `(source, target)`: the source is an open descriptor of ours (kept open by the caller
    /// until the spawn returns), the target its number in the child, 3 or more, all distinct.
    maps: Vec<(RawFd, RawFd)>,
    /// Room for the moved sources, one per mapping.
    moved: Vec<RawFd>,
    exec: Option<Exec>,
}

impl Passing {
    /// Maps each source to its target (targets distinct and at least 3, checked by the
    /// caller), and execs `exec` from the hook if given.
    pub(crate) fn new(maps: Vec<(RawFd, RawFd)>, exec: Option<Exec>) -> Passing {
        let moved = vec![-1; maps.len()];
        Passing { maps, moved, exec }
    }

    /// In the child: every source that could be a target is first moved above the highest
    /// target (a move, not a `dup2`, so no mapping clobbers another's source), then each is
    /// duplicated onto its target with [dup3(2)] and no flags: the target is inherited
    /// through `exec`, the moved copies and the sources stay close-on-exec.
    ///
    /// [dup3(2)]: https://man7.org/linux/man-pages/man2/dup3.2.html
    fn map_in_child(&mut self) -> io::Result<()> {
        let Some(high) = self.maps.iter().map(|&(_, t)| t).max() else {
            return Ok(());
        };
        for (i, &(source, _)) in self.maps.iter().enumerate() {
            self.moved[i] = if source <= high {
                // SAFETY: fcntl(2) F_DUPFD_CLOEXEC on a descriptor number is async-signal-safe
                // and touches no memory; the new descriptor is closed by exec.
                let moved = unsafe { libc::fcntl(source, libc::F_DUPFD_CLOEXEC, high + 1) };
                if moved == -1 {
                    return Err(io::Error::last_os_error());
                }
                moved
            } else {
                source
            };
        }
        for (i, &(_, target)) in self.maps.iter().enumerate() {
            loop {
                // SAFETY: dup3(2) is async-signal-safe and touches no memory; the source is
                // above every target, so never equal to this one (EINVAL) and never closed by
                // an earlier dup3.
                if unsafe { libc::dup3(self.moved[i], target, 0) } != -1 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// An `execvpe` prepared before the fork, with environment entries whose value the child
/// fills with its own pid.
#[derive(Debug)]
pub(crate) struct Exec {
    program: CString,
    argv: Vec<CString>,
    /// Each entry `NAME=VALUE` and its NUL; a pid entry has [`PID_ROOM`] NULs of value.
    env: Vec<Vec<u8>>,
    /// Indices into `env` of the pid entries, and the length of `NAME=`.
    pid_slots: Vec<(usize, usize)>,
    /// Room for the pointer arrays, filled in the child (capacity reserved here).
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the raw pointers are scratch space only: empty until the forked child fills them
// with pointers into this same value, just before exec.
unsafe impl Send for Exec {}
// SAFETY: as for `Send`; `&Exec` gives no access to the pointers.
unsafe impl Sync for Exec {}

/// Decimal digits a pid can take (`pid_max` is at most 2^22 on Linux), with room to spare.
const PID_ROOM: usize = 10;

fn c_string(what: &str, s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {s:?} contains a NUL byte, which exec(2) cannot pass"),
        )
    })
}

impl Exec {
    /// `program` looked up in the `PATH` of `env` as [execvp(3)] does, with `argv` (its first
    /// word is `argv[0]`), and `env` plus `NAME=<child's pid>` for each of `pid_vars`.
    ///
    /// [execvp(3)]: https://man7.org/linux/man-pages/man3/execvp.3.html
    pub(crate) fn new<'a>(
        program: &OsStr,
        argv: impl IntoIterator<Item = &'a OsStr>,
        env: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
        pid_vars: &[&str],
    ) -> io::Result<Exec> {
        let program = c_string("the program", program)?;
        let argv = argv
            .into_iter()
            .map(|a| c_string("an argument", a))
            .collect::<io::Result<Vec<_>>>()?;
        let mut entries = Vec::new();
        for (k, v) in env {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            entries.push(
                c_string("an environment entry", OsStr::from_bytes(&e))?.into_bytes_with_nul(),
            );
        }
        let mut pid_slots = Vec::new();
        for name in pid_vars {
            let mut e = format!("{name}=").into_bytes();
            let prefix = e.len();
            e.resize(prefix + PID_ROOM + 1, 0);
            pid_slots.push((entries.len(), prefix));
            entries.push(e);
        }
        Ok(Exec {
            program,
            argv_ptrs: Vec::with_capacity(argv.len() + 1),
            env_ptrs: Vec::with_capacity(entries.len() + 1),
            argv,
            env: entries,
            pid_slots,
        })
    }

    /// In the child: writes the pid into its slots, fills the pointer arrays within their
    /// reserved capacity (no allocation), and execs. Returns only on failure.
    fn exec_in_child(&mut self) -> io::Error {
        let mut pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let mut digits = [0u8; PID_ROOM];
        let mut n = 0;
        loop {
            digits[PID_ROOM - 1 - n] = b'0' + (pid % 10) as u8;
            n += 1;
            pid /= 10;
            if pid == 0 || n == PID_ROOM {
                break;
            }
        }
        for &(i, prefix) in &self.pid_slots {
            let slot = &mut self.env[i][prefix..prefix + PID_ROOM];
            slot[..n].copy_from_slice(&digits[PID_ROOM - n..]);
        }
        self.argv_ptrs.clear();
        self.argv_ptrs.extend(self.argv.iter().map(|a| a.as_ptr()));
        self.argv_ptrs.push(std::ptr::null());
        self.env_ptrs.clear();
        self.env_ptrs
            .extend(self.env.iter().map(|e| e.as_ptr().cast::<libc::c_char>()));
        self.env_ptrs.push(std::ptr::null());
        // SAFETY: execvpe(3) gets a NUL-terminated program name and two null-terminated
        // arrays of pointers to NUL-terminated strings, all owned by `self` and alive (the
        // process image is replaced on success; on failure nothing was written). It searches
        // PATH without allocating (glibc and musl build the candidate path on the stack).
        unsafe {
            libc::execvpe(
                self.program.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.env_ptrs.as_ptr(),
            );
        }
        io::Error::last_os_error()
    }
}

/// Takes over descriptor `fd`, inherited through `exec` and announced in the environment
/// (socket activation, a broker's control socket): checks that it is open and not
/// close-on-exec (what an inherited descriptor is, and what no descriptor this process opened
/// through Rust is), makes it close-on-exec, and owns it. Each number is taken at most once
/// per process; a second call for it is an `AlreadyExists` error.
pub(crate) fn take_inherited(fd: RawFd, what: &str) -> io::Result<OwnedFd> {
    static TAKEN: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    if taken.contains(&fd) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{what}: descriptor {fd} was already taken over by this process"),
        ));
    }
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}: descriptor {fd} is stdin, stdout or stderr, never a passed one"),
        ));
    }
    // SAFETY: fcntl(2) F_GETFD on a number touches no memory; EBADF says it is not open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{what}: descriptor {fd} is not open ({e}); was this process started with it                  (and not through a shell or a program that closed it)?"
            ),
        ));
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what}: descriptor {fd} is close-on-exec, so it was opened by this process, not                  inherited; refusing to take it over"
            ),
        ));
    }
    // SAFETY: as above; sets FD_CLOEXEC on the number only.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } == -1 {
        return Err(super::hint(
            io::Error::last_os_error(),
            &format!("{what}: fcntl(F_SETFD)"),
        ));
    }
    taken.push(fd);
    // SAFETY: the descriptor is open (F_GETFD succeeded) and was inherited through exec (not
    // close-on-exec), so nothing in this process opened it, and `TAKEN` makes this the only
    // `OwnedFd` procwire ever makes for the number. (Code outside procwire that also claims
    // an inherited number is the caller's to rule out, as the public docs say.)
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Removes `keys` from this process's environment ([`std::env::remove_var`]) if this process
/// has a single thread (`/proc/self/task` has one entry); returns whether it did.
///
/// `remove_var` is unsafe because a `getenv` on another thread at the same moment may read
/// freed memory. With one thread there is no other thread, and none can start meanwhile (only
/// this one could start it). With more, the variables stay: the public callers
/// (`pass::listen_fds`, `pass::Control::from_env`) only remove variables whose companion names
/// this process's pid, so a child of ours ignores them anyway.
pub(crate) fn remove_env_if_alone(keys: &[&str]) -> bool {
    let alone = std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1);
    if alone {
        for key in keys {
            // SAFETY: this is the process's only thread (see above), so nothing reads the
            // environment concurrently.
            unsafe { std::env::remove_var(key) };
        }
    }
    alone
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
