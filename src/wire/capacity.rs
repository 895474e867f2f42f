//! One capacity API across kinds: request a size, read back the grant.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;
use rustix::net::sockopt;

/// What Linux uses when `/proc/sys/fs/pipe-max-size` cannot be read.
const DEFAULT_PIPE_MAX_SIZE: usize = 1 << 20;

/// Buffer sizes in bytes as the kernel reports them for one end.
///
/// For pipes these are [fcntl(2)] `F_GETPIPE_SZ` of the outgoing and incoming pipes. For
/// sockets they are [socket(7)] `SO_SNDBUF` and `SO_RCVBUF`, which on Linux are twice what was
/// asked (the kernel counts its bookkeeping), clamped by `net.core.wmem_max`/`rmem_max`. A
/// direction with no descriptor (shut down, or not part of a half) reads as 0.
///
/// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
/// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Capacity {
    /// Buffering for bytes this end writes (`F_GETPIPE_SZ` of the write pipe, or `SO_SNDBUF`).
    pub send: usize,
    /// Buffering for bytes this end reads (`F_GETPIPE_SZ` of the read pipe, or `SO_RCVBUF`).
    pub recv: usize,
}

/// The largest pipe an unprivileged process may ask for: `/proc/sys/fs/pipe-max-size`.
///
/// procwire clamps pipe capacity requests to it, even for privileged callers, so that a request
/// above it is a smaller grant rather than an error. See [pipe(7)].
///
/// [pipe(7)]: https://man7.org/linux/man-pages/man7/pipe.7.html
pub fn pipe_max_size() -> io::Result<usize> {
    let text = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/sys/fs/pipe-max-size holds {text:?}, not a size: {e}"),
        )
    })
}

pub(crate) fn read_back(
    socket: bool,
    read: Option<BorrowedFd<'_>>,
    write: Option<BorrowedFd<'_>>,
) -> io::Result<Capacity> {
    let size = |fd: Option<BorrowedFd<'_>>,
                sock: fn(BorrowedFd<'_>) -> rustix::io::Result<usize>| {
        fd.map_or(Ok(0), |fd| {
            if socket {
                sock(fd)
            } else {
                rustix::pipe::fcntl_getpipe_size(fd)
            }
        })
    };
    Ok(Capacity {
        send: size(write, |fd| sockopt::socket_send_buffer_size(fd))?,
        recv: size(read, |fd| sockopt::socket_recv_buffer_size(fd))?,
    })
}

pub(crate) fn request(
    socket: bool,
    read: Option<BorrowedFd<'_>>,
    write: Option<BorrowedFd<'_>>,
    bytes: usize,
) -> io::Result<()> {
    if socket {
        // setsockopt takes an int; the kernel clamps to wmem_max/rmem_max anyway.
        let bytes = bytes.min(i32::MAX as usize / 2);
        if let Some(fd) = write {
            sockopt::set_socket_send_buffer_size(fd, bytes)?;
        }
        if let Some(fd) = read {
            sockopt::set_socket_recv_buffer_size(fd, bytes)?;
        }
        return Ok(());
    }
    let bytes = bytes.min(pipe_max_size().unwrap_or(DEFAULT_PIPE_MAX_SIZE));
    for fd in [write, read].into_iter().flatten() {
        match rustix::pipe::fcntl_setpipe_size(fd, bytes) {
            // EPERM: over the user's pipe-user-pages budget; EBUSY: more bytes buffered than the
            // new size; ENOMEM: no memory for the ring. The pipe keeps its size: not fatal.
            Ok(_) | Err(Errno::PERM | Errno::BUSY | Errno::NOMEM) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
