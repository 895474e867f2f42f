//! One capacity API across kinds: request a size, read back the grant, estimate the payload.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::io::Errno;
use rustix::net::sockopt;

use super::Kind;

/// What Linux uses when `/proc/sys/fs/pipe-max-size` cannot be read.
const DEFAULT_PIPE_MAX_SIZE: usize = 1 << 20;

/// Buffer sizes for one end: what was asked, what the kernel reports, and the payload bytes
/// that fit.
///
/// `send` and `recv` are the kernel's own figures. For pipes they are [fcntl(2)]
/// `F_GETPIPE_SZ` of the outgoing and incoming pipes. For sockets they are [socket(7)]
/// `SO_SNDBUF` and `SO_RCVBUF`, which on Linux are twice what was asked ("the kernel doubles
/// the value to allow for bookkeeping overhead"), clamped by `net.core.wmem_max`/`rmem_max`
/// and raised to the kernel's minimum (4608 bytes for `SO_SNDBUF`). A direction with no
/// descriptor (shut down, or not part of a half) reads as 0 in every figure.
///
/// So `send` is not comparable across kinds: a pipe of 64 KiB holds 64 KiB of payload, a
/// socketpair end that reports 416 KiB was asked for 208 KiB and holds 350-416 KiB by write
/// size. [`send_payload`](Self::send_payload) and [`recv_payload`](Self::recv_payload) are the
/// figures to compare; [`asked`](Self::asked) is the request that produced the grant.
///
/// # The payload estimate
///
/// How many payload bytes a writer can queue, with no reader, before a non-blocking write
/// returns `EAGAIN` (a blocking one would block). It is a floor for writes of 4 KiB or more,
/// checked by filling a non-blocking end; smaller writes can queue much less on a socketpair.
///
/// - [`Kind::Pipes`]: the pipe's size, exactly. Small writes are merged into the last page, so
///   this holds for writes of any size.
/// - [`Kind::SocketPair`]: 3/4 of the writer's `SO_SNDBUF`. An `AF_UNIX` stream socket charges
///   each write's whole buffer (the payload, rounded up, plus `sk_buff` bookkeeping) to the
///   *writer's* `SO_SNDBUF`; the reader's `SO_RCVBUF` plays no part.
/// - [`Kind::Loopback`] (TCP): 7/16 of the writer's `SO_SNDBUF` plus 7/16 of the reader's
///   `SO_RCVBUF`, taking the reader's to be this end's own (true for the pairs [`Builder`]
///   makes, which set both ends alike). Bytes wait in the writer's send queue and in the
///   reader's receive queue, each charged with overhead, and TCP moves them asynchronously: a
///   floor, not a figure to rely on to the byte.
///
/// For the incoming direction the same rule is applied to this end's figures, taking the peer's
/// buffers to be like this end's.
///
/// Measured on Linux 6.18 (x86_64, `net.core.wmem_max` 4 MiB) by filling one end of a fresh
/// pair (`cargo nextest run --all-features --test wire -E
/// 'test(/payload_estimate/)' --no-capture`), payload queued as a fraction of the kernel's
/// `send` figure:
///
/// | kind | asked | `send` | estimate | 4 KiB writes | 64 KiB writes |
/// |---|---|---|---|---|---|
/// | socketpair | default | 208 KiB | 0.75 | 0.85 | 1.09 |
/// | socketpair | 16 KiB | 32 KiB | 0.75 | 0.88 | 1.00 |
/// | socketpair | 256 KiB | 512 KiB | 0.75 | 0.84 | 1.00 |
/// | socketpair | 1 MiB | 2 MiB | 0.75 | 0.84 | 0.99 |
/// | pipes | any | its size | 1 | 1 | 1 |
/// | loopback | default | 3.8 MiB | 0.45 | 0.99 | 0.99 |
/// | loopback | 16 KiB | 32 KiB | 0.88 | 2.12 | 2.00 |
/// | loopback | 256 KiB | 512 KiB | 0.88 | 1.09 | 1.25 |
/// | loopback | 1 MiB | 2 MiB | 0.88 | 1.04 | 1.31 |
///
/// Smaller writes on a socketpair: 1-2 KiB writes queued 0.44-0.50 of `SO_SNDBUF` (each
/// write's buffer is rounded up to a power of two), 1-byte writes about 0.001 (each costs
/// about ¾ KiB). TCP coalesces small writes, so its figures hold for them too.
///
/// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
/// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
/// [`Builder`]: super::Builder
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Capacity {
    /// Buffering for bytes this end writes as the kernel reports it (`F_GETPIPE_SZ` of the
    /// write pipe, or `SO_SNDBUF`).
    pub send: usize,
    /// Buffering for bytes this end reads as the kernel reports it (`F_GETPIPE_SZ` of the read
    /// pipe, or `SO_RCVBUF`).
    pub recv: usize,
    /// The bytes per direction last asked for through this handle: [`Builder::capacity`] for
    /// the ends and halves it made, else the last successful `set_capacity` on this end or
    /// half (a split or a clone inherits it). `None` when nothing was asked: the kernel's
    /// default. Pipes are shared with the peer, so a `set_capacity` on the peer's end changes
    /// this end's grant but not its `asked`.
    ///
    /// [`Builder::capacity`]: super::Builder::capacity
    #[cfg_attr(feature = "serde", serde(skip))]
    pub asked: Option<usize>,
    /// About how many payload bytes this end can write before a write would block (see the
    /// estimate above).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub send_payload: usize,
    /// About how many payload bytes the peer can write to this end before its write would
    /// block (see the estimate above).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub recv_payload: usize,
}

