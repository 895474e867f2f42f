//! Bulk transfer: 64 MiB of random bytes both ways at once, in varied chunks, on every kind.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::thread;

use procwire::wire::{Builder, Kind, ReadHalf, WriteHalf};

use crate::support::Stream;

const TOTAL: usize = 64 << 20;

/// Writes `TOTAL` bytes of stream `seed` in random chunk sizes, mixing plain and vectored
/// writes, then drops the half (which half-closes).
fn send(mut w: WriteHalf, seed: u64) {
    let mut stream = Stream::new(seed);
    let mut sizes = fastrand::Rng::with_seed(seed ^ 0x5151);
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0;
    while sent < TOTAL {
        let n = sizes.usize(1..=buf.len()).min(TOTAL - sent);
        stream.fill(&mut buf[..n]);
        let mut off = 0;
        while off < n {
            let rest = &buf[off..n];
            off += if sizes.bool() && rest.len() > 2 {
                // A header and a payload in one call, without a linear copy.
                let cut = sizes.usize(1..rest.len());
                w.write_vectored(&[IoSlice::new(&rest[..cut]), IoSlice::new(&rest[cut..])])
                    .unwrap()
            } else {
                w.write(rest).unwrap()
            };
        }
        sent += n;
    }
}

/// Reads until EOF in random sizes and checks every byte against stream `seed`.
fn receive(mut r: ReadHalf, seed: u64) -> usize {
    let mut stream = Stream::new(seed);
    let mut sizes = fastrand::Rng::with_seed(seed ^ 0xa5a5);
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    loop {
        let want = sizes.usize(1..=buf.len());
        let n = if sizes.bool() && want > 1 {
            let (x, y) = buf[..want].split_at_mut(want / 2);
            r.read_vectored(&mut [IoSliceMut::new(x), IoSliceMut::new(y)])
                .unwrap()
        } else {
            r.read(&mut buf[..want]).unwrap()
        };
        if n == 0 {
            return got;
        }
        if let Err(i) = stream.check(&buf[..n]) {
            panic!("byte {} differs", got + i);
        }
        got += n;
    }
}

fn both_ways(kind: Kind) {
    let pair = Builder::new().kind(kind).build().unwrap();
    assert_eq!(pair.kind(), kind);
    let (a, b) = pair.into_ends();
    let (ar, aw) = a.split().unwrap();
    let (br, bw) = b.split().unwrap();
    let threads = [
        thread::spawn(move || {
            send(aw, 1);
            0
        }),
        thread::spawn(move || {
            send(bw, 2);
            0
        }),
        thread::spawn(move || receive(br, 1)),
        thread::spawn(move || receive(ar, 2)),
    ];
    let counts: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        counts,
        [0, 0, TOTAL, TOTAL],
        "{kind}: bytes received before EOF"
    );
}

#[test]
fn socketpair_moves_64_mib_both_ways_intact() {
    both_ways(Kind::SocketPair);
}

#[test]
fn pipes_move_64_mib_both_ways_intact() {
    both_ways(Kind::Pipes);
}

#[test]
fn loopback_moves_64_mib_both_ways_intact() {
    both_ways(Kind::Loopback);
}

#[test]
fn one_way_pipe_moves_64_mib_intact() {
    let (r, w) = procwire::wire::pipe().unwrap();
    let t = thread::spawn(move || send(w, 3));
    assert_eq!(receive(r, 3), TOTAL);
    t.join().unwrap();
}

#[test]
fn unsplit_ends_work_through_shared_references() {
    for kind in Kind::ALL {
        let (a, b) = Builder::new().kind(kind).build().unwrap().into_ends();
        // `&End` implements Read and Write, so one end can serve two threads.
        let t = thread::spawn(move || {
            let mut w = &a;
            w.write_all(b"hello").unwrap();
            let mut r = &a;
            let mut got = [0u8; 5];
            r.read_exact(&mut got).unwrap();
            got
        });
        let mut got = [0u8; 5];
        (&b).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        (&b).write_all(b"world").unwrap();
        assert_eq!(&t.join().unwrap(), b"world", "{kind}");
    }
}
