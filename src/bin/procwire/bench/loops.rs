//! The raw loops: bare `read(2)`/`write(2)` on a descriptor, the ceiling procwire's own
//! `Read`/`Write` are compared with, and the block writer that picks one loop or the other.

use std::io::{self, Write};
use std::os::fd::BorrowedFd;

use procwire::wire::End;

use super::plan::Mode;

/// `write(2)` until all of `buf` is written, retrying `EINTR`.
#[inline]
pub fn raw_write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `read(2)` until `buf` is full, retrying `EINTR`; EOF first is `UnexpectedEof`.
#[inline]
pub fn raw_read_exact(fd: BorrowedFd<'_>, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes `total` bytes (a multiple of `buf.len()`) with the loop of `mode`.
pub fn write_block(end: &End, mode: Mode, buf: &[u8], total: u64) -> io::Result<()> {
    let chunks = total / buf.len() as u64;
    match mode {
        Mode::Procwire => {
            let mut w = end;
            for _ in 0..chunks {
                w.write_all(buf)?;
            }
        }
        Mode::Raw => {
            let fd = end.write_fd().expect("the write side is open");
            for _ in 0..chunks {
                raw_write_all(fd, buf)?;
            }
        }
    }
    Ok(())
}
