//! Connect and stall watchdogs with real children: killed in time, and every handle says so.

use std::io::{self, Read, Write};
use std::time::Duration;

use procwire::child::{Command, KillPolicy, StderrTo, TimedOut, Topology, Watchdog};

use crate::timed;

const POLICY: KillPolicy = KillPolicy {
    close: Duration::from_millis(100),
    term: Duration::from_millis(300),
    kill: Duration::from_secs(2),
};

fn assert_timed_out(e: &io::Error, which: Watchdog, what: &str) {
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{what}: {e}");
    let t = TimedOut::of(e).unwrap_or_else(|| panic!("{what}: no TimedOut inside {e:?}"));
    assert_eq!(t.watchdog(), which, "{what}");
}

/// `sleep 30` never writes; with a 1 s connect watchdog it is killed within 2 s, and the
/// reader (blocked in read), the writer and the handle all report the connect watchdog.
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
        took >= Duration::from_secs(1) && took < Duration::from_secs(2),
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
    assert!(
        took < Duration::from_secs(1),
        "{topology}: reaped {took:?} after the wake"
    );
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

/// A big write to a child that never reads blocks until the connect watchdog fires, then
/// fails with its error within 2 s.
fn blocked_writer_is_woken(argv: &[&str], topology: Topology) {
    let child = Command::from_argv(argv)
        .unwrap()
        .topology(topology)
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_millis(500))
        .kill_policy(POLICY)
        .spawn()
        .unwrap();
    let (_reader, mut writer, handle) = child.split();
    let big = vec![0u8; 16 << 20];
    let (r, took) = timed(|| writer.write_all(&big));
    assert_timed_out(&r.unwrap_err(), Watchdog::Connect, "the blocked writer");
    assert!(
        took < Duration::from_secs(2),
        "{argv:?} on {topology}: {took:?}"
    );
    assert!(handle.wait().is_err());
}

#[test]
fn a_blocked_writer_is_woken_too() {
    for topology in Topology::ALL {
        blocked_writer_is_woken(&["sleep", "30"], topology);
    }
}

/// The child is killed but a descendant still holds its stdin pipe and never reads: the write
/// blocked on the full pipe must still end (our pipe end is non-blocking in this mode, so the
/// write waits in poll(2), where the watchdog's eventfd reaches it).
#[test]
fn a_writer_left_hanging_by_a_descendant_is_woken() {
    blocked_writer_is_woken(
        &["sh", "-c", "sleep 3 <&0 & exec sleep 30"],
        Topology::Pipes,
    );
}

#[test]
fn a_descendant_holding_stdout_does_not_keep_a_pipe_reader_asleep() {
    // The shell's background sleep keeps the stdout pipe open after the shell is killed, so
    // EOF never comes: only the watchdog's wake-up can end the read.
    let child = Command::from_argv(["sh", "-c", "sleep 5 & sleep 30"])
        .unwrap()
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_millis(500))
        .kill_policy(POLICY)
        .spawn()
        .unwrap();
    let (mut reader, _writer, handle) = child.split();
    let (r, took) = timed(|| reader.read(&mut [0u8; 8]));
    assert_timed_out(&r.unwrap_err(), Watchdog::Connect, "reader");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(handle.wait().is_err());
}

