//! `End::try_clone`: a second handle on the same wire, close-on-exec, sharing what the kernel
//! shares, and usable as a child's stdin and stdout at once.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use procwire::wire::{Builder, End, Kind};

use crate::support::bounded;
use crate::support::{assert_cloexec, assert_nonblocking};

fn pair(kind: Kind) -> (End, End) {
    Builder::new().kind(kind).build().unwrap().into_ends()
}

fn raw(end: &End) -> (Option<i32>, Option<i32>) {
    (
        end.read_fd().map(|fd| fd.as_raw_fd()),
        end.write_fd().map(|fd| fd.as_raw_fd()),
    )
}

#[test]
fn a_clone_is_the_same_wire_through_new_cloexec_descriptors() {
    for kind in Kind::ALL {
        let (a, mut b) = pair(kind);
        let c = a.try_clone().unwrap();
        assert_eq!(c.kind(), kind);
        let ((ar, aw), (cr, cw)) = (raw(&a), raw(&c));
        assert!(cr.is_some() && cw.is_some(), "{kind}: {c:?}");
        assert!(
            cr != ar && cw != aw && cr != aw,
            "{kind}: {a:?} and {c:?} share a number"
        );
        if kind.is_socket() {
            assert_eq!(cr, cw, "{kind}: a socket clone is one descriptor");
        }
        assert_cloexec(c.read_fd().unwrap());
        assert_cloexec(c.write_fd().unwrap());
        // Bytes written through either handle reach the peer, in order.
        (&a).write_all(b"a").unwrap();
        (&c).write_all(b"c").unwrap();
        let mut two = [0u8; 2];
        b.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"ac", "{kind}");
        // One incoming queue: what one handle reads, the other does not see.
        b.write_all(b"12").unwrap();
        let mut one = [0u8; 1];
        (&a).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"1", "{kind}");
        (&c).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"2", "{kind}");
        // The open file descriptions are shared, and with them O_NONBLOCK.
        c.set_nonblocking(true).unwrap();
        assert_nonblocking(a.read_fd().unwrap(), true);
        assert_nonblocking(a.write_fd().unwrap(), true);
        assert_eq!(
            (&a).read(&mut one).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    }
}

#[test]
fn half_closing_acts_on_the_socket_but_only_on_the_handles_own_pipe() {
    for kind in Kind::ALL {
        let (mut a, mut b) = pair(kind);
        let c = a.try_clone().unwrap();
        a.shutdown_write().unwrap();
        let mut buf = [0u8; 8];
        if kind.is_socket() {
            // shutdown(2) is on the socket: EOF although the clone is open. (A blocking read:
            // TCP may deliver the FIN a little later.)
            let n = bounded::spawn(move || b.read(&mut [0u8; 8]).unwrap())
                .join("waiting for EOF on a socket shut through one of two handles");
            assert_eq!(n, 0, "{kind}");
            drop(c);
        } else {
            // The clone still holds a write end of the pipe: no EOF yet.
            b.set_nonblocking(true).unwrap();
            assert_eq!(
                b.read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock,
                "{kind}"
            );
            (&c).write_all(b"late").unwrap();
            drop(c);
            assert_eq!(b.read(&mut buf).unwrap(), 4);
            assert_eq!(&buf[..4], b"late");
            assert_eq!(
                b.read(&mut buf).unwrap(),
                0,
                "pipes: EOF once every copy closed"
            );
        }
    }
}

#[test]
fn a_direction_shut_before_cloning_stays_shut_in_the_clone() {
    let (mut a, _b) = pair(Kind::Pipes);
    a.shutdown_read().unwrap();
    let c = a.try_clone().unwrap();
    assert!(c.read_fd().is_none());
    assert!(c.write_fd().is_some());
    // Like the end it came from, it cannot split.
    let err = c.split().unwrap_err();
    assert!(err.to_string().contains("already shut down"), "{err}");
}

#[test]
fn a_socket_end_and_its_clone_are_a_childs_stdin_and_stdout() {
    for kind in [Kind::SocketPair, Kind::Loopback] {
        let (mut ours, theirs) = pair(kind);
        let stdin = Stdio::try_from(theirs.try_clone().unwrap()).unwrap();
        let stdout = Stdio::try_from(theirs).unwrap();
        // The Command (and with it our copies of the child's descriptors) is gone after this
        // statement, so the child's exit is our EOF.
        let mut child = Command::new("cat")
            .stdin(stdin)
            .stdout(stdout)
            .spawn()
            .expect("spawn cat");
        ours.write_all(b"through cat and back\n").unwrap();
        ours.shutdown_write().unwrap();
        let echoed = bounded::spawn(move || {
            let mut got = Vec::new();
            ours.read_to_end(&mut got).map(|_| got)
        })
        .join("reading cat's output")
        .unwrap();
        assert_eq!(echoed, b"through cat and back\n", "{kind}");
        assert!(child.wait().unwrap().success(), "{kind}");
    }
}
