//! Integration tests of `procwire::relay`'s seed on real descriptors: which path each pair of
//! descriptors takes and why, byte-exact transfers, a real kernel refusal, and the rule that
//! ends a relay once the source's owner has exited.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use procwire::relay::{Bridge, End, Fd, Mode, Path, Sink, Source, Why};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

#[path = "../support/mod.rs"]
mod support;

use support::bounded;

mod duplex;
mod fallback;
mod file;

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Writes `bytes` into `w` on a thread, then closes it (the source's EOF).
fn feed(w: OwnedFd, bytes: Vec<u8>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        w.write_all(&bytes).unwrap();
    })
}

/// Reads `r` to EOF on a thread.
fn collect(r: OwnedFd) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut got = Vec::new();
        std::fs::File::from(r).read_to_end(&mut got).unwrap();
        got
    })
}

/// Relays `len` random bytes from a fresh `src` pair to a fresh `dst` pair with `bridge`;
/// checks they arrive intact and returns the outcome.
fn transfer(
    bridge: &Bridge,
    src: (OwnedFd, OwnedFd),
    dst: (OwnedFd, OwnedFd),
    len: usize,
) -> procwire::relay::Outcome {
    let sent = data(len, len as u64);
    let feeder = feed(src.1, sent.clone());
    let collector = collect(dst.0);
    let outcome = {
        let mut from = Fd::new(src.0.as_fd()).unwrap();
        let mut to = Fd::new(dst.1.as_fd()).unwrap();
        bridge.run(&mut from, &mut to)
    };
    drop(dst.1);
    feeder.join().unwrap();
    let got = collector.join().unwrap();
    assert!(
        got == sent,
        "{outcome}: {} bytes arrived of {len}",
        got.len()
    );
    assert!(matches!(outcome.end(), End::Eof), "{outcome}");
    assert_eq!(outcome.bytes(), len as u64, "{outcome}");
    outcome
}

#[test]
fn into_a_pipe_splices_and_into_a_socket_copies() {
    let bridge = Bridge::new();
    let len = 3 << 20;
    let o = transfer(&bridge, pipe(), pipe(), len);
    assert_eq!(o.path(), Path::Splice);
    assert!(matches!(o.why(), Why::Auto));
    // A socket source into a pipe: splice too.
    let o = transfer(&bridge, socketpair(), pipe(), len);
    assert_eq!(o.path(), Path::Splice);
    // Into a socket: never spliced (it could block holding the source pipe's lock).
    for src in [pipe(), socketpair()] {
        let o = transfer(&bridge, src, socketpair(), len);
        assert_eq!(o.path(), Path::Copy);
        assert!(matches!(o.why(), Why::NotAPipe), "{o}");
    }
}

#[test]
fn the_mode_chooses_the_path_and_small_chunks_still_deliver_everything() {
    let mut bridge = Bridge::new();
    bridge.mode(Mode::Copy).chunk(1000);
    let o = transfer(&bridge, pipe(), pipe(), 1 << 20);
    assert_eq!(o.path(), Path::Copy);
    assert!(matches!(o.why(), Why::Asked));
    bridge.mode(Mode::Splice).chunk(4097);
    let o = transfer(&bridge, pipe(), pipe(), 1 << 20);
    assert_eq!(o.path(), Path::Splice);
    // Splice asked for where it cannot be: an error before any byte, not a silent copy.
    let o = socket_to_socket(&bridge);
    assert_eq!(o.bytes(), 0);
    let e = o.into_result().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not a pipe"), "{e}");
}

/// Runs `bridge` from one socketpair end to another (whose peers stay open and silent), for
/// a bridge that refuses the pair before any byte.
fn socket_to_socket(bridge: &Bridge) -> procwire::relay::Outcome {
    let (a, _b) = socketpair();
    let (_c, d) = socketpair();
    bridge.run(
        &mut Fd::new(a.as_fd()).unwrap(),
        &mut Fd::new(d.as_fd()).unwrap(),
    )
}

#[test]
fn a_real_kernel_refusal_falls_back_before_any_byte() {
    // splice(2) from a directory is EINVAL; the copy then meets read(2)'s EISDIR.
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    let (_r, w) = pipe();
    let o = Bridge::new().run(
        &mut Fd::new(dir.as_fd()).unwrap(),
        &mut Fd::new(w.as_fd()).unwrap(),
    );
    assert_eq!((o.bytes(), o.path()), (0, Path::Copy), "{o}");
    match o.why() {
        Why::Refused(e) => assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::INVAL.raw_os_error())
        ),
        other => panic!("{other:?}"),
    }
    let e = o.into_result().unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(rustix::io::Errno::ISDIR.raw_os_error())
    );
}

/// A source whose splices the kernel refuses (a tty, say), scripted on a pipe.
struct Unspliceable(OwnedFd, usize);

