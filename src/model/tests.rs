//! Unit tests of every rule in the module docs, including the ones that need threads. A thread
//! is known to be blocked when the model counts it as waiting (no sleeps), and every join is
//! bounded so a lost wake-up fails the test instead of hanging it.

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

#[path = "../../tests/support/bounded.rs"]
#[allow(dead_code)]
mod bounded;
use bounded::{BOUND, spawn};

/// Waits until `n` threads are blocked reading from `s` (`reads`) or writing to it.
#[track_caller]
fn until_waiting(s: &MemStream, reads: bool, n: usize) {
    let deadline = Instant::now() + BOUND;
    while s.waiting(reads) < n {
        assert!(Instant::now() < deadline, "no thread blocked on this end");
        thread::yield_now();
    }
}

/// Waits until `n` readers of `s` are blocked.
#[track_caller]
fn reader_blocked(s: &MemStream, n: usize) {
    until_waiting(s, true, n);
}

/// Waits until `n` writers of `s` are blocked.
#[track_caller]
fn writer_blocked(s: &MemStream, n: usize) {
    until_waiting(s, false, n);
}

fn read_n(s: &MemStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    let k = (&*s).read(&mut buf)?;
    buf.truncate(k);
    Ok(buf)
}

fn kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

fn nb_pair(cap: usize) -> (MemStream, MemStream) {
    let (a, b) = MemStream::pair_with_capacity(cap).unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<MemStream>();
}

#[test]
fn default_capacity_is_linux_wmem_default() {
    let (a, _b) = MemStream::pair().unwrap();
    assert_eq!(a.capacity(), 212_992);
    assert_eq!(
        kind(MemStream::pair_with_capacity(0)),
        ErrorKind::InvalidInput
    );
}

#[test]
fn bytes_are_fifo_per_direction() {
    let (mut a, mut b) = MemStream::pair().unwrap();
    a.write_all(b"one ").unwrap();
    b.write_all(b"back").unwrap();
    a.write_all(b"two").unwrap();
    let mut got = [0u8; 7];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one two");
    let mut got = [0u8; 4];
    a.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"back");
}

#[test]
fn a_read_returns_what_is_there_and_never_waits_for_more() {
    let (a, b) = MemStream::pair().unwrap(); // blocking
    (&a).write_all(b"abc").unwrap();
    (&a).write_all(b"def").unwrap();
    assert_eq!(read_n(&b, 4).unwrap(), b"abcd");
    assert_eq!(read_n(&b, 100).unwrap(), b"ef");
}

#[test]
fn zero_length_read_with_bytes_or_at_eof_returns_0_and_consumes_nothing() {
    let (a, b) = MemStream::pair().unwrap();
    (&a).write_all(b"xy").unwrap();
    assert_eq!((&b).read(&mut []).unwrap(), 0);
    assert_eq!(b.queued_in(), 2);
    a.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_n(&b, 8).unwrap(), b"xy");
    assert_eq!((&b).read(&mut []).unwrap(), 0);
}

#[test]
fn zero_length_read_on_an_empty_open_end_is_would_block_or_waits() {
    let (a, b) = MemStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    assert_eq!(kind((&b).read(&mut [])), ErrorKind::WouldBlock);
    // Blocking, as recv(2) does: it waits for data, then returns 0 leaving the data there.
    b.set_nonblocking(false).unwrap();
    let b2 = b.try_clone().unwrap();
    let t = spawn(move || (&b2).read(&mut []).map_err(|e| e.kind()));
    reader_blocked(&b, 1);
    (&a).write_all(b"z").unwrap();
    assert_eq!(t.join("the thread"), Ok(0));
    assert_eq!(b.queued_in(), 1);
}

#[test]
fn zero_length_write_returns_0_even_when_full_and_broken_pipe_when_closed() {
    let (a, b) = nb_pair(4);
    assert_eq!((&a).write(&[]).unwrap(), 0);
    (&a).write_all(b"full").unwrap();
    assert_eq!((&a).write(&[]).unwrap(), 0);
    b.shutdown(Shutdown::Read).unwrap();
    assert_eq!(kind((&a).write(&[])), ErrorKind::BrokenPipe);
}

