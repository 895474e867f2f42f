//! The async conformance suite: each scenario is written once over [`AsyncMaker`] and run on the
//! model (`MemStream`'s `AsyncRead`/`AsyncWrite`) and on a `tokio::net::UnixStream` pair as the
//! control, the way the sync suite uses a kernel socketpair. A pending call is proven woken by
//! a waker that records the wake ([`flag`]), never by a sleep; every wait is bounded.
//! Beside it: the model's 64 MiB transfer, its async faults, and property tests of random
//! interleavings (data integrity on both, and on the model no lost wake-up after any step).

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::task::Poll;

use procwire::model::{Fault, MemStream};
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[path = "../wire/async_io.rs"]
mod async_io;

use async_io::{
    both_ways, bounded, fill_until_pending, flag, interleave, op, poll_read_once, poll_write_once,
    rt, rt2,
};

/// One end of an async duplex stream under test.
trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// `shutdown(SHUT_RD)`.
    fn shutdown_read(&self) -> io::Result<()>;
}

impl AsyncStream for MemStream {
    fn shutdown_read(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Read)
    }
}

impl AsyncStream for tokio::net::UnixStream {
    fn shutdown_read(&self) -> io::Result<()> {
        Ok(rustix::net::shutdown(self, rustix::net::Shutdown::Read)?)
    }
}

trait AsyncMaker {
    type S: AsyncStream;
    fn name(&self) -> &'static str;
    /// Must be called inside a runtime.
    fn pair(&self) -> (Self::S, Self::S);
}

struct Mem;
struct Control;

impl AsyncMaker for Mem {
    type S = MemStream;
    fn name(&self) -> &'static str {
        "model"
    }
    fn pair(&self) -> (MemStream, MemStream) {
        MemStream::pair().unwrap()
    }
}

impl AsyncMaker for Control {
    type S = tokio::net::UnixStream;
    fn name(&self) -> &'static str {
        "tokio UnixStream"
    }
    fn pair(&self) -> (tokio::net::UnixStream, tokio::net::UnixStream) {
        tokio::net::UnixStream::pair().unwrap()
    }
}

// ---- scenarios ----

async fn bytes_are_fifo_both_ways<M: AsyncMaker>(m: &M) {
    let (mut a, mut b) = m.pair();
    a.write_all(b"one ").await.unwrap();
    b.write_all(b"back").await.unwrap();
    a.write_all(b"two").await.unwrap();
    let mut got = [0u8; 7];
    bounded(m.name(), b.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"one two", "{}", m.name());
    let mut back = [0u8; 4];
    bounded(m.name(), a.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back, b"back", "{}", m.name());
}

async fn a_pending_read_is_woken_by_a_write<M: AsyncMaker>(m: &M) {
    let (mut a, mut b) = m.pair();
    let (woken, waker) = flag();
    assert!(poll_read_once(&mut a, 16, &waker).is_pending());
    b.write_all(b"hi").await.unwrap();
    woken.wait(m.name()).await;
    assert_eq!(bounded(m.name(), read_some(&mut a)).await.unwrap(), b"hi");
}

async fn a_pending_read_is_woken_by_the_peers_shutdown_write<M: AsyncMaker>(m: &M) {
    let (mut a, mut b) = m.pair();
    let (woken, waker) = flag();
    assert!(poll_read_once(&mut a, 16, &waker).is_pending());
    b.shutdown().await.unwrap();
    woken.wait(m.name()).await;
    assert_eq!(bounded(m.name(), read_some(&mut a)).await.unwrap(), b"");
}

async fn a_pending_read_is_woken_by_the_peers_drop<M: AsyncMaker>(m: &M) {
    let (mut a, b) = m.pair();
    let (woken, waker) = flag();
    assert!(poll_read_once(&mut a, 16, &waker).is_pending());
    drop(b);
    woken.wait(m.name()).await;
    assert_eq!(bounded(m.name(), read_some(&mut a)).await.unwrap(), b"");
}

