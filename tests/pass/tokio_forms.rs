//! The async forms (feature `tokio`): `pass::tokio::{send_fds, recv_fds}` on tokio's sockets
//! and split halves, the async `Channel`, parity with the blocking forms, cancel safety, and
//! readiness cleared only on `WouldBlock`.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use procwire::pass::tokio::{self as apass, FdSocket, recv_fds, send_fds};
use procwire::pass::{self, Kind, MAX_FDS};

use crate::{pipe, read_n, write_to};

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Hang-guard only: generous, never a performance claim.
pub(crate) async fn guard<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("hung")
}

/// Checks `fds` are close-on-exec and write into the pipe `r` reads, the i-th writing byte i.
fn check_fds(fds: &[OwnedFd], r: &OwnedFd) {
    for (i, fd) in fds.iter().enumerate() {
        assert!(procwire::fd::is_cloexec(fd).unwrap());
        write_to(fd, &[i as u8]);
    }
    let want: Vec<u8> = (0..fds.len()).map(|i| i as u8).collect();
    assert_eq!(read_n(r, fds.len()), want);
}

/// Sends `data` with `n` copies of `w` from `a`, receives on `b` with room for `max_fds`,
/// and checks what arrived.
async fn trip(
    a: &impl FdSocket,
    b: &impl FdSocket,
    data: &[u8],
    (r, w): (&OwnedFd, &OwnedFd),
    n: usize,
    max_fds: usize,
) {
    let fds: Vec<BorrowedFd<'_>> = vec![w.as_fd(); n];
    let sent = send_fds(a, &[IoSlice::new(data)], &fds).await.unwrap();
    assert_eq!(sent, data.len());
    let mut buf = [0u8; 64];
    let (got, fds) = recv_fds(b, &mut [IoSliceMut::new(&mut buf)], max_fds)
        .await
        .unwrap();
    assert_eq!(&buf[..got], data);
    assert_eq!(fds.len(), n);
    check_fds(&fds, r);
}

#[test]
fn send_and_recv_on_a_stream_its_halves_and_a_datagram_socket() {
    rt().block_on(guard(async {
        let (r, w) = pipe();
        let p = (&r, &w);
        let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
        trip(&a, &b, b"whole", p, 3, MAX_FDS).await;
        {
            let (_ar, aw) = a.split();
            let (br, _bw) = b.split();
            trip(&aw, &br, b"borrowed halves", p, 3, 3).await;
        }
        let (ar, aw) = a.into_split();
        let (br, bw) = b.into_split();
        trip(&aw, &br, b"owned halves", p, 1, 1).await;
        trip(&bw, &ar, b"the other way", p, 2, 2).await;
        let (a, b) = tokio::net::UnixDatagram::pair().unwrap();
        trip(&a, &b, b"dgram", p, 3, 3).await;
    }));
}

#[test]
fn the_async_forms_make_the_same_checks_and_errors_as_the_blocking_ones() {
    rt().block_on(guard(async {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (_r, w) = pipe();
        let e = send_fds(&a, &[IoSlice::new(b"x")], &[]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = send_fds(&a, &[IoSlice::new(b"")], &[w.as_fd()])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = recv_fds(&b, &mut [IoSliceMut::new(&mut [0u8; 4])], 0)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        // MSG_CTRUNC: 8 sent, room for 2 (1 rounded up); nothing leaks.
        let before = procwire::fd::open_fds().unwrap().len();
        send_fds(&a, &[IoSlice::new(b"eight")], &[w.as_fd(); 8])
            .await
            .unwrap();
        let e = recv_fds(&b, &mut [IoSliceMut::new(&mut [0u8; 8])], 1)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        assert_eq!(procwire::fd::open_fds().unwrap().len(), before);
        drop(a);
        let (n, fds) = recv_fds(&b, &mut [IoSliceMut::new(&mut [0u8; 4])], 1)
            .await
            .unwrap();
        assert_eq!((n, fds.len()), (0, 0), "end of file");
    }));
}

#[test]
fn parity_async_to_blocking_and_blocking_to_async() {
    let (r, w) = pipe();
    for n in [1, 2, 7, MAX_FDS] {
        let fds: Vec<BorrowedFd<'_>> = vec![w.as_fd(); n];
        // async sender, blocking receiver
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let got = rt().block_on(async {
            a.set_nonblocking(true).unwrap();
            let a = tokio::net::UnixStream::from_std(a).unwrap();
            send_fds(&a, &[IoSlice::new(b"p")], &fds).await.unwrap()
        });
        assert_eq!(got, 1);
        let mut buf = [0u8; 1];
        let (k, got) = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], n).unwrap();
        assert_eq!((k, got.len()), (1, n));
        check_fds(&got, &r);
        // blocking sender, async receiver
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        pass::send_fds(&a, &[IoSlice::new(b"q")], &fds).unwrap();
        let got = rt().block_on(async {
            b.set_nonblocking(true).unwrap();
            let b = tokio::net::UnixStream::from_std(b).unwrap();
            recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], n)
                .await
                .unwrap()
        });
        assert_eq!((got.0, got.1.len()), (1, n));
        check_fds(&got.1, &r);
    }
}

