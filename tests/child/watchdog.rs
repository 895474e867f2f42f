//! Connect and stall watchdogs with real children: killed in time, and every handle says so.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use procwire::child::{Command, KillPolicy, StderrTo, TimedOut, Topology, Watchdog};

use crate::{PidFile, eventually, gone, read_line, sleep_until, stop, timed};

/// A hang-guard: longer than any step may take on a loaded machine, shorter than the 30-60 s
/// sleeps the tests tell apart from it.
const GUARD: Duration = Duration::from_secs(20);

/// A connect deadline a loaded machine still meets for what must come in time (the child's
/// first byte, our cancel), where the watchdog is meant not to fire.
const LENIENT: Duration = Duration::from_secs(3);

/// How long past a deadline a test waits before it checks that the watchdog did not fire.
const PAST: Duration = Duration::from_millis(500);

/// All the time a loaded machine needs between SIGTERM and the exit, so a child that honours
/// TERM dies of it (15), never of the KILL.
const POLICY: KillPolicy = KillPolicy {
    close: Duration::from_millis(100),
    term: GUARD,
    kill: GUARD,
};

fn assert_timed_out(e: &io::Error, which: Watchdog, what: &str) {
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{what}: {e}");
    let t = TimedOut::of(e).unwrap_or_else(|| panic!("{what}: no TimedOut inside {e:?}"));
    assert_eq!(t.watchdog(), which, "{what}");
}

/// `sleep 30` never writes; with a 1 s connect watchdog it is killed (no sooner than 1 s, and
/// well before it would end by itself), and the reader (blocked in read), the writer and the
/// handle all report the connect watchdog.
fn connect_watchdog_kills_a_silent_child(topology: Topology) {
    let spawned = std::time::Instant::now();
    let child = Command::from_argv(["sleep", "30"])
        .unwrap()
        .topology(topology)
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_secs(1))
        .kill_policy(POLICY)
        .spawn()
        .unwrap();
    let (mut reader, mut writer, handle) = child.split();
    let blocked = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let r = reader.read(&mut buf);
        (r, spawned.elapsed(), reader)
    });
    let (r, took, mut reader) = blocked.join().unwrap();
    let e = r.unwrap_err();
    assert_timed_out(&e, Watchdog::Connect, "the blocked reader");
    assert!(
        took >= Duration::from_secs(1) && took < GUARD,
        "{topology}: the reader woke {took:?} after the spawn"
    );
    assert_timed_out(
        &reader.read(&mut [0u8; 4]).unwrap_err(),
        Watchdog::Connect,
        "reader again",
    );
    assert_timed_out(
        &writer.write(b"x").unwrap_err(),
        Watchdog::Connect,
        "the writer",
    );
    let (r, took) = timed(|| handle.wait());
    let e = r.unwrap_err();
    assert_timed_out(&e, Watchdog::Connect, "the handle");
    let exit = TimedOut::of(&e)
        .unwrap()
        .exit()
        .expect("wait's error carries the exit");
    assert_eq!(
        exit.signal(),
        Some(15),
        "{topology}: sleep dies of the SIGTERM"
    );
    assert!(took < GUARD, "{topology}: reaped {took:?} after the wake");
    assert!(e.to_string().contains("connect watchdog"), "{e}");
}

#[test]
fn connect_watchdog_on_pipes() {
    connect_watchdog_kills_a_silent_child(Topology::Pipes);
}

#[test]
fn connect_watchdog_on_socketpairs() {
    connect_watchdog_kills_a_silent_child(Topology::SocketPairs);
}

#[test]
fn connect_watchdog_on_one_socketpair() {
    connect_watchdog_kills_a_silent_child(Topology::SocketPair);
}

/// A big write to a child that never reads blocks until the connect watchdog (`connect`) fires,
/// then fails with its error (well before the 30 s the child would run).
fn blocked_writer_is_woken(argv: &[&str], topology: Topology, connect: Duration) {
    let child = Command::from_argv(argv)
        .unwrap()
        .topology(topology)
        .stderr(StderrTo::Null)
        .connect_timeout(connect)
        .kill_policy(POLICY)
        .spawn()
        .unwrap();
    let (_reader, mut writer, handle) = child.split();
    let big = vec![0u8; 16 << 20];
    let (r, took) = timed(|| writer.write_all(&big));
    assert_timed_out(&r.unwrap_err(), Watchdog::Connect, "the blocked writer");
    assert!(took < GUARD, "{argv:?} on {topology}: {took:?}");
    assert!(handle.wait().is_err());
}

#[test]
fn a_blocked_writer_is_woken_too() {
    for topology in Topology::ALL {
        blocked_writer_is_woken(&["sleep", "30"], topology, Duration::from_millis(500));
    }
}