#[test]
fn a_byte_in_time_settles_the_connect_watchdog() {
    for topology in Topology::ALL {
        let mut child = Command::from_argv(["sh", "-c", "echo hello; sleep 1.2; echo bye"])
            .unwrap()
            .topology(topology)
            .stderr(StderrTo::Null)
            .connect_timeout(Duration::from_millis(500))
            .spawn()
            .unwrap();
        let mut out = String::new();
        child.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello\nbye\n", "{topology}");
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn a_byte_waiting_unread_counts_as_arrived() {
    let child = Command::from_argv(["sh", "-c", "echo greeting; sleep 1.5"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_millis(300))
        .spawn()
        .unwrap();
    // Read nothing until well after the deadline.
    std::thread::sleep(Duration::from_millis(800));
    let (mut reader, _writer, handle) = child.split();
    assert!(handle.timed_out().is_none());
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    assert_eq!(out, "greeting\n");
    assert!(handle.wait().unwrap().success());
}

#[test]
fn a_cancelled_connect_watchdog_does_not_fire() {
    let mut child = Command::from_argv(["sh", "-c", "sleep 0.8; echo late"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    child.cancel_connect_watchdog();
    std::thread::sleep(Duration::from_millis(400));
    assert!(child.handle().timed_out().is_none());
    let mut out = String::new();
    child.read_to_string(&mut out).unwrap();
    assert_eq!(out, "late\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn stall_watchdog_fires_when_nothing_moves() {
    for topology in Topology::ALL {
        let child = Command::from_argv(["sh", "-c", "echo hi; exec sleep 30"])
            .unwrap()
            .topology(topology)
            .stderr(StderrTo::Null)
            .stall_timeout(Duration::from_millis(600))
            .kill_policy(POLICY)
            .spawn()
            .unwrap();
        let (mut reader, mut writer, handle) = child.split();
        let mut hi = [0u8; 3];
        reader.read_exact(&mut hi).unwrap();
        let (r, took) = timed(|| reader.read(&mut [0u8; 8]));
        assert_timed_out(&r.unwrap_err(), Watchdog::Stall, "reader");
        assert!(
            took >= Duration::from_millis(450),
            "{topology}: fired early, {took:?}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "{topology}: fired late, {took:?}"
        );
        assert_timed_out(&writer.write(b"x").unwrap_err(), Watchdog::Stall, "writer");
        let e = handle.wait().unwrap_err();
        assert_timed_out(&e, Watchdog::Stall, "handle");
    }
}

#[test]
fn steady_traffic_keeps_the_stall_watchdog_quiet() {
    // A line every 100 ms for 1.5 s, with a 500 ms stall timeout.
    let mut child = Command::from_argv([
        "sh",
        "-c",
        "i=0; while [ $i -lt 15 ]; do echo $i; sleep 0.1; i=$((i+1)); done",
    ])
    .unwrap()
    .stderr(StderrTo::Null)
    .stall_timeout(Duration::from_millis(500))
    .spawn()
    .unwrap();
    let mut out = String::new();
    child.read_to_string(&mut out).unwrap();
    assert_eq!(out.lines().count(), 15);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_child_that_exited_is_not_reported_as_timed_out() {
    let child = Command::from_argv(["true"])
        .unwrap()
        .stderr(StderrTo::Null)
        .stall_timeout(Duration::from_millis(100))
        .connect_timeout(Duration::from_millis(100))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let exit = child.wait().unwrap();
    assert!(exit.success());
}

/// The child exits, but a silent descendant holds the stdout pipe open: no EOF will ever come,
/// and a blocked read must still end, with the stall watchdog's error.
#[test]
fn a_reader_left_hanging_by_a_descendant_after_the_exit_is_woken() {
    let child = Command::from_argv(["sh", "-c", "sleep 3 & exit 0"])
        .unwrap()
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .stall_timeout(Duration::from_millis(500))
        .spawn()
        .unwrap();
    let (mut reader, _writer, handle) = child.split();
    let (r, took) = timed(|| reader.read(&mut [0u8; 8]));
    assert_timed_out(&r.unwrap_err(), Watchdog::Stall, "reader");
    assert!(took < Duration::from_millis(1500), "{took:?}");
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
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn into_inner_disarms_the_watchdogs() {
    let child = Command::from_argv(["sh", "-c", "sleep 0.8; echo late"])
        .unwrap()
        .stderr(StderrTo::Null)
        .connect_timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let (reader, _writer, handle) = child.split();
    let mut bare = reader.into_inner();
    let mut out = String::new();
    bare.read_to_string(&mut out).unwrap();
    assert_eq!(out, "late\n");
    assert!(handle.wait().unwrap().success());
}
