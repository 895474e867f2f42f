//! Round trips of 1 and 253 descriptors on every socket type, received close-on-exec; the
//! argument checks that come before any syscall.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

use procwire::pass::{self, Channel, Kind, MAX_FDS};

use crate::{pipe, read_n, write_to};

/// Sends `n` copies of a pipe's write end from `a` to `b`, and checks each received descriptor
/// is close-on-exec, distinct, and writes into that pipe (in order: the i-th writes byte i).
fn round_trip(a: impl AsFd, b: impl AsFd, n: usize) {
    let (r, w) = pipe();
    let fds: Vec<BorrowedFd<'_>> = vec![w.as_fd(); n];
    let sent = pass::send_fds(&a, &[IoSlice::new(b"hdr:"), IoSlice::new(b"fds")], &fds).unwrap();
    assert_eq!(sent, 7);
    let (mut x, mut y) = ([0u8; 3], [0u8; 8]);
    let (got, fds) = pass::recv_fds(
        &b,
        &mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)],
        MAX_FDS,
    )
    .unwrap();
    assert_eq!(got, 7);
    assert_eq!((&x, &y[..4]), (b"hdr", &b":fds"[..]));
    assert_eq!(fds.len(), n);
    let mut numbers: Vec<i32> = fds.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), n, "every descriptor is a new one");
    for (i, fd) in fds.iter().enumerate() {
        assert!(procwire::fd::is_cloexec(fd).unwrap(), "fd {i} not CLOEXEC");
        write_to(fd, &[i as u8]);
    }
    let expect: Vec<u8> = (0..n).map(|i| i as u8).collect();
    assert_eq!(read_n(&r, n), expect);
}

#[test]
fn one_and_253_descriptors_on_stream_seqpacket_and_datagram_sockets() {
    for n in [1, MAX_FDS] {
        let (a, b) = UnixStream::pair().unwrap();
        round_trip(&a, &b, n);
        let (a, b) = UnixDatagram::pair().unwrap();
        round_trip(&a, &b, n);
        let (a, b) = Channel::pair_of(Kind::SeqPacket).unwrap();
        round_trip(&a, &b, n);
        let (a, b) = procwire::wire::Builder::new()
            .kind(procwire::wire::Kind::SocketPair)
            .build()
            .unwrap()
            .into_ends();
        // A socketpair end reads and writes on one descriptor.
        round_trip(a.write_fd().unwrap(), b.read_fd().unwrap(), n);
    }
}

#[test]
fn a_channel_carries_1_and_253_descriptors_on_both_kinds() {
    for kind in [Kind::SeqPacket, Kind::Stream] {
        let (a, b) = Channel::pair_of(kind).unwrap();
        assert_eq!(a.kind(), kind);
        for n in [1, MAX_FDS] {
            let (r, w) = pipe();
            a.send(b"m", &vec![w.as_fd(); n]).unwrap();
            let msg = b.recv().unwrap().unwrap();
            assert_eq!(msg.data, b"m");
            assert_eq!(msg.fds.len(), n, "{kind}");
            for (i, fd) in msg.fds.iter().enumerate() {
                assert!(procwire::fd::is_cloexec(fd).unwrap());
                write_to(fd, &[i as u8]);
            }
            assert_eq!(read_n(&r, n), (0..n).map(|i| i as u8).collect::<Vec<_>>());
        }
    }
}

#[test]
fn bad_arguments_are_refused_before_any_syscall() {
    let (a, b) = UnixStream::pair().unwrap();
    let (_r, w) = pipe();
    let too_many = vec![w.as_fd(); MAX_FDS + 1];
    let err = pass::send_fds(&a, &[IoSlice::new(b"x")], &too_many).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("253"), "{err}");
    let err = pass::send_fds(&a, &[IoSlice::new(b"x")], &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = pass::send_fds(&a, &[IoSlice::new(b"")], &[w.as_fd()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("byte"), "{err}");
    let mut buf = [0u8; 4];
    for max in [0, MAX_FDS + 1] {
        let err = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], max).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "max_fds {max}");
    }
    // Nothing was sent by the refused calls: the socket is empty.
    procwire::fd::set_nonblocking(&b, true).unwrap();
    let err = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);

    let (c, _d) = Channel::pair().unwrap();
    let err = c.send(&vec![0u8; Channel::MAX_DATA + 1], &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = c.send(b"x", &too_many).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = c.send(b"", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_gone_peer_is_broken_pipe_not_sigpipe() {
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    let (_r, w) = pipe();
    let err = pass::send_fds(&a, &[IoSlice::new(b"x")], &[w.as_fd()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    assert!(err.to_string().contains("sendmsg"), "{err}");
    let (c, d) = Channel::pair().unwrap();
    drop(d);
    let err = c.send(b"x", &[w.as_fd()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
}

#[test]
fn received_descriptors_need_no_owner_beyond_the_vector() {
    // Dropping the vector closes them: the pipe sees EOF once the sender's copy is gone too.
    let (a, b) = UnixStream::pair().unwrap();
    let (r, w) = pipe();
    pass::send_fds(&a, &[IoSlice::new(b"x")], &[w.as_fd(), w.as_fd()]).unwrap();
    drop(w);
    let mut buf = [0u8; 1];
    let (_, fds): (usize, Vec<OwnedFd>) =
        pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 2).unwrap();
    assert_eq!(fds.len(), 2);
    drop(fds);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn with_so_passcred_on_the_credentials_take_no_descriptor_room() {
    // The kernel puts the sender's credentials ahead of the descriptors in every message; a
    // buffer sized for descriptors alone would cut the last ones (MSG_CTRUNC).
    let (a, b) = UnixStream::pair().unwrap();
    rustix::net::sockopt::set_socket_passcred(&b, true).unwrap();
    round_trip(&a, &b, MAX_FDS);
    let (a, b) = Channel::pair_of(Kind::SeqPacket).unwrap();
    rustix::net::sockopt::set_socket_passcred(&b, true).unwrap();
    let b = Channel::from_fd(OwnedFd::from(b)).unwrap();
    let (_r, w) = pipe();
    a.send(b"creds", &vec![w.as_fd(); MAX_FDS]).unwrap();
    let msg = b.recv().unwrap().unwrap();
    assert_eq!((&msg.data[..], msg.fds.len()), (&b"creds"[..], MAX_FDS));
}
