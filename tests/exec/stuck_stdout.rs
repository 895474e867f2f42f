//! Our stdout is not a pipe and its reader has stopped reading when a watchdog kills the
//! program: exec must still end, with the watchdog's status, and say what it gave up on.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::PROCWIRE;
use crate::support::procs::stop;

/// Hang guard for an exec that should have ended: far beyond the 2 s stall timeout and the
/// 2 s it then gives our stdout, so only a hang reaches it.
const GUARD: Duration = Duration::from_secs(30);

/// The program floods its stdout; ours is one end of a socketpair nobody reads (the test holds
/// the other end open), so the flood stops when the socket's buffer is full, nothing moves, and
/// the stall watchdog kills the program. exec is then in the middle of a write to our stdout
/// that can never finish.
#[test]
fn a_watchdog_kill_ends_exec_when_our_stdout_socket_is_not_read() {
    for wire in ["pipes", "socketpair"] {
        let (ours, theirs) = UnixStream::pair().unwrap();
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
            .stdout(Stdio::from(OwnedFd::from(theirs)))
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
            panic!("--wire {wire}: exec hung after the stall watchdog's kill");
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut exec.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(124), "--wire {wire}: {err}");
        assert!(err.contains("stall watchdog"), "--wire {wire}: {err}");
        // It says what it gave up on, and why.
        assert!(
            err.contains("gave up") && err.contains("our stdout took no byte for 2s"),
            "--wire {wire}: {err}"
        );
        drop(ours);
    }
}