impl AsFd for Unspliceable {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Source for Unspliceable {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Fd::new(self.0.as_fd())?.read_chunk(buf)
    }

    fn splice_into(&mut self, _dst: &mut dyn Sink, _len: usize) -> io::Result<usize> {
        self.1 += 1;
        Err(rustix::io::Errno::INVAL.into())
    }
}

#[test]
fn a_source_that_cannot_splice_is_copied_whole() {
    let (r, w) = pipe();
    let sent = data(1 << 20, 7);
    let feeder = feed(w, sent.clone());
    let (dr, dw) = pipe();
    let collector = collect(dr);
    let mut src = Unspliceable(r, 0);
    let o = Bridge::new().run(&mut src, &mut Fd::new(dw.as_fd()).unwrap());
    drop(dw);
    feeder.join().unwrap();
    assert!(collector.join().unwrap() == sent);
    assert_eq!(src.1, 1, "asked once, then copied");
    assert_eq!((o.bytes(), o.path()), (sent.len() as u64, Path::Copy));
    assert!(matches!(o.why(), Why::Refused(_)), "{o}");
}

#[test]
fn a_failed_destination_ends_the_relay_with_the_error() {
    let (r, w) = pipe();
    let feeder = feed(w, vec![1; 1000]);
    let (dr, dw) = pipe();
    drop(dr);
    // Rust's runtime ignores SIGPIPE: the splice fails with EPIPE.
    let o = Bridge::new().run(
        &mut Fd::new(r.as_fd()).unwrap(),
        &mut Fd::new(dw.as_fd()).unwrap(),
    );
    drop(r);
    feeder.join().ok();
    assert_eq!(o.path(), Path::Splice, "an EPIPE is no reason to copy");
    assert_eq!(o.error().unwrap().kind(), io::ErrorKind::BrokenPipe, "{o}");
}

#[test]
fn once_the_owner_exits_only_what_was_queued_moves() {
    // The source stays open (a descendant holds it): without the owner rule this relay would
    // wait for an EOF that never comes.
    let (r, w) = pipe();
    rustix::io::write(&w, &[5u8; 1000]).unwrap();
    let (dr, dw) = pipe();
    let collector = collect(dr);
    let o = bounded::spawn(move || {
        Bridge::new().run_until_exit(
            &mut Fd::new(r.as_fd()).unwrap(),
            &mut Fd::new(dw.as_fd()).unwrap(),
            || true,
        )
    })
    .join("the relay after its owner exited");
    assert_eq!(collector.join().unwrap(), vec![5u8; 1000]);
    assert_eq!(o.bytes(), 1000);
    assert!(matches!(o.end(), End::OwnerExited), "{o}");
    drop(w);
}

#[test]
fn a_descendant_that_keeps_writing_does_not_keep_the_relay_busy() {
    let (r, w) = pipe();
    let stop = Arc::new(AtomicBool::new(false));
    // Writes for as long as it is let, far more than a pipe holds.
    let writer = {
        let stop = stop.clone();
        thread::spawn(move || {
            let chunk = [9u8; 4096];
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match rustix::io::write(&w, &chunk) {
                    Ok(n) => written += n as u64,
                    Err(_) => break,
                }
            }
            written
        })
    };
    let (dr, dw) = pipe();
    let collector = collect(dr);
    let (o, r) = bounded::spawn(move || {
        let mut asked = 0;
        let o = Bridge::new().run_until_exit(
            &mut Fd::new(r.as_fd()).unwrap(),
            &mut Fd::new(dw.as_fd()).unwrap(),
            || {
                asked += 1;
                asked > 3
            },
        );
        (o, r)
    })
    .join("the relay while a descendant keeps writing");
    // The relay ended by itself while the writer still writes (its pipe is still open).
    assert!(matches!(o.end(), End::OwnerExited), "{o}");
    assert!(!writer.is_finished(), "the writer was still writing");
    stop.store(true, Ordering::Relaxed);
    drop(r);
    let written = writer.join().unwrap();
    assert_eq!(collector.join().unwrap().len() as u64, o.bytes());
    assert!(o.bytes() <= written, "{o}, {written} written");
}

