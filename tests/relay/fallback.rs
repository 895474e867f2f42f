//! The engine's fallbacks on real descriptors: a real `EINVAL` from a pseudo-terminal, pool
//! exhaustion and a collapsed grant through the `MakePipe` seam, no `SIGPIPE` from the
//! blocking drivers, and byte-exact random sizes in every mode over every stream kind.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::thread;

use procwire::relay::{
    Bridge, End, Fd, FileOptions, MakePipe, Mode, NoPipe, Options, Path, PipePool, Why, relay,
};

use super::{collect, data, feed, pipe, socketpair};
use crate::support::{HELPER_OK, bounded, in_own_process};

pub(crate) use crate::support::pty::pty;

fn assert_refused_einval(why: &Why, what: &str) {
    match why {
        Why::Refused(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{what}"),
        other => panic!("{what}: {other:?}"),
    }
}

/// What the kernel says to one non-blocking splice of up to 16 bytes from `src` into a
/// fresh pipe.
fn raw_splice(src: impl AsFd) -> rustix::io::Result<usize> {
    let (_r, w) = pipe();
    rustix::pipe::splice(
        src.as_fd(),
        None,
        &w,
        None,
        16,
        rustix::pipe::SpliceFlags::NONBLOCK,
    )
}

/// Bridges `src` into a fresh pipe until the bridge ends (EOF, or `exits` questions to the
/// owner); returns the outcome and what arrived.
fn bridge_into_pipe(src: OwnedFd, exits: usize) -> (procwire::relay::Outcome, Vec<u8>) {
    let (r, w) = pipe();
    let collector = collect(r);
    let o = bounded::spawn(move || {
        let mut from = Fd::new(src.as_fd()).unwrap();
        let mut to = Fd::new(w.as_fd()).unwrap();
        let bridge = Bridge::new();
        if exits == 0 {
            return bridge.run(&mut from, &mut to);
        }
        let mut asked = 0;
        bridge.run_until_exit(&mut from, &mut to, || {
            asked += 1;
            asked > exits
        })
    })
    .join("a bridge into a pipe");
    (o, collector.join().unwrap())
}

#[test]
fn a_real_einval_falls_back_to_copy_before_any_byte_and_says_so() {
    // A procfs file has no splice_read: EINVAL from the kernel on every kernel we run on; the
    // bridge then copies all of it.
    let path = "/proc/self/cmdline";
    let want = std::fs::read(path).unwrap();
    let f = std::fs::File::open(path).unwrap();
    let probe = raw_splice(&f);
    assert_eq!(probe, Err(rustix::io::Errno::INVAL), "splice from {path}");
    let (o, got) = bridge_into_pipe(f.into(), 0);
    assert_eq!(o.path(), Path::Copy, "{o}");
    assert_refused_einval(o.why(), &o.to_string());
    assert!(matches!(o.end(), End::Eof), "{o}");
    assert_eq!(o.bytes(), want.len() as u64, "{o}");
    assert!(got == want, "{o}");

    // A pty's follower (a tty): kernels before 6.5 have no splice_read for ttys (EINVAL),
    // later ones splice them by copy_splice_read. Either way the bytes arrive, and the path
    // is the one the kernel allowed, decided before any byte.
    let (leader, follower) = pty();
    let sent = data(3000, 11);
    {
        let (probe_leader, probe_follower) = pty();
        rustix::io::write(&probe_leader, b"?").unwrap();
        let refused = raw_splice(&probe_follower) == Err(rustix::io::Errno::INVAL);
        std::fs::File::from(leader.try_clone().unwrap())
            .write_all(&sent)
            .unwrap();
        // The leader stays open (a tty has no EOF of its own): end by the owner rule, after
        // the queued bytes.
        let (o, got) = bridge_into_pipe(follower, 2);
        println!("tty: {o}; kernel refuses tty splices: {refused}");
        assert!(matches!(o.end(), End::OwnerExited), "{o}");
        assert_eq!(o.bytes(), got.len() as u64, "{o}");
        assert!(got[..] == sent[..got.len()], "{o}");
        if refused {
            assert_eq!(o.path(), Path::Copy, "{o}");
            assert_refused_einval(o.why(), &o.to_string());
        } else {
            assert_eq!(o.path(), Path::Splice, "{o}");
            assert!(matches!(o.why(), Why::Auto), "{o}");
        }
    }
    drop(leader);
}

/// Real pipes that report the grant they are told to (the seam for a collapsed grant), or
/// fail.
#[derive(Debug)]
struct Granting(Option<usize>);

impl MakePipe for Granting {
    fn make(&self, ask: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
        let (r, w, _) = procwire::relay::Kernel.make(ask)?;
        match self.0 {
            Some(granted) => Ok((r, w, granted)),
            None => Err(rustix::io::Errno::MFILE.into()),
        }
    }
}

#[test]
fn a_collapsed_grant_or_a_failed_pipe_copies_and_says_why() {
    let page = rustix::param::page_size();
    for maker in [Granting(Some(2 * page)), Granting(None)] {
        let pool = PipePool::with_maker(1 << 20, 4, maker);
        // The duplex relay: both directions copy.
        let (a, a_peer) = UnixStream::pair().unwrap();
        let (b, b_peer) = UnixStream::pair().unwrap();
        let mut o = Options::new();
        o.pool(pool.clone());
        let relayed = bounded::spawn(move || relay(&a, &b, &o));
        let up = data(200_000, 1);
        let down = data(300_000, 2);
        let ta = send_then_read(a_peer, up.clone());
        let tb = send_then_read(b_peer, down.clone());
        assert!(ta.join().unwrap() == down);
        assert!(tb.join().unwrap() == up);
        let r = relayed.join("a relay without pipes");
        assert!(r.error().is_none(), "{r}");
        for f in [r.a_to_b(), r.b_to_a()] {
            assert_eq!(f.path(), Path::Copy, "{r}");
            match (&pool_maker_kind(f.why()), f.why()) {
                (true, Why::NoPipe(NoPipe::Collapsed { granted })) => {
                    assert_eq!(*granted, 2 * page)
                }
                (false, Why::NoPipe(NoPipe::Failed(e))) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE))
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(pool.live(), 0, "no slot kept by a pipe not given");
        // The bridge: copies too.
        let mut bridge = Bridge::new();
        bridge.pool(pool.clone());
        let o = super::transfer(&bridge, pipe(), socketpair(), 100_000);
        assert_eq!(o.path(), Path::Copy, "{o}");
        assert!(matches!(o.why(), Why::NoPipe(_)), "{o}");
        // A file edge through a pipe: copies too.
        let f = super::temp_file(false);
        let (r, w) = socketpair();
        let feeder = feed(w, data(50_000, 3));
        let mut fo = FileOptions::new();
        fo.pool(pool.clone());
        let o = fo.recv(&r, &f);
        feeder.join().unwrap();
        assert_eq!((o.bytes(), o.path()), (50_000, Path::Copy), "{o}");
        assert!(matches!(o.why(), Why::NoPipe(_)), "{o}");
    }
}

/// Writes `bytes` into `s` and shuts its write side, while reading it to EOF on a thread.
fn send_then_read(mut s: UnixStream, bytes: Vec<u8>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        s.write_all(&bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    })
}

