//! The broker: a parent introduces two children with a socketpair, then the children talk
//! directly. Children in Python (the protocol is language-neutral) and in Rust (this test
//! binary re-executed); a member that died; the child side's checks.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use procwire::child::{Command, StderrTo};
use procwire::pass::{Broker, CONTROL_ENV, CONTROL_PID_ENV, Control, MemberId};

use crate::in_own_process;
use crate::spawn_fds::{helper, run_ok};
use crate::support::{HELPER_ENV, HELPER_OK, in_helper};

/// A Python child that speaks the broker protocol with nothing but the standard library:
/// takes its introduction, then (as "one") sends a greeting and reads the answer, or (as
/// "two") reads the greeting and answers.
pub(crate) const PY_CHILD: &str = r#"
import os, socket, sys
me = sys.argv[1]
assert os.environ["PROCWIRE_CONTROL_PID"] == str(os.getpid()), os.environ["PROCWIRE_CONTROL_PID"]
ctl = socket.socket(fileno=int(os.environ["PROCWIRE_CONTROL"]))
assert ctl.type == socket.SOCK_SEQPACKET, ctl.type
msg, fds, flags, _ = socket.recv_fds(ctl, 65536, 1)
assert msg[:1] == b"I" and len(fds) == 1 and not flags & socket.MSG_CTRUNC, (msg, fds, flags)
peer_id = int.from_bytes(msg[1:5], "little")
peer = msg[5:].decode()
s = socket.socket(fileno=fds[0])
assert s.type == socket.SOCK_STREAM
def read_all():
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            return got
        got += b
if me == "one":
    s.sendall(b"coucou from " + me.encode())
    s.shutdown(socket.SHUT_WR)
    got = read_all()
else:
    got = read_all()
    s.sendall(b"answer to " + got)
print("%s got %r from %s#%d" % (me, got.decode(), peer, peer_id))
"#;

fn python_child(broker: &mut Broker, name: &str) -> (MemberId, Command) {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PY_CHILD, name]).stderr(StderrTo::Inherit);
    let id = broker.attach(&mut cmd, name).unwrap();
    (id, cmd)
}

fn output(child: procwire::child::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.exit.success(), "{:?}: {stdout}", out.exit);
    stdout
}

#[test]
fn two_python_children_talk_directly_after_the_introduction() {
    let mut broker = Broker::new();
    let (one, mut cmd_one) = python_child(&mut broker, "one");
    let (two, mut cmd_two) = python_child(&mut broker, "two");
    let child_one = cmd_one.spawn().unwrap();
    let child_two = cmd_two.spawn().unwrap();
    broker.introduce(one, two).unwrap();
    assert_eq!(
        output(child_one),
        "one got 'answer to coucou from one' from two#1\n"
    );
    assert_eq!(output(child_two), "two got 'coucou from one' from one#0\n");
}

/// The Rust child: the role comes from `ROLE`.
#[test]
fn rust_member() {
    if !in_helper() {
        return;
    }
    let me = std::env::var("ROLE").unwrap();
    let control = Control::from_env().unwrap();
    // More than one thread here (libtest's): the variables stay, naming this process.
    assert_eq!(std::env::var(CONTROL_ENV).unwrap(), "3");
    assert_eq!(
        std::env::var(CONTROL_PID_ENV).unwrap(),
        std::process::id().to_string()
    );
    let again = Control::from_env().unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    assert!(again.to_string().contains("already"), "{again}");
    assert!(procwire::fd::is_cloexec(control.channel()).unwrap());
    let intro = control.recv().unwrap().expect("an introduction");
    assert!(procwire::fd::is_cloexec(&intro.fd).unwrap());
    let peer = intro.peer.clone();
    let mut s = intro.into_stream();
    let mut got = String::new();
    if me == "left" {
        s.write_all(b"hello from left").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.read_to_string(&mut got).unwrap();
    } else {
        s.read_to_string(&mut got).unwrap();
        s.write_all(format!("right heard '{got}'").as_bytes())
            .unwrap();
    }
    // The broker drops its end after the introductions: end of file, nothing else queued.
    assert!(control.recv().unwrap().is_none());
    println!("{me} got '{got}' from {}#{}", peer.name, peer.id);
    println!("{HELPER_OK}");
}

#[test]
fn two_rust_children_talk_directly_after_the_introduction() {
    let mut broker = Broker::new();
    let mut left = helper("broker::rust_member");
    left.env("ROLE", "left").stderr(StderrTo::Inherit);
    let mut right = helper("broker::rust_member");
    right.env("ROLE", "right").stderr(StderrTo::Inherit);
    let l = broker.attach(&mut left, "left").unwrap();
    let r = broker.attach(&mut right, "right").unwrap();
    let left = left.spawn().unwrap();
    let right = right.spawn().unwrap();
    broker.introduce(r, l).unwrap();
    drop(broker);
    let left = output(left);
    let right = output(right);
    assert!(
        left.contains("left got 'right heard 'hello from left'' from right#1"),
        "{left}"
    );
    assert!(
        right.contains("right got 'hello from left' from left#0"),
        "{right}"
    );
}

/// Counts the introductions it gets until the broker is gone.
pub(crate) const PY_COUNTER: &str = r#"
import os, socket
ctl = socket.socket(fileno=int(os.environ["PROCWIRE_CONTROL"]))
n = 0
while True:
    msg, fds, flags, _ = socket.recv_fds(ctl, 65536, 1)
    if not msg and not fds:
        break
    n += 1
print("introductions:", n)
"#;