/// Random messages (sizes 0..=MAX_DATA-ish, 0..=5 descriptors) from one end to the other.
fn messages(seed: u64) -> Vec<(Vec<u8>, usize)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..40)
        .map(|_| {
            let len = match rng.u8(0..4) {
                0 => 0,
                1 => rng.usize(1..16),
                2 => rng.usize(16..4096),
                _ => rng.usize(4096..=pass::Channel::MAX_DATA),
            };
            let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let fds = if len == 0 {
                rng.usize(1..=5)
            } else {
                rng.usize(0..=5)
            };
            (data, fds)
        })
        .collect()
}

#[test]
fn the_async_channel_talks_to_a_blocking_one_on_both_kinds_both_ways() {
    for kind in Kind::ALL {
        let (r, w) = pipe();
        let msgs = messages(7 + kind as u64);
        // async sends, blocking receives on a thread
        let (a, b) = pass::Channel::pair_of(kind).unwrap();
        let expect = msgs.clone();
        let receiver = std::thread::spawn(move || {
            for (data, n) in expect {
                let m = b.recv().unwrap().expect("a message");
                assert_eq!(m.data, data);
                assert_eq!(m.fds.len(), n);
            }
            assert!(b.recv().unwrap().is_none());
        });
        rt().block_on(guard(async {
            let a = apass::Channel::from_sync(a).unwrap();
            assert_eq!(a.kind(), kind);
            for (data, n) in &msgs {
                a.send(data, &vec![w.as_fd(); *n]).await.unwrap();
            }
        }));
        receiver.join().unwrap();
        // blocking sends on a thread, async receives
        let (a, b) = pass::Channel::pair_of(kind).unwrap();
        let send = msgs.clone();
        let w2 = w.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            for (data, n) in send {
                a.send(&data, &vec![w2.as_fd(); n]).unwrap();
            }
        });
        rt().block_on(guard(async {
            let b = apass::Channel::from_sync(b).unwrap();
            for (i, (data, n)) in msgs.iter().enumerate() {
                let m = b.recv().await.unwrap().expect("a message");
                assert_eq!(&m.data, data, "message {i}");
                assert_eq!(m.fds.len(), *n);
                if i == 0 && *n > 0 {
                    check_fds(&m.fds, &r);
                }
            }
            assert!(b.recv().await.unwrap().is_none());
        }));
        sender.join().unwrap();
    }
}

#[test]
fn a_cancelled_stream_recv_keeps_the_part_of_the_frame_it_had() {
    rt().block_on(guard(async {
        let (ours, raw) = std::os::unix::net::UnixStream::pair().unwrap();
        let ours = apass::Channel::from_sync(pass::Channel::from_fd(ours.into()).unwrap()).unwrap();
        assert_eq!(ours.kind(), Kind::Stream);
        let (r, w) = pipe();
        // Half the length prefix, with a descriptor on it.
        let frame = [&5u32.to_le_bytes()[..], b"hello"].concat();
        pass::send_fds(&raw, &[IoSlice::new(&frame[..2])], &[w.as_fd()]).unwrap();
        // The receive waits for the rest; cancel it (the timeout elapses: nothing more comes).
        let cancelled = tokio::time::timeout(Duration::from_millis(50), ours.recv()).await;
        assert!(
            cancelled.is_err(),
            "nothing more was sent, so it cannot complete"
        );
        std::io::Write::write_all(&mut &raw, &frame[2..]).unwrap();
        let m = ours.recv().await.unwrap().expect("the frame");
        assert_eq!(m.data, b"hello");
        check_fds(&m.fds, &r);
    }));
}

#[test]
fn many_queued_messages_are_all_received_with_one_readiness_edge() {
    // Everything is queued before the runtime looks: the reactor reports readable once (edge
    // triggered); each receive but the last leaves more queued, so a receive that cleared
    // readiness after a success would wait for ever on the second.
    for kind in Kind::ALL {
        let (a, b) = pass::Channel::pair_of(kind).unwrap();
        let (_r, w) = pipe();
        for i in 0..100u32 {
            a.send(&i.to_le_bytes(), &[w.as_fd()]).unwrap();
        }
        drop(a);
        rt().block_on(guard(async {
            let b = apass::Channel::from_sync(b).unwrap();
            for i in 0..100u32 {
                let m = b.recv().await.unwrap().unwrap();
                assert_eq!(m.data, i.to_le_bytes());
                assert_eq!(m.fds.len(), 1);
            }
            assert!(b.recv().await.unwrap().is_none());
        }));
    }
}

#[test]
fn a_cancelled_stream_send_finishes_its_frame_before_the_next() {
    rt().block_on(guard(async {
        let (a, b) = pass::Channel::pair_of(Kind::Stream).unwrap();
        // A small send buffer, so a 64 KiB frame cannot go in one write.
        rustix::net::sockopt::set_socket_send_buffer_size(&a, 4096).unwrap();
        let a = apass::Channel::from_sync(a).unwrap();
        let big = vec![7u8; pass::Channel::MAX_DATA];
        let cancelled = tokio::time::timeout(Duration::from_millis(50), a.send(&big, &[])).await;
        // Nobody reads yet: the frame cannot be complete, so the send was cancelled mid-way.
        assert!(cancelled.is_err());
        let reader = std::thread::spawn(move || {
            let first = b.recv().unwrap().unwrap();
            let second = b.recv().unwrap().unwrap();
            (first.data.len(), second.data)
        });
        a.send(b"next", &[]).await.unwrap();
        drop(a);
        let (first, second) = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(first, pass::Channel::MAX_DATA);
        assert_eq!(second, b"next");
    }));
}