impl fmt::Display for Capacity {
    /// `send 416 KiB (payload about 312 KiB), recv 416 KiB (payload about 312 KiB), asked
    /// 208 KiB`; a pipe's `send 64 KiB, recv 64 KiB`. A direction that reads as 0 is left out
    /// (`no buffers` when both are).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, size, payload) in [
            ("send", self.send, self.send_payload),
            ("recv", self.recv, self.recv_payload),
        ] {
            if size == 0 {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name} {}", Size(size))?;
            if payload != size {
                write!(f, " (payload about {})", Size(payload))?;
            }
        }
        if first {
            f.write_str("no buffers")?;
        }
        if let Some(asked) = self.asked {
            write!(f, ", asked {}", Size(asked))?;
        }
        Ok(())
    }
}

/// A byte count that displays in binary units: `512 B`, `64 KiB`, `3.8 MiB`.
///
/// The largest unit that keeps the figure at least 1, with one decimal unless it is whole
/// (rounded to nearest, so 1048575 is `1 MiB`). [`Capacity`]'s `Display` and `procwire probe`
/// format sizes with it.
///
/// ```
/// use procwire::wire::Size;
/// assert_eq!(Size(212_992).to_string(), "208 KiB");
/// assert_eq!(Size(3_939_840).to_string(), "3.8 MiB");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let n = self.0 as u128;
        // The figure in tenths of a unit, rounded to nearest.
        let tenths = |scale: u128| (n * 10 + scale / 2) / scale;
        let (mut unit, mut scale) = (0, 1);
        // Move up while the rounded figure reaches 1024, so 1048575 is "1 MiB", not "1024.0 KiB".
        while unit + 1 < UNITS.len() && tenths(scale) >= 10 * 1024 {
            unit += 1;
            scale *= 1024;
        }
        let t = tenths(scale);
        if t % 10 == 0 {
            write!(f, "{} {}", t / 10, UNITS[unit])
        } else {
            write!(f, "{}.{} {}", t / 10, t % 10, UNITS[unit])
        }
    }
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

/// The last capacity asked for through a handle; 0 (which is refused as a request) means
/// none. Atomic so that ends and halves stay `Sync`.
#[derive(Debug, Default)]
pub(crate) struct Asked(AtomicUsize);

impl Asked {
    pub(crate) fn new(bytes: Option<usize>) -> Asked {
        Asked(AtomicUsize::new(bytes.unwrap_or(0)))
    }

    pub(crate) fn get(&self) -> Option<usize> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }

    pub(crate) fn set(&self, bytes: usize) {
        self.0.store(bytes, Ordering::Relaxed);
    }
}

/// The payload estimate of one direction whose own buffer reports `own` and whose opposite
/// buffer on the same end reports `other` (see [`Capacity`]).
fn payload(kind: Kind, own: usize, other: usize) -> usize {
    let scaled = |n: usize, num: u128, den: u128| (n as u128 * num / den) as usize;
    match kind {
        _ if own == 0 => 0,
        Kind::Pipes => own,
        Kind::SocketPair => scaled(own, 3, 4),
        Kind::Loopback => scaled(own, 7, 16) + scaled(other, 7, 16),
    }
}

/// Reads the kernel's figures for an end or half of `kind` whose directions have the given
/// descriptors, and estimates the payload; `asked` is recorded as given.
pub(crate) fn read_back(
    kind: Kind,
    read: Option<BorrowedFd<'_>>,
    write: Option<BorrowedFd<'_>>,
    asked: Option<usize>,
) -> io::Result<Capacity> {
    let (send, recv) = if kind.is_socket() {
        let snd = write.map_or(Ok(0), sockopt::socket_send_buffer_size)?;
        let rcv = read.map_or(Ok(0), sockopt::socket_recv_buffer_size)?;
        (snd, rcv)
    } else {
        let size = |fd: Option<BorrowedFd<'_>>| fd.map_or(Ok(0), rustix::pipe::fcntl_getpipe_size);
        (size(write)?, size(read)?)
    };
    // A TCP estimate needs both buffers of the socket, also for a half that reports one.
    let (snd_all, rcv_all) = match (kind, read.or(write)) {
        (Kind::Loopback, Some(fd)) => (
            sockopt::socket_send_buffer_size(fd)?,
            sockopt::socket_recv_buffer_size(fd)?,
        ),
        _ => (send, recv),
    };
    Ok(Capacity {
        send,
        recv,
        asked,
        send_payload: if send == 0 {
            0
        } else {
            payload(kind, snd_all, rcv_all)
        },
        recv_payload: if recv == 0 {
            0
        } else {
            payload(kind, rcv_all, snd_all)
        },
    })
}