#[test]
fn nonblocking_read_of_an_empty_end_would_block() {
    let (_a, b) = nb_pair(16);
    assert_eq!(kind(read_n(&b, 1)), ErrorKind::WouldBlock);
    assert_eq!(
        kind((&b).read_vectored(&mut [IoSliceMut::new(&mut [0; 4])])),
        ErrorKind::WouldBlock
    );
}

#[test]
fn nonblocking_write_fills_to_capacity_then_partial_then_would_block() {
    let (a, b) = nb_pair(10);
    assert_eq!((&a).write(b"0123456").unwrap(), 7);
    assert_eq!(
        (&a).write(b"789abc").unwrap(),
        3,
        "partial into a partly full buffer"
    );
    assert_eq!(kind((&a).write(b"x")), ErrorKind::WouldBlock);
    assert_eq!(a.queued_out(), 10);
    assert_eq!(read_n(&b, 4).unwrap(), b"0123");
    assert_eq!((&a).write(b"abcdef").unwrap(), 4);
    assert_eq!(read_n(&b, 100).unwrap(), b"456789abcd");
}

#[test]
fn blocking_write_returns_only_when_every_byte_is_written() {
    let (a, b) = MemStream::pair_with_capacity(1000).unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let want = data.clone();
    let reader = spawn(move || {
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).unwrap();
        got
    });
    // One call, 100 times the capacity.
    assert_eq!((&a).write(&data).unwrap(), data.len());
    drop(a);
    assert_eq!(reader.join("the thread"), want);
}

#[test]
fn buffered_bytes_survive_the_peer_then_eof_for_ever() {
    let (a, b) = MemStream::pair().unwrap();
    (&a).write_all(b"last words").unwrap();
    drop(a);
    assert_eq!(read_n(&b, 4).unwrap(), b"last");
    assert_eq!(read_n(&b, 100).unwrap(), b" words");
    for _ in 0..3 {
        assert_eq!(read_n(&b, 100).unwrap(), b"");
    }
    // Non-blocking makes no difference at EOF.
    b.set_nonblocking(true).unwrap();
    assert_eq!(read_n(&b, 100).unwrap(), b"");
}

#[test]
fn writing_to_a_dropped_peer_is_broken_pipe() {
    let (a, b) = MemStream::pair().unwrap();
    drop(b);
    assert_eq!(kind((&a).write(b"anyone?")), ErrorKind::BrokenPipe);
    assert_eq!(
        kind((&a).write_vectored(&[IoSlice::new(b"x")])),
        ErrorKind::BrokenPipe
    );
    assert_eq!(kind((&a).write(&[])), ErrorKind::BrokenPipe);
    let r = a.readiness();
    assert!(r.readable && r.writable && r.read_closed && r.write_closed && !r.error);
}

#[test]
fn peer_dropped_with_unread_bytes_resets_once_after_the_survivors_bytes() {
    let (a, b) = MemStream::pair().unwrap();
    (&a).write_all(b"to-b").unwrap();
    (&b).write_all(b"to-a").unwrap(); // a never reads it
    drop(a);
    assert!(b.readiness().error);
    // Linux: what is buffered for the survivor comes first, then ECONNRESET once, then EOF.
    assert_eq!(read_n(&b, 2).unwrap(), b"to");
    assert_eq!(read_n(&b, 10).unwrap(), b"-b");
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::ConnectionReset);
    assert!(!b.readiness().error);
    assert_eq!(read_n(&b, 10).unwrap(), b"");
    assert_eq!(kind((&b).write(b"x")), ErrorKind::BrokenPipe);
}

