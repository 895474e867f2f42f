//! Byte streams through io_uring (feature `uring`, which the `cli` feature pulls in; off for
//! library users): the primitive `procwire bench` measures beside `read(2)`/`write(2)`.
//!
//! A [`Ring`] is one io_uring instance ([io_uring_setup(2)]) with `depth` buffers of `chunk`
//! bytes. [`Ring::write`] and [`Ring::read`] move a number of bytes as batches of up to
//! `depth` entries, each batch submitted and waited for in one [io_uring_enter(2)];
//! [`Ring::round_trip`] and [`Ring::echo`] are the 1-byte exchanges of a latency test. The
//! entries are `IORING_OP_READ`/`IORING_OP_WRITE` ([`Ops::ReadWrite`], any descriptor) or
//! `IORING_OP_RECV`/`IORING_OP_SEND` ([`Ops::RecvSend`], sockets only; sends carry
//! `MSG_NOSIGNAL`).
//!
//! Caveats: the entries of one batch on one descriptor run concurrently, so the bytes of one
//! batch may land out of order. That is fine for the constant fill a benchmark writes and
//! wrong for real data: this is a measuring tool, not a transport. `IORING_OP_SEND_ZC` is not
//! offered: on loopback and Unix sockets the kernel copies the looped packet anyway, so it
//! measures nothing a plain send does not. io_uring may be refused: `ENOSYS` (before Linux
//! 5.1, or compiled out), `EPERM` (`/proc/sys/kernel/io_uring_disabled`, a seccomp filter such
//! as a container runtime's); [`Ring::new`] returns the kernel's error.
//!
//! [io_uring_setup(2)]: https://man7.org/linux/man-pages/man2/io_uring_setup.2.html
//! [io_uring_enter(2)]: https://man7.org/linux/man-pages/man2/io_uring_enter.2.html

use std::io;
use std::os::fd::BorrowedFd;

use crate::sys::ffi::{UringOp, UringOpcode, UringSlots};

/// Which io_uring opcodes move the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ops {
    /// `IORING_OP_READ` and `IORING_OP_WRITE`: pipes and sockets.
    ReadWrite,
    /// `IORING_OP_RECV` and `IORING_OP_SEND` (with `MSG_NOSIGNAL`): sockets only.
    RecvSend,
}

impl Ops {
    /// `read/write` or `recv/send`.
    pub fn name(self) -> &'static str {
        match self {
            Ops::ReadWrite => "read/write",
            Ops::RecvSend => "recv/send",
        }
    }

    fn reading(self) -> UringOpcode {
        match self {
            Ops::ReadWrite => UringOpcode::Read,
            Ops::RecvSend => UringOpcode::Recv,
        }
    }

    fn writing(self) -> UringOpcode {
        match self {
            Ops::ReadWrite => UringOpcode::Write,
            Ops::RecvSend => UringOpcode::Send,
        }
    }
}

/// One io_uring with `depth` buffers of `chunk` bytes (see the [module docs](self)).
pub struct Ring {
    slots: UringSlots,
    depth: usize,
    chunk: usize,
    results: Vec<i32>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("depth", &self.depth)
            .field("chunk", &self.chunk)
            .finish_non_exhaustive()
    }
}