async fn a_pending_read_is_woken_by_a_peer_dropped_with_unread_bytes_and_resets<M: AsyncMaker>(
    m: &M,
) {
    let (mut a, mut b) = m.pair();
    a.write_all(b"unread").await.unwrap();
    let (woken, waker) = flag();
    assert!(poll_read_once(&mut a, 16, &waker).is_pending());
    // b reads nothing of it: drop with unread bytes.
    b.flush().await.unwrap();
    drop(b);
    woken.wait(m.name()).await;
    let e = bounded(m.name(), read_some(&mut a)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{}: {e}", m.name());
    // Then EOF for ever.
    assert_eq!(bounded(m.name(), read_some(&mut a)).await.unwrap(), b"");
}

async fn a_pending_write_is_woken_by_room<M: AsyncMaker>(m: &M) {
    let (mut a, mut b) = m.pair();
    let (woken, waker) = flag();
    let sent = fill_until_pending(&mut a, &waker);
    let mut buf = vec![0u8; sent];
    bounded(m.name(), b.read_exact(&mut buf)).await.unwrap();
    woken.wait(m.name()).await;
    assert!(matches!(
        poll_write_once(&mut a, b"more", &waker),
        Poll::Ready(Ok(4))
    ));
}

async fn a_pending_write_is_woken_by_the_peers_drop<M: AsyncMaker>(m: &M) {
    let (mut a, b) = m.pair();
    let (woken, waker) = flag();
    fill_until_pending(&mut a, &waker);
    drop(b);
    woken.wait(m.name()).await;
    let Poll::Ready(Err(e)) = poll_write_once(&mut a, b"x", &waker) else {
        panic!("{}: a write to a dropped peer did not fail", m.name());
    };
    assert!(
        matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{}: {e}",
        m.name()
    );
}

async fn a_pending_write_is_woken_by_the_peers_shutdown_read<M: AsyncMaker>(m: &M) {
    let (mut a, b) = m.pair();
    let (woken, waker) = flag();
    fill_until_pending(&mut a, &waker);
    b.shutdown_read().unwrap();
    woken.wait(m.name()).await;
    let Poll::Ready(Err(e)) = poll_write_once(&mut a, b"x", &waker) else {
        panic!(
            "{}: a write after the peer's SHUT_RD did not fail",
            m.name()
        );
    };
    assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{}: {e}", m.name());
}

async fn shutdown_is_a_half_close<M: AsyncMaker>(m: &M) {
    let (mut a, mut b) = m.pair();
    a.write_all(b"bye").await.unwrap();
    a.shutdown().await.unwrap();
    let mut got = Vec::new();
    bounded(m.name(), b.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"bye", "{}", m.name());
    b.write_all(b"ok").await.unwrap();
    let mut two = [0u8; 2];
    bounded(m.name(), a.read_exact(&mut two)).await.unwrap();
    assert_eq!(&two, b"ok");
    let e = a.write(b"x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{}: {e}", m.name());
}

async fn writing_to_a_dropped_peer_is_broken_pipe<M: AsyncMaker>(m: &M) {
    let (mut a, b) = m.pair();
    drop(b);
    let e = a.write(b"x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{}: {e}", m.name());
}

async fn read_some<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await?;
    Ok(buf[..n].to_vec())
}