#[test]
fn reset_is_reported_to_a_zero_length_read_and_to_take_error() {
    let (a, b) = MemStream::pair().unwrap();
    (&b).write_all(b"unread").unwrap();
    drop(a);
    assert_eq!(kind((&b).read(&mut [])), ErrorKind::ConnectionReset);
    assert_eq!((&b).read(&mut []).unwrap(), 0);

    let (a, b) = MemStream::pair().unwrap();
    (&b).write_all(b"unread").unwrap();
    drop(a);
    assert_eq!(
        b.take_error().unwrap().map(|e| e.kind()),
        Some(ErrorKind::ConnectionReset)
    );
    assert!(b.take_error().unwrap().is_none());
    assert_eq!(read_n(&b, 1).unwrap(), b"");
}

#[test]
fn peer_dropped_with_nothing_unread_is_plain_eof() {
    let (a, b) = MemStream::pair().unwrap();
    (&b).write_all(b"read").unwrap();
    assert_eq!(read_n(&a, 4).unwrap(), b"read");
    drop(a);
    assert!(!b.readiness().error);
    assert_eq!(read_n(&b, 4).unwrap(), b"");
}

#[test]
fn shutdown_write_gives_the_peer_eof_and_own_writes_broken_pipe() {
    let (a, b) = MemStream::pair().unwrap();
    (&a).write_all(b"request").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    a.shutdown(Shutdown::Write).unwrap(); // twice is harmless
    assert_eq!(kind((&a).write(b"more")), ErrorKind::BrokenPipe);
    assert_eq!(read_n(&b, 100).unwrap(), b"request");
    assert_eq!(read_n(&b, 100).unwrap(), b"");
    assert!(b.readiness().read_closed);
    // The other direction still flows.
    (&b).write_all(b"response").unwrap();
    assert_eq!(read_n(&a, 100).unwrap(), b"response");
    let r = a.readiness();
    assert!(r.write_closed && !r.read_closed && !r.readable);
}

#[test]
fn shutdown_read_fails_peer_writes_and_keeps_queued_bytes() {
    let (a, b) = MemStream::pair().unwrap();
    (&b).write_all(b"queued").unwrap();
    a.shutdown(Shutdown::Read).unwrap();
    assert_eq!(kind((&b).write(b"nobody listens")), ErrorKind::BrokenPipe);
    assert!(b.readiness().write_closed);
    assert_eq!(read_n(&a, 3).unwrap(), b"que");
    assert_eq!(read_n(&a, 10).unwrap(), b"ued");
    assert_eq!(read_n(&a, 10).unwrap(), b"");
    // a's own writes are untouched.
    (&a).write_all(b"ok").unwrap();
    assert_eq!(read_n(&b, 10).unwrap(), b"ok");
}

#[test]
fn shutdown_both_closes_both_directions() {
    let (a, b) = MemStream::pair().unwrap();
    a.shutdown(Shutdown::Both).unwrap();
    assert_eq!(kind((&a).write(b"x")), ErrorKind::BrokenPipe);
    assert_eq!(kind((&b).write(b"x")), ErrorKind::BrokenPipe);
    assert_eq!(read_n(&a, 1).unwrap(), b"");
    assert_eq!(read_n(&b, 1).unwrap(), b"");
    // Shutting down after the peer is gone is harmless too.
    drop(b);
    a.shutdown(Shutdown::Both).unwrap();
}

#[test]
fn an_end_closes_only_with_its_last_clone() {
    let (a, b) = MemStream::pair().unwrap();
    let a2 = a.try_clone().unwrap();
    (&a).write_all(b"from a").unwrap();
    drop(a);
    assert!(!b.readiness().read_closed);
    (&b).write_all(b"still there").unwrap();
    assert_eq!(read_n(&a2, 100).unwrap(), b"still there");
    assert_eq!(read_n(&b, 100).unwrap(), b"from a");
    drop(a2);
    assert_eq!(read_n(&b, 100).unwrap(), b"");
}

