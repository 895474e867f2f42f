//! Every kind of descriptor crosses to another process and works there: a pipe, a file, a
//! listening TCP socket (127.0.0.1), a socketpair end.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procwire::pass::Channel;

use crate::support::{HELPER_OK, assert_helper_ok, in_helper};
use crate::{helper_stdin, pipe, read_n, spawn_helper};

const PATH: &str = "kinds::a_pipe_a_file_a_tcp_listener_and_a_socketpair_end_work_in_the_receiver";
const FILE_TEXT: &[u8] = b"the file's contents\n";

#[test]
fn a_pipe_a_file_a_tcp_listener_and_a_socketpair_end_work_in_the_receiver() {
    if in_helper() {
        return receiver();
    }
    let (ours, theirs) = Channel::pair().unwrap();
    let child = spawn_helper(PATH, OwnedFd::from(theirs));

    let (r, w) = pipe();
    let path = std::env::temp_dir().join(format!("procwire-pass-kinds-{}", std::process::id()));
    std::fs::write(&path, FILE_TEXT).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap(); // the open descriptor keeps it readable
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut mine, end) = UnixStream::pair().unwrap();
    ours.send(
        b"pipe file listener socket",
        &[w.as_fd(), file.as_fd(), listener.as_fd(), end.as_fd()],
    )
    .unwrap();
    // Only the receiver holds them now.
    drop((w, file, listener, end));

    assert_eq!(read_n(&r, 7), b"pipe ok");
    let mut text = vec![0u8; FILE_TEXT.len()];
    mine.read_exact(&mut text).unwrap();
    assert_eq!(text, FILE_TEXT);
    let mut conn = TcpStream::connect(addr).unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "tcp ok");

    let out = child.wait_with_output().unwrap();
    assert_helper_ok(&out);
    // Every copy of the pipe's write end is gone with the child: EOF.
    let mut rest = Vec::new();
    std::fs::File::from(r).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// The helper: receives the four descriptors on fd 0 and uses each.
fn receiver() {
    let channel = Channel::from_fd(helper_stdin()).unwrap();
    let msg = channel.recv().unwrap().expect("a message");
    assert_eq!(msg.data, b"pipe file listener socket");
    assert_eq!(msg.fds.len(), 4);
    for fd in &msg.fds {
        assert!(procwire::fd::is_cloexec(fd).unwrap());
    }
    let [w, file, listener, end] = <[OwnedFd; 4]>::try_from(msg.fds).unwrap();
    std::fs::File::from(w).write_all(b"pipe ok").unwrap();
    let mut text = Vec::new();
    std::fs::File::from(file).read_to_end(&mut text).unwrap();
    UnixStream::from(end).write_all(&text).unwrap();
    let (mut conn, _) = TcpListener::from(listener).accept().unwrap();
    conn.write_all(b"tcp ok").unwrap();
    println!("{HELPER_OK}");
}
