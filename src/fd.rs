//! Descriptor helpers: flags and listings.
//!
//! These answer the questions the reliability checks ask: is this descriptor close-on-exec
//! (`fcntl(F_GETFD)`, see [fcntl(2)]), is it non-blocking (`fcntl(F_GETFL)`), and which
//! descriptors does a process hold (`/proc/<pid>/fd`, see [proc(5)]).
//!
//! [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
//! [proc(5)]: https://man7.org/linux/man-pages/man5/proc.5.html

use std::io;
use std::os::fd::AsFd;

use rustix::fs::OFlags;
use rustix::io::FdFlags;

/// Reports whether `fd` has `FD_CLOEXEC` set (`fcntl(fd, F_GETFD)`).
pub fn is_cloexec(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::io::fcntl_getfd(fd)?.contains(FdFlags::CLOEXEC))
}

/// Reports whether `fd` has `O_NONBLOCK` set (`fcntl(fd, F_GETFL)`).
pub fn is_nonblocking(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::fs::fcntl_getfl(fd)?.contains(OFlags::NONBLOCK))
}

/// Sets or clears `O_NONBLOCK` on `fd` (`fcntl(fd, F_SETFL)`), skipping the second call when
/// the flag is already as asked.
///
/// The flag belongs to the open file description, so every duplicate of `fd` sees the change.
pub fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> io::Result<()> {
    let fd = fd.as_fd();
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let wanted = if nonblocking {
        flags | OFlags::NONBLOCK
    } else {
        flags - OFlags::NONBLOCK
    };
    if wanted != flags {
        rustix::fs::fcntl_setfl(fd, wanted)?;
    }
    Ok(())
}

/// Lists the descriptor numbers open in this process, in ascending order.
///
/// Reads `/proc/self/fd`; the descriptor used to read the directory is left out.
pub fn open_fds() -> io::Result<Vec<i32>> {
    let listed = list_fd_dir("/proc/self/fd")?;
    // The directory's own descriptor was closed when the listing ended: its link is gone now.
    Ok(listed
        .into_iter()
        .filter(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok())
        .collect())
}

/// Lists the descriptor numbers open in process `pid`, in ascending order (`/proc/<pid>/fd`).
///
/// Reading another process's table needs the same user or `CAP_SYS_PTRACE`.
pub fn open_fds_of(pid: u32) -> io::Result<Vec<i32>> {
    list_fd_dir(&format!("/proc/{pid}/fd"))
}

fn list_fd_dir(dir: &str) -> io::Result<Vec<i32>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(fd) = name.to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    fds.sort_unstable();
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn flags_round_trip() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        assert!(is_cloexec(&r).unwrap());
        assert!(!is_nonblocking(&r).unwrap());
        set_nonblocking(&r, true).unwrap();
        assert!(is_nonblocking(&r).unwrap());
        assert!(!is_nonblocking(&w).unwrap());
        set_nonblocking(&r, false).unwrap();
        assert!(!is_nonblocking(&r).unwrap());

        let plain = rustix::io::fcntl_dupfd_cloexec(&w, 0).unwrap();
        rustix::io::fcntl_setfd(&plain, FdFlags::empty()).unwrap();
        assert!(!is_cloexec(&plain).unwrap());
    }

    #[test]
    fn open_fds_sees_new_descriptors_and_not_its_own() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let fds = open_fds().unwrap();
        assert!(fds.contains(&r.as_raw_fd()) && fds.contains(&w.as_raw_fd()));
        // Every descriptor listed is really open: the directory's own one was left out.
        for fd in &fds {
            assert!(
                std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok(),
                "fd {fd}"
            );
        }
        let of_pid = open_fds_of(std::process::id()).unwrap();
        assert!(of_pid.contains(&r.as_raw_fd()) && of_pid.contains(&w.as_raw_fd()));
    }
}
