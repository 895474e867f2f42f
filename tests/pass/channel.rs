//! `Channel`: end of file, messages without descriptors or without data, conversions to and
//! from `OwnedFd`, the stream fallback's framing errors.

use std::io::{ErrorKind, IoSlice, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procwire::pass::{self, Channel, Kind};

#[test]
fn pair_prefers_seqpacket_and_eof_is_none_after_the_last_message() {
    let (a, b) = Channel::pair().unwrap();
    assert_eq!(a.kind(), Kind::SeqPacket);
    for kind in [Kind::SeqPacket, Kind::Stream] {
        let (a, b) = Channel::pair_of(kind).unwrap();
        assert!(procwire::fd::is_cloexec(&a).unwrap());
        let (_r, w) = crate::pipe();
        a.send(b"data only", &[]).unwrap();
        a.send(b"", &[w.as_fd()]).unwrap();
        a.send(&vec![9u8; Channel::MAX_DATA], &[])
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        drop(a);
        let m = b.recv().unwrap().unwrap();
        assert_eq!((&m.data[..], m.fds.len()), (&b"data only"[..], 0), "{kind}");
        let m = b.recv().unwrap().unwrap();
        assert_eq!((m.data.len(), m.fds.len()), (0, 1), "{kind}");
        let m = b.recv().unwrap().unwrap();
        assert_eq!(m.data, vec![9u8; Channel::MAX_DATA], "{kind}");
        assert!(b.recv().unwrap().is_none(), "{kind}: EOF");
        assert!(b.recv().unwrap().is_none(), "{kind}: EOF again");
    }
    drop((a, b));
}

#[test]
fn kinds_have_names() {
    let names: Vec<String> = Kind::ALL.iter().map(|k| k.to_string()).collect();
    assert_eq!(names, ["seqpacket", "stream"]);
    assert_eq!(Kind::Stream.name(), "stream");
}

#[test]
fn an_end_becomes_an_owned_fd_and_back_with_its_kind() {
    for kind in [Kind::SeqPacket, Kind::Stream] {
        let (a, b) = Channel::pair_of(kind).unwrap();
        let a = Channel::from_fd(OwnedFd::from(a)).unwrap();
        let b = Channel::try_from(OwnedFd::from(b)).unwrap();
        assert_eq!((a.kind(), b.kind()), (kind, kind));
        a.send(b"still works", &[]).unwrap();
        assert_eq!(b.recv().unwrap().unwrap().data, b"still works");
    }
    let (r, _w) = crate::pipe();
    let err = Channel::from_fd(r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = Channel::from_fd(OwnedFd::from(tcp)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("AF_UNIX"), "{err}");
}

#[test]
fn a_stream_channel_refuses_bad_frames_and_a_peer_gone_mid_message() {
    // A length beyond MAX_DATA: an error, the descriptors on it closed.
    let (raw, end) = UnixStream::pair().unwrap();
    let ch = Channel::from_fd(OwnedFd::from(end)).unwrap();
    assert_eq!(ch.kind(), Kind::Stream);
    let too_long = (Channel::MAX_DATA as u32 + 1).to_le_bytes();
    let (_r, w) = crate::pipe();
    pass::send_fds(&raw, &[IoSlice::new(&too_long)], &[w.as_fd()]).unwrap();
    let err = ch.recv().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("out of step"), "{err}");

    // A peer that closes after half a frame: UnexpectedEof, not a short message.
    let (mut raw2, end) = UnixStream::pair().unwrap();
    let ch = Channel::from_fd(OwnedFd::from(end)).unwrap();
    raw2.write_all(&[10, 0, 0, 0, b'h', b'a']).unwrap();
    drop(raw2);
    let err = ch.recv().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
}

#[test]
fn sends_from_several_threads_arrive_whole_on_both_kinds() {
    for kind in [Kind::SeqPacket, Kind::Stream] {
        let (a, b) = Channel::pair_of(kind).unwrap();
        let (_r, w) = crate::pipe();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let (a, w) = (&a, &w);
                s.spawn(move || {
                    for i in 0..50u8 {
                        a.send(&vec![t; 1000 + usize::from(i)], &[w.as_fd()])
                            .unwrap();
                    }
                });
            }
            let mut next = [0usize; 4];
            for _ in 0..200 {
                let m = b.recv().unwrap().unwrap();
                let t = m.data[0];
                assert!(m.data.iter().all(|&x| x == t), "{kind}: frames interleaved");
                assert_eq!(m.data.len(), 1000 + next[usize::from(t)], "{kind}: order");
                assert_eq!(m.fds.len(), 1);
                next[usize::from(t)] += 1;
            }
        });
    }
}