#[test]
fn clones_share_the_nonblocking_flag_and_the_buffers() {
    let (a, b) = MemStream::pair().unwrap();
    let a2 = a.try_clone().unwrap();
    a2.set_nonblocking(true).unwrap();
    assert_eq!(kind(read_n(&a, 1)), ErrorKind::WouldBlock);
    (&b).write_all(b"12").unwrap();
    assert_eq!(read_n(&a, 1).unwrap(), b"1");
    assert_eq!(read_n(&a2, 1).unwrap(), b"2");
    // The peer's flag is its own: its read waits.
    let b2 = b.try_clone().unwrap();
    let t = spawn(move || read_n(&b2, 1).unwrap());
    reader_blocked(&b, 1);
    (&a).write_all(b"3").unwrap();
    assert_eq!(t.join("the thread"), b"3");
}

#[test]
fn readiness_follows_the_state() {
    let (a, b) = nb_pair(8);
    let fresh = Readiness {
        writable: true,
        ..Readiness::default()
    };
    assert_eq!(a.readiness(), fresh);
    (&a).write_all(b"12345678").unwrap();
    assert!(!a.readiness().writable);
    assert!(b.readiness().readable);
    read_n(&b, 1).unwrap();
    assert!(a.readiness().writable);
    a.shutdown(Shutdown::Write).unwrap();
    let r = b.readiness();
    assert!(r.readable && r.read_closed && !r.write_closed && !r.error);
    read_n(&b, 100).unwrap();
    assert!(b.readiness().readable, "EOF is readable");
}

#[test]
fn vectored_io_splits_and_joins_across_the_ring() {
    let (a, b) = nb_pair(8);
    // Move the ring's head so later bytes wrap around.
    (&a).write_all(b"123456").unwrap();
    read_n(&b, 6).unwrap();
    let n = (&a)
        .write_vectored(&[
            IoSlice::new(b""),
            IoSlice::new(b"abc"),
            IoSlice::new(b"defghij"),
        ])
        .unwrap();
    assert_eq!(n, 8);
    let (mut x, mut y, mut z) = ([0u8; 0], [0u8; 3], [0u8; 10]);
    let n = (&b)
        .read_vectored(&mut [
            IoSliceMut::new(&mut x),
            IoSliceMut::new(&mut y),
            IoSliceMut::new(&mut z),
        ])
        .unwrap();
    assert_eq!(n, 8);
    assert_eq!(&y, b"abc");
    assert_eq!(&z[..5], b"defgh");
}

// ---- threads ----

#[test]
fn blocked_reader_is_woken_by_a_write() {
    let (a, b) = MemStream::pair().unwrap();
    let b2 = b.try_clone().unwrap();
    let t = spawn(move || read_n(&b2, 10).unwrap());
    reader_blocked(&b, 1);
    (&a).write_all(b"wake").unwrap();
    assert_eq!(t.join("the thread"), b"wake");
}

#[test]
fn blocked_writer_is_woken_by_a_read() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    (&a).write_all(b"full").unwrap();
    let a2 = a.try_clone().unwrap();
    let t = spawn(move || (&a2).write(b"more").unwrap());
    writer_blocked(&a, 1);
    assert_eq!(read_n(&b, 2).unwrap(), b"fu");
    // It wakes, writes "mo" and waits again for room for "re".
    let deadline = Instant::now() + BOUND;
    while b.queued_in() < 4 {
        assert!(Instant::now() < deadline, "the writer did not resume");
        thread::yield_now();
    }
    writer_blocked(&a, 1);
    assert!(t.done().is_none());
    assert_eq!(read_n(&b, 100).unwrap(), b"llmo");
    assert_eq!(t.join("the thread"), 4);
    assert_eq!(read_n(&b, 100).unwrap(), b"re");
}

