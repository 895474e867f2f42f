//! The file edges, `relay::send_file` and `relay::recv_file`, on real files and every wire
//! kind (pipes, a socketpair, TCP on 127.0.0.1): byte-exact both ways by each path, offsets,
//! the copy fallback when the kernel refuses, and counts kept on error.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::thread;

use procwire::relay::{End, FileOptions, Outcome, Path, Why, recv_file, send_file};

use super::{data, pipe, socketpair, temp_file};
use crate::support::bounded;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    Pipes,
    SocketPair,
    Loopback,
}

const WIRES: [Wire; 3] = [Wire::Pipes, Wire::SocketPair, Wire::Loopback];

/// A one-way wire: (read end, write end).
fn wire(kind: Wire) -> (OwnedFd, OwnedFd) {
    match kind {
        Wire::Pipes => pipe(),
        Wire::SocketPair => socketpair(),
        Wire::Loopback => {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let w = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let r = l.accept().unwrap().0;
            (r.into(), w.into())
        }
    }
}

/// A file holding `bytes`, its offset at `at`.
fn file_with(bytes: &[u8], at: u64) -> File {
    let mut f = temp_file(false);
    f.write_all(bytes).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f
}

fn offset(f: &mut File) -> u64 {
    f.stream_position().unwrap()
}

fn contents(f: &mut File) -> Vec<u8> {
    let mut got = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut got).unwrap();
    got
}

fn options(path: Option<Path>) -> FileOptions {
    let mut o = FileOptions::new();
    o.path(path);
    o
}

/// Sends `len` bytes of a file (from offset `at`) over a fresh `kind` wire; checks what
/// arrived and the file's offset after.
fn send(kind: Wire, path: Option<Path>, len: usize, at: usize) -> Outcome {
    let bytes = data(at + len, len as u64 + 1);
    let mut f = file_with(&bytes, at as u64);
    let (r, w) = wire(kind);
    let collector = super::collect(r);
    let o = options(path).send(&f, &w);
    drop(w);
    let got = collector.join().unwrap();
    assert!(o.error().is_none(), "{kind:?} {path:?}: {o}");
    assert!(
        got == bytes[at..],
        "{kind:?} {path:?}: {o}, {} arrived",
        got.len()
    );
    assert_eq!(o.bytes(), len as u64, "{kind:?} {path:?}: {o}");
    assert!(matches!(o.end(), End::Eof), "{o}");
    assert_eq!(offset(&mut f), (at + len) as u64, "the offset advanced");
    o
}

/// Receives `len` bytes from a fresh `kind` wire into a file that already holds `at` bytes
/// (its offset at their end); checks the file and its offset after.
fn recv(kind: Wire, path: Option<Path>, len: usize, at: usize) -> Outcome {
    let before = data(at, 9);
    let sent = data(len, len as u64 + 2);
    let mut f = file_with(&before, at as u64);
    let (r, w) = wire(kind);
    let feeder = super::feed(w, sent.clone());
    let o = options(path).recv(&r, &f);
    feeder.join().unwrap();
    assert!(o.error().is_none(), "{kind:?} {path:?}: {o}");
    assert_eq!(o.bytes(), len as u64, "{kind:?} {path:?}: {o}");
    assert_eq!(offset(&mut f), (at + len) as u64, "the offset advanced");
    let got = contents(&mut f);
    assert!(
        got[..at] == before[..] && got[at..] == sent[..],
        "{kind:?} {path:?}: {o}"
    );
    o
}

#[test]
fn send_file_is_byte_exact_on_every_wire_by_every_path() {
    // Empty, small, larger than a pipe, and not a multiple of a page.
    let sizes = [0, 1, 100_000, (3 << 20) + 17];
    for kind in WIRES {
        for len in sizes {
            // The default path: splice into a pipe, sendfile into a socket.
            let o = send(kind, None, len, 0);
            let want = if kind == Wire::Pipes {
                Path::Splice
            } else {
                Path::Sendfile
            };
            assert_eq!(o.path(), want, "{kind:?}: {o}");
            assert!(matches!(o.why(), Why::Auto), "{o}");
            for path in [Path::Sendfile, Path::Splice, Path::Copy] {
                let o = send(kind, Some(path), len, 4097);
                assert_eq!(o.path(), path, "{kind:?}: {o}");
                assert!(matches!(o.why(), Why::Asked), "{o}");
            }
        }
    }
}

#[test]
fn recv_file_is_byte_exact_on_every_wire_by_every_path_it_takes() {
    let sizes = [0, 1, 100_000, (3 << 20) + 17];
    for kind in WIRES {
        for len in sizes {
            let o = recv(kind, None, len, 0);
            assert_eq!(o.path(), Path::Splice, "{kind:?}: {o}");
            for path in [Path::Splice, Path::Copy] {
                let o = recv(kind, Some(path), len, 333);
                assert_eq!(o.path(), path, "{kind:?}: {o}");
            }
        }
    }
}

