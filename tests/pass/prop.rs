//! Property test: random sequences of messages with random descriptor counts and data sizes
//! arrive in order with the right descriptors, through a `Channel` of each kind and through
//! `send_fds`/`recv_fds` on a stream socket. Each descriptor is the read end of a pipe holding
//! one known byte, so the receiver can tell which one it got.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procwire::pass::{self, Channel, Kind};
use proptest::prelude::*;

use crate::{read_n, write_to};

/// One message: its data and, for each descriptor, the byte its pipe holds.
#[derive(Clone, Debug)]
struct Msg {
    data: Vec<u8>,
    tags: Vec<u8>,
}

fn msgs(min_fds: usize, max_data: usize) -> impl Strategy<Value = Vec<Msg>> {
    let msg = (
        prop::collection::vec(any::<u8>(), 1..max_data),
        prop::collection::vec(any::<u8>(), min_fds..=6),
    )
        .prop_map(|(data, tags)| Msg { data, tags });
    prop::collection::vec(msg, 1..12)
}

/// For each message, one pipe per descriptor with its tag written in: the read ends to send.
fn read_ends(plan: &[Msg]) -> Vec<Vec<OwnedFd>> {
    plan.iter()
        .map(|m| {
            m.tags
                .iter()
                .map(|&tag| {
                    let (r, w) = crate::pipe();
                    write_to(&w, &[tag]);
                    r
                })
                .collect()
        })
        .collect()
}

fn borrowed(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}

/// Checks that `fds` are the descriptors of `m`, in order, by the byte each pipe holds.
fn check(m: &Msg, fds: &[OwnedFd]) {
    let got: Vec<u8> = fds.iter().map(|f| read_n(f, 1)[0]).collect();
    assert_eq!(got, m.tags);
    for fd in fds {
        assert!(procwire::fd::is_cloexec(fd).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn channel_messages_arrive_in_order_with_their_descriptors(
        plan in msgs(0, 20_000),
        stream in any::<bool>(),
    ) {
        let kind = if stream { Kind::Stream } else { Kind::SeqPacket };
        let (a, b) = Channel::pair_of(kind).unwrap();
        let ends = read_ends(&plan);
        std::thread::scope(|s| {
            s.spawn(|| {
                for (m, fds) in plan.iter().zip(&ends) {
                    a.send(&m.data, &borrowed(fds)).unwrap();
                }
            });
            for m in &plan {
                let got = b.recv().unwrap().expect("a message, not EOF");
                assert_eq!(got.data, m.data, "{kind}");
                check(m, &got.fds);
            }
        });
        drop(a);
        prop_assert!(b.recv().unwrap().is_none());
    }

    #[test]
    fn stream_socket_messages_arrive_in_order_with_their_descriptors(plan in msgs(1, 20_000)) {
        let (a, b) = UnixStream::pair().unwrap();
        let ends = read_ends(&plan);
        std::thread::scope(|s| {
            s.spawn(|| {
                for (m, fds) in plan.iter().zip(&ends) {
                    let mut sent = pass::send_fds(&a, &[IoSlice::new(&m.data)], &borrowed(fds))
                        .unwrap();
                    // The descriptors went with the first byte; the rest goes plain.
                    while sent < m.data.len() {
                        sent += rustix::io::write(&a, &m.data[sent..]).unwrap();
                    }
                }
            });
            for m in &plan {
                // Exactly this message's bytes, so no read reaches into the next one.
                let mut data = vec![0u8; m.data.len()];
                let mut have = 0;
                let mut fds = Vec::new();
                while have < data.len() {
                    let (n, got) = pass::recv_fds(
                        &b,
                        &mut [IoSliceMut::new(&mut data[have..])],
                        pass::MAX_FDS,
                    )
                    .unwrap();
                    assert!(n > 0, "EOF mid-message");
                    assert!(got.is_empty() || have == 0, "descriptors after the first byte");
                    have += n;
                    fds.extend(got);
                }
                assert_eq!(data, m.data);
                check(m, &fds);
            }
        });
    }
}