macro_rules! async_suite {
    ($($name:ident),* $(,)?) => {
        mod model {
            $(#[test] fn $name() { super::rt().block_on(super::$name(&super::Mem)); })*
        }
        mod control {
            $(#[test] fn $name() { super::rt().block_on(super::$name(&super::Control)); })*
        }
    };
}

async_suite!(
    bytes_are_fifo_both_ways,
    a_pending_read_is_woken_by_a_write,
    a_pending_read_is_woken_by_the_peers_shutdown_write,
    a_pending_read_is_woken_by_the_peers_drop,
    a_pending_read_is_woken_by_a_peer_dropped_with_unread_bytes_and_resets,
    a_pending_write_is_woken_by_room,
    a_pending_write_is_woken_by_the_peers_drop,
    shutdown_is_a_half_close,
    writing_to_a_dropped_peer_is_broken_pipe,
);

// ---- the model alone ----

/// Not on the control: Linux wakes a writer *blocked in sendmsg* when the peer shuts its read
/// side (the sync suite checks it), but `unix_poll` reports no `EPOLLOUT` for `SEND_SHUTDOWN`
/// while the send budget is full, so an epoll-driven task (tokio's, or an `AsyncEnd`'s) stays
/// pending until something else wakes it. The model wakes it, as the blocking form is woken
/// (issue #14 asks for exactly that).
#[test]
fn model_a_pending_write_is_woken_by_the_peers_shutdown_read() {
    rt().block_on(a_pending_write_is_woken_by_the_peers_shutdown_read(&Mem));
}

#[test]
fn the_async_model_moves_64_mib_both_ways_intact() {
    rt2().block_on(async {
        let (a, b) = MemStream::pair().unwrap();
        let (ar, br) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        both_ways(ar, a, br, b, "model").await;
    });
}

#[test]
fn async_faults_are_the_sync_ones_and_an_injected_would_block_is_a_woken_pending() {
    let (mut a, mut b) = MemStream::pair().unwrap();
    let (woken, waker) = flag();
    a.inject_writes([Fault::WouldBlock, Fault::Short(2), Fault::Interrupted]);
    // WouldBlock with room: Pending, and woken at once to try again.
    assert!(poll_write_once(&mut a, b"hello", &waker).is_pending());
    assert!(woken.woken(), "an injected WouldBlock left the task asleep");
    assert!(matches!(
        poll_write_once(&mut a, b"hello", &waker),
        Poll::Ready(Ok(2))
    ));
    let Poll::Ready(Err(e)) = poll_write_once(&mut a, b"llo", &waker) else {
        panic!("no injected Interrupted");
    };
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    assert!(matches!(
        poll_write_once(&mut a, b"llo", &waker),
        Poll::Ready(Ok(3))
    ));

    // An injected WouldBlock on an empty end waits for the real change, like any pending read.
    let (woken, waker) = flag();
    let (mut c, d) = MemStream::pair().unwrap();
    c.inject_reads([Fault::WouldBlock]);
    assert!(poll_read_once(&mut c, 8, &waker).is_pending());
    assert!(!woken.woken(), "woken with nothing to read");
    drop(d);
    assert!(woken.woken(), "the peer's drop did not wake the reader");

    // Short and ConnectionReset on reads, then the bytes intact.
    let (_, waker) = flag();
    b.inject_reads([Fault::Short(1), Fault::ConnectionReset]);
    let Poll::Ready(Ok(one)) = poll_read_once(&mut b, 8, &waker) else {
        panic!("short read");
    };
    assert_eq!(one, b"h");
    let Poll::Ready(Err(e)) = poll_read_once(&mut b, 8, &waker) else {
        panic!("no injected reset");
    };
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let Poll::Ready(Ok(rest)) = poll_read_once(&mut b, 8, &waker) else {
        panic!("rest");
    };
    assert_eq!(rest, b"ello");
}

#[test]
fn read_exact_and_write_all_ride_out_short_faults_forever_in_async() {
    rt().block_on(async {
        let (mut a, mut b) = MemStream::pair_with_capacity(7).unwrap();
        a.inject_writes_forever(Fault::Short(3));
        b.inject_reads_forever(Fault::Short(2));
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let w = {
            let data = data.clone();
            tokio::spawn(async move {
                a.write_all(&data).await.unwrap();
                a
            })
        };
        let mut got = vec![0u8; data.len()];
        bounded("read_exact", b.read_exact(&mut got)).await.unwrap();
        assert_eq!(got, data);
        w.await.unwrap();
    });
}

/// One step of the model's wake-up property test.
#[derive(Clone, Debug)]
enum Step {
    Write {
        from_a: bool,
        len: usize,
    },
    Read {
        at_a: bool,
        len: usize,
    },
    Fault {
        at_a: bool,
        read: bool,
        fault: Fault,
    },
    Shutdown {
        of_a: bool,
        read: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let fault = prop_oneof![
        Just(Fault::WouldBlock),
        Just(Fault::Interrupted),
        Just(Fault::ConnectionReset),
        (1..64usize).prop_map(Fault::Short),
    ];
    prop_oneof![
        6 => (any::<bool>(), 1..200usize).prop_map(|(from_a, len)| Step::Write { from_a, len }),
        6 => (any::<bool>(), 1..200usize).prop_map(|(at_a, len)| Step::Read { at_a, len }),
        2 => (any::<bool>(), any::<bool>(), fault)
            .prop_map(|(at_a, read, fault)| Step::Fault { at_a, read, fault }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(of_a, read)| Step::Shutdown { of_a, read }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random interleavings of pending reads and writes on a small model pair, with faults and
    /// shutdowns: the bytes read are a prefix of the bytes written, in order; and after every
    /// step, a task left pending is woken once its call could go on (readiness says so): no
    /// lost wake-up, whatever the order.
    #[test]
    fn the_async_model_never_loses_a_wake_up_or_a_byte(
        cap in 1..300usize,
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let (mut a, mut b) = MemStream::pair_with_capacity(cap).unwrap();
        // Per end: [reader flag, writer flag] of its last pending call, if any.
        let mut pending: [[Option<std::sync::Arc<async_io::Flag>>; 2]; 2] = Default::default();
        let mut written: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut read: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut n = 0u8;
        for s in &steps {
            match *s {
                Step::Write { from_a, len } => {
                    let e = usize::from(!from_a);
                    let buf: Vec<u8> = (0..len).map(|_| { n = n.wrapping_add(1); n }).collect();
                    let (f, waker) = flag();
                    let end = if from_a { &mut a } else { &mut b };
                    match poll_write_once(end, &buf, &waker) {
                        Poll::Ready(Ok(k)) => written[e].extend_from_slice(&buf[..k]),
                        Poll::Ready(Err(_)) => {}
                        Poll::Pending => pending[e][1] = Some(f),
                    }
                }
                Step::Read { at_a, len } => {
                    let e = usize::from(!at_a);
                    let (f, waker) = flag();
                    let end = if at_a { &mut a } else { &mut b };
                    match poll_read_once(end, len, &waker) {
                        Poll::Ready(Ok(got)) => read[e].extend_from_slice(&got),
                        Poll::Ready(Err(_)) => {}
                        Poll::Pending => pending[e][0] = Some(f),
                    }
                }
                Step::Fault { at_a, read: r, fault } => {
                    let end = if at_a { &a } else { &b };
                    if r { end.inject_reads([fault]) } else { end.inject_writes([fault]) }
                }
                Step::Shutdown { of_a, read: r } => {
                    let end = if of_a { &a } else { &b };
                    end.shutdown(if r { Shutdown::Read } else { Shutdown::Write }).unwrap();
                }
            }
            for (e, end) in [(0, &a), (1, &b)] {
                let r = end.readiness();
                if let Some(f) = &pending[e][0] && r.readable {
                    prop_assert!(f.woken(), "end {e}: readable but its pending reader asleep after {s:?}");
                    pending[e][0] = None;
                }
                // A writer is woken at the low-water mark (half the capacity) or on a close.
                if let Some(f) = &pending[e][1]
                    && (r.write_closed || end.queued_out() <= end.capacity() / 2)
                {
                    prop_assert!(f.woken(), "end {e}: room but its pending writer asleep after {s:?}");
                    pending[e][1] = None;
                }
            }
        }
        // What b read is a prefix of what a wrote, and the other way round.
        prop_assert!(written[0].starts_with(&read[1]), "a->b bytes differ");
        prop_assert!(written[1].starts_with(&read[0]), "b->a bytes differ");
    }

    #[test]
    fn random_interleavings_lose_nothing_on_the_model_and_the_control(
        control in any::<bool>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        rt().block_on(async {
            if control {
                let (a, b) = Control.pair();
                interleave(a, b, &ops).await;
            } else {
                let (a, b) = Mem.pair();
                interleave(a, b, &ops).await;
            }
        });
    }
}