impl Ring {
    /// A ring for batches of up to `depth` entries of up to `chunk` bytes; its buffers are
    /// filled with `0xa5`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a `depth` or `chunk` of 0; otherwise [io_uring_setup(2)]'s refusal,
    /// with a message naming it: `ENOSYS`, `EPERM` (io_uring disabled by sysctl or seccomp),
    /// `ENOMEM` (`RLIMIT_MEMLOCK` on kernels before 5.12).
    ///
    /// [io_uring_setup(2)]: https://man7.org/linux/man-pages/man2/io_uring_setup.2.html
    pub fn new(depth: usize, chunk: usize) -> io::Result<Ring> {
        if depth == 0 || chunk == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an io_uring Ring needs a depth and a chunk of at least 1",
            ));
        }
        let mut slots = UringSlots::new(depth, chunk).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "io_uring_setup refused a ring of {depth} entries: {e} (see \
                     /proc/sys/kernel/io_uring_disabled, a seccomp filter, or the kernel's age)"
                ),
            )
        })?;
        for i in 0..depth {
            slots.slot_mut(i).fill(0xa5);
        }
        Ok(Ring {
            slots,
            depth,
            chunk,
            results: vec![0; depth.max(2)],
        })
    }

    /// Writes `bytes` bytes of the buffers' fill to `fd`, in batches of up to `depth` entries
    /// of up to `chunk` bytes; a short write is made up by the next batch.
    ///
    /// # Errors
    ///
    /// The first entry's error (e.g. `EPIPE`), or `WriteZero` when a batch wrote nothing.
    pub fn write(&mut self, fd: BorrowedFd<'_>, ops: Ops, bytes: u64) -> io::Result<()> {
        self.stream(fd, ops.writing(), bytes, io::ErrorKind::WriteZero)
    }

    /// Reads exactly `bytes` bytes from `fd` into the buffers (their contents are discarded),
    /// in batches as [`write`](Self::write) makes them. Never asks for more than is left, so it
    /// reads nothing past `bytes`.
    ///
    /// # Errors
    ///
    /// The first entry's error, or `UnexpectedEof` when a batch read nothing (end of file).
    pub fn read(&mut self, fd: BorrowedFd<'_>, ops: Ops, bytes: u64) -> io::Result<()> {
        self.stream(fd, ops.reading(), bytes, io::ErrorKind::UnexpectedEof)
    }

    fn stream(
        &mut self,
        fd: BorrowedFd<'_>,
        code: UringOpcode,
        bytes: u64,
        nothing: io::ErrorKind,
    ) -> io::Result<()> {
        let mut left = bytes;
        let mut batch = Vec::with_capacity(self.depth);
        while left > 0 {
            batch.clear();
            let mut asked = 0u64;
            while batch.len() < self.depth && asked < left {
                let len = (left - asked).min(self.chunk as u64) as usize;
                batch.push(UringOp {
                    fd,
                    code,
                    slot: batch.len(),
                    len,
                });
                asked += len as u64;
            }
            self.slots.run(&batch, false, &mut self.results)?;
            let moved = self.moved(batch.len())?;
            if moved == 0 {
                return Err(io::Error::new(
                    nothing,
                    format!(
                        "an io_uring batch of {} entries moved no bytes",
                        batch.len()
                    ),
                ));
            }
            left -= moved;
        }
        Ok(())
    }

    /// The bytes the first `n` results moved, or the first error among them.
    fn moved(&self, n: usize) -> io::Result<u64> {
        let mut total = 0u64;
        for &r in &self.results[..n] {
            if r < 0 {
                return Err(io::Error::from_raw_os_error(-r));
            }
            total += r as u64;
        }
        Ok(total)
    }

    /// One byte written to `w` and one read back from `r`, both entries in one
    /// [io_uring_enter(2)].
    ///
    /// # Errors
    ///
    /// Either entry's error; `UnexpectedEof` when the read found end of file.
    ///
    /// [io_uring_enter(2)]: https://man7.org/linux/man-pages/man2/io_uring_enter.2.html
    pub fn round_trip(&mut self, w: BorrowedFd<'_>, r: BorrowedFd<'_>, ops: Ops) -> io::Result<()> {
        let batch = [
            UringOp {
                fd: w,
                code: ops.writing(),
                slot: 0,
                len: 1,
            },
            UringOp {
                fd: r,
                code: ops.reading(),
                slot: 1.min(self.depth - 1),
                len: 1,
            },
        ];
        self.slots.run(&batch, false, &mut self.results)?;
        match self.moved(2)? {
            2 => Ok(()),
            _ => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// Reads one byte from `r` and writes it back to `w`: two entries linked with
    /// `IOSQE_IO_LINK`, in one [io_uring_enter(2)]. `Ok(false)` at end of file (the kernel
    /// cancels the write then).
    ///
    /// # Errors
    ///
    /// Either entry's error.
    ///
    /// [io_uring_enter(2)]: https://man7.org/linux/man-pages/man2/io_uring_enter.2.html
    pub fn echo(&mut self, r: BorrowedFd<'_>, w: BorrowedFd<'_>, ops: Ops) -> io::Result<bool> {
        let batch = [
            UringOp {
                fd: r,
                code: ops.reading(),
                slot: 0,
                len: 1,
            },
            UringOp {
                fd: w,
                code: ops.writing(),
                slot: 0,
                len: 1,
            },
        ];
        self.slots.run(&batch, true, &mut self.results)?;
        match self.results[0] {
            0 => Ok(false),
            r if r < 0 => Err(io::Error::from_raw_os_error(-r)),
            _ if self.results[1] < 0 => Err(io::Error::from_raw_os_error(-self.results[1])),
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Builder, Kind};

    /// io_uring may be refused where the tests run (a container's seccomp filter): then there
    /// is nothing to test, and the refusal must be one of the documented ones.
    fn ring(depth: usize, chunk: usize) -> Option<Ring> {
        match Ring::new(depth, chunk) {
            Ok(r) => Some(r),
            Err(e) => {
                assert!(
                    matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSYS | libc::EPERM | libc::ENOMEM)
                    ) || e.to_string().contains("io_uring_setup refused"),
                    "{e}"
                );
                None
            }
        }
    }

    #[test]
    fn bytes_cross_every_kind_and_both_opcode_pairs() {
        for (kind, ops) in [
            (Kind::Pipes, Ops::ReadWrite),
            (Kind::SocketPair, Ops::ReadWrite),
            (Kind::SocketPair, Ops::RecvSend),
            (Kind::Loopback, Ops::RecvSend),
        ] {
            let Some(mut w) = ring(4, 4096) else { return };
            let mut r = ring(4, 1000).expect("a second ring where the first was granted");
            let (a, b) = Builder::new().kind(kind).build().unwrap().into_ends();
            let total = 300_001u64;
            let reader = std::thread::spawn(move || {
                r.read(b.read_fd().unwrap(), ops, total)?;
                // Nothing past `total` was read: the echo byte after it is still there.
                assert!(r.echo(b.read_fd().unwrap(), b.write_fd().unwrap(), ops)?);
                io::Result::Ok(b)
            });
            w.write(a.write_fd().unwrap(), ops, total).unwrap();
            w.round_trip(a.write_fd().unwrap(), a.read_fd().unwrap(), ops)
                .unwrap();
            let mut b = reader.join().unwrap().unwrap();
            b.shutdown_write().unwrap();
            let mut a = a;
            a.shutdown_write().unwrap();
            let mut r = ring(2, 1).unwrap();
            // At end of file the linked write is cancelled: its descriptor is never written.
            let eof = b.read_fd().unwrap();
            assert!(!r.echo(eof, eof, ops).unwrap());
            let e = r.read(a.read_fd().unwrap(), ops, 1).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{kind}");
        }
    }

    #[test]
    fn recv_on_a_pipe_is_the_kernel_s_refusal() {
        let Some(mut r) = ring(1, 16) else { return };
        let (a, _b) = Builder::new()
            .kind(Kind::Pipes)
            .build()
            .unwrap()
            .into_ends();
        let e = r.read(a.read_fd().unwrap(), Ops::RecvSend, 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTSOCK), "{e}");
        assert!(Ring::new(0, 1).is_err());
    }
}
