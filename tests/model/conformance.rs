//! The conformance suite: each scenario is written once, generic over [`Maker`], and run on the
//! model, on a kernel `UnixStream` pair and on every `wire` kind where it applies (see
//! [`Feature`]). Where the kernel's numbers are not the model's (how much fits before a write
//! would block) the scenario asserts properties, not totals. A thread is known to be blocked
//! when the kernel shows it asleep inside the call ([`Bounded::assert_blocked`]), never after a
//! fixed sleep, and only where the kind promises the call blocks: on TCP a full send buffer can
//! get room back with nobody reading ([`Feature::RoomOnlyFromReads`]). Every wait is bounded,
//! so a lost wake-up fails instead of hanging.
//!
//! [`Bounded::assert_blocked`]: crate::support::bounded::Bounded::assert_blocked

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use procwire::wire::Kind;

use crate::streams::{Feature, Kernel, Maker, Mem, Stream, Wire};

use crate::support::bounded::{BOUND, SETTLE, spawn};

fn skip<M: Maker>(m: &M, f: Feature) -> bool {
    let no = !m.has(f);
    if no {
        eprintln!("{}: does not apply ({f:?})", m.name());
    }
    no
}

fn read_n<S: Stream>(s: &S, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let k = s.read(&mut buf)?;
    buf.truncate(k);
    Ok(buf)
}

fn kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

/// Reads exactly `n` bytes from a non-blocking `s`, waiting out `WouldBlock` (bytes over TCP
/// may still be in flight), for at most [`BOUND`].
fn read_exactly<S: Stream>(s: &S, n: usize) -> Vec<u8> {
    let deadline = Instant::now() + BOUND;
    let mut got = Vec::with_capacity(n);
    let mut buf = vec![0; 64 * 1024];
    while got.len() < n {
        let want = (n - got.len()).min(buf.len());
        match s.read(&mut buf[..want]) {
            Ok(0) => panic!("EOF after {} of {n} bytes", got.len()),
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "only {} of {n} bytes", got.len());
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    got
}

fn pattern(len: usize, salt: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + salt) % 251) as u8).collect()
}

/// One write into non-blocking `s` that must move at least a byte. Where room comes back only
/// from reads it must at once; on TCP the room a read made may come back a little later (when
/// the acknowledgements are processed), so `WouldBlock` is waited out for at most [`BOUND`].
fn write_with_room<M: Maker>(m: &M, s: &M::S, buf: &[u8]) -> usize {
    let deadline = Instant::now() + BOUND;
    loop {
        match s.write(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock && !m.has(Feature::RoomOnlyFromReads) => {
                assert!(Instant::now() < deadline, "{}: no room came back", m.name());
                thread::sleep(Duration::from_millis(1));
            }
            r => return r.unwrap(),
        }
    }
}

/// Writes 4 KiB pieces into non-blocking `s` until `WouldBlock`; returns what was accepted.
fn fill<S: Stream>(s: &S) -> Vec<u8> {
    let mut sent = Vec::new();
    for i in 0.. {
        let piece = pattern(4096, i);
        match s.write(&piece) {
            Ok(n) => {
                assert!(n > 0 && n <= piece.len());
                sent.extend_from_slice(&piece[..n]);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill: {e}"),
        }
        assert!(sent.len() < 256 << 20, "writes never blocked");
    }
    assert!(!sent.is_empty(), "nothing fitted");
    sent
}

fn nb_pair<M: Maker>(m: &M) -> (M::S, M::S) {
    let (a, b) = m.pair();
    a.set_nonblocking(true);
    b.set_nonblocking(true);
    (a, b)
}

// ---- scenarios ----

fn bytes_are_fifo_both_ways<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    a.write_all(b"one ").unwrap();
    b.write_all(b"back").unwrap();
    a.write_all(b"two").unwrap();
    assert_eq!(read_exactly(&b, 7), b"one two");
    assert_eq!(read_exactly(&a, 4), b"back");
}