#[test]
fn blocked_reader_and_writer_are_both_woken_by_a_peer_close() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    (&a).write_all(b"full").unwrap();
    let (ar, aw) = (a.try_clone().unwrap(), a.try_clone().unwrap());
    let reader = spawn(move || read_n(&ar, 10).map_err(|e| e.kind()));
    let writer = spawn(move || (&aw).write(b"x").map_err(|e| e.kind()));
    reader_blocked(&a, 1);
    writer_blocked(&a, 1);
    // b leaves "full" unread, so one ConnectionReset is due: whichever woken thread runs first
    // takes it (as on Linux); the reader otherwise sees EOF, the writer BrokenPipe.
    drop(b);
    let (w, r) = (writer.join("the thread"), reader.join("the thread"));
    assert!(
        matches!(
            (w, &r),
            (Err(ErrorKind::ConnectionReset), Ok(v)) if v.is_empty()
        ) || (w, &r) == (Err(ErrorKind::BrokenPipe), &Err(ErrorKind::ConnectionReset)),
        "writer {w:?}, reader {r:?}"
    );
    assert_eq!(read_n(&a, 10).unwrap(), b"");
}

#[test]
fn a_blocked_writer_takes_the_pending_reset_of_a_dropped_peer() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    (&a).write_all(b"full").unwrap();
    let a2 = a.try_clone().unwrap();
    let t = spawn(move || (&a2).write(b"x").map_err(|e| e.kind()));
    writer_blocked(&a, 1);
    drop(b);
    assert_eq!(t.join("the thread"), Err(ErrorKind::ConnectionReset));
    assert!(!a.readiness().error);
    assert_eq!(read_n(&a, 10).unwrap(), b"");
    assert_eq!(kind((&a).write(b"x")), ErrorKind::BrokenPipe);
}

#[test]
fn blocked_reader_is_woken_by_peer_shutdown_write_with_eof() {
    let (a, b) = MemStream::pair().unwrap();
    let b2 = b.try_clone().unwrap();
    let t = spawn(move || read_n(&b2, 10).unwrap());
    reader_blocked(&b, 1);
    a.shutdown(Shutdown::Write).unwrap();
    assert_eq!(t.join("the thread"), b"");
}

#[test]
fn blocked_writer_is_woken_by_peer_shutdown_read_with_broken_pipe() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    (&a).write_all(b"full").unwrap();
    let a2 = a.try_clone().unwrap();
    let t = spawn(move || (&a2).write(b"x").map_err(|e| e.kind()));
    writer_blocked(&a, 1);
    b.shutdown(Shutdown::Read).unwrap();
    assert_eq!(t.join("the thread"), Err(ErrorKind::BrokenPipe));
}

#[test]
fn blocked_writer_that_wrote_some_returns_its_count_when_the_peer_goes() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    let a2 = a.try_clone().unwrap();
    let t = spawn(move || (&a2).write(b"0123456789").map_err(|e| e.kind()));
    writer_blocked(&a, 1);
    drop(b);
    assert_eq!(t.join("the thread"), Ok(4));
    // Its wake-up spent the pending reset, as on Linux.
    assert_eq!(read_n(&a, 10).unwrap(), b"");
}

#[test]
fn two_blocked_readers_and_one_byte_exactly_one_gets_it() {
    let (a, b) = MemStream::pair().unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let b = b.try_clone().unwrap();
            spawn(move || read_n(&b, 10).unwrap())
        })
        .collect();
    reader_blocked(&b, 2);
    (&a).write_all(b"!").unwrap();
    // One of them returns with the byte; the other goes back to waiting.
    let deadline = Instant::now() + BOUND;
    let mut got = Vec::new();
    let mut pending: Vec<_> = readers.into_iter().collect();
    while got.is_empty() {
        assert!(Instant::now() < deadline, "nobody got the byte");
        pending.retain(|t| match t.done() {
            Some(v) => {
                got.push(v);
                false
            }
            None => true,
        });
        thread::yield_now();
    }
    assert_eq!(got, [b"!".to_vec()]);
    reader_blocked(&b, 1);
    assert_eq!(pending.len(), 1);
    drop(a);
    assert_eq!(pending.pop().unwrap().join("the thread"), b"");
}

#[test]
fn a_blocked_call_keeps_the_mode_it_started_with() {
    let (a, b) = MemStream::pair().unwrap();
    let b2 = b.try_clone().unwrap();
    let t = spawn(move || read_n(&b2, 10).unwrap());
    reader_blocked(&b, 1);
    b.set_nonblocking(true).unwrap();
    (&a).write_all(b"late").unwrap();
    assert_eq!(t.join("the thread"), b"late");
}