/// Whether `why` is the collapsed-grant kind (else the failed kind).
fn pool_maker_kind(why: &Why) -> bool {
    matches!(why, Why::NoPipe(NoPipe::Collapsed { .. }))
}

#[test]
fn the_blocking_drivers_never_raise_sigpipe() {
    if !in_own_process("fallback::the_blocking_drivers_never_raise_sigpipe") {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of SIGPIPE in this single-test helper before
    // any other thread runs; a SIGPIPE raised from now on kills the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    let gone = || {
        let (a, b) = socketpair();
        drop(b);
        a
    };
    // A bridge splicing into a socket through its pipe, and one copying.
    for mode in [Mode::Splice, Mode::Copy] {
        let mut bridge = Bridge::new();
        bridge.mode(mode).pool(PipePool::new(1 << 16, 1));
        let (r, w) = pipe();
        rustix::io::write(&w, &[1u8; 1000]).unwrap();
        drop(w);
        let dst = gone();
        let o = bridge.run(
            &mut Fd::new(r.as_fd()).unwrap(),
            &mut Fd::new(dst.as_fd()).unwrap(),
        );
        assert_eq!(o.error().unwrap().kind(), io::ErrorKind::BrokenPipe, "{o}");
        assert_eq!(o.bytes(), 0, "{o}");
    }
    // A file sent by sendfile, by splice through a pipe, and by copy.
    for path in [Path::Sendfile, Path::Splice, Path::Copy] {
        let f = super::temp_file(false);
        rustix::io::write(&f, &[2u8; 5000]).unwrap();
        rustix::fs::seek(&f, rustix::fs::SeekFrom::Start(0)).unwrap();
        let mut o = FileOptions::new();
        o.path(Some(path));
        let out = o.send(&f, gone());
        assert_eq!(out.path(), path, "{out}");
        assert_eq!(
            out.error().unwrap().kind(),
            io::ErrorKind::BrokenPipe,
            "{out}"
        );
    }
    // Over TCP, where the first sends after the close may still be taken.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    drop(l.accept().unwrap());
    let f = super::temp_file(false);
    rustix::io::write(&f, &vec![3u8; 8 << 20]).unwrap();
    rustix::fs::seek(&f, rustix::fs::SeekFrom::Start(0)).unwrap();
    let out = procwire::relay::send_file(&f, &c);
    let e = out.error().expect("the peer is gone");
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{out}"
    );
    // Still alive.
    println!("{HELPER_OK}");
}

