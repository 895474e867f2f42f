//! Unit tests of the sans-IO capture (against a byte-at-a-time reference) and of the drain
//! thread on real pipes and sockets.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::*;

/// The grace given to `finish` where the drain is expected to join: only a hang guard, long
/// enough for a loaded machine to schedule the thread (a drain that joins returns at once).
const GRACE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The reference: the line rules spelled out one byte at a time.

fn reference_lines(input: &[u8], max_line: usize) -> Vec<Line> {
    let max_line = max_line.max(1);
    let mut lines = Vec::new();
    let mut cur = Vec::new();
    for &b in input {
        if b == b'\n' {
            lines.push(Line {
                bytes: std::mem::take(&mut cur),
                partial: false,
            });
        } else {
            if cur.len() == max_line {
                lines.push(Line {
                    bytes: std::mem::take(&mut cur),
                    partial: true,
                });
            }
            cur.push(b);
        }
    }
    if !cur.is_empty() {
        lines.push(Line {
            bytes: cur,
            partial: false,
        });
    }
    lines
}

/// What lines mode forwards for `input`, whose `lines` the reference made: each line
/// prefixed and newline-terminated, without the `'\r'` of a `"\r\n"` that ended it.
fn lines_output(input: &[u8], lines: &[Line], prefix: &[u8]) -> Vec<u8> {
    // Only the last line can have ended without a newline, and only if the input does.
    let unterminated = input.last().is_some_and(|&b| b != b'\n');
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let last_unterminated = unterminated && i == lines.len() - 1;
        let newline = !(l.partial || last_unterminated);
        let bytes = match l.bytes.split_last() {
            Some((b'\r', before)) if newline => before,
            _ => &l.bytes[..],
        };
        out.extend_from_slice(prefix);
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    out
}

fn last(input: &[u8], n: usize) -> &[u8] {
    &input[input.len().saturating_sub(n)..]
}

/// Feeds `input` cut at `cuts` (sorted offsets), then finishes; returns the forwarded bytes.
fn run_capture(capture: &mut Capture, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([input.len()].iter()) {
        let cut = cut.clamp(at, input.len());
        capture.feed(&input[at..cut], &mut out);
        at = cut;
    }
    capture.finish(&mut out);
    out
}

/// Bytes that stress the splitter and a terminal: newlines, CR, ESC, invalid UTF-8.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => any::<u8>(),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        1 => Just(0x1b),
        1 => Just(0xff),
        2 => Just(b'a'),
    ];
    prop::collection::vec(byte, 0..3000)
}