#[test]
fn with_a_pool_a_bridge_splices_into_a_socket_through_its_own_pipe() {
    let pool = procwire::relay::PipePool::new(1 << 16, 1);
    let mut bridge = Bridge::new();
    bridge.pool(pool.clone());
    for (i, len) in [0usize, 1, 70_000, 3 << 20].into_iter().enumerate() {
        for src in [pipe(), socketpair()] {
            let o = transfer(&bridge, src, socketpair(), len + i);
            assert_eq!(o.path(), Path::Splice, "{o}");
            assert!(matches!(o.why(), Why::Auto), "{o}");
            // The pipe went back empty, to be reused.
            assert_eq!((pool.idle(), pool.live()), (1, 1));
        }
    }
    // The pool is shared and its one pipe is taken: copy, and say why.
    let held = pool.take().unwrap();
    let o = transfer(&bridge, socketpair(), socketpair(), 1 << 20);
    assert_eq!(o.path(), Path::Copy);
    assert!(
        matches!(
            o.why(),
            Why::NoPipe(procwire::relay::NoPipe::Exhausted { max: 1 })
        ),
        "{o}"
    );
    // Splice asked for: an error before any byte.
    bridge.mode(Mode::Splice);
    let o = socket_to_socket(&bridge);
    assert_eq!(o.bytes(), 0);
    assert_eq!(
        o.error().unwrap().kind(),
        io::ErrorKind::ResourceBusy,
        "{o}"
    );
    pool.give(held, 0);
    // Into a file there is no stream to splice into: copy, as without a pool.
    bridge.mode(Mode::Auto);
    let file = temp_file(false);
    let (r, w) = pipe();
    let feeder = feed(w, data(5000, 1));
    let o = bridge.run(
        &mut Fd::new(r.as_fd()).unwrap(),
        &mut Fd::new(file.as_fd()).unwrap(),
    );
    feeder.join().unwrap();
    assert_eq!((o.bytes(), o.path()), (5000, Path::Copy), "{o}");
    assert!(matches!(o.why(), Why::NotAPipe), "{o}");
}

#[test]
fn a_pooled_bridge_into_a_gone_socket_is_broken_pipe_and_keeps_the_count() {
    let pool = procwire::relay::PipePool::new(1 << 16, 1);
    let (r, w) = pipe();
    let (a, b) = socketpair();
    // The reader takes 1000 bytes, then goes away.
    let reader = thread::spawn(move || {
        let mut f = std::fs::File::from(b);
        let mut buf = [0u8; 1000];
        f.read_exact(&mut buf).unwrap();
    });
    let writer = thread::spawn(move || {
        let mut w = std::fs::File::from(w);
        // Until the relay stops reading (then EPIPE).
        let chunk = [3u8; 8192];
        while w.write_all(&chunk).is_ok() {}
    });
    let o = bounded::spawn(move || {
        let mut bridge = Bridge::new();
        bridge.pool(pool);
        let o = bridge.run(
            &mut Fd::new(r.as_fd()).unwrap(),
            &mut Fd::new(a.as_fd()).unwrap(),
        );
        drop(r);
        o
    })
    .join("a pooled bridge into a gone socket");
    reader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(o.path(), Path::Splice, "{o}");
    assert!(o.bytes() >= 1000, "{o}");
    let e = o.error().expect("failed");
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{o}"
    );
}

/// A fresh regular file, already unlinked (with `O_APPEND` when `append`).
fn temp_file(append: bool) -> std::fs::File {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "procwire-relay-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .append(append)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

#[test]
fn a_non_blocking_source_sent_in_small_pieces_arrives_whole_with_its_eof() {
    // A non-blocking source: after a short read the bridge waits for it in poll(2) instead of
    // reading into EAGAIN. Pieces of random small sizes with pauses make short reads; each
    // byte and the EOF still arrive, on the copy path and through a pooled pipe.
    for pooled in [false, true] {
        let (src, feeder_end) = socketpair();
        procwire::fd::set_nonblocking(&src, true).unwrap();
        let (collector_end, dst) = socketpair();
        let sent = data(200_000, 31);
        let pieces = sent.clone();
        let feeder = thread::spawn(move || {
            let mut w = std::fs::File::from(feeder_end);
            let mut rng = fastrand::Rng::with_seed(32);
            let mut rest = &pieces[..];
            while !rest.is_empty() {
                let n = rng.usize(1..3000).min(rest.len());
                w.write_all(&rest[..n]).unwrap();
                rest = &rest[n..];
                if rng.u8(..) < 16 {
                    thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        });
        let collector = collect(collector_end);
        let outcome = bounded::spawn(move || {
            let mut bridge = Bridge::new();
            if pooled {
                bridge.pool(procwire::relay::PipePool::new(1 << 16, 1));
            }
            let o = bridge.run(
                &mut Fd::new(src.as_fd()).unwrap(),
                &mut Fd::new(dst.as_fd()).unwrap(),
            );
            drop(dst);
            o
        })
        .join("a bridge from a non-blocking socket");
        feeder.join().unwrap();
        let got = collector.join().unwrap();
        assert!(
            got == sent,
            "{outcome}: {} of {} bytes",
            got.len(),
            sent.len()
        );
        assert!(matches!(outcome.end(), End::Eof), "{outcome}");
        assert_eq!(outcome.bytes(), sent.len() as u64, "{outcome}");
        let want = if pooled { Path::Splice } else { Path::Copy };
        assert_eq!(outcome.path(), want, "{outcome}");
    }
}
