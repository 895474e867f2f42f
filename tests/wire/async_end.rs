//! The async wire ends (`AsyncEnd`, its halves, the async pipe) pass the blocking ends' data
//! tests: 64 MiB both ways in random chunks, half-close, `BrokenPipe`, random interleavings of
//! pending reads and writes; a pending call is woken by the peer's drop or shutdown, on every
//! kind; and the conversions to and from tokio's types keep the wire working.

use std::io::ErrorKind;
use std::task::Poll;

use procwire::wire::{AsyncEnd, AsyncReadHalf, AsyncWriteHalf, Builder, End, Kind};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::async_io::{
    TOTAL, both_ways, bounded, fill_until_pending, flag, interleave, op, poll_read_once, receive,
    rt, rt2, send,
};

fn async_pair(kind: Kind) -> (AsyncEnd, AsyncEnd) {
    let pair = Builder::new().kind(kind).build_async().unwrap();
    assert_eq!(pair.kind(), kind);
    assert!(pair.refusals().is_empty());
    pair.into_ends()
}

fn transfer(kind: Kind) {
    rt2().block_on(async {
        let (a, b) = async_pair(kind);
        let (ar, aw) = a.into_split().unwrap();
        let (br, bw) = b.into_split().unwrap();
        both_ways(ar, aw, br, bw, kind.name()).await;
    });
}

#[test]
fn async_socketpair_moves_64_mib_both_ways_intact() {
    transfer(Kind::SocketPair);
}

#[test]
fn async_pipes_move_64_mib_both_ways_intact() {
    transfer(Kind::Pipes);
}

#[test]
fn async_loopback_moves_64_mib_both_ways_intact() {
    transfer(Kind::Loopback);
}

#[test]
fn async_one_way_pipe_moves_64_mib_intact() {
    rt2().block_on(async {
        let (mut r, mut w) = procwire::wire::tokio::pipe().unwrap();
        let t = tokio::spawn(async move { send(&mut w, 3, TOTAL).await });
        assert_eq!(bounded("pipe", receive(&mut r, 3)).await, TOTAL);
        t.await.unwrap();
    });
}

#[test]
fn async_shutdown_is_the_half_close_of_shutdown_write_on_every_kind() {
    rt().block_on(async {
        for kind in Kind::ALL {
            let (mut a, mut b) = async_pair(kind);
            a.write_all(b"last words").await.unwrap();
            a.shutdown().await.unwrap();
            let mut got = Vec::new();
            bounded("eof", b.read_to_end(&mut got)).await.unwrap();
            assert_eq!(got, b"last words", "{kind}");
            // The other direction is still open.
            b.write_all(b"reply").await.unwrap();
            let mut reply = [0u8; 5];
            bounded("reply", a.read_exact(&mut reply)).await.unwrap();
            assert_eq!(&reply, b"reply", "{kind}");
            // And this end's own writes now fail.
            let e = a.write(b"more").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{kind}: {e}");
            // Twice is harmless.
            a.shutdown().await.unwrap();
        }
    });
}

