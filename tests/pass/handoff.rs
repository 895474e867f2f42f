//! Hot handoff: a parent passes its listening TCP socket to a worker (socket activation), the
//! worker accepts real connections on it, the parent exits, and connections keep being served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use procwire::child::{Command, StderrTo};

use crate::support::{HELPER_ENV, in_helper};

/// How many connections the worker serves before it exits.
const CONNECTIONS: usize = 4;

/// The worker, in Python: serves `CONNECTIONS` connections on descriptor 3 ("pong " + the
/// line), with a generous accept timeout so it never lingers if the test fails.
const WORKER: &str = r#"
import os, socket, sys
assert os.environ["LISTEN_PID"] == str(os.getpid())
assert os.environ["LISTEN_FDS"] == "1" and os.environ["LISTEN_FDNAMES"] == "web"
s = socket.socket(fileno=3)
s.settimeout(120)
for i in range(int(sys.argv[1])):
    c, _ = s.accept()
    c.settimeout(120)
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(100)
        if not b:
            break
        line += b
    c.sendall(b"pong %d " % os.getpid() + line)
    c.close()
"#;

/// The parent: binds, hands the listener to the worker, prints the port and the worker's pid,
/// then waits for its stdin to close and exits without waiting for the worker.
#[test]
fn handoff_parent() {
    if !in_helper() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut worker = Command::new("python3");
    worker
        .args(["-c", WORKER, &CONNECTIONS.to_string()])
        .stdin(Stdio::null())
        .stderr(StderrTo::Inherit)
        .listen_fds([(OwnedFd::from(listener), "web")]);
    let worker = worker.spawn().unwrap();
    let pid = worker.id();
    // Our copy of the listener is closed: only the worker holds it now.
    let (reader, writer) = worker.detach();
    drop((reader, writer));
    println!("port {port} worker {pid}");
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).unwrap();
}

fn ping(port: u16, i: usize) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Hang-guard only.
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c.write_all(format!("ping {i}\n").as_bytes()).unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    got
}

#[test]
fn a_worker_keeps_serving_after_the_parent_that_handed_it_the_listener_exits() {
    let path = "handoff::handoff_parent";
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let (port, worker) = loop {
        let line = lines.next().expect("the parent's port line").unwrap();
        // libtest may have put "test ... " before it on the same line.
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(at) = words.iter().position(|w| *w == "port")
            && let [_, port, "worker", pid, ..] = words[at..]
        {
            break (port.parse::<u16>().unwrap(), pid.to_string());
        }
    };
    let want = |i: usize| format!("pong {worker} ping {i}\n");
    // Served by the worker while the parent lives...
    assert_eq!(ping(port, 0), want(0));
    // ...and after it is gone (reaped here, so certainly gone).
    drop(parent.stdin.take());
    assert!(parent.wait().unwrap().success());
    for i in 1..CONNECTIONS {
        assert_eq!(ping(port, i), want(i));
    }
}