fn a_read_returns_what_is_there<M: Maker>(m: &M) {
    let (a, b) = m.pair(); // blocking: a read must not wait for more than is there
    a.write_all(b"abcdef").unwrap();
    let got = read_n(&b, 100).unwrap();
    assert!(!got.is_empty() && b"abcdef".starts_with(&got));
    if m.has(Feature::Exact) {
        assert_eq!(got, b"abcdef");
    }
    b.set_nonblocking(true);
    let rest = read_exactly(&b, 6 - got.len());
    assert_eq!([got, rest].concat(), b"abcdef");
    assert_eq!(kind(read_n(&b, 1)), ErrorKind::WouldBlock);
}

fn nonblocking_read_of_empty_would_block<M: Maker>(m: &M) {
    let (_a, b) = nb_pair(m);
    assert_eq!(kind(read_n(&b, 16)), ErrorKind::WouldBlock);
}

fn zero_length_write_returns_0<M: Maker>(m: &M) {
    let (a, _b) = nb_pair(m);
    assert_eq!(a.write(&[]).unwrap(), 0);
    fill(&a);
    assert_eq!(a.write(&[]).unwrap(), 0, "into a full buffer");
}

fn zero_length_read_with_bytes_consumes_nothing<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    a.write_all(b"xy").unwrap();
    b.set_nonblocking(true);
    let got = read_exactly(&b, 1); // the bytes have arrived
    assert_eq!(b.read(&mut []).unwrap(), 0);
    assert_eq!([got, read_exactly(&b, 1)].concat(), b"xy");
}

fn zero_length_read_at_eof_returns_0<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    drop(a);
    assert_eq!(b.read(&mut []).unwrap(), 0);
    b.set_nonblocking(true);
    assert_eq!(b.read(&mut []).unwrap(), 0);
}

fn zero_length_read_of_empty_nonblocking_would_block<M: Maker>(m: &M) {
    if skip(m, Feature::ZeroReadWouldBlock) {
        return;
    }
    let (_a, b) = nb_pair(m);
    assert_eq!(kind(b.read(&mut [])), ErrorKind::WouldBlock);
}

fn fill_would_block_then_drains_in_order<M: Maker>(m: &M) {
    let (a, b) = nb_pair(m);
    let mut sent = fill(&a);
    if m.has(Feature::RoomOnlyFromReads) {
        assert_eq!(kind(a.write(b"x")), ErrorKind::WouldBlock);
    } else {
        // TCP may have freed room since the fill's WouldBlock.
        match a.write(b"x") {
            Ok(n) => sent.extend_from_slice(&b"x"[..n]),
            Err(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}"),
        }
    }
    if m.has(Feature::Readiness) {
        assert!(!a.readiness().writable, "{}: full but writable", m.name());
        assert!(b.readiness().readable);
    }
    assert_eq!(read_exactly(&b, sent.len()), sent);
    if m.has(Feature::Exact) {
        assert_eq!(kind(read_n(&b, 1)), ErrorKind::WouldBlock);
    }
    if m.has(Feature::Readiness) {
        assert!(
            a.readiness().writable,
            "{}: drained but not writable",
            m.name()
        );
    }
}

fn a_write_bigger_than_the_room_is_partial<M: Maker>(m: &M) {
    let (a, b) = nb_pair(m);
    let sent = fill(&a);
    read_exactly(&b, sent.len());
    let big = pattern(2 * sent.len() + 1, 7);
    let n = write_with_room(m, &a, &big);
    assert!(n > 0 && n <= big.len());
    if m.has(Feature::Exact) {
        assert!(n < big.len(), "{}: {n} bytes fitted", m.name());
    }
    assert_eq!(read_exactly(&b, n), big[..n]);
}

fn a_blocking_write_returns_when_every_byte_is_written<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let data = pattern(4 << 20, 3);
    let want = data.len();
    let reader = spawn(move || {
        b.set_nonblocking(true);
        read_exactly(&b, want)
    });
    assert_eq!(a.write(&data).unwrap(), data.len(), "one call");
    assert_eq!(reader.join("reader"), data);
}