#[test]
fn async_writes_to_a_gone_peer_fail_with_broken_pipe_not_a_signal() {
    rt().block_on(async {
        for kind in Kind::ALL {
            let (mut a, b) = async_pair(kind);
            drop(b);
            // TCP may accept a first write before the peer's reset comes back; every kind
            // fails within a few writes.
            let mut err = None;
            for _ in 0..1000 {
                match a.write(b"x").await {
                    Ok(_) => tokio::task::yield_now().await,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            let e = err.unwrap_or_else(|| panic!("{kind}: writes to a gone peer kept succeeding"));
            let ok = match kind {
                Kind::Loopback => {
                    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
                }
                _ => e.kind() == ErrorKind::BrokenPipe,
            };
            assert!(ok, "{kind}: {e}");
        }
    });
}

#[test]
fn a_pending_read_is_woken_by_the_peers_drop_and_by_its_shutdown_on_every_kind() {
    rt().block_on(async {
        for kind in Kind::ALL {
            for by_drop in [true, false] {
                let (mut a, mut b) = async_pair(kind);
                let (woken, waker) = flag();
                assert!(poll_read_once(&mut a, 16, &waker).is_pending(), "{kind}");
                if by_drop {
                    drop(b);
                } else {
                    b.shutdown().await.unwrap();
                }
                woken
                    .wait(&format!("{kind} read, peer drop {by_drop}"))
                    .await;
                let mut got = Vec::new();
                bounded("eof", a.read_to_end(&mut got)).await.unwrap();
                assert!(got.is_empty(), "{kind}");
            }
        }
    });
}

#[test]
fn a_pending_write_is_woken_by_the_peers_drop_on_every_kind() {
    rt().block_on(async {
        for kind in Kind::ALL {
            let (mut a, b) = async_pair(kind);
            let (woken, waker) = flag();
            fill_until_pending(&mut a, &waker);
            drop(b);
            woken.wait(&format!("{kind} write")).await;
            // TCP may still take a write or two before the peer's reset lands.
            let e = bounded("write", async {
                loop {
                    match a.write(b"x").await {
                        Ok(_) if kind == Kind::Loopback => tokio::task::yield_now().await,
                        Ok(n) => panic!("{kind}: a write to a gone peer moved {n}"),
                        Err(e) => return e,
                    }
                }
            })
            .await;
            assert!(
                matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                "{kind}: {e}"
            );
        }
    });
}

#[test]
fn a_pending_write_is_woken_by_room_on_a_socketpair_and_pipes() {
    rt().block_on(async {
        // Not TCP: there room can come back late (acknowledgements), so "pending until a read"
        // is no promise; the transfer tests cover it.
        for kind in [Kind::SocketPair, Kind::Pipes] {
            let (mut a, mut b) = async_pair(kind);
            let (woken, waker) = flag();
            let sent = fill_until_pending(&mut a, &waker);
            let mut buf = vec![0u8; sent];
            bounded("drain", b.read_exact(&mut buf)).await.unwrap();
            woken.wait(&format!("{kind} write")).await;
        }
    });
}

#[test]
fn halves_split_reunite_and_drop_as_the_blocking_halves_do() {
    rt().block_on(async {
        for kind in Kind::ALL {
            let (a, mut b) = async_pair(kind);
            let (r, w) = a.into_split().unwrap();
            let mut a = r.reunite(w).unwrap();
            a.write_all(b"hi").await.unwrap();
            let mut two = [0u8; 2];
            b.read_exact(&mut two).await.unwrap();
            let (r, w) = a.into_split().unwrap();
            // Dropping the write half half-closes: the peer reads EOF, the read half goes on.
            drop(w);
            let mut rest = Vec::new();
            bounded("eof", b.read_to_end(&mut rest)).await.unwrap();
            assert!(rest.is_empty(), "{kind}");
            b.write_all(b"ok").await.unwrap();
            let mut r = r;
            r.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"ok", "{kind}");
        }
        // Halves of two different ends do not reunite.
        let (a, b) = async_pair(Kind::SocketPair);
        let (ar, _aw) = a.into_split().unwrap();
        let (_br, bw) = b.into_split().unwrap();
        assert_eq!(ar.reunite(bw).unwrap_err().kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn conversions_to_and_from_tokio_and_blocking_types_keep_the_wire() {
    rt().block_on(async {
        // UnixStream both ways.
        let (x, y) = tokio::net::UnixStream::pair().unwrap();
        let mut x = AsyncEnd::try_from(x).unwrap();
        assert_eq!(x.kind(), Kind::SocketPair);
        let mut y: tokio::net::UnixStream = AsyncEnd::try_from(y).unwrap().try_into().unwrap();
        x.write_all(b"unix").await.unwrap();
        let mut four = [0u8; 4];
        y.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"unix");

        // TcpStream from a loopback end and back.
        let (a, mut b) = async_pair(Kind::Loopback);
        let mut t: tokio::net::TcpStream = a.try_into().unwrap();
        t.write_all(b"tcp!").await.unwrap();
        b.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"tcp!");
        let mut a = AsyncEnd::try_from(t).unwrap();
        assert_eq!(a.kind(), Kind::Loopback);
        b.write_all(b"back").await.unwrap();
        a.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"back");

        // A kind mismatch is InvalidInput, not a panic.
        let (p, _q) = async_pair(Kind::Pipes);
        let e = tokio::net::UnixStream::try_from(p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

        // tokio pipe types both ways.
        let (tx, rx) = tokio::net::unix::pipe::pipe().unwrap();
        let mut w = AsyncWriteHalf::try_from(tx).unwrap();
        let r = AsyncReadHalf::try_from(rx).unwrap();
        let mut rx: tokio::net::unix::pipe::Receiver = r.try_into().unwrap();
        w.write_all(b"pipe").await.unwrap();
        rx.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"pipe");
        let (_r, w) = procwire::wire::tokio::pipe().unwrap();
        let mut tx: tokio::net::unix::pipe::Sender = w.try_into().unwrap();
        tx.write_all(b"sent").await.unwrap();

        // A blocking End in, a blocking End out.
        let (e1, e2) = procwire::wire::pair().unwrap();
        let mut e1 = AsyncEnd::new(e1).unwrap();
        e1.write_all(b"sync").await.unwrap();
        let e1: End = e1.into_end().unwrap();
        drop(e1);
        let mut e2 = AsyncEnd::new(e2).unwrap();
        let mut got = Vec::new();
        bounded("eof", e2.read_to_end(&mut got)).await.unwrap();
        assert_eq!(got, b"sync");
    });
}

#[test]
fn outside_a_runtime_an_async_pair_is_an_error_not_a_panic() {
    let e = Builder::new().build_async().unwrap_err();
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}

#[test]
fn a_pending_read_polled_again_after_the_wake_returns_the_bytes() {
    rt().block_on(async {
        for kind in Kind::ALL {
            let (mut a, mut b) = async_pair(kind);
            let (woken, waker) = flag();
            assert!(poll_read_once(&mut a, 8, &waker).is_pending(), "{kind}");
            b.write_all(b"data").await.unwrap();
            woken.wait(&format!("{kind} read")).await;
            // Readiness was kept for the data: the next poll returns it, no second wake needed.
            let Poll::Ready(got) = poll_read_once(&mut a, 8, &waker) else {
                panic!("{kind}: woken, yet the read is still pending");
            };
            assert_eq!(got.unwrap(), b"data", "{kind}");
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_of_pending_reads_and_writes_lose_nothing(
        kind in prop::sample::select(Kind::ALL.to_vec()),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        rt().block_on(async {
            let (a, b) = async_pair(kind);
            interleave(a, b, &ops).await;
        });
    }
}
