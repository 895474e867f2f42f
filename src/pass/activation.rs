//! The child's side of socket activation: [`listen_fds`].

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::child::passing::{LISTEN_FDNAMES, LISTEN_FDS, LISTEN_PID};
use crate::sys::ffi;

/// One descriptor passed by socket activation, with its name.
#[derive(Debug)]
pub struct ListenFd {
    /// The descriptor, close-on-exec and owned by this process since [`listen_fds`] took it.
    pub fd: OwnedFd,
    /// Its name from `LISTEN_FDNAMES`, or `"unknown"` when the variable is missing (systemd's
    /// rule).
    pub name: String,
}

/// Takes over the descriptors this process was started with by socket activation
/// ([`child::Command::listen_fds`](crate::child::Command::listen_fds), systemd, anything that
/// speaks [sd_listen_fds(3)]): numbers 3 to `3 + LISTEN_FDS - 1`, in order.
///
/// Returns an empty vector when `LISTEN_PID` is missing or is not this process's pid (the
/// variables were meant for a parent of ours that did not unset them). Otherwise each
/// descriptor is checked (open, and not close-on-exec: an inherited one), made close-on-exec
/// ([fcntl(2)] `F_SETFD`), so our own children do not inherit it, and returned as an
/// [`OwnedFd`]. Only the first call in a process looks; later ones return an empty vector.
///
/// # Call it early
///
/// Call it at the start of `main`, before any thread starts. Until the call the descriptors
/// are not close-on-exec (a child spawned meanwhile would inherit them). And only in a process
/// with a single thread are `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` removed from the
/// environment ([`std::env::remove_var`], which races with a `getenv` on another thread, so
/// it is not done when there is one): otherwise they stay, harmlessly, since `LISTEN_PID`
/// names this process and our children ignore them.
///
/// # Errors
///
/// `InvalidData` when `LISTEN_FDS` is not a number, or `LISTEN_FDNAMES` has another count of
/// names; `NotFound` when one of the descriptors is not open, `InvalidInput` when one is
/// close-on-exec (this process opened it: a descriptor of the same number was not inherited).
/// The descriptors taken before the error are closed.
///
/// [sd_listen_fds(3)]: https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html
/// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
pub fn listen_fds() -> io::Result<Vec<ListenFd>> {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    let pid = std::env::var(LISTEN_PID).ok();
    let count = std::env::var(LISTEN_FDS).ok();
    let names = std::env::var(LISTEN_FDNAMES).ok();
    ffi::remove_env_if_alone(&[LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES]);
    let ours = std::process::id().to_string();
    if pid.as_deref().map(str::trim) != Some(ours.as_str()) {
        return Ok(Vec::new());
    }
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let count = count.unwrap_or_default();
    let n: usize = count.trim().parse().map_err(|_| {
        bad(format!(
            "listen_fds: LISTEN_FDS is {count:?}, not a number of descriptors"
        ))
    })?;
    let names: Vec<String> = match names {
        Some(names) => names.split(':').map(str::to_owned).collect(),
        None => vec!["unknown".to_owned(); n],
    };
    if names.len() != n {
        return Err(bad(format!(
            "listen_fds: LISTEN_FDNAMES has {} names for LISTEN_FDS={n} descriptors",
            names.len()
        )));
    }
    let mut got = Vec::with_capacity(n);
    for (i, name) in names.into_iter().enumerate() {
        let fd = ffi::take_inherited(3 + i as RawFd, "listen_fds")?;
        got.push(ListenFd { fd, name });
    }
    Ok(got)
}