// ---- timeouts ----

#[test]
fn timeouts_are_none_by_default_reject_zero_and_are_shared_by_clones() {
    let (a, _b) = MemStream::pair().unwrap();
    assert_eq!(a.read_timeout().unwrap(), None);
    assert_eq!(a.write_timeout().unwrap(), None);
    let zero = Some(Duration::ZERO);
    assert_eq!(kind(a.set_read_timeout(zero)), ErrorKind::InvalidInput);
    assert_eq!(kind(a.set_write_timeout(zero)), ErrorKind::InvalidInput);
    let (r, w) = (Duration::from_millis(1500), Duration::from_nanos(1));
    a.set_read_timeout(Some(r)).unwrap();
    a.set_write_timeout(Some(w)).unwrap();
    let a2 = a.try_clone().unwrap();
    assert_eq!(a2.read_timeout().unwrap(), Some(r));
    assert_eq!(a2.write_timeout().unwrap(), Some(w));
    a2.set_read_timeout(None).unwrap();
    assert_eq!(a.read_timeout().unwrap(), None);
    assert_eq!(
        a.write_timeout().unwrap(),
        Some(w),
        "the other direction is untouched"
    );
}

#[test]
fn a_blocking_read_that_waits_past_its_timeout_is_would_block() {
    let (a, b) = MemStream::pair().unwrap();
    let t = Duration::from_millis(100);
    b.set_read_timeout(Some(t)).unwrap();
    let start = Instant::now();
    let err = read_n(&b, 10).unwrap_err();
    assert!(start.elapsed() >= t, "gave up after {:?}", start.elapsed());
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    assert!(err.to_string().contains("set_read_timeout"), "{err}");
    // Nothing is spent: bytes, EOF and a huge timeout work as before.
    (&a).write_all(b"late").unwrap();
    assert_eq!(read_n(&b, 10).unwrap(), b"late");
    b.set_read_timeout(Some(Duration::MAX)).unwrap(); // too large for an Instant: for ever
    drop(a);
    assert_eq!(read_n(&b, 10).unwrap(), b"");
}

#[test]
fn a_blocking_write_that_waits_past_its_timeout_returns_its_partial_count() {
    let (a, b) = MemStream::pair_with_capacity(10).unwrap();
    let t = Duration::from_millis(100);
    a.set_write_timeout(Some(t)).unwrap();
    let start = Instant::now();
    assert_eq!((&a).write(&[1u8; 25]).unwrap(), 10, "what fitted");
    assert!(start.elapsed() >= t, "gave up after {:?}", start.elapsed());
    let start = Instant::now();
    let err = (&a).write(b"x").unwrap_err();
    assert!(start.elapsed() >= t, "gave up after {:?}", start.elapsed());
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    assert!(err.to_string().contains("set_write_timeout"), "{err}");
    assert_eq!(b.queued_in(), 10);
}

#[test]
fn a_blocked_call_with_a_timeout_is_woken_like_any_other() {
    let (a, b) = MemStream::pair_with_capacity(4).unwrap();
    let hour = Some(Duration::from_secs(3600));
    a.set_write_timeout(hour).unwrap();
    b.set_read_timeout(hour).unwrap();
    let b2 = b.try_clone().unwrap();
    let reader = spawn(move || read_n(&b2, 10).unwrap());
    reader_blocked(&b, 1);
    (&a).write_all(b"ping").unwrap();
    assert_eq!(reader.join("the reader"), b"ping");
    // A timed write that makes progress goes on waiting for room until it is done.
    let a2 = a.try_clone().unwrap();
    let writer = spawn(move || (&a2).write(&[9u8; 12]).unwrap());
    for _ in 0..2 {
        writer_blocked(&a, 1);
        assert_eq!(read_n(&b, 4).unwrap(), [9u8; 4]);
    }
    assert_eq!(writer.join("the writer"), 12);
    assert_eq!(read_n(&b, 10).unwrap(), [9u8; 4]);
}