#[test]
fn a_member_that_died_is_reported_and_nothing_leaks() {
    if !in_own_process("broker::a_member_that_died_is_reported_and_nothing_leaks") {
        return;
    }
    let mut broker = Broker::new();
    let mut short = Command::new("true");
    short.stderr(StderrTo::Inherit);
    let dead = broker.attach(&mut short, "short-lived").unwrap();
    assert!(short.spawn().unwrap().wait().unwrap().success());
    let mut counter = Command::new("python3");
    counter.args(["-c", PY_COUNTER]).stderr(StderrTo::Inherit);
    let live = broker.attach(&mut counter, "counter").unwrap();
    let counter = counter.spawn().unwrap();

    let before = procwire::fd::open_fds().unwrap();
    for (a, b) in [(live, dead), (dead, live), (live, dead)] {
        let e = broker.introduce(a, b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        assert!(e.to_string().contains("(\"short-lived\") is gone"), "{e}");
    }
    // The dead member's channel was closed at the first error: one fewer, nothing more.
    assert_one_fewer(&before);
    assert!(broker.channel(dead).is_none());
    assert!(broker.channel(live).is_some());
    // Not a member, and itself: refused before anything is made.
    assert_eq!(
        broker.introduce(live, live).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // The live member was told nothing.
    drop(broker);
    assert_eq!(output(counter), "introductions: 0\n");
    println!("{HELPER_OK}");
}

/// Asserts exactly one descriptor of `before` was closed since, and none opened.
pub(crate) fn assert_one_fewer(before: &[i32]) {
    let after = procwire::fd::open_fds().unwrap();
    let gone: Vec<i32> = before
        .iter()
        .copied()
        .filter(|fd| !after.contains(fd))
        .collect();
    assert_eq!(gone.len(), 1, "before {before:?} after {after:?}");
    assert!(
        after.iter().all(|fd| before.contains(fd)),
        "before {before:?} after {after:?}"
    );
}

#[test]
fn control_outside_a_broker_child() {
    if !in_helper() {
        return;
    }
    let e = Control::from_env().unwrap_err();
    let want = std::env::var("WANT").unwrap();
    assert_eq!(format!("{:?}", e.kind()), want, "{e}");
    println!("{e}");
    println!("{HELPER_OK}");
}

/// Runs `control_outside_a_broker_child` through `sh`, which sets the variables for its own
/// pid and execs the helper, keeping the pid and descriptor 3.
fn control_helper(want: &str, env: &str, fd3: Option<OwnedFd>) -> String {
    let path = "broker::control_outside_a_broker_child";
    let exe = std::env::current_exe().unwrap();
    let script = format!("{env} exec \"$0\" \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .arg(exe)
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, path)
        .env("WANT", want);
    if let Some(fd) = fd3 {
        cmd.fd(3, fd);
    }
    let out = run_ok(&mut cmd);
    assert!(out.contains(HELPER_OK), "{out}");
    out
}

/// Makes what the helper gets as descriptor 3, if anything.
type MakeFd3 = dyn Fn() -> Option<OwnedFd>;

#[test]
fn control_from_env_refuses_what_a_broker_did_not_set_up() {
    let ours = "PROCWIRE_CONTROL=3 PROCWIRE_CONTROL_PID=$$";
    let pipe_end = || Some(crate::pipe().1);
    let datagram = || {
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        Some(OwnedFd::from(a))
    };
    let none = || None;
    let cases: [(&str, &str, &MakeFd3, &str); 5] = [
        ("NotFound", "", &none, "PROCWIRE_CONTROL is not set"),
        (
            "NotFound",
            "PROCWIRE_CONTROL=3 PROCWIRE_CONTROL_PID=1",
            &pipe_end,
            "not this process's pid",
        ),
        ("InvalidInput", ours, &pipe_end, "not a socket"),
        ("NotFound", ours, &none, "not open"),
        (
            "InvalidInput",
            ours,
            &datagram,
            "needs AF_UNIX SOCK_SEQPACKET or SOCK_STREAM",
        ),
    ];
    for (want, env, fd3, says) in cases {
        let out = control_helper(want, env, fd3());
        assert!(out.contains(says), "{env}: {out}");
    }
}

#[test]
fn a_control_in_a_thread_gets_introductions_in_order() {
    let mut broker = Broker::new();
    let (a, end_a) = broker.add("a").unwrap();
    let (b, end_b) = broker.add("b").unwrap();
    let (c, _end_c) = broker.add("c").unwrap();
    let ca = Control::new(procwire::pass::Channel::from_fd(end_a).unwrap());
    let cb = Control::new(procwire::pass::Channel::from_fd(end_b).unwrap());
    broker.introduce(a, b).unwrap();
    broker.introduce(c, a).unwrap();
    let first = ca.recv().unwrap().unwrap();
    assert_eq!((first.peer.id, first.peer.name.as_str()), (b, "b"));
    let second = ca.recv().unwrap().unwrap();
    assert_eq!((second.peer.id, second.peer.name.as_str()), (c, "c"));
    let to_b = cb.recv().unwrap().unwrap();
    assert_eq!(to_b.peer.id, a);
    // The ends are connected to each other.
    let mut x = first.into_stream();
    let mut y = to_b.into_stream();
    x.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    y.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    assert!(x.as_raw_fd() > 2);
    // A message that is not an introduction is refused, and the next one still reads.
    broker.channel(a).unwrap().send(b"X", &[]).unwrap();
    broker.introduce(a, b).unwrap();
    assert_eq!(ca.recv().unwrap_err().kind(), ErrorKind::InvalidData);
    assert_eq!(ca.recv().unwrap().unwrap().peer.id, b);
}
