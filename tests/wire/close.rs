//! EOF, half-close and broken pipes: the same meaning on every kind.

use std::io::{ErrorKind, Read, Write};

use procwire::wire::{Builder, End, Kind};

use crate::support::bounded::BOUND;
use crate::support::{HELPER_OK, assert_helper_ok, in_helper, rerun};

fn pair(kind: Kind) -> (End, End) {
    Builder::new().kind(kind).build().unwrap().into_ends()
}

fn read_all(end: &mut End) -> Vec<u8> {
    let mut v = Vec::new();
    end.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn dropped_peer_reads_as_eof_after_its_bytes() {
    for kind in Kind::ALL {
        let (mut a, mut b) = pair(kind);
        a.write_all(b"last words").unwrap();
        drop(a);
        assert_eq!(read_all(&mut b), b"last words", "{kind}");
        // EOF for ever after.
        assert_eq!(b.read(&mut [0u8; 8]).unwrap(), 0, "{kind}");
    }
}

#[test]
fn shutdown_write_gives_peer_eof_while_the_other_direction_works() {
    for kind in Kind::ALL {
        let (mut a, mut b) = pair(kind);
        a.write_all(b"request").unwrap();
        a.shutdown_write().unwrap();
        a.shutdown_write().unwrap(); // twice is harmless
        assert_eq!(read_all(&mut b), b"request", "{kind}");
        // The reverse direction still flows, both ways of closing it.
        b.write_all(b"response").unwrap();
        b.shutdown_write().unwrap();
        assert_eq!(read_all(&mut a), b"response", "{kind}");
        // Our own writes after shutting our side down are BrokenPipe on every kind.
        let err = a.write(b"more").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{kind}: {err}");
    }
}

#[test]
fn dropping_a_write_half_half_closes_on_every_kind() {
    for kind in Kind::ALL {
        let (a, mut b) = pair(kind);
        let (mut ar, mut aw) = a.split().unwrap();
        aw.write_all(b"bye").unwrap();
        drop(aw);
        assert_eq!(read_all(&mut b), b"bye", "{kind}");
        b.write_all(b"still here").unwrap();
        drop(b);
        let mut got = Vec::new();
        ar.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"still here", "{kind}");
    }
}

#[test]
fn shutdown_read_makes_peer_writes_fail_on_pipes_and_socketpair() {
    // TCP does not tell the peer about SHUT_RD, so loopback is not in this list (documented).
    for kind in [Kind::Pipes, Kind::SocketPair] {
        let (mut a, mut b) = pair(kind);
        a.shutdown_read().unwrap();
        assert_eq!(
            a.read(&mut [0u8; 4]).unwrap(),
            0,
            "{kind}: reads after SHUT_RD are EOF"
        );
        let err = b.write_all(b"nobody listens").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{kind}: {err}");
        // The other direction is untouched.
        a.write_all(b"ok").unwrap();
        let mut got = [0u8; 2];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ok");
    }
}

/// Writes to an end whose peer is gone until the kernel reports the loss. TCP may say
/// `ConnectionReset` first (the peer answered with RST); every kind must end at `BrokenPipe`.
/// TCP learns of the loss only when the peer's RST is processed, which a loaded machine can
/// delay (softirqs pushed to `ksoftirqd`), so the writes go on until [`BOUND`], not a count.
fn write_until_broken(end: &mut impl Write) -> ErrorKind {
    let deadline = std::time::Instant::now() + BOUND;
    while std::time::Instant::now() < deadline {
        match end.write(&[7u8; 4096]) {
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => return e.kind(),
        }
    }
    panic!("writes to a gone peer kept succeeding for {BOUND:?}");
}

#[test]
fn writing_to_a_gone_socket_peer_is_broken_pipe_never_sigpipe() {
    if in_helper() {
        // SAFETY: restoring the default disposition of SIGPIPE before any other thread could
        // depend on it; if a write raised SIGPIPE now, this process would die.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        for kind in [Kind::SocketPair, Kind::Loopback] {
            let (mut a, b) = pair(kind);
            drop(b);
            assert_eq!(write_until_broken(&mut a), ErrorKind::BrokenPipe, "{kind}");
            // Split write halves use the same path.
            let (a, b) = pair(kind);
            drop(b);
            let (_r, mut w) = a.split().unwrap();
            assert_eq!(
                write_until_broken(&mut w),
                ErrorKind::BrokenPipe,
                "{kind} write half"
            );
        }
        println!("{HELPER_OK}");
        return;
    }
    let out = rerun(
        "close::writing_to_a_gone_socket_peer_is_broken_pipe_never_sigpipe",
        &[],
    );
    assert_helper_ok(&out);
}

#[test]
fn writing_to_a_gone_pipe_peer_is_broken_pipe_when_sigpipe_is_ignored() {
    // Rust programs start with SIGPIPE ignored; pipes then report EPIPE like sockets do.
    let (mut a, b) = pair(Kind::Pipes);
    drop(b);
    assert_eq!(write_until_broken(&mut a), ErrorKind::BrokenPipe);
}

#[test]
fn splitting_a_half_shut_pipes_end_hands_the_end_back() {
    let (mut a, mut b) = pair(Kind::Pipes);
    a.shutdown_write().unwrap();
    let err = a.split().unwrap_err();
    assert!(err.to_string().contains("already shut down"), "{err}");
    // Nothing was closed on the way: the read side still works.
    let mut a = err.into_inner();
    b.write_all(b"still readable").unwrap();
    drop(b);
    assert_eq!(read_all(&mut a), b"still readable");
}

#[test]
fn shutdown_read_on_a_socketpair_still_yields_bytes_already_queued() {
    // Documented difference: pipes discard unread bytes on shutdown_read, sockets keep them.
    let (mut a, mut b) = pair(Kind::SocketPair);
    b.write_all(b"queued").unwrap();
    a.shutdown_read().unwrap();
    assert_eq!(read_all(&mut a), b"queued");
    let (mut a, mut b) = pair(Kind::Pipes);
    b.write_all(b"queued").unwrap();
    a.shutdown_read().unwrap();
    assert_eq!(read_all(&mut a), b"");
}
