//! Interop with another language's implementation: Python's `socket.send_fds` and
//! `socket.recv_fds` (3.9+), in a real `python3` whose stdin is our socketpair's other end.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Output, Stdio};

use procwire::pass;

use crate::{pipe, read_n};

/// `python3 -c script` with `stdin` as its descriptor 0.
fn python(script: &str, stdin: UnixStream) -> Child {
    Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::from(OwnedFd::from(stdin)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (.ci/run installs it)")
}

fn assert_ok(out: Output) {
    assert!(
        out.status.success(),
        "python3 failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const RECEIVER: &str = r#"
import os, socket
s = socket.socket(fileno=os.dup(0))
msg, fds, flags, addr = socket.recv_fds(s, 1024, 8)
assert msg == b"from rust", msg
assert len(fds) == 2, fds
assert flags & socket.MSG_CTRUNC == 0, flags
os.write(fds[0], b"python wrote into the pipe")
socket.socket(fileno=fds[1]).sendall(b"python on the socketpair end")
"#;

#[test]
fn a_rust_sender_and_a_python_receiver() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = python(RECEIVER, theirs);
    let (r, w) = pipe();
    let (mut mine, end) = UnixStream::pair().unwrap();
    let sent = pass::send_fds(
        &ours,
        &[IoSlice::new(b"from "), IoSlice::new(b"rust")],
        &[w.as_fd(), end.as_fd()],
    )
    .unwrap();
    assert_eq!(sent, 9);
    drop((w, end));
    assert_eq!(read_n(&r, 26), b"python wrote into the pipe");
    let mut got = [0u8; 28];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"python on the socketpair end");
    assert_ok(child.wait_with_output().unwrap());
}

const SENDER: &str = r#"
import os, socket
s = socket.socket(fileno=os.dup(0))
r, w = os.pipe()
os.write(w, b"from a python pipe")
a, b = socket.socketpair()
b.sendall(b"from a python socketpair")
socket.send_fds(s, [b"py", b"thon"], [r, a.fileno()])
a.close()
got = b.recv(100)
assert got == b"rust answers", got
"#;

#[test]
fn a_python_sender_and_a_rust_receiver() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = python(SENDER, theirs);
    let mut buf = [0u8; 64];
    let (n, fds) = pass::recv_fds(&ours, &mut [IoSliceMut::new(&mut buf)], 4).unwrap();
    assert_eq!(&buf[..n], b"python");
    assert_eq!(fds.len(), 2);
    for fd in &fds {
        assert!(procwire::fd::is_cloexec(fd).unwrap());
    }
    let [r, a] = <[OwnedFd; 2]>::try_from(fds).unwrap();
    assert_eq!(read_n(&r, 18), b"from a python pipe");
    let mut a = UnixStream::from(a);
    let mut got = [0u8; 24];
    a.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from a python socketpair");
    a.write_all(b"rust answers").unwrap();
    assert_ok(child.wait_with_output().unwrap());
}