// ---- faults ----

#[test]
fn injected_errors_are_returned_once_in_order_without_touching_the_bytes() {
    let (a, b) = MemStream::pair().unwrap(); // blocking: error faults still return at once
    (&a).write_all(b"data").unwrap();
    b.inject_reads([
        Fault::WouldBlock,
        Fault::Interrupted,
        Fault::ConnectionReset,
    ]);
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::WouldBlock);
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::Interrupted);
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::ConnectionReset);
    assert_eq!(read_n(&b, 10).unwrap(), b"data");

    a.inject_writes([
        Fault::Interrupted,
        Fault::WouldBlock,
        Fault::ConnectionReset,
    ]);
    for want in [
        ErrorKind::Interrupted,
        ErrorKind::WouldBlock,
        ErrorKind::ConnectionReset,
    ] {
        assert_eq!(kind((&a).write(b"x")), want);
    }
    assert_eq!(b.queued_in(), 0);
    assert_eq!((&a).write(b"ok").unwrap(), 2);
}

#[test]
fn short_faults_cap_one_call_each() {
    let (a, b) = MemStream::pair().unwrap();
    a.inject_writes([Fault::Short(3), Fault::Pass, Fault::Short(0)]);
    assert_eq!((&a).write(b"abcdef").unwrap(), 3);
    assert_eq!((&a).write(b"def").unwrap(), 3);
    assert_eq!((&a).write(b"gh").unwrap(), 1, "Short(0) counts as Short(1)");
    b.inject_reads([Fault::Short(2), Fault::Short(100)]);
    assert_eq!(read_n(&b, 10).unwrap(), b"ab");
    assert_eq!(read_n(&b, 10).unwrap(), b"cdefg");
    // Vectored calls take one fault per call too.
    (&a).write_all(b"xyz").unwrap();
    b.inject_reads([Fault::Short(2)]);
    let (mut p, mut q) = ([0u8; 1], [0u8; 5]);
    let n = (&b)
        .read_vectored(&mut [IoSliceMut::new(&mut p), IoSliceMut::new(&mut q)])
        .unwrap();
    assert_eq!((n, p, q[0]), (2, *b"x", b'y'));
}

#[test]
fn a_blocking_write_with_a_short_fault_stops_early() {
    let (a, b) = MemStream::pair().unwrap();
    a.inject_writes([Fault::Short(5)]);
    assert_eq!((&a).write(&[7u8; 1000]).unwrap(), 5);
    assert_eq!(b.queued_in(), 5);
}

#[test]
fn faults_are_per_end_and_per_direction_shared_by_clones_and_clearable() {
    let (a, b) = MemStream::pair().unwrap();
    a.inject_reads([Fault::Interrupted]);
    // a's writes and b's calls are untouched.
    (&a).write_all(b"1").unwrap();
    (&b).write_all(b"2").unwrap();
    assert_eq!(read_n(&b, 10).unwrap(), b"1");
    // A clone of a takes a's fault.
    let a2 = a.try_clone().unwrap();
    assert_eq!(kind(read_n(&a2, 10)), ErrorKind::Interrupted);
    assert_eq!(read_n(&a, 10).unwrap(), b"2");
    a.inject_reads([Fault::WouldBlock; 3]);
    a.inject_writes([Fault::WouldBlock; 3]);
    a.clear_faults();
    (&a).write_all(b"3").unwrap();
    (&b).write_all(b"4").unwrap();
    assert_eq!(read_n(&a, 10).unwrap(), b"4");
}

/// `a.write_all(data)` against `b.read_exact` on another thread: every byte arrives in order.
fn assert_write_all_meets_read_exact(mut a: MemStream, mut b: MemStream, data: &[u8]) {
    let want = data.to_vec();
    let reader = spawn(move || {
        let mut got = vec![0; want.len()];
        b.read_exact(&mut got).unwrap();
        got == want
    });
    a.write_all(data).unwrap();
    assert!(reader.join("the thread"));
}