fn eof_for_ever_after_the_peer_is_dropped<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    a.write_all(b"last words").unwrap();
    drop(a);
    let mut got = Vec::new();
    loop {
        let piece = read_n(&b, 4).unwrap();
        if piece.is_empty() {
            break;
        }
        got.extend(piece);
    }
    assert_eq!(got, b"last words");
    for _ in 0..3 {
        assert_eq!(read_n(&b, 8).unwrap(), b"");
    }
}

fn writing_to_a_dropped_peer_is_broken_pipe<M: Maker>(m: &M) {
    if skip(m, Feature::PromptBrokenPipe) {
        return;
    }
    let (a, b) = m.pair();
    drop(b);
    assert_eq!(kind(a.write(b"anyone?")), ErrorKind::BrokenPipe);
    assert_eq!(
        kind(a.write_vectored(&[IoSlice::new(b"x")])),
        ErrorKind::BrokenPipe
    );
}

fn a_peer_dropped_with_unread_bytes_resets_after_the_survivors_bytes<M: Maker>(m: &M) {
    if skip(m, Feature::ResetOnUnread) {
        return;
    }
    let (a, b) = m.pair();
    a.write_all(b"to-b").unwrap();
    b.write_all(b"to-a").unwrap(); // a never reads it
    drop(a);
    if m.has(Feature::Readiness) {
        let r = b.readiness();
        assert!(r.error && r.readable && r.read_closed, "{r:?}");
    }
    assert_eq!(read_n(&b, 2).unwrap(), b"to");
    assert_eq!(read_n(&b, 10).unwrap(), b"-b");
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::ConnectionReset);
    assert_eq!(read_n(&b, 10).unwrap(), b"");
    assert_eq!(kind(b.write(b"x")), ErrorKind::BrokenPipe);
}

fn shutdown_write_gives_eof_and_broken_pipe<M: Maker>(m: &M) {
    let (mut a, b) = m.pair();
    a.write_all(b"request").unwrap();
    a.shutdown(Shutdown::Write);
    assert_eq!(kind(a.write(b"more")), ErrorKind::BrokenPipe);
    let mut got = Vec::new();
    loop {
        let piece = read_n(&b, 100).unwrap();
        if piece.is_empty() {
            break;
        }
        got.extend(piece);
    }
    assert_eq!(got, b"request");
    // The other direction still flows.
    b.write_all(b"response").unwrap();
    a.set_nonblocking(true);
    assert_eq!(read_exactly(&a, 8), b"response");
}

fn shutdown_read_fails_the_peers_writes<M: Maker>(m: &M) {
    if skip(m, Feature::ShutReadFailsPeer) {
        return;
    }
    let (mut a, b) = m.pair();
    a.shutdown(Shutdown::Read);
    assert_eq!(read_n(&a, 4).unwrap(), b"", "reads after SHUT_RD are EOF");
    assert_eq!(kind(b.write(b"nobody listens")), ErrorKind::BrokenPipe);
    a.write_all(b"ok").unwrap();
    assert_eq!(read_exactly(&b, 2), b"ok");
}

fn shutdown_read_keeps_queued_bytes<M: Maker>(m: &M) {
    if skip(m, Feature::ShutReadKeepsQueued) {
        return;
    }
    let (mut a, b) = m.pair();
    b.write_all(b"queued").unwrap();
    a.shutdown(Shutdown::Read);
    assert_eq!(read_n(&a, 3).unwrap(), b"que");
    assert_eq!(read_n(&a, 10).unwrap(), b"ued");
    assert_eq!(read_n(&a, 10).unwrap(), b"");
}

fn a_blocked_reader_is_woken_by_a_write<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let t = spawn(move || read_n(&b, 10).unwrap());
    t.assert_blocked("reader");
    a.write_all(b"wake").unwrap();
    let got = t.join("reader");
    assert!(!got.is_empty() && b"wake".starts_with(&got));
}

