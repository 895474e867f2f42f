//! `MSG_CTRUNC` and `MSG_TRUNC`: a message that does not fit is a clear error, and every
//! descriptor that arrived is closed by then. Each test runs in its own helper process so that
//! its `/proc/self/fd` counts see no other test's descriptors.

use std::io::{self, ErrorKind, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procwire::fd::open_fds;
use procwire::pass::{self, Channel, Kind};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::in_own_process;
use crate::support::HELPER_OK;

/// Sends 8 copies of a pipe's write end with `data`.
fn send_eight(socket: impl AsFd, data: &[u8]) {
    let (_r, w) = crate::pipe();
    pass::send_fds(socket, &[IoSlice::new(data)], &[w.as_fd(); 8]).unwrap();
}

/// Checks `err` is the `InvalidData` error for lost descriptors and says each of `parts`.
fn assert_lost(err: &io::Error, parts: &[&str]) {
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    let text = err.to_string();
    for part in ["not all taken", "closed"].iter().chain(parts) {
        assert!(text.contains(part), "missing {part:?} in: {text}");
    }
}

#[test]
fn room_for_one_descriptor_and_eight_sent_is_a_clear_error_without_leaks() {
    if !in_own_process(
        "ctrunc::room_for_one_descriptor_and_eight_sent_is_a_clear_error_without_leaks",
    ) {
        return;
    }
    let (a, b) = UnixStream::pair().unwrap();
    let (c, d) = Channel::pair_of(Kind::SeqPacket).unwrap();
    let d = OwnedFd::from(d);
    for (tx, rx) in [(a.as_fd(), b.as_fd()), (c.as_fd(), d.as_fd())] {
        send_eight(tx, b"8");
        let before = open_fds().unwrap();
        let mut buf = [0u8; 4];
        let err = pass::recv_fds(rx, &mut [IoSliceMut::new(&mut buf)], 1).unwrap_err();
        assert_lost(&err, &["MSG_CTRUNC", "more than max_fds (1)"]);
        assert_eq!(open_fds().unwrap(), before, "a descriptor leaked");
        // The socket is still usable: the next message comes through whole.
        send_eight(tx, b"8");
        let (n, fds) = pass::recv_fds(rx, &mut [IoSliceMut::new(&mut buf)], 8).unwrap();
        assert_eq!((n, fds.len()), (1, 8));
    }
    println!("{HELPER_OK}");
}

#[test]
fn a_seqpacket_message_longer_than_the_buffer_is_an_error_not_a_cut() {
    if !in_own_process("ctrunc::a_seqpacket_message_longer_than_the_buffer_is_an_error_not_a_cut") {
        return;
    }
    // A raw seqpacket peer sends more than a Channel takes.
    let (a, b) = Channel::pair_of(Kind::SeqPacket).unwrap();
    let a = OwnedFd::from(a);
    let (_r, w) = crate::pipe();
    let big = vec![7u8; Channel::MAX_DATA + 1];
    pass::send_fds(&a, &[IoSlice::new(&big)], &[w.as_fd(); 3]).unwrap();
    let before = open_fds().unwrap();
    let err = b.recv().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    let text = err.to_string();
    assert!(text.contains("MSG_TRUNC"), "{text}");
    assert!(
        text.contains(&(Channel::MAX_DATA + 1).to_string()),
        "{text}"
    );
    assert_eq!(open_fds().unwrap(), before, "a descriptor leaked");

    // recv_fds on a seqpacket socket: the same, with its buffers' size.
    pass::send_fds(&a, &[IoSlice::new(b"0123456789")], &[w.as_fd()]).unwrap();
    let b = OwnedFd::from(b);
    let mut buf = [0u8; 4];
    let err = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("4 bytes of room"), "{err}");
    assert_eq!(open_fds().unwrap(), before, "a descriptor leaked");
    println!("{HELPER_OK}");
}

/// Fills every free descriptor number below the highest open one with a duplicate (returned,
/// to hold), so that a limit just above the highest leaves exactly the numbers above it free.
fn fill_holes() -> Vec<OwnedFd> {
    let highest = *open_fds().unwrap().iter().max().unwrap();
    let mut held = Vec::new();
    loop {
        let fd = rustix::io::fcntl_dupfd_cloexec(std::io::stderr(), 0).unwrap();
        if fd.as_raw_fd() > highest {
            return held;
        }
        held.push(fd);
    }
}

/// Lowers the soft `RLIMIT_NOFILE` so that two descriptor numbers are free (after
/// [`fill_holes`]); returns the old limits.
fn lower_limit() -> Rlimit {
    let old = getrlimit(Resource::Nofile);
    let highest = *open_fds().unwrap().iter().max().unwrap() as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(highest + 3),
            maximum: old.maximum,
        },
    )
    .unwrap();
    old
}

/// A receive that is expected to fail.
type Receiver<'a> = dyn Fn() -> io::Error + 'a;

#[test]
fn descriptors_beyond_rlimit_nofile_are_a_clear_error_without_leaks() {
    if !in_own_process("ctrunc::descriptors_beyond_rlimit_nofile_are_a_clear_error_without_leaks") {
        return;
    }
    let (a, b) = UnixStream::pair().unwrap();
    let (c, d) = Channel::pair_of(Kind::SeqPacket).unwrap();
    let (e, f) = Channel::pair_of(Kind::Stream).unwrap();
    // recv_fds with room for all 8, then Channel::recv on both kinds (a stream frame by hand:
    // a length prefix of 1 and its byte).
    let recv_fds = || {
        let mut buf = [0u8; 4];
        pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 8).unwrap_err()
    };
    let seqpacket = || d.recv().unwrap_err();
    let stream = || f.recv().unwrap_err();
    let cases: [(BorrowedFd<'_>, &[u8], &Receiver); 3] = [
        (a.as_fd(), b"x", &recv_fds),
        (c.as_fd(), b"x", &seqpacket),
        (e.as_fd(), &[1, 0, 0, 0, b'x'], &stream),
    ];
    for (tx, data, rx) in cases {
        send_eight(tx, data);
        let _held = fill_holes();
        let before = open_fds().unwrap();
        let old = lower_limit();
        let err = rx();
        setrlimit(Resource::Nofile, old).unwrap();
        assert_lost(
            &err,
            &[
                "MSG_CTRUNC",
                "2 arrived",
                "could not install",
                "RLIMIT_NOFILE",
            ],
        );
        assert_eq!(open_fds().unwrap(), before, "a descriptor leaked: {err}");
    }
    println!("{HELPER_OK}");
}