#[test]
fn write_all_and_read_exact_ride_out_every_transient_fault() {
    let (a, b) = MemStream::pair_with_capacity(64).unwrap();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
    a.inject_writes((0..200).map(|i| match i % 4 {
        0 => Fault::Short(i % 13),
        1 => Fault::Interrupted,
        _ => Fault::Pass,
    }));
    b.inject_reads((0..200).map(|i| match i % 3 {
        0 => Fault::Short(i % 7),
        1 => Fault::Interrupted,
        _ => Fault::Pass,
    }));
    assert_write_all_meets_read_exact(a, b, &data);
}

#[test]
fn a_repeating_fault_follows_the_queued_ones_until_cleared() {
    let (a, b) = MemStream::pair().unwrap();
    (&a).write_all(b"abcd").unwrap();
    b.inject_reads_forever(Fault::Short(1));
    b.inject_reads([Fault::Interrupted]); // queued faults come first, whenever injected
    assert_eq!(kind(read_n(&b, 10)), ErrorKind::Interrupted);
    assert_eq!(read_n(&b, 10).unwrap(), b"a");
    assert_eq!(
        read_n(&b.try_clone().unwrap(), 10).unwrap(),
        b"b",
        "clones share it"
    );
    b.inject_reads_forever(Fault::WouldBlock); // replaces Short(1)
    for _ in 0..3 {
        assert_eq!(kind(read_n(&b, 10)), ErrorKind::WouldBlock);
    }
    b.clear_faults();
    assert_eq!(read_n(&b, 10).unwrap(), b"cd");

    a.inject_writes_forever(Fault::ConnectionReset);
    for _ in 0..3 {
        assert_eq!(kind((&a).write(b"x")), ErrorKind::ConnectionReset);
    }
    (&b).write_all(b"y").unwrap();
    assert_eq!(read_n(&a, 10).unwrap(), b"y", "a's reads are untouched");
    a.clear_faults();
    (&a).write_all(b"z").unwrap();
    assert_eq!(read_n(&b, 10).unwrap(), b"z");
}

#[test]
fn write_all_and_read_exact_ride_out_short_faults_forever() {
    let (a, b) = MemStream::pair_with_capacity(64).unwrap();
    let data: Vec<u8> = (0..5_000u32).map(|i| (i * 13 % 256) as u8).collect();
    a.inject_writes_forever(Fault::Short(3));
    b.inject_reads_forever(Fault::Short(1));
    assert_write_all_meets_read_exact(a, b, &data);
}

#[test]
fn piecewise_copies_move_every_byte_in_order_around_the_piece_size() {
    use super::stream::{COPY_PIECE, copy, put, take};
    let src: Vec<u8> = (0..3 * COPY_PIECE as u32 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    for len in [0, 1, COPY_PIECE - 1, COPY_PIECE, COPY_PIECE + 1, src.len()] {
        let mut dst = vec![0u8; len];
        copy(&mut dst, &src[..len]);
        assert_eq!(dst, src[..len], "copy of {len} bytes");
        // Through a ring that wraps: put after a partial take, then take it all back.
        let mut q = std::collections::VecDeque::with_capacity(src.len());
        let skip = q.capacity() - 3;
        q.extend(std::iter::repeat_n(9u8, skip));
        let mut gone = vec![0u8; skip];
        assert_eq!(take(&mut q, &mut [IoSliceMut::new(&mut gone)], skip), skip);
        assert_eq!(put(&mut q, &[IoSlice::new(&src[..len])], 0, len), len);
        let mut back = vec![0u8; len];
        assert_eq!(take(&mut q, &mut [IoSliceMut::new(&mut back)], len), len);
        assert_eq!(back, src[..len], "put/take of {len} bytes");
        assert!(
            len <= 3 || q.capacity() == skip + 3,
            "the ring wrapped instead of growing"
        );
    }
}