#[test]
fn a_path_the_kernel_refuses_is_its_error_when_asked_for_and_a_copy_otherwise() {
    // sendfile(2) reads only files: from a wire it is EINVAL, nothing moved.
    for kind in WIRES {
        let (r, w) = wire(kind);
        let feeder = super::feed(w, vec![1; 1000]);
        let mut f = temp_file(false);
        let o = options(Some(Path::Sendfile)).recv(&r, &f);
        assert_eq!((o.bytes(), o.path()), (0, Path::Sendfile), "{o}");
        let e = o.error().expect("refused");
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{kind:?}: {o}");
        assert_eq!(offset(&mut f), 0);
        // The default falls back instead? Not for a wire: it splices.
        drop(r);
        feeder.join().ok();
    }
    // Into a file opened with O_APPEND splice(2) is EINVAL: the default copies, whole, and
    // says why; from a pipe (direct) and from a socket (through our pipe, whose bytes then go
    // by the copy too).
    for kind in WIRES {
        let sent = data((1 << 20) + 5, 77);
        let mut f = temp_file(true);
        f.write_all(b"head").unwrap();
        let (r, w) = wire(kind);
        let feeder = super::feed(w, sent.clone());
        let o = recv_file(&r, &f);
        feeder.join().unwrap();
        assert!(o.error().is_none(), "{kind:?}: {o}");
        assert_eq!(
            (o.bytes(), o.path()),
            (sent.len() as u64, Path::Copy),
            "{o}"
        );
        match o.why() {
            Why::Refused(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{o}"),
            other => panic!("{kind:?}: {other:?}"),
        }
        let got = contents(&mut f);
        assert!(
            got[..4] == *b"head" && got[4..] == sent[..],
            "{kind:?}: {o}"
        );
    }
    // A tty (a pty's follower) takes no splice: EINVAL, then a copy.
    let (leader, follower) = super::fallback::pty();
    let f = file_with(b"to the terminal\n", 0);
    let o = FileOptions::new().send(&f, &follower);
    assert!(o.error().is_none(), "{o}");
    assert_eq!(o.bytes(), 16, "{o}");
    // sendfile into a tty works on current kernels; if it was refused, it says so.
    if o.path() == Path::Copy {
        assert!(matches!(o.why(), Why::Refused(_)), "{o}");
    }
    let mut buf = [0u8; 64];
    let n = rustix::io::read(&leader, &mut buf).unwrap();
    assert!(n > 0);
}

#[test]
fn counts_survive_a_gone_peer() {
    // The reader takes a part, then goes away: the sender fails, the count says how far.
    for kind in [Wire::SocketPair, Wire::Loopback] {
        for path in [None, Some(Path::Splice), Some(Path::Copy)] {
            let bytes = data(8 << 20, 5);
            let f = file_with(&bytes, 0);
            let (r, w) = wire(kind);
            let reader = thread::spawn(move || {
                let mut r = File::from(r);
                let mut buf = vec![0u8; 10_000];
                r.read_exact(&mut buf).unwrap();
                buf
            });
            let o =
                bounded::spawn(move || options(path).send(&f, &w)).join("send_file to a gone peer");
            let first = reader.join().unwrap();
            assert!(first[..] == bytes[..10_000]);
            let e = o.error().expect("the peer is gone");
            assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ),
                "{kind:?} {path:?}: {o}"
            );
            assert!(o.bytes() >= 10_000, "{kind:?} {path:?}: {o}");
            assert!(o.bytes() < bytes.len() as u64, "{kind:?} {path:?}: {o}");
        }
    }
    // A sender that resets mid-way: what reached the file is what is counted.
    for path in [None, Some(Path::Copy)] {
        let (r, w) = wire(Wire::Loopback);
        let mut f = temp_file(false);
        let sender = thread::spawn(move || {
            let mut w = File::from(w);
            w.write_all(&data(300_000, 3)).unwrap();
            // Let the bytes be read before the reset: RST discards what is unread.
            thread::sleep(std::time::Duration::from_millis(100));
            rustix::net::sockopt::set_socket_linger(&w, Some(std::time::Duration::ZERO)).unwrap();
        });
        let o = options(path).recv(&r, &f);
        sender.join().unwrap();
        let got = contents(&mut f);
        assert_eq!(got.len() as u64, o.bytes(), "{path:?}: {o}");
        assert!(got[..] == data(300_000, 3)[..got.len()], "{path:?}: {o}");
        // The reset may land before or after the bytes: either EOF-less failure or, when all
        // were read before it, a reset error; never more bytes than were sent.
        if let Some(e) = o.error() {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{path:?}: {o}");
        }
    }
}

#[test]
fn a_one_byte_chunk_still_delivers_everything() {
    // A chunk of one byte still delivers everything, in order.
    let bytes = data(10_000, 8);
    for path in [
        None,
        Some(Path::Splice),
        Some(Path::Sendfile),
        Some(Path::Copy),
    ] {
        let f = file_with(&bytes, 0);
        let (r, w) = socketpair();
        let collector = super::collect(r);
        let mut o = options(path);
        o.chunk(1);
        let out = o.send(&f, &w);
        drop(w);
        assert!(collector.join().unwrap() == bytes, "{path:?}: {out}");
        assert_eq!(out.bytes(), 10_000);
    }
    // The two-argument form is the default options.
    let f = file_with(&bytes, 0);
    let (r, w) = pipe();
    let collector = super::collect(r);
    let o = send_file(f.as_fd(), w.as_fd());
    drop(w);
    assert!(collector.join().unwrap() == bytes, "{o}");
}
