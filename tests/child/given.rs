//! A child whose stdin and stdout are descriptors the caller gives (`Command::stdin` and
//! `Command::stdout`), and a `Signaller` used while another thread waits.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use procwire::child::{Command, StderrTo, Topology};

use crate::support::bounded;

#[test]
fn stdout_given_goes_there_and_the_reader_ends_at_once() {
    for topology in Topology::ALL {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let child = Command::new("sh")
            // Runs until its stdin (still the library's wire) reaches EOF.
            .args(["-c", "echo given; cat"])
            .topology(topology)
            .stderr(StderrTo::Null)
            .stdout(OwnedFd::from(theirs))
            .spawn()
            .unwrap();
        // Our reader of the library's wire sees nothing and ends while the child runs on,
        // whatever the topology (on the single socketpair the child's stdin holds that very
        // socket).
        let (mut reader, writer, handle) = child.split();
        let got = bounded::spawn(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).map(|_| got)
        })
        .join("reading the unused wire");
        assert_eq!(got.unwrap(), b"", "{topology}");
        drop(writer); // the child's `read` gets EOF
        let exit = handle.wait().unwrap();
        assert!(exit.success(), "{topology}");
        let mut given = String::new();
        (&ours).read_to_string(&mut given).unwrap();
        assert_eq!(given, "given\n", "{topology}");
    }
}

#[test]
fn stdin_and_stdout_given_make_the_child_talk_to_the_caller_alone() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs = OwnedFd::from(theirs);
    let mut cmd = Command::new("cat");
    cmd.stderr(StderrTo::Null)
        .stdin(theirs.try_clone().unwrap())
        .stdout(theirs);
    let child = cmd.spawn().unwrap();
    // The command keeps its copies for later spawns (as std's does): let them go, or cat's
    // output would never reach EOF.
    drop(cmd);
    use std::io::Write;
    (&ours).write_all(b"through the given socket").unwrap();
    ours.shutdown(std::net::Shutdown::Write).unwrap();
    let mut echoed = String::new();
    (&ours).read_to_string(&mut echoed).unwrap();
    assert_eq!(echoed, "through the given socket");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_watchdog_beside_a_given_stdout_is_refused() {
    let err = Command::new("true")
        .stdout(std::process::Stdio::null())
        .stall_timeout(std::time::Duration::from_secs(1))
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("stdout"), "{err}");
}

#[test]
fn a_signaller_signals_while_another_thread_waits() {
    let child = Command::new("sleep")
        .arg("1000")
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let (_reader, _writer, mut handle) = child.split();
    let signaller = handle.signaller();
    let waiter = bounded::spawn(move || handle.wait());
    // Blocked in the wait (on the pidfd, not under the lock the signaller needs).
    waiter.assert_blocked("the waiting thread");
    // In a bounded thread: a signaller stuck behind the wait must fail the test, not hang it.
    let s = signaller.clone();
    bounded::spawn(move || s.signal(libc::SIGTERM))
        .join("signalling while the other thread waits")
        .unwrap();
    let exit = waiter.join("wait after SIGTERM").unwrap();
    assert_eq!(exit.signal(), Some(libc::SIGTERM));
    // After the reap: nothing is sent, and that is not an error.
    signaller.signal(libc::SIGTERM).unwrap();
    assert!(signaller.signal(0x7fff).is_err());
}
