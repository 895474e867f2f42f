//! Descriptor-passing rows: round trips of one descriptor between this process and a
//! `procwire bench-peer --role fd-echo` child (two processes, pinned like the wire rows), over
//! one `AF_UNIX` `SOCK_SEQPACKET` socketpair made by `pass::Channel::pair`.
//!
//! A round trip: we send a 1-byte message carrying one descriptor, the peer receives it (a new
//! descriptor in its table), sends that one back the same way and closes it, and we receive
//! it and close it. Blocks of [`ROUND_TRIPS_PER_BLOCK`] alternate `pass::Channel::send`/`recv`
//! on both sides with a raw loop of one `sendmsg(2)` and one `recvmsg(2)` (`SCM_RIGHTS`,
//! `MSG_CMSG_CLOEXEC`, a control buffer for exactly one descriptor) on the same socket, in the
//! ABBA BAAB order of every other row.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use procwire::pass::Channel;
use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

use super::wire::finish;
use crate::bench::plan::Mode;
use crate::bench::protocol::READY;
use crate::bench::schedule::{ROUND_TRIPS_PER_BLOCK, block_mode, ping_pong};
use crate::bench::stats::percentile;

/// One fd-passing run: round trips per second of each loop, and the block pairs' ratios.
#[derive(Clone, Debug, PartialEq)]
pub struct FdPassRun {
    pub channel_per_s: f64,
    pub raw_per_s: f64,
    /// Channel's rate over the raw loop's in each adjacent pair of blocks (see
    /// `schedule::Blocks::pairs`).
    pub pairs: Vec<f64>,
}

/// The raw loop's send: one `sendmsg(2)` of one byte with `fd` attached.
fn raw_send(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    control.push(SendAncillaryMessage::ScmRights(&fds));
    loop {
        match sendmsg(
            socket,
            &[IoSlice::new(&[1])],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
            Ok(_) => return Ok(()),
        }
    }
}

/// The raw loop's receive: one `recvmsg(2)`; `None` at end of file.
fn raw_recv(socket: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8];
    let msg = loop {
        match recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
            Ok(m) => break m,
        }
    };
    let mut got = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = m {
            got = got.or(fds.next());
        }
    }
    match (msg.bytes, got) {
        (0, None) => Ok(None),
        (_, Some(fd)) => Ok(Some(fd)),
        (_, None) => Err(io::Error::other(
            "a fd-passing message arrived without its descriptor",
        )),
    }
}

fn one_fd(fds: Vec<OwnedFd>) -> io::Result<OwnedFd> {
    let n = fds.len();
    fds.into_iter()
        .next()
        .filter(|_| n == 1)
        .ok_or_else(|| io::Error::other(format!("a fd-passing message carried {n} descriptors")))
}

/// The peer's side (role `fd-echo`): announce itself, then send every descriptor received
/// back and close it, with the loop of each block, until end of file.
pub fn echo(fd: OwnedFd) -> io::Result<()> {
    let ch = Channel::from_fd(fd)?;
    ch.send(&[READY], &[])?;
    for count in 0u64.. {
        let got = match block_mode(count / ROUND_TRIPS_PER_BLOCK) {
            Mode::Procwire => match ch.recv()? {
                None => None,
                Some(msg) => Some(one_fd(msg.fds)?),
            },
            Mode::Raw => raw_recv(ch.as_fd())?,
        };
        let Some(fd) = got else { return Ok(()) };
        match block_mode(count / ROUND_TRIPS_PER_BLOCK) {
            Mode::Procwire => ch.send(&[1], &[fd.as_fd()])?,
            Mode::Raw => raw_send(ch.as_fd(), fd.as_fd())?,
        }
    }
    Ok(())
}

/// Round trips to an fd-echo child pinned to `r_cpu` for about `time`, this thread already
/// pinned.
pub fn run(exe: &Path, r_cpu: usize, time: Duration) -> io::Result<FdPassRun> {
    let (ours, theirs) = Channel::pair()?;
    let child = Command::new(exe)
        .arg("bench-peer")
        .args(["--role", "fd-echo", "--kind", "socketpair"])
        .args(["--cpu", &r_cpu.to_string()])
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("could not start the fd-echo peer: {e}")))?;
    let result = (|| {
        let ready = ours.recv()?;
        if ready.is_none_or(|m| m.data != [READY]) {
            return Err(io::Error::other(
                "the fd-echo peer did not say it was ready",
            ));
        }
        let passed = File::open("/dev/null")?;
        let gone = || io::Error::from(io::ErrorKind::UnexpectedEof);
        let rtts = ping_pong(time, |mode| {
            let back = match mode {
                Mode::Procwire => {
                    ours.send(&[1], &[passed.as_fd()])?;
                    one_fd(ours.recv()?.ok_or_else(gone)?.fds)?
                }
                Mode::Raw => {
                    raw_send(ours.as_fd(), passed.as_fd())?;
                    raw_recv(ours.as_fd())?.ok_or_else(gone)?
                }
            };
            drop(back);
            Ok(())
        })?;
        drop(ours);
        Ok(FdPassRun {
            channel_per_s: per_s(&rtts.procwire_us),
            raw_per_s: per_s(&rtts.raw_us),
            pairs: block_pairs(&rtts.procwire_us, &rtts.raw_us),
        })
    })();
    finish(child, result)
}

/// Round trips per second at the median round trip of µs timings (a mean would let a few
/// round trips stalled by the host, which a 2-vCPU VM has plenty of, decide the figure).
fn per_s(us: &[f64]) -> f64 {
    1e6 / percentile(us, 50.0)
}

/// The pairs' ratios, each of the two blocks' median round trips (so one round trip stalled
/// by the host does not decide a pair): in ABBA BAAB order the `k`th block of one loop and
/// the `k`th of the other always share a pair, so block `k` of each list is paired.
fn block_pairs(ours: &[f64], raw: &[f64]) -> Vec<f64> {
    let n = ROUND_TRIPS_PER_BLOCK as usize;
    ours.chunks_exact(n)
        .zip(raw.chunks_exact(n))
        .map(|(o, r)| percentile(r, 50.0) / percentile(o, 50.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kth_blocks_of_each_loop_share_a_pair() {
        // Over the first 64 blocks: the kth procwire block and the kth raw block are 2j, 2j+1.
        let (mut p, mut r) = (Vec::new(), Vec::new());
        for i in 0..64u64 {
            match block_mode(i) {
                Mode::Procwire => p.push(i / 2),
                Mode::Raw => r.push(i / 2),
            }
        }
        assert_eq!(p, r);
        let n = ROUND_TRIPS_PER_BLOCK as usize;
        let mut ours = [[2.0; 1].repeat(n), [4.0; 1].repeat(n)].concat();
        let raw = [[1.0; 1].repeat(n), [4.0; 1].repeat(n)].concat();
        ours[n + 1] = 400.0; // one stalled round trip
        assert_eq!(block_pairs(&ours, &raw), [0.5, 1.0]);
        assert!((per_s(&[2.0, 2.0, 90.0]) - 500_000.0).abs() < 1e-6);
    }

    #[test]
    fn both_loops_pass_a_descriptor_each_way() {
        let (a, b) = Channel::pair().unwrap();
        let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
        raw_send(a.as_fd(), x.as_fd()).unwrap();
        let got = b.recv().unwrap().unwrap();
        assert_eq!(got.fds.len(), 1);
        b.send(&[1], &[got.fds[0].as_fd()]).unwrap();
        assert!(raw_recv(a.as_fd()).unwrap().is_some());
        drop(b);
        assert!(raw_recv(a.as_fd()).unwrap().is_none());
    }
}