fn mode() -> impl Strategy<Value = Forward> {
    prop_oneof![
        Just(Forward::Raw),
        Just(Forward::Quiet),
        Just(Forward::Lines { prefix: Vec::new() }),
        Just(Forward::Lines {
            prefix: b"[c] ".to_vec()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the chunking and the sizes: raw forwards the exact bytes, lines mode forwards
    /// the reference's lines, quiet nothing; the subscriber gets the reference's lines; the
    /// tail is the last `tail` bytes; the counters agree.
    #[test]
    fn capture_matches_reference(
        input in stream(),
        mut cuts in prop::collection::vec(0usize..3000, 0..40),
        tail in prop_oneof![Just(0usize), 1usize..64, 64usize..5000],
        max_line in prop_oneof![0usize..4, 4usize..300],
        forward in mode(),
    ) {
        cuts.sort_unstable();
        let (tx, rx) = mpsc::sync_channel(input.len() + 1);
        let mut capture = Capture::new(
            Config::default().tail(tail).max_line(max_line).forward(forward.clone()),
        )
        .with_subscriber(Box::new(tx));
        let out = run_capture(&mut capture, &input, &cuts);
        let want = reference_lines(&input, max_line);
        match &forward {
            Forward::Raw => prop_assert_eq!(&out, &input),
            Forward::Quiet => prop_assert!(out.is_empty()),
            Forward::Lines { prefix } => {
                prop_assert_eq!(out, lines_output(&input, &want, prefix))
            }
        }
        let got: Vec<Line> = rx.try_iter().collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(capture.tail(), last(&input, tail));
        prop_assert_eq!(capture.bytes(), input.len() as u64);
        prop_assert_eq!(capture.lines(), want.len() as u64);
        prop_assert_eq!(capture.dropped(), 0);
        let (ring, line) = capture.capacities();
        prop_assert!(ring <= tail.max(input.len().min(tail)));
        prop_assert!(line <= max_line.max(1));
    }
}

/// Raw passthrough of large random streams in random chunks, seeded, with fastrand.
#[test]
fn raw_passthrough_random_chunks() {
    for seed in 0..20 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let len = rng.usize(0..400_000);
        let input: Vec<u8> = (0..len)
            .map(|_| match rng.u8(..) % 8 {
                0 => b'\n',
                1 => b'\r',
                2 => 0x1b,
                _ => rng.u8(..),
            })
            .collect();
        let mut cuts: Vec<usize> = (0..rng.usize(0..200)).map(|_| rng.usize(0..=len)).collect();
        cuts.sort_unstable();
        let tail = rng.usize(0..100_000);
        let mut capture = Capture::new(Config::default().tail(tail));
        let out = run_capture(&mut capture, &input, &cuts);
        assert!(out == input, "seed {seed}: raw output differs from input");
        assert!(capture.tail() == last(&input, tail), "seed {seed}: tail");
        assert_eq!(
            capture.lines(),
            reference_lines(&input, DEFAULT_MAX_LINE).len() as u64
        );
    }
}

#[test]
fn lines_mode_prefixes_each_line() {
    let prefix = b"[host] ".to_vec();
    let mut c = Capture::new(Config::default().forward(Forward::Lines { prefix }));
    let mut out = Vec::new();
    c.feed(b"first\nsec", &mut out);
    assert_eq!(out, b"[host] first\n");
    c.feed(b"ond\r\n\nthird", &mut out);
    // The CR of a CRLF is dropped; an empty line is a line.
    assert_eq!(out, b"[host] first\n[host] second\n[host] \n");
    c.finish(&mut out);
    assert_eq!(out, b"[host] first\n[host] second\n[host] \n[host] third\n");
    assert_eq!(c.lines(), 4);
    // A second finish adds nothing.
    c.finish(&mut out);
    assert_eq!(c.lines(), 4);
}

#[test]
fn lines_mode_drops_only_the_cr_of_a_crlf() {
    let (tx, rx) = mpsc::sync_channel(16);
    let mut c = Capture::new(Config::default().forward(Forward::Lines {
        prefix: b"> ".to_vec(),
    }))
    .with_subscriber(Box::new(tx));
    let mut out = Vec::new();
    // ssh's line; a lone CR mid-line (a progress meter) and a CR not before a newline stay.
    c.feed(b"Warning: added\r\n10%\r20%\r\nx\ry\n", &mut out);
    assert_eq!(out, b"> Warning: added\n> 10%\r20%\n> x\ry\n");
    out.clear();
    // A CRLF split across two feeds, the CR carried with the unfinished line.
    c.feed(b"split\r", &mut out);
    assert!(out.is_empty());
    c.feed(b"\n", &mut out);
    assert_eq!(out, b"> split\n");
    out.clear();
    // The CR alone in one feed, the line before it in another.
    c.feed(b"alone", &mut out);
    c.feed(b"\r", &mut out);
    c.feed(b"\nCR\r\r\n", &mut out);
    assert_eq!(out, b"> alone\n> CR\r\n");
    out.clear();
    // A last line ending in CR without a newline keeps it.
    c.feed(b"end\r", &mut out);
    c.finish(&mut out);
    assert_eq!(out, b"> end\r\n");
    // Subscribers get the bytes as written.
    let got: Vec<Vec<u8>> = rx.try_iter().map(|l| l.bytes).collect();
    assert_eq!(got[0], b"Warning: added\r");
    assert_eq!(got[3], b"split\r");
    // Raw mode is byte-exact.
    let mut raw = Capture::new(Config::default());
    let mut out = Vec::new();
    raw.feed(b"a\r\n", &mut out);
    assert_eq!(out, b"a\r\n");
}

#[test]
fn partial_line_at_finish_reaches_subscriber_whole() {
    let (tx, rx) = mpsc::sync_channel(8);
    let mut c = Capture::new(Config::default()).with_subscriber(Box::new(tx));
    let mut out = Vec::new();
    c.feed(b"Password: ", &mut out);
    // Raw mode forwards the prompt at once; no line yet.
    assert_eq!(out, b"Password: ");
    assert!(rx.try_recv().is_err());
    out.clear();
    c.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(
        rx.try_recv().unwrap(),
        Line {
            bytes: b"Password: ".to_vec(),
            partial: false
        }
    );
}

#[test]
fn line_of_exactly_max_line_is_whole() {
    let (tx, rx) = mpsc::sync_channel(8);
    let mut c = Capture::new(Config::default().max_line(4)).with_subscriber(Box::new(tx));
    let mut out = Vec::new();
    c.feed(b"abcd", &mut out);
    c.feed(b"\nabcde\n", &mut out);
    let got: Vec<Line> = rx.try_iter().collect();
    let line = |b: &[u8], partial| Line {
        bytes: b.to_vec(),
        partial,
    };
    assert_eq!(
        got,
        [line(b"abcd", false), line(b"abcd", true), line(b"e", false)]
    );
}

#[test]
fn max_line_zero_is_clamped_to_one() {
    let mut c = Capture::new(
        Config::default()
            .max_line(0)
            .tail(0)
            .forward(Forward::Lines {
                prefix: b">".to_vec(),
            }),
    );
    let mut out = Vec::new();
    c.feed(b"xyz\n", &mut out);
    c.finish(&mut out);
    assert_eq!(out, b">x\n>y\n>z\n");
    assert_eq!(c.lines(), 3);
    assert!(c.tail().is_empty());
    assert_eq!(c.capacities().0, 0);
}

/// Counts what it receives, checking the pieces of a newline-free stream as they come.
struct PieceCounter {
    max_line: usize,
    pieces: Arc<Mutex<(u64, u64)>>, // (partial, whole)
}

impl Subscriber for PieceCounter {
    fn try_send(&mut self, line: Line) -> bool {
        let mut p = self.pieces.lock().unwrap();
        if line.partial {
            assert_eq!(line.bytes.len(), self.max_line);
            p.0 += 1;
        } else {
            p.1 += 1;
        }
        true
    }
}

#[test]
fn endless_line_keeps_memory_bounded() {
    const TOTAL: usize = 10 << 20;
    let (tail, max_line) = (4096, 1000);
    let pieces = Arc::new(Mutex::new((0, 0)));
    for forward in [
        Forward::Raw,
        Forward::Quiet,
        Forward::Lines {
            prefix: b"> ".to_vec(),
        },
    ] {
        *pieces.lock().unwrap() = (0, 0);
        let mut c = Capture::new(
            Config::default()
                .tail(tail)
                .max_line(max_line)
                .forward(forward.clone()),
        )
        .with_subscriber(Box::new(PieceCounter {
            max_line,
            pieces: Arc::clone(&pieces),
        }));
        let mut rng = fastrand::Rng::with_seed(7);
        let chunk: Vec<u8> = (0..65_536).map(|_| rng.u8(b'a'..=b'z')).collect();
        let mut out = Vec::new();
        let mut forwarded = 0;
        let mut fed = 0;
        while fed < TOTAL {
            // Odd sizes, so pieces straddle chunks.
            let n = (TOTAL - fed).min(chunk.len() - fed % 7);
            c.feed(&chunk[..n], &mut out);
            fed += n;
            let (ring, line) = c.capacities();
            assert!(ring <= tail, "tail ring grew to {ring}");
            assert!(line <= max_line, "line buffer grew to {line}");
            forwarded += out.len();
            out.clear();
        }
        c.finish(&mut out);
        forwarded += out.len();
        let whole_pieces = (TOTAL / max_line) as u64;
        let rest = TOTAL % max_line;
        let (partial, whole) = *pieces.lock().unwrap();
        assert_eq!(c.lines(), partial + whole);
        assert_eq!(whole, 1, "one last piece");
        assert_eq!(partial, whole_pieces - u64::from(rest == 0));
        match forward {
            Forward::Raw => assert_eq!(forwarded, TOTAL),
            Forward::Quiet => assert_eq!(forwarded, 0),
            Forward::Lines { .. } => {
                assert_eq!(forwarded, TOTAL + c.lines() as usize * 3)
            }
        }
        assert_eq!(c.tail().len(), tail);
    }
}

#[test]
fn tail_holds_exactly_the_last_bytes() {
    let input: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for tail in [0, 1, 7, 100, 9_999, 10_000, 20_000] {
        for step in [1, 3, 64, 5000, 10_000] {
            let mut c = Capture::new(Config::default().tail(tail).forward(Forward::Quiet));
            let mut out = Vec::new();
            for chunk in input.chunks(step) {
                c.feed(chunk, &mut out);
                assert!(c.capacities().0 <= tail);
            }
            assert_eq!(c.tail(), last(&input, tail), "tail {tail} step {step}");
            assert!(out.is_empty());
        }
    }
}

#[test]
fn undrained_subscriber_counts_every_drop() {
    let (tx, rx) = mpsc::sync_channel(1);
    let mut c = Capture::new(Config::default()).with_subscriber(Box::new(tx));
    let mut out = Vec::new();
    for i in 0..10 {
        c.feed(format!("line {i}\n").as_bytes(), &mut out);
    }
    assert_eq!(c.lines(), 10);
    assert_eq!(c.dropped(), 9);
    assert_eq!(rx.try_recv().unwrap().bytes, b"line 0");
    // Raw forwarding is unaffected by the subscriber.
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 10);
    // A subscriber whose receiver is gone refuses everything.
    drop(rx);
    c.feed(b"x\ny\n", &mut out);
    assert_eq!(c.dropped(), 11);
}

#[test]
fn partly_drained_subscriber_keeps_the_invariant() {
    let mut rng = fastrand::Rng::with_seed(3);
    let (tx, rx) = mpsc::sync_channel(4);
    let mut c = Capture::new(Config::default().max_line(16)).with_subscriber(Box::new(tx));
    let mut out = Vec::new();
    let mut received = 0u64;
    for _ in 0..2000 {
        let chunk: Vec<u8> = (0..rng.usize(0..80))
            .map(|_| if rng.u8(..) < 40 { b'\n' } else { b'x' })
            .collect();
        c.feed(&chunk, &mut out);
        for _ in 0..rng.usize(0..4) {
            if rx.try_recv().is_ok() {
                received += 1;
            }
        }
    }
    c.finish(&mut out);
    received += rx.try_iter().count() as u64;
    assert!(
        c.dropped() > 0 && received > 0,
        "the test must exercise both"
    );
    assert_eq!(c.dropped(), c.lines() - received);
}

#[test]
fn quiet_forwards_nothing_but_tails_and_counts() {
    let mut c = Capture::new(Config::default().tail(5).forward(Forward::Quiet));
    let mut out = Vec::new();
    c.feed(b"hello\nworld\n", &mut out);
    c.feed(b"\x1b[31mred", &mut out);
    c.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(c.tail(), b"1mred");
    assert_eq!((c.bytes(), c.lines()), (20, 3));
}

// ---------------------------------------------------------------------------------------------
// The drain, on real descriptors.

/// A sink the test can read afterwards.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<u8>>>);

impl Write for Collect {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Collect {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = crate::wire::pipe().unwrap();
    (r.into_fd(), w.into_fd())
}

/// (ours, theirs) of each kind the drain must handle.
fn channels() -> Vec<(&'static str, OwnedFd, OwnedFd)> {
    let (a, b) = socketpair();
    let (r, w) = pipe();
    let (o, t, kind) = channel().unwrap();
    assert_eq!(kind, crate::wire::Kind::SocketPair);
    vec![("socketpair", a, b), ("pipe", r, w), ("channel", o, t)]
}

fn lines_capture() -> (Capture, Receiver<Line>) {
    let (tx, rx) = mpsc::sync_channel(1024);
    let c = Capture::new(Config::default()).with_subscriber(Box::new(tx));
    (c, rx)
}

#[test]
fn drain_reads_to_eof() {
    for (name, ours, theirs) in channels() {
        let sink = Collect::default();
        let (capture, rx) = lines_capture();
        let drain = Drain::spawn(ours, capture, Box::new(sink.clone())).unwrap();
        let mut w = File::from(theirs);
        w.write_all(b"one\ntwo\nno newline").unwrap();
        drop(w);
        let r = drain.finish(GRACE);
        assert!(r.joined && r.eof, "{name}: {r:?}");
        assert_eq!(r.tail, b"one\ntwo\nno newline", "{name}");
        assert_eq!((r.bytes, r.lines, r.dropped), (18, 3, 0), "{name}");
        assert!(r.sink_error.is_none() && r.read_error.is_none(), "{name}");
        assert_eq!(sink.bytes(), b"one\ntwo\nno newline", "{name}");
        let got: Vec<Vec<u8>> = rx.try_iter().map(|l| l.bytes).collect();
        assert_eq!(got, [&b"one"[..], b"two", b"no newline"], "{name}");
    }
}

#[test]
fn finish_does_not_wait_for_a_writer_that_stays() {
    for (name, ours, theirs) in channels() {
        let sink = Collect::default();
        let (capture, rx) = lines_capture();
        let drain = Drain::spawn(ours, capture, Box::new(sink.clone())).unwrap();
        // The writer (a descendant, say) keeps its end open through the whole test.
        let mut w = File::from(theirs);
        w.write_all(b"queued\nand partial").unwrap();
        // The writer stays open for ever: a finish that waited for EOF would use up the whole
        // grace and not join. Joining at all is the proof; the grace is only a hang guard, long
        // enough for a loaded machine to schedule the thread.
        let r = drain.finish(Duration::from_secs(20));
        assert!(r.joined && !r.eof, "{name}: {r:?}");
        assert_eq!(r.tail, b"queued\nand partial", "{name}");
        assert_eq!(sink.bytes(), b"queued\nand partial", "{name}");
        let got: Vec<Vec<u8>> = rx.try_iter().map(|l| l.bytes).collect();
        assert_eq!(got, [&b"queued"[..], b"and partial"], "{name}");
        drop(w);
    }
}

/// Bytes queued before the thread ever ran, more than one read buffer, are all delivered by
/// a finish that comes first.
#[test]
fn finish_delivers_everything_already_queued() {
    let (ours, theirs) = socketpair();
    rustix::net::sockopt::set_socket_send_buffer_size(&theirs, 1 << 20).unwrap();
    crate::fd::set_nonblocking(&theirs, true).unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let data: Vec<u8> = (0..400_000).map(|_| rng.u8(..)).collect();
    let mut written = 0;
    let mut w = File::from(theirs);
    while written < data.len() {
        match w.write(&data[written..(written + 8192).min(data.len())]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(written > 64 * 1024, "only {written} bytes fit");
    let sink = Collect::default();
    let capture = Capture::new(Config::default().tail(1 << 20));
    let drain = Drain::spawn(ours, capture, Box::new(sink.clone())).unwrap();
    let r = drain.finish(GRACE);
    assert!(r.joined && !r.eof);
    assert_eq!(r.bytes, written as u64);
    assert!(r.tail == data[..written], "tail differs");
    assert!(sink.bytes() == data[..written], "sink differs");
    drop(w);
}

/// Fails every write after the first `ok` bytes.
struct Failing {
    ok: usize,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut seen = self.seen.lock().unwrap();
        if seen.len() >= self.ok {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.ok - seen.len());
        seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn sink_error_stops_forwarding_not_capture() {
    let (ours, theirs) = socketpair();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Failing {
        ok: 10,
        seen: Arc::clone(&seen),
    };
    let (capture, rx) = lines_capture();
    let drain = Drain::spawn(ours, capture, Box::new(sink)).unwrap();
    let mut w = File::from(theirs);
    let mut total = 0;
    for i in 0..50 {
        let line = format!("line number {i}\n");
        w.write_all(line.as_bytes()).unwrap();
        total += line.len();
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(w);
    let r = drain.finish(GRACE);
    assert!(r.joined && r.eof);
    assert_eq!(
        r.sink_error.as_ref().map(|e| e.to_string()).as_deref(),
        Some("disk full")
    );
    assert_eq!(*seen.lock().unwrap(), b"line numbe");
    assert_eq!(r.bytes, total as u64);
    assert_eq!(r.lines, 50);
    assert_eq!(rx.try_iter().count(), 50);
    assert!(r.tail.ends_with(b"line number 49\n"));
}

/// Sleeps in every write.
struct Slow(Collect, Duration);

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::sleep(self.1);
        // Short writes too, so the driver's write_all loop is exercised.
        let n = buf.len().min(5000);
        self.0.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn slow_sink_loses_nothing() {
    let (ours, theirs) = pipe();
    let sink = Collect::default();
    let prefix = b"| ".to_vec();
    let capture = Capture::new(Config::default().forward(Forward::Lines {
        prefix: prefix.clone(),
    }));
    let drain = Drain::spawn(
        ours,
        capture,
        Box::new(Slow(sink.clone(), Duration::from_micros(300))),
    )
    .unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    let data: Vec<u8> = (0..300_000)
        .map(|_| if rng.u8(..) < 10 { b'\n' } else { rng.u8(..) })
        .collect();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            let mut w = File::from(theirs);
            for chunk in data.chunks(777) {
                w.write_all(chunk).unwrap();
            }
        })
    };
    // Snapshots while it runs never go backwards.
    let mut seen = 0;
    while !writer.is_finished() {
        let s = drain.snapshot();
        assert!(s.bytes >= seen);
        seen = s.bytes;
        std::thread::sleep(Duration::from_millis(2));
    }
    writer.join().unwrap();
    let r = drain.finish(Duration::from_secs(30));
    assert!(r.joined && r.eof, "{r:?}");
    let want = lines_output(&data, &reference_lines(&data, DEFAULT_MAX_LINE), &prefix);
    assert!(sink.bytes() == want, "forwarded lines differ");
    assert_eq!(r.bytes, data.len() as u64);
}

#[test]
fn snapshot_while_running() {
    let (ours, theirs) = socketpair();
    let (capture, _rx) = lines_capture();
    let drain = Drain::spawn(ours, capture, Box::new(io::sink())).unwrap();
    let mut w = File::from(theirs);
    w.write_all(b"abc\nde").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let snap = loop {
        let s = drain.snapshot();
        if s.bytes == 6 || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(
        snap,
        Snapshot {
            tail: b"abc\nde".to_vec(),
            bytes: 6,
            lines: 1,
            dropped: 0
        }
    );
    let r = drain.finish(GRACE);
    // finish flushed the unfinished line.
    assert_eq!((r.lines, r.eof), (2, false));
    drop(w);
}

/// Blocks in its first write until released.
struct Stuck(Arc<AtomicBool>);

impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        while !self.0.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn stuck_sink_gives_up_after_grace() {
    let (ours, theirs) = socketpair();
    let release = Arc::new(AtomicBool::new(false));
    let drain = Drain::spawn(
        ours,
        Capture::new(Config::default()),
        Box::new(Stuck(Arc::clone(&release))),
    )
    .unwrap();
    let mut w = File::from(theirs);
    w.write_all(b"stuck").unwrap();
    // Wait until the thread has fed the chunk and is blocked writing it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while drain.snapshot().bytes < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    let r = drain.finish(Duration::from_millis(100));
    let took = started.elapsed();
    // At least the grace; the upper bound is only a hang guard (a loaded machine may be slow
    // to wake us at the deadline).
    assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(20));
    assert!(!r.joined);
    assert_eq!((r.tail.as_slice(), r.bytes), (&b"stuck"[..], 5));
    release.store(true, Ordering::SeqCst);
    drop(w);
}

/// Sets a flag when dropped: the thread let go of its sink.
struct DropFlag(Arc<AtomicBool>);

impl Write for DropFlag {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_drain_detaches_and_the_thread_ends() {
    let (ours, theirs) = socketpair();
    let dropped = Arc::new(AtomicBool::new(false));
    let drain = Drain::spawn(
        ours,
        Capture::new(Config::default()),
        Box::new(DropFlag(Arc::clone(&dropped))),
    )
    .unwrap();
    let started = Instant::now();
    drop(drain);
    // Dropping never waits for the writer, which stays open for the whole test: a bound this
    // loose only catches a drop that blocks.
    assert!(started.elapsed() < Duration::from_secs(20));
    // The writer stays open; the thread still ends, dropping the sink.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(dropped.load(Ordering::SeqCst));
    drop(theirs);
}

#[test]
fn channel_ends_are_cloexec_and_ours_is_read_only() {
    let (ours, theirs, kind) = channel().unwrap();
    assert_eq!(kind, crate::wire::Kind::SocketPair);
    assert!(crate::fd::is_cloexec(&ours).unwrap());
    assert!(crate::fd::is_cloexec(&theirs).unwrap());
    assert!(!crate::fd::is_nonblocking(&theirs).unwrap());
    // The child reading its fd 2 gets EOF at once instead of blocking.
    let mut buf = [0u8; 4];
    assert_eq!(rustix::io::read(&theirs, &mut buf).unwrap(), 0);
}

#[test]
fn channel_falls_back_to_a_pipe() {
    let (ours, theirs, kind) = channel_with(|| Err(rustix::io::Errno::MFILE.into())).unwrap();
    assert_eq!(kind, crate::wire::Kind::Pipes);
    assert!(crate::fd::is_cloexec(&ours).unwrap());
    assert!(crate::fd::is_cloexec(&theirs).unwrap());
    let drain = Drain::spawn(ours, Capture::new(Config::default()), Box::new(io::sink())).unwrap();
    File::from(theirs).write_all(b"via pipe").unwrap();
    let r = drain.finish(GRACE);
    assert_eq!((r.tail.as_slice(), r.eof), (&b"via pipe"[..], true));
}

/// Drains reuse idle pooled workers instead of spawning a thread each: consecutive runs land
/// on a thread that ran an earlier one.
#[test]
fn pooled_workers_are_reused() {
    use std::sync::mpsc;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (tx, rx) = mpsc::channel();
        super::pool::run(Box::new(move || {
            tx.send(std::thread::current().id()).unwrap();
        }))
        .unwrap();
        seen.push(rx.recv().unwrap());
        // Let the worker put itself back in the pool (a hang guard: it does so at once unless
        // the machine is very busy).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while super::pool::idle_workers() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert!(
        distinct.len() < seen.len(),
        "no worker was reused: {seen:?}"
    );
}

/// A panic in the sink ends that drain with an error in its report, and the pooled worker
/// lives on to run the next drain.
#[test]
fn a_panicking_sink_is_reported_and_the_pool_survives() {
    struct Panics;
    impl Write for Panics {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("sink panics on purpose");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let (ours, theirs, _) = super::channel().unwrap();
    let drain = Drain::spawn(ours, Capture::new(Config::default()), Box::new(Panics)).unwrap();
    let mut w = std::fs::File::from(theirs);
    w.write_all(b"boom\n").unwrap();
    drop(w);
    let r = drain.finish(GRACE);
    assert!(r.joined);
    let e = r.read_error.expect("the panic is reported");
    assert!(e.to_string().contains("panicked"), "{e}");
    // The next drain works.
    let (ours, theirs, _) = super::channel().unwrap();
    let drain = Drain::spawn(ours, Capture::new(Config::default()), Box::new(io::sink())).unwrap();
    std::fs::File::from(theirs).write_all(b"fine\n").unwrap();
    let r = drain.finish(GRACE);
    assert_eq!(r.tail, b"fine\n");
    assert!(r.read_error.is_none());
}
