//! Property test: random interleavings of partial non-blocking writes and reads lose and
//! reorder nothing, on every kind.

use std::io::{ErrorKind, IoSlice, Read, Write};

use procwire::wire::{Builder, End, Kind};
use proptest::prelude::*;

use crate::support::Stream;

#[derive(Clone, Debug)]
enum Op {
    Write {
        from_a: bool,
        len: usize,
        vectored: bool,
    },
    Read {
        at_a: bool,
        len: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 1..300_000usize, any::<bool>())
            .prop_map(|(from_a, len, vectored)| Op::Write { from_a, len, vectored }),
        4 => (any::<bool>(), 1..300_000usize).prop_map(|(at_a, len)| Op::Read { at_a, len }),
    ]
}

/// One direction: the bytes generated but not yet accepted by the kernel, and the checker.
struct Direction {
    source: Stream,
    pending: Vec<u8>,
    sent: usize,
    check: Stream,
    received: usize,
}

impl Direction {
    fn new(seed: u64) -> Direction {
        Direction {
            source: Stream::new(seed),
            pending: Vec::new(),
            sent: 0,
            check: Stream::new(seed),
            received: 0,
        }
    }

    fn write(&mut self, to: &End, len: usize, vectored: bool) -> Result<(), TestCaseError> {
        if self.pending.len() < len {
            let at = self.pending.len();
            self.pending.resize(len, 0);
            self.source.fill(&mut self.pending[at..]);
        }
        let buf = &self.pending[..len];
        let res = if vectored && len > 1 {
            let (x, y) = buf.split_at(len / 3 + 1);
            (&*to).write_vectored(&[IoSlice::new(x), IoSlice::new(y)])
        } else {
            (&*to).write(buf)
        };
        match res {
            Ok(n) => {
                prop_assert!(n > 0 && n <= len);
                self.pending.drain(..n);
                self.sent += n;
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::WouldBlock),
        }
        Ok(())
    }

    fn read(&mut self, from: &End, len: usize, exact_readiness: bool) -> Result<(), TestCaseError> {
        let mut buf = vec![0u8; len];
        match (&*from).read(&mut buf) {
            Ok(n) => {
                prop_assert!(n > 0, "EOF while the writer is open");
                prop_assert!(self.received + n <= self.sent, "more bytes than were sent");
                prop_assert_eq!(self.check.check(&buf[..n]), Ok(()), "bytes differ");
                self.received += n;
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), ErrorKind::WouldBlock);
                // Pipes and Unix sockets make written bytes readable at once; TCP may lag.
                if exact_readiness {
                    prop_assert_eq!(self.received, self.sent, "WouldBlock with bytes buffered");
                }
            }
        }
        Ok(())
    }
}

fn run(kind: Kind, ops: &[Op]) -> Result<(), TestCaseError> {
    let (a, b) = Builder::new()
        .kind(kind)
        .nonblocking(true, true)
        .build()
        .unwrap()
        .into_ends();
    let exact = kind != Kind::Loopback;
    let (mut ab, mut ba) = (Direction::new(1), Direction::new(2));
    for op in ops {
        match *op {
            Op::Write {
                from_a: true,
                len,
                vectored,
            } => ab.write(&a, len, vectored)?,
            Op::Write {
                from_a: false,
                len,
                vectored,
            } => ba.write(&b, len, vectored)?,
            Op::Read { at_a: false, len } => ab.read(&b, len, exact)?,
            Op::Read { at_a: true, len } => ba.read(&a, len, exact)?,
        }
    }
    // Each direction is finished on its own pair of descriptors.
    let (a_r, a_w) = a.split().unwrap();
    let (b_r, b_w) = b.split().unwrap();
    finish_halves(ab, a_w, b_r)?;
    finish_halves(ba, b_w, a_r)
}

fn finish_halves(
    d: Direction,
    to: procwire::wire::WriteHalf,
    from: procwire::wire::ReadHalf,
) -> Result<(), TestCaseError> {
    // Sends what is pending, half-closes, and reads the rest to EOF, all blocking.
    let Direction {
        pending,
        sent,
        mut check,
        received,
        ..
    } = d;
    to.set_nonblocking(false).unwrap();
    from.set_nonblocking(false).unwrap();
    let writer = std::thread::spawn(move || {
        let mut to = to;
        to.write_all(&pending).unwrap();
        drop(to); // half-closes on every kind
        pending.len()
    });
    let mut rest = Vec::new();
    let mut from = from;
    from.read_to_end(&mut rest).unwrap();
    let flushed = writer.join().unwrap();
    prop_assert_eq!(rest.len(), sent + flushed - received, "bytes lost");
    prop_assert_eq!(check.check(&rest), Ok(()), "tail differs");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn socketpair_interleavings_lose_nothing(ops in prop::collection::vec(op(), 1..80)) {
        run(Kind::SocketPair, &ops)?;
    }

    #[test]
    fn pipes_interleavings_lose_nothing(ops in prop::collection::vec(op(), 1..80)) {
        run(Kind::Pipes, &ops)?;
    }

    #[test]
    fn loopback_interleavings_lose_nothing(ops in prop::collection::vec(op(), 1..80)) {
        run(Kind::Loopback, &ops)?;
    }
}