fn a_blocked_writer_is_woken_by_a_read<M: Maker>(m: &M) {
    let (a, b) = nb_pair(m);
    let mut sent = fill(&a);
    a.set_nonblocking(false);
    let t = spawn(move || a.write(b"more").map_err(|e| e.kind()));
    if m.has(Feature::RoomOnlyFromReads) {
        t.assert_blocked("writer");
    } // else TCP may give the writer room before any read: it blocks, or returns, either way
    sent.extend_from_slice(b"more");
    assert_eq!(read_exactly(&b, sent.len()), sent);
    assert_eq!(t.join("writer"), Ok(4));
}

fn a_blocked_reader_is_woken_by_the_peers_drop<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let t = spawn(move || read_n(&b, 10).map_err(|e| e.kind()));
    t.assert_blocked("reader");
    drop(a);
    assert_eq!(t.join("reader"), Ok(vec![]));
}

fn a_blocked_reader_is_woken_by_the_peers_shutdown_write<M: Maker>(m: &M) {
    let (mut a, b) = m.pair();
    let t = spawn(move || read_n(&b, 10).map_err(|e| e.kind()));
    t.assert_blocked("reader");
    a.shutdown(Shutdown::Write);
    assert_eq!(t.join("reader"), Ok(vec![]));
}

fn a_blocked_writer_is_woken_by_the_peers_drop<M: Maker>(m: &M) {
    if skip(m, Feature::PromptBrokenPipe) {
        return;
    }
    let (a, b) = nb_pair(m);
    fill(&a);
    a.set_nonblocking(false);
    let t = spawn(move || a.write(b"more").map_err(|e| e.kind()));
    t.assert_blocked("writer");
    drop(b); // with a's bytes unread: AF_UNIX's waiting writer takes the pending reset
    let want = if m.has(Feature::ResetOnUnread) {
        ErrorKind::ConnectionReset
    } else {
        ErrorKind::BrokenPipe
    };
    assert_eq!(t.join("writer"), Err(want));
}

fn a_blocked_writer_is_woken_by_the_peers_shutdown_read<M: Maker>(m: &M) {
    if skip(m, Feature::ShutReadFailsPeer) {
        return;
    }
    let (a, mut b) = nb_pair(m);
    fill(&a);
    a.set_nonblocking(false);
    let t = spawn(move || a.write(b"more").map_err(|e| e.kind()));
    t.assert_blocked("writer");
    b.shutdown(Shutdown::Read);
    assert_eq!(t.join("writer"), Err(ErrorKind::BrokenPipe));
}

fn a_blocked_reader_and_writer_are_both_woken_by_the_peers_drop<M: Maker>(m: &M) {
    if skip(m, Feature::PromptBrokenPipe) {
        return;
    }
    let (a, b) = nb_pair(m);
    fill(&a);
    a.set_nonblocking(false);
    let a = Arc::new(a);
    let (ar, aw) = (Arc::clone(&a), Arc::clone(&a));
    let reader = spawn(move || read_n(&*ar, 10).map_err(|e| e.kind()));
    let writer = spawn(move || aw.write(b"more").map_err(|e| e.kind()));
    reader.assert_blocked("reader");
    writer.assert_blocked("writer");
    drop(b);
    let (w, r) = (writer.join("writer"), reader.join("reader"));
    // With a's bytes unread, AF_UNIX owes one ConnectionReset to whichever thread runs first.
    let resets = [
        w == Err(ErrorKind::ConnectionReset),
        r == Err(ErrorKind::ConnectionReset),
    ];
    let want = usize::from(m.has(Feature::ResetOnUnread));
    assert_eq!(
        resets.iter().filter(|&&x| x).count(),
        want,
        "writer {w:?}, reader {r:?}"
    );
    assert!(
        matches!(w, Err(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)),
        "{w:?}"
    );
    assert!(r == Ok(vec![]) || resets[1], "{r:?}");
}