/// The child is killed but a descendant still holds its stdin pipe and never reads: the write
/// blocked on the full pipe must still end (our pipe end is non-blocking in this mode, so the
/// write waits in poll(2), where the watchdog's eventfd reaches it).
#[test]
fn a_writer_left_hanging_by_a_descendant_is_woken() {
    // The descendant holds stdin for 60 s, longer than the guard; the lenient deadline lets a
    // loaded shell start it before the watchdog fires.
    let descendant = PidFile::new("writer-descendant");
    let script = format!(
        "sleep 60 <&0 & echo $! >{}; exec sleep 30",
        descendant.path()
    );
    blocked_writer_is_woken(&["sh", "-c", &script], Topology::Pipes, LENIENT);
}

#[test]
fn a_descendant_holding_stdout_does_not_keep_a_pipe_reader_asleep() {
    // The shell's background sleep keeps the stdout pipe open for 60 s after the shell is
    // killed, so EOF does not come within the guard: only the watchdog's wake-up can end the
    // read. The lenient deadline lets a loaded shell start the sleep before the watchdog fires.
    let descendant = PidFile::new("reader-descendant");
    let script = format!("sleep 60 & echo $! >{}; exec sleep 30", descendant.path());
    let child = Command::from_argv(["sh", "-c", &script])
        .unwrap()
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .connect_timeout(LENIENT)
        .kill_policy(POLICY)
        .spawn()
        .unwrap();
    let (mut reader, _writer, handle) = child.split();
    let (r, took) = timed(|| reader.read(&mut [0u8; 8]));
    assert_timed_out(&r.unwrap_err(), Watchdog::Connect, "reader");
    assert!(took < GUARD, "{took:?}");
    assert!(handle.wait().is_err());
}

#[test]
fn a_byte_in_time_settles_the_connect_watchdog() {
    // The child says hello, then waits for our line: it is alive, and silent, past the
    // deadline. One child per topology, all at once, so the test waits out one deadline.
    let spawned = Instant::now();
    let mut children: Vec<_> = Topology::ALL
        .into_iter()
        .map(|topology| {
            let child = Command::from_argv(["sh", "-c", "echo hello; read _; echo bye"])
                .unwrap()
                .topology(topology)
                .stderr(StderrTo::Null)
                .connect_timeout(LENIENT)
                .spawn()
                .unwrap();
            (topology, child)
        })
        .collect();
    for (topology, child) in &mut children {
        assert_eq!(read_line(child), "hello\n", "{topology}");
    }
    sleep_until(spawned + LENIENT + PAST);
    for (topology, mut child) in children {
        child.write_all(b"go\n").unwrap();
        let mut out = String::new();
        child.read_to_string(&mut out).unwrap();
        assert_eq!(out, "bye\n", "{topology}");
        assert!(child.wait().unwrap().success(), "{topology}");
    }
}

