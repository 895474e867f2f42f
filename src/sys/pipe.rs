//! Pipes for the relay's splice path: [pipe2(2)] with `O_NONBLOCK | O_CLOEXEC`, a capacity
//! asked with `fcntl(F_SETPIPE_SZ)` and read back with `F_GETPIPE_SZ` ([fcntl(2)]).
//!
//! [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
//! [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html

use std::io;
use std::os::fd::OwnedFd;

use rustix::pipe::PipeFlags;

/// A non-blocking, close-on-exec pipe `(read end, write end, granted bytes)`, with `ask` bytes
/// of capacity asked for. A refused request (`EPERM` above `fs.pipe-max-size`, `EBUSY`) keeps
/// the kernel's size: the granted size is what `F_GETPIPE_SZ` reports, which may be less than
/// asked (a user over `fs.pipe-user-pages-soft` gets a pipe of two pages).
pub(crate) fn sized(ask: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)
        .map_err(|e| super::hint(e.into(), "pipe2(O_NONBLOCK|O_CLOEXEC) for a relay pipe"))?;
    // A refusal is not fatal: the read-back says what we have.
    let _ = rustix::pipe::fcntl_setpipe_size(&w, ask);
    let granted = rustix::pipe::fcntl_getpipe_size(&w)
        .map_err(|e| super::hint(e.into(), "fcntl(F_GETPIPE_SZ) on a relay pipe"))?;
    Ok((r, w, granted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_granted_at_least_a_page_and_reports_it() {
        let (r, w, granted) = sized(256 << 10).unwrap();
        assert!(granted >= rustix::param::page_size(), "{granted}");
        assert_eq!(rustix::pipe::fcntl_getpipe_size(&r).unwrap(), granted);
        let fl = rustix::fs::fcntl_getfl(&w).unwrap();
        assert!(fl.contains(rustix::fs::OFlags::NONBLOCK));
        assert!(
            rustix::io::fcntl_getfd(&r)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC)
        );
    }
}