/// A connected TCP pair (one end, the other).
fn tcp() -> (OwnedFd, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let b = l.accept().unwrap().0;
    (b.into(), a.into())
}

#[test]
fn bridges_are_byte_exact_for_random_sizes_in_every_mode_over_every_kind() {
    let seed = fastrand::u64(..);
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    type Make = fn() -> (OwnedFd, OwnedFd);
    let kinds: [(&str, Make); 3] = [("pipe", pipe), ("unix", socketpair), ("tcp", tcp)];
    for (src_name, src) in kinds {
        for (dst_name, dst) in kinds {
            for mode in [Mode::Auto, Mode::Splice, Mode::Copy] {
                let mut bridge = Bridge::new();
                bridge
                    .mode(mode)
                    .chunk(rng.usize(1..=DEFAULT_CHUNK_MAX))
                    .pool(PipePool::new(1 << 16, 1));
                let len = rng.usize(..4 << 20);
                let what = format!("{src_name}->{dst_name} {mode:?} {len}");
                let from = src();
                // Non-blocking, so that the splice path may read a TCP source (a blocking one
                // is copied: it could sleep in the kernel holding the pipe's lock).
                rustix::io::ioctl_fionbio(&from.0, true).unwrap();
                let o = super::transfer(&bridge, from, dst(), len);
                let want = if mode == Mode::Copy {
                    Path::Copy
                } else {
                    Path::Splice
                };
                assert_eq!(o.path(), want, "{what}: {o}");
            }
        }
    }
}

const DEFAULT_CHUNK_MAX: usize = 1 << 20;

#[test]
fn relay_copies_into_a_destination_that_refuses_the_splice_out_of_its_pipe() {
    // splice(2) into a file opened with O_APPEND is EINVAL, and only at the drain: the fill
    // from the socket into the relay's pipe went through. Auto turns that direction to copy,
    // the bytes already in the pipe included, and says why; splice mode fails with the
    // kernel's EINVAL. The file is not a socket: its direction ends at EOF without a shutdown.
    for (mode, len) in [(Mode::Auto, 300_000), (Mode::Splice, 3000)] {
        let (a, peer) = socketpair();
        let file = super::temp_file(true);
        let sent = data(len, 21);
        // Less than the socket holds in splice mode, so the writer ends though nothing reads.
        let writer = feed(peer, sent.clone());
        let (report, mut file) = bounded::spawn(move || {
            let mut o = Options::new();
            o.mode(mode);
            (relay(&a, &file, &o), file)
        })
        .join("a relay into an O_APPEND file");
        writer.join().unwrap();
        let ab = report.a_to_b();
        if mode == Mode::Auto {
            assert!(report.error().is_none(), "{report}");
            assert_eq!(ab.path(), Path::Copy, "{report}");
            assert_refused_einval(ab.why(), &report.to_string());
            assert!(matches!(ab.end(), End::Eof), "{report}");
            assert_eq!(ab.bytes(), len as u64, "{report}");
            assert_eq!(report.b_to_a().bytes(), 0, "{report}");
            let mut got = Vec::new();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut got).unwrap();
            assert!(got == sent, "{report}: {} bytes in the file", got.len());
        } else {
            let e = report
                .error()
                .expect("splice mode: the refusal is the error");
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{report}");
            assert_eq!(ab.path(), Path::Splice, "{report}");
            assert_eq!(ab.bytes(), 0, "{report}");
        }
    }
}