#[test]
fn a_byte_waiting_unread_counts_as_arrived() {
    // The child greets, then waits for our line: alive past the deadline, with its greeting
    // waiting unread.
    let spawned = Instant::now();
    let child = Command::from_argv(["sh", "-c", "echo greeting; read _"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(LENIENT)
        .spawn()
        .unwrap();
    // Read nothing until well after the deadline.
    sleep_until(spawned + LENIENT + PAST);
    let (mut reader, mut writer, handle) = child.split();
    assert!(handle.timed_out().is_none());
    writer.write_all(b"go\n").unwrap();
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    assert_eq!(out, "greeting\n");
    assert!(handle.wait().unwrap().success());
}

#[test]
fn a_cancelled_connect_watchdog_does_not_fire() {
    // The child stays silent until our line, which comes only after the deadline.
    let spawned = Instant::now();
    let mut child = Command::from_argv(["sh", "-c", "read _; echo late"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(LENIENT)
        .spawn()
        .unwrap();
    child.cancel_connect_watchdog();
    sleep_until(spawned + LENIENT + PAST);
    assert!(child.handle().timed_out().is_none());
    child.write_all(b"go\n").unwrap();
    let mut out = String::new();
    child.read_to_string(&mut out).unwrap();
    assert_eq!(out, "late\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn stall_watchdog_fires_when_nothing_moves() {
    // Long enough that a loaded machine still reads "hi" before it runs out.
    const STALL: Duration = Duration::from_secs(2);
    for topology in Topology::ALL {
        let child = Command::from_argv(["sh", "-c", "echo hi; exec sleep 30"])
            .unwrap()
            .topology(topology)
            .stderr(StderrTo::Null)
            .stall_timeout(STALL)
            .kill_policy(POLICY)
            .spawn()
            .unwrap();
        let (mut reader, mut writer, handle) = child.split();
        // The last move is our read of "hi", which comes after this instant: the watchdog
        // cannot fire a stall sooner than that (less the tick of slack its sampling allows).
        let ((r, hi), took) = timed(|| {
            let mut hi = [0u8; 3];
            reader.read_exact(&mut hi).unwrap();
            (reader.read(&mut [0u8; 8]), hi)
        });
        assert_eq!(&hi, b"hi\n", "{topology}");
        assert_timed_out(&r.unwrap_err(), Watchdog::Stall, "reader");
        assert!(took >= STALL * 3 / 4, "{topology}: fired early, {took:?}");
        assert_timed_out(&writer.write(b"x").unwrap_err(), Watchdog::Stall, "writer");
        let e = handle.wait().unwrap_err();
        assert_timed_out(&e, Watchdog::Stall, "handle");
    }
}

#[test]
fn steady_traffic_keeps_the_stall_watchdog_quiet() {
    // A line each way every 100 ms or so for 3 s and more, with a 2 s stall timeout: the
    // child answers each of our lines, so the pace is ours, not a loaded shell's.
    const LINES: usize = 30;
    let child = Command::from_argv([
        "sh",
        "-c",
        "i=0; while read _; do echo $i; i=$((i+1)); done",
    ])
    .unwrap()
    .stderr(StderrTo::Null)
    .stall_timeout(Duration::from_secs(2))
    .spawn()
    .unwrap();
    let (reader, mut writer, handle) = child.split();
    let mut reader = BufReader::new(reader);
    let mut out = String::new();
    for _ in 0..LINES {
        writer.write_all(b"next\n").unwrap();
        reader.read_line(&mut out).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    writer.close().unwrap();
    reader.read_to_string(&mut out).unwrap();
    assert_eq!(out.lines().count(), LINES);
    assert!(handle.timed_out().is_none());
    assert!(handle.wait().unwrap().success());
}

#[test]
fn a_child_that_exited_is_not_reported_as_timed_out() {
    // `true` never writes: both deadlines pass after it exited (a zombie nobody reaped yet),
    // and neither watchdog may claim it.
    let spawned = Instant::now();
    let child = Command::from_argv(["true"])
        .unwrap()
        .stderr(StderrTo::Null)
        .stall_timeout(LENIENT)
        .connect_timeout(LENIENT)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(eventually(|| gone(pid)), "true did not exit");
    sleep_until(spawned + LENIENT + PAST);
    let exit = child.wait().unwrap();
    assert!(exit.success());
}

/// The child exits, but a silent descendant holds the stdout pipe open: no EOF will ever come,
/// and a blocked read must still end, with the stall watchdog's error.
#[test]
fn a_reader_left_hanging_by_a_descendant_after_the_exit_is_woken() {
    // The descendant holds stdout for 60 s, longer than the guard. The shell prints its pid
    // first (so the test can end it); the stall timeout is long enough that a loaded shell
    // still exits by itself before it runs out.
    let child = Command::from_argv(["sh", "-c", "sleep 60 & echo $!; exit 0"])
        .unwrap()
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .stall_timeout(LENIENT)
        .spawn()
        .unwrap();
    let (mut reader, _writer, handle) = child.split();
    let sleeper: u32 = read_line(&mut reader).trim().parse().unwrap();
    let (r, took) = timed(|| reader.read(&mut [0u8; 8]));
    stop(sleeper);
    assert_timed_out(&r.unwrap_err(), Watchdog::Stall, "reader");
    assert!(took < GUARD, "{took:?}");
    let e = handle.wait().unwrap_err();
    let exit = TimedOut::of(&e).unwrap().exit().unwrap();
    assert!(exit.success(), "the child itself exited 0: {exit}");
}

/// With a watchdog armed the watchdog holds a duplicate of our read end; dropping the reader
/// must still let a writing child see the pipe closed at once.
#[test]
fn dropping_the_reader_lets_a_writing_child_see_epipe_with_a_watchdog_armed() {
    let child = Command::new("yes")
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .stall_timeout(Duration::from_secs(20))
        .spawn()
        .unwrap();
    let (mut reader, writer, handle) = child.split();
    let mut some = [0u8; 4];
    reader.read_exact(&mut some).unwrap();
    drop(reader);
    drop(writer);
    let (exit, took) = timed(|| handle.wait().unwrap());
    assert_eq!(exit.signal(), Some(13), "{exit}");
    assert!(took < GUARD, "{took:?}");
}

#[test]
fn into_inner_disarms_the_watchdogs() {
    // The child stays silent until our line, which comes only after the deadline.
    let spawned = Instant::now();
    let child = Command::from_argv(["sh", "-c", "read _; echo late"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(LENIENT)
        .spawn()
        .unwrap();
    let (reader, mut writer, handle) = child.split();
    let mut bare = reader.into_inner();
    sleep_until(spawned + LENIENT + PAST);
    writer.write_all(b"go\n").unwrap();
    let mut out = String::new();
    bare.read_to_string(&mut out).unwrap();
    assert_eq!(out, "late\n");
    assert!(handle.wait().unwrap().success());
}