fn two_blocked_readers_and_one_byte<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let b = Arc::new(b);
    let mut readers: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            spawn(move || read_n(&*b, 10).map_err(|e| e.kind()))
        })
        .collect();
    for r in &readers {
        r.assert_blocked("a reader (before any byte)");
    }
    a.write_all(b"!").unwrap();
    let deadline = Instant::now() + BOUND;
    let (got, first) = loop {
        if let Some((i, got)) = readers
            .iter()
            .enumerate()
            .find_map(|(i, r)| Some((i, r.done()?)))
        {
            break (got, i);
        }
        assert!(Instant::now() < deadline, "nobody got the byte");
        thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(got, Ok(b"!".to_vec()));
    let other = readers.swap_remove(1 - first);
    thread::sleep(SETTLE); // give a wrongly woken reader time to return
    assert!(
        other.done().is_none(),
        "the second reader got something too"
    );
    other.assert_blocked("the second reader");
    drop(a);
    assert_eq!(other.join("not woken by the drop"), Ok(vec![]));
}

fn vectored_writes_and_reads_keep_order<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let n = a
        .write_vectored(&[
            IoSlice::new(b"head"),
            IoSlice::new(b""),
            IoSlice::new(b"payload"),
        ])
        .unwrap();
    assert_eq!(n, 11);
    b.set_nonblocking(true);
    let deadline = Instant::now() + BOUND;
    let (mut x, mut y) = ([0u8; 4], [0u8; 7]);
    let mut bufs = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
    let got = loop {
        match b.read_vectored(&mut bufs) {
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1));
            }
            r => break r.unwrap(),
        }
    };
    if m.has(Feature::Exact) {
        assert_eq!(got, 11);
        assert_eq!((&x, &y), (b"head", b"payload"));
    } else {
        assert!(got > 0 && x[..got.min(4)] == b"head"[..got.min(4)]);
    }
}

fn clones_share_the_nonblocking_flag_and_close_last<M: Maker>(m: &M) {
    let (a, b) = m.pair();
    let Some(a2) = a.try_clone() else {
        eprintln!("{}: has no try_clone", m.name());
        return;
    };
    a2.set_nonblocking(true);
    assert_eq!(kind(read_n(&a, 1)), ErrorKind::WouldBlock);
    a.write_all(b"x").unwrap();
    drop(a);
    b.write_all(b"y").unwrap(); // a2 still holds the end open
    assert_eq!(read_n(&a2, 1).unwrap(), b"y");
    assert_eq!(read_n(&b, 1).unwrap(), b"x");
    drop(a2);
    assert_eq!(read_n(&b, 1).unwrap(), b"");
}

fn readiness_follows_the_state<M: Maker>(m: &M) {
    if skip(m, Feature::Readiness) {
        return;
    }
    let (mut a, b) = nb_pair(m);
    let r = b.readiness();
    assert!(
        !r.readable && r.writable && !r.read_closed && !r.error,
        "{r:?}"
    );
    a.write_all(b"abc").unwrap();
    assert!(b.readiness().readable);
    read_exactly(&b, 3);
    assert!(!b.readiness().readable);
    a.shutdown(Shutdown::Write);
    let r = b.readiness();
    assert!(r.readable && r.read_closed && !r.error, "{r:?}");
    assert!(!a.readiness().read_closed);
}

/// A timeout long enough to tell a wait from none, short enough to keep the suite quick.
const TIMEOUT: Duration = Duration::from_millis(200);

/// The kernel counts timeouts in scheduler ticks and may give up as much as one tick (10 ms
/// with `HZ=100`) before the wall clock says the timeout has passed; the model never does.
const TICK: Duration = Duration::from_millis(10);

/// Asserts a call that timed out waited at least [`TIMEOUT`] (an upper bound would not be
/// sound on a loaded machine).
#[track_caller]
fn assert_waited<M: Maker>(m: &M, start: Instant) {
    let waited = start.elapsed();
    assert!(
        waited + TICK >= TIMEOUT,
        "{}: gave up after {waited:?}",
        m.name()
    );
}

fn timeouts_read_back_and_zero_is_invalid_input<M: Maker>(m: &M) {
    if skip(m, Feature::Timeouts) {
        return;
    }
    let (a, _b) = m.pair();
    let t = Duration::from_millis(300); // a whole number of ticks for every HZ Linux offers
    for write in [false, true] {
        assert_eq!(a.timeout(write), None);
        assert_eq!(
            kind(a.set_timeout(write, Some(Duration::ZERO))),
            ErrorKind::InvalidInput
        );
        a.set_timeout(write, Some(t)).unwrap();
        assert_eq!(a.timeout(write), Some(t));
        assert_eq!(a.timeout(!write), None, "the other direction is untouched");
        a.set_timeout(write, None).unwrap();
        assert_eq!(a.timeout(write), None);
    }
}

