//! Differential property test: random operation sequences (writes of random sizes, plain and
//! vectored, reads, non-blocking toggles, shutdowns, drops, readiness queries) run on a
//! `MemStream` pair and on a kernel socketpair (`UnixStream::pair`) side by side.
//!
//! Each direction carries the same reproducible byte stream on both, and every byte either
//! side reads is checked against it. While both sides have sent and received the same amounts
//! ("in step"), results must be identical: counts, error kinds, readiness. Only where the
//! kernel's accounting legitimately differs (a write that may not fit: the kernel charges
//! `sk_buff` overheads, the model payload bytes) may the accepted counts differ; such a
//! direction is brought back in step as soon as both sides have drained it, by letting the side
//! that is behind send the missing bytes. An end set to blocking is used as blocking only where
//! the call cannot hang on either side; otherwise that one call runs non-blocking.

use std::io::{ErrorKind, IoSlice};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use procwire::model::MemStream;
use proptest::prelude::*;

use crate::streams::Stream as _;
use crate::support::Stream;

#[derive(Clone, Debug)]
enum Op {
    Write {
        end: usize,
        len: usize,
        vectored: bool,
    },
    Read {
        end: usize,
        len: usize,
    },
    Nonblocking {
        end: usize,
        on: bool,
    },
    Shutdown {
        end: usize,
        how: u8,
    },
    Drop {
        end: usize,
    },
    Ready {
        end: usize,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0..64usize,
        3 => 0..16_384usize,
        1 => 0..300_000usize,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let end = 0..2usize;
    prop_oneof![
        6 => (end.clone(), size(), any::<bool>())
            .prop_map(|(end, len, vectored)| Op::Write { end, len, vectored }),
        6 => (end.clone(), size()).prop_map(|(end, len)| Op::Read { end, len }),
        2 => (end.clone(), any::<bool>()).prop_map(|(end, on)| Op::Nonblocking { end, on }),
        1 => (end.clone(), 0..3u8).prop_map(|(end, how)| Op::Shutdown { end, how }),
        1 => end.clone().prop_map(|end| Op::Drop { end }),
        1 => end.prop_map(|end| Op::Ready { end }),
    ]
}

/// One implementation's view of one direction: the source of the bytes, and the checker.
struct Flow {
    source: Stream,
    pending: Vec<u8>,
    sent: usize,
    check: Stream,
    received: usize,
    /// Write calls since the direction was last empty (bounds the kernel's overhead).
    writes: usize,
}

impl Flow {
    fn new(seed: u64) -> Flow {
        Flow {
            source: Stream::new(seed),
            pending: Vec::new(),
            sent: 0,
            check: Stream::new(seed),
            received: 0,
            writes: 0,
        }
    }

    fn queued(&self) -> usize {
        self.sent - self.received
    }

    fn next(&mut self, len: usize) -> &[u8] {
        if self.pending.len() < len {
            let at = self.pending.len();
            self.pending.resize(len, 0);
            self.source.fill(&mut self.pending[at..]);
        }
        &self.pending[..len]
    }

    fn accepted(&mut self, n: usize) {
        self.pending.drain(..n);
        self.sent += n;
        self.writes += 1;
    }

    fn got(&mut self, bytes: &[u8]) -> Result<(), TestCaseError> {
        prop_assert!(
            self.check.check(bytes).is_ok(),
            "wrong bytes at offset {}",
            self.received
        );
        self.received += bytes.len();
        if self.queued() == 0 {
            self.writes = 0;
        }
        Ok(())
    }
}

type Outcome = Result<usize, ErrorKind>;

/// Both implementations: `m` the model, `k` the kernel; index = end.
struct Twin {
    m: [Option<MemStream>; 2],
    k: [Option<UnixStream>; 2],
    /// `flows[d][0]` model, `flows[d][1]` kernel; direction `d` is written by end `d`.
    flows: [[Flow; 2]; 2],
    blocking: [bool; 2],
    /// Once a drop happened while the two sides disagreed on whether the dropped end had
    /// unread bytes, a `ConnectionReset` may be due on one side only.
    uncertain: bool,
}

/// The kernel's per-direction budget, and a safe share of it for "surely fits" writes.
const SAFE_BUDGET: usize = 150_000;

impl Twin {
    fn new(seed: u64) -> Twin {
        let (ma, mb) = MemStream::pair().unwrap();
        let (ka, kb) = UnixStream::pair().unwrap();
        for s in [&ma, &mb] {
            s.set_nonblocking(true).unwrap();
        }
        for s in [&ka, &kb] {
            s.set_nonblocking(true).unwrap();
        }
        let flows = |d: u64| [Flow::new(seed ^ d), Flow::new(seed ^ d)];
        Twin {
            m: [Some(ma), Some(mb)],
            k: [Some(ka), Some(kb)],
            flows: [flows(1), flows(2)],
            blocking: [false, false],
            uncertain: false,
        }
    }