/// Refuses a request of 0 bytes, which no kind can honour as meant.
pub(crate) fn check(bytes: usize) -> io::Result<()> {
    if bytes > 0 {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "a wire capacity of 0 bytes was asked: the kernel would shrink socket buffers to their \
         4.5 KiB minimum and pipes to one page rather than restore a default; to keep the \
         kernel's default, do not set a capacity (Builder::capacity, End::set_capacity), else \
         ask for the bytes per direction you need",
    ))
}

/// Asks for `bytes` of buffering on the given descriptors (see [`End::set_capacity`]), notes
/// the request in `asked` once the kernel took it, and reads the grant back.
///
/// [`End::set_capacity`]: super::End::set_capacity
pub(crate) fn request(
    kind: Kind,
    read: Option<BorrowedFd<'_>>,
    write: Option<BorrowedFd<'_>>,
    bytes: usize,
    asked: &Asked,
) -> io::Result<Capacity> {
    check(bytes)?;
    if kind.is_socket() {
        // setsockopt takes an int; the kernel clamps to wmem_max/rmem_max anyway.
        let ask = bytes.min(i32::MAX as usize / 2);
        if let Some(fd) = write {
            sockopt::set_socket_send_buffer_size(fd, ask)?;
        }
        if let Some(fd) = read {
            sockopt::set_socket_recv_buffer_size(fd, ask)?;
        }
    } else {
        let ask = bytes.min(pipe_max_size().unwrap_or(DEFAULT_PIPE_MAX_SIZE));
        for fd in [write, read].into_iter().flatten() {
            match rustix::pipe::fcntl_setpipe_size(fd, ask) {
                // EPERM: over the user's pipe-user-pages budget; EBUSY: more bytes buffered
                // than the new size; ENOMEM: no memory for the ring. The pipe keeps its size:
                // not fatal.
                Ok(_) | Err(Errno::PERM | Errno::BUSY | Errno::NOMEM) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    asked.set(bytes);
    read_back(kind, read, write, Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        let s = |n| Size(n).to_string();
        assert_eq!(s(0), "0 B");
        assert_eq!(s(1023), "1023 B");
        assert_eq!(s(212_992), "208 KiB");
        assert_eq!(s(3_939_840), "3.8 MiB");
        assert_eq!(s(1_048_575), "1 MiB");
        assert_eq!(s(usize::MAX), "16384 PiB");
    }

    #[test]
    fn payload_estimates_follow_the_kind() {
        assert_eq!(payload(Kind::Pipes, 65536, 0), 65536);
        assert_eq!(payload(Kind::SocketPair, 212_992, 212_992), 159_744);
        assert_eq!(payload(Kind::Loopback, 8192, 16384), 10752);
        for kind in Kind::ALL {
            assert_eq!(payload(kind, 0, 4096), 0, "{kind}");
        }
        // No overflow at the top of the range.
        assert_eq!(
            payload(Kind::SocketPair, usize::MAX, 0),
            usize::MAX / 4 * 3 + 2
        );
    }

    #[test]
    fn display_shows_each_direction_the_payload_where_it_differs_and_the_request() {
        let socket = Capacity {
            send: 425_984,
            recv: 425_984,
            asked: Some(212_992),
            send_payload: 319_488,
            recv_payload: 319_488,
        };
        assert_eq!(
            socket.to_string(),
            "send 416 KiB (payload about 312 KiB), recv 416 KiB (payload about 312 KiB), \
             asked 208 KiB"
        );
        let pipe = Capacity {
            send: 65536,
            recv: 65536,
            asked: None,
            send_payload: 65536,
            recv_payload: 65536,
        };
        assert_eq!(pipe.to_string(), "send 64 KiB, recv 64 KiB");
        let half = Capacity {
            recv: 1 << 20,
            recv_payload: 1 << 20,
            asked: Some(1_000_000),
            ..Capacity::default()
        };
        assert_eq!(half.to_string(), "recv 1 MiB, asked 976.6 KiB");
        assert_eq!(Capacity::default().to_string(), "no buffers");
    }

    #[test]
    fn asked_reads_none_until_set() {
        let a = Asked::default();
        assert_eq!(a.get(), None);
        a.set(4096);
        assert_eq!(a.get(), Some(4096));
        assert_eq!(Asked::new(Some(7)).get(), Some(7));
        assert_eq!(Asked::new(None).get(), None);
    }

    #[test]
    fn zero_is_refused_with_what_to_do() {
        let e = check(0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("do not set a capacity"), "{e}");
        check(1).unwrap();
    }
}
