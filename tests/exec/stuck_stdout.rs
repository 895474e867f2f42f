//! Our stdout is not a pipe and its reader has stopped reading when a watchdog kills the
//! program: exec must still end, with the watchdog's status, and say what it gave up on.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::PROCWIRE;
use crate::support::procs::stop;
use crate::support::pty::pty;

/// Hang guard for an exec that should have ended: far beyond the 2 s stall timeout and the
/// 2 s it then gives our stdout, so only a hang reaches it.
const GUARD: Duration = Duration::from_secs(30);

/// Runs `procwire exec --wire WIRE --stall-timeout 2 -- cat /dev/zero` with `stdout` as its
/// stdout, whose reader (the test, holding the other end) never reads: the flood stops when
/// the buffer between is full, nothing moves, and the stall watchdog kills the program while
/// exec is in the middle of a write to its stdout that can never finish. exec must end with
/// 124 and say what it gave up.
fn gives_up_on_a_stdout_nobody_reads(stdout: OwnedFd, wire: &str, what: &str) {
    let mut exec = Command::new(PROCWIRE)
        .args([
            "exec",
            "--wire",
            wire,
            "--stall-timeout",
            "2",
            "--",
            "cat",
            "/dev/zero",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = exec.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > GUARD {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Some(status) = status else {
        stop(exec.id());
        let _ = exec.wait();
        panic!("{what}, --wire {wire}: exec hung after the stall watchdog's kill");
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut exec.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(124), "{what}, --wire {wire}: {err}");
    assert!(
        err.contains("stall watchdog"),
        "{what}, --wire {wire}: {err}"
    );
    // It says what it gave up on, and why.
    assert!(
        err.contains("gave up") && err.contains("our stdout took no byte for 2s"),
        "{what}, --wire {wire}: {err}"
    );
}

/// Our stdout is one end of a socketpair: the bridge splices into it through a pipe of its own.
#[test]
fn a_watchdog_kill_ends_exec_when_our_stdout_socket_is_not_read() {
    for wire in ["pipes", "socketpair"] {
        let (ours, theirs) = UnixStream::pair().unwrap();
        gives_up_on_a_stdout_nobody_reads(OwnedFd::from(theirs), wire, "a socket");
        drop(ours);
    }
}

/// Our stdout is a terminal whose reader (the pty's leader) never reads: the bridge copies
/// into it with write(2), which blocks once the terminal's buffer is full.
#[test]
fn a_watchdog_kill_ends_exec_when_our_stdout_tty_is_not_read() {
    let (leader, follower) = pty();
    gives_up_on_a_stdout_nobody_reads(follower, "socketpair", "a tty");
    drop(leader);
}