    fn in_step(&self, d: usize) -> bool {
        let [m, k] = &self.flows[d];
        m.sent == k.sent && m.received == k.received && !self.uncertain
    }

    fn set_nb(&self, end: usize, on: bool) {
        if let (Some(m), Some(k)) = (&self.m[end], &self.k[end]) {
            m.set_nonblocking(on).unwrap();
            k.set_nonblocking(on).unwrap();
        }
    }

    /// Runs `f` with `end` non-blocking on both sides if `must` and the end is blocking.
    fn forced_nb<T>(&mut self, end: usize, must: bool, f: impl FnOnce(&mut Twin) -> T) -> T {
        let force = must && self.blocking[end];
        if force {
            self.set_nb(end, true);
        }
        let out = f(self);
        if force {
            self.set_nb(end, false);
        }
        out
    }

    fn write(&mut self, end: usize, len: usize, vectored: bool) -> Result<(), TestCaseError> {
        if self.m[end].is_none() {
            return Ok(());
        }
        let [fm, fk] = &self.flows[end];
        let empty = fm.queued() == 0 && fk.queued() == 0;
        let fits = len == 0
            || 2 * (fk.queued() + len) + 1024 * (fk.writes + 1) <= SAFE_BUDGET
                && fm.queued() + len <= self.m[end].as_ref().unwrap().capacity();
        let strict = self.in_step(end) && fits;
        let may_hang = !(empty && len <= 64 * 1024);
        let (rm, rk) = self.forced_nb(end, may_hang, |t| {
            (
                t.write_one(end, 0, len, vectored),
                t.write_one(end, 1, len, vectored),
            )
        });
        if strict {
            prop_assert_eq!(rm, rk, "write of {} by end {}", len, end);
        } else {
            match (rm, rk) {
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (Err(e), Ok(_)) | (Ok(_), Err(e)) => prop_assert_eq!(e, ErrorKind::WouldBlock),
                (Ok(_), Ok(_)) => {}
            }
        }
        for n in [rm, rk].into_iter().flatten() {
            prop_assert!(n <= len && (n > 0 || len == 0));
        }
        Ok(())
    }

    fn write_one(&mut self, end: usize, side: usize, len: usize, vectored: bool) -> Outcome {
        let flow = &mut self.flows[end][side];
        let buf = flow.next(len).to_vec();
        let r = if vectored && len > 1 {
            let (x, y) = buf.split_at(len / 3 + 1);
            let bufs = [IoSlice::new(x), IoSlice::new(y)];
            match side {
                0 => self.m[end].as_ref().unwrap().write_vectored(&bufs),
                _ => self.k[end].as_ref().unwrap().write_vectored(&bufs),
            }
        } else {
            match side {
                0 => self.m[end].as_ref().unwrap().write(&buf),
                _ => self.k[end].as_ref().unwrap().write(&buf),
            }
        };
        let r = r.map_err(|e| e.kind());
        if let Ok(n) = r {
            self.flows[end][side].accepted(n);
        }
        r
    }

    fn read(&mut self, end: usize, len: usize) -> Result<(), TestCaseError> {
        let (Some(m), Some(k)) = (&self.m[end], &self.k[end]) else {
            return Ok(());
        };
        let ready = m.readiness().readable && crate::streams::Stream::readiness(k).readable;
        let d = 1 - end;
        let strict = self.in_step(d);
        let (rm, rk) = self.forced_nb(end, !ready, |t| {
            (t.read_one(end, 0, len), t.read_one(end, 1, len))
        });
        let (rm, rk) = (rm?, rk?);
        if strict {
            prop_assert_eq!(rm, rk, "read of {} by end {}", len, end);
        }
        Ok(())
    }