fn a_blocking_read_that_times_out_is_would_block<M: Maker>(m: &M) {
    if skip(m, Feature::Timeouts) {
        return;
    }
    let (a, b) = m.pair();
    b.set_timeout(false, Some(TIMEOUT)).unwrap();
    let start = Instant::now();
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::WouldBlock);
    assert_waited(m, start);
    a.write_all(b"late").unwrap();
    assert_eq!(read_n(&b, 10).unwrap(), b"late");
}

fn a_blocking_write_that_times_out_returns_its_partial_count<M: Maker>(m: &M) {
    if skip(m, Feature::Timeouts) {
        return;
    }
    let (a, b) = m.pair();
    a.set_timeout(true, Some(TIMEOUT)).unwrap();
    let data = pattern(8 << 20, 5);
    let start = Instant::now();
    let n = a.write(&data).unwrap();
    assert_waited(m, start);
    assert!(n > 0 && n < data.len(), "{}: {n} bytes", m.name());
    let start = Instant::now();
    assert_eq!(kind(a.write(b"x")), ErrorKind::WouldBlock);
    assert_waited(m, start);
    b.set_nonblocking(true);
    assert_eq!(read_exactly(&b, n), data[..n]);
    assert_eq!(
        kind(read_n(&b, 1)),
        ErrorKind::WouldBlock,
        "nothing more queued"
    );
}

macro_rules! run_on {
    ($module:ident, $maker:expr, [$($scenario:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(&$maker);
                }
            )*
        }
    };
}

macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {
        run_on!(model, super::Mem, [$($scenario),*]);
        run_on!(kernel, super::Kernel, [$($scenario),*]);
        run_on!(socketpair, super::Wire(super::Kind::SocketPair), [$($scenario),*]);
        run_on!(pipes, super::Wire(super::Kind::Pipes), [$($scenario),*]);
        run_on!(loopback, super::Wire(super::Kind::Loopback), [$($scenario),*]);
    };
}

suite!(
    bytes_are_fifo_both_ways,
    a_read_returns_what_is_there,
    nonblocking_read_of_empty_would_block,
    zero_length_write_returns_0,
    zero_length_read_with_bytes_consumes_nothing,
    zero_length_read_at_eof_returns_0,
    zero_length_read_of_empty_nonblocking_would_block,
    fill_would_block_then_drains_in_order,
    a_write_bigger_than_the_room_is_partial,
    a_blocking_write_returns_when_every_byte_is_written,
    eof_for_ever_after_the_peer_is_dropped,
    writing_to_a_dropped_peer_is_broken_pipe,
    a_peer_dropped_with_unread_bytes_resets_after_the_survivors_bytes,
    shutdown_write_gives_eof_and_broken_pipe,
    shutdown_read_fails_the_peers_writes,
    shutdown_read_keeps_queued_bytes,
    a_blocked_reader_is_woken_by_a_write,
    a_blocked_writer_is_woken_by_a_read,
    a_blocked_reader_is_woken_by_the_peers_drop,
    a_blocked_reader_is_woken_by_the_peers_shutdown_write,
    a_blocked_writer_is_woken_by_the_peers_drop,
    a_blocked_writer_is_woken_by_the_peers_shutdown_read,
    a_blocked_reader_and_writer_are_both_woken_by_the_peers_drop,
    two_blocked_readers_and_one_byte,
    vectored_writes_and_reads_keep_order,
    clones_share_the_nonblocking_flag_and_close_last,
    readiness_follows_the_state,
    timeouts_read_back_and_zero_is_invalid_input,
    a_blocking_read_that_times_out_is_would_block,
    a_blocking_write_that_times_out_returns_its_partial_count,
);