    fn read_one(&mut self, end: usize, side: usize, len: usize) -> Result<Outcome, TestCaseError> {
        let mut buf = vec![0u8; len];
        let r = match side {
            0 => self.m[end].as_ref().unwrap().read(&mut buf),
            _ => self.k[end].as_ref().unwrap().read(&mut buf),
        };
        let r = r.map_err(|e| e.kind());
        if let Ok(n) = r {
            self.flows[1 - end][side].got(&buf[..n])?;
        }
        Ok(r)
    }

    fn shutdown(&mut self, end: usize, how: Shutdown) {
        if let (Some(m), Some(k)) = (&self.m[end], &self.k[end]) {
            m.shutdown(how).unwrap();
            k.shutdown(how).unwrap();
        }
    }

    fn drop_end(&mut self, end: usize) {
        if self.m[end].is_none() {
            return;
        }
        // The dropped end's unread bytes (direction 1 - end) are discarded on both sides.
        let [fm, fk] = &mut self.flows[1 - end];
        if (fm.queued() == 0) != (fk.queued() == 0) {
            self.uncertain = true;
        }
        for f in [fm, fk] {
            f.check.check(&vec![0; f.queued()]).ok(); // skip the discarded bytes
            f.received = f.sent;
            f.writes = 0;
        }
        self.m[end] = None;
        self.k[end] = None;
    }

    fn ready(&self, end: usize) -> Result<(), TestCaseError> {
        let (Some(m), Some(k)) = (&self.m[end], &self.k[end]) else {
            return Ok(());
        };
        if !(self.in_step(0) && self.in_step(1)) {
            return Ok(());
        }
        let (rm, rk) = (m.readiness(), crate::streams::Stream::readiness(k));
        prop_assert_eq!(rm.readable, rk.readable, "readable: {:?} vs {:?}", rm, rk);
        prop_assert_eq!(rm.read_closed, rk.read_closed, "{:?} vs {:?}", rm, rk);
        prop_assert_eq!(rm.error, rk.error, "{:?} vs {:?}", rm, rk);
        if self.flows[end][0].queued() == 0 {
            prop_assert!(rm.writable && rk.writable, "{:?} vs {:?}", rm, rk);
        }
        Ok(())
    }

    /// Brings direction `d` back in step once both sides have drained it: the side that sent
    /// less sends the missing bytes, and its reader reads them.
    fn resync(&mut self, d: usize) -> Result<(), TestCaseError> {
        let [fm, fk] = &self.flows[d];
        if fm.sent == fk.sent || fm.queued() != 0 || fk.queued() != 0 {
            return Ok(());
        }
        if self.m[d].is_none() || self.m[1 - d].is_none() {
            return Ok(());
        }
        let behind = if fm.sent < fk.sent { 0 } else { 1 };
        let (b_end, r_end) = (d, 1 - d);
        self.set_nb(b_end, true);
        self.set_nb(r_end, true);
        for _ in 0..10_000 {
            let missing = self.flows[d][1 - behind].sent - self.flows[d][behind].sent;
            if missing == 0 {
                break;
            }
            match self.write_one(b_end, behind, missing, false) {
                Ok(_) | Err(ErrorKind::WouldBlock) => {}
                Err(_) => break, // closed meanwhile: stays out of step
            }
            while self.flows[d][behind].queued() > 0 {
                match self.read_one(r_end, behind, 1 << 20)? {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        self.set_nb(b_end, !self.blocking[b_end]);
        self.set_nb(r_end, !self.blocking[r_end]);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.resync(0)?;
        self.resync(1)?;
        match *op {
            Op::Write { end, len, vectored } => self.write(end, len, vectored),
            Op::Read { end, len } => self.read(end, len),
            Op::Nonblocking { end, on } => {
                self.set_nb(end, on);
                self.blocking[end] = !on;
                Ok(())
            }
            Op::Shutdown { end, how } => {
                let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][how as usize];
                self.shutdown(end, how);
                Ok(())
            }
            Op::Drop { end } => {
                self.drop_end(end);
                Ok(())
            }
            Op::Ready { end } => self.ready(end),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn model_and_kernel_agree_on_bytes_and_errors(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut twin = Twin::new(seed);
        for op in &ops {
            twin.apply(op)?;
        }
        // Drain what is left: both sides must deliver their streams, in step or not.
        for end in 0..2 {
            twin.blocking[end] = false;
            twin.set_nb(end, true);
        }
        for _ in 0..64 {
            twin.read(0, 1 << 20)?;
            twin.read(1, 1 << 20)?;
        }
    }
}
