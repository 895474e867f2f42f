//! The async two-way relay (feature `tokio`): the same sans-IO engine per direction, pipe
//! pool, half-close, [`Options`] and [`Report`] as the blocking [`relay()`](super::relay()),
//! waiting in tokio's reactor instead of [poll(2)].
//!
//! Each descriptor is registered once with the reactor ([`AsyncFd`], epoll(7) underneath,
//! edge triggered). A direction's fill runs when the source was last said
//! to be readable and its drain when the destination was last said to be writable; the
//! readiness hint is cleared only when the system call really returns `EAGAIN` (through
//! `try_io`), never after a short transfer. Both directions are one future, polled on one task:
//! no task per direction, no lock, no channel.
//!
//! What the blocking driver documents holds here too: the splice path (a pipe per direction
//! from the pool, drained to empty before the next fill, `SPLICE_F_NONBLOCK`, per-call length
//! capped by the grant), the copy path (`read(2)`, `send(2)` with `MSG_NOSIGNAL`), the
//! fallback before the first byte and the [`Why`](super::Why) of each direction's
//! [`Path`](super::Path), the half-close (bytes in the pipe reach the destination before its
//! `shutdown(SHUT_WR)`, the other direction keeps flowing), the counts kept on error, and
//! no `SIGPIPE` (blocked on the polling thread for the rest of any poll that splices into a
//! socket, then discarded and unblocked).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use procwire::relay::Options;
//! use procwire::relay::tokio::{Progress, Relay};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let (client, _) = listener.accept()?;
//! let server = std::net::TcpStream::connect("127.0.0.1:8080")?;
//! let progress = Progress::new();
//! let mut relay = Relay::new(Options::new());
//! relay
//!     .idle_timeout(Some(std::time::Duration::from_secs(60)))
//!     .progress(progress.clone());
//! let report = relay.run(client, server).await;
//! println!("{report}; {} bytes to the server", progress.a_to_b());
//! # Ok(()) }
//! ```
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::time::Instant;

use super::duplex::{Dir, Options, Report, TURN, stop_the_other, targets};
use super::engine::Op;
use super::pool::PipePool;
use crate::sys;
use crate::sys::ffi::SigpipeBlocked;

/// The bytes a running relay has delivered so far, per direction: clone it, hand one to
/// [`Relay::progress`], read the other while the relay runs (or after it was cancelled, when
/// its [`Report`] is gone). Counts only bytes the destination took.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<[AtomicU64; 2]>);

impl Progress {
    /// Both counts at zero.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Bytes delivered from `a` to `b` so far.
    pub fn a_to_b(&self) -> u64 {
        self.0[0].load(Ordering::Relaxed)
    }

    /// Bytes delivered from `b` to `a` so far.
    pub fn b_to_a(&self) -> u64 {
        self.0[1].load(Ordering::Relaxed)
    }

    fn add(&self, dir: usize, n: usize) {
        self.0[dir].fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An async relay's settings: the [`Options`] of the blocking one, an optional idle timeout,
/// and the [`Progress`] it counts into.
#[derive(Clone, Debug, Default)]
pub struct Relay {
    options: Options,
    idle: Option<Duration>,
    progress: Progress,
}

impl Relay {
    /// A relay with `options` (mode, buffer, pipe size, shared pool), no idle timeout.
    pub fn new(options: Options) -> Relay {
        Relay {
            options,
            idle: None,
            progress: Progress::new(),
        }
    }

    /// Ends the relay when no byte moved either way for `idle` (`None`: never). The report
    /// then carries an [`io::ErrorKind::TimedOut`] error on each direction that was not done,
    /// with the counts so far. Needs the runtime's timer (`enable_time`).
    pub fn idle_timeout(&mut self, idle: Option<Duration>) -> &mut Relay {
        self.idle = idle;
        self
    }

    /// Counts the delivered bytes into `progress` (a clone of it stays readable outside).
    pub fn progress(&mut self, progress: Progress) -> &mut Relay {
        self.progress = progress;
        self
    }

    /// Relays between two connected stream descriptors (TCP or Unix stream sockets) in both
    /// directions until both are done, one fails, or the idle timeout fires. Takes ownership
    /// of both: they are registered with the current runtime's reactor, switched to
    /// non-blocking, and closed when the relay ends. A failure to set up (no runtime,
    /// [fstat(2)] or [fcntl(2)] failing) is the report's error, with no byte moved.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense of "resume later": dropping the future closes both
    /// descriptors (the peers see EOF or a reset) and loses the bytes in flight (at most a
    /// pipe's or a buffer's worth per direction). It leaks nothing: the pipes go back to the
    /// pool (or are closed if they still hold bytes), and the counts delivered so far stay
    /// readable in the [`Progress`].
    ///
    /// # Panics
    ///
    /// With an idle timeout, if the runtime has no timer (tokio's own panic).
    ///
    /// [fstat(2)]: https://man7.org/linux/man-pages/man2/fstat.2.html
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    pub async fn run(&self, a: impl Into<OwnedFd>, b: impl Into<OwnedFd>) -> Report {
        let (a, b) = (a.into(), b.into());
        let fds = match sys::tokio::register(a).and_then(|a| Ok([a, sys::tokio::register(b)?])) {
            Ok(fds) => fds,
            Err(e) => return Report::setup_failed(e),
        };
        let (ta, tb) = match targets(fds[0].get_ref().as_fd(), fds[1].get_ref().as_fd()) {
            Ok(t) => t,
            Err(e) => return Report::setup_failed(e),
        };
        let pool = self.options.pool_or_own();
        let mut run = Running {
            dirs: Some([
                Dir::new(ta.fd, tb, &self.options, &pool),
                Dir::new(tb.fd, ta, &self.options, &pool),
            ]),
            first: None,
            pool: &pool,
        };
        let mut idle = self.idle.map(|d| (d, Box::pin(::tokio::time::sleep(d))));
        poll_fn(|cx| {
            let dirs = run.dirs.as_mut().expect("taken only at the end");
            let moved = poll_dirs(cx, &fds, dirs, &mut run.first, &pool, &self.progress);
            if moved.is_ready() {
                return Poll::Ready(());
            }
            if let Some((d, sleep)) = &mut idle {
                if moved == Poll2::Pending(true) {
                    sleep.as_mut().reset(Instant::now() + *d);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    time_out(dirs, &mut run.first, *d);
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await;
        run.finish()
    }
}

/// Relays between `a` and `b` with `options` and no idle timeout: [`Relay::run`], whose docs
/// (and `# Cancel safety`) apply.
///
/// # Cancel safety
///
/// See [`Relay::run`]: dropping the future closes both descriptors and leaks nothing.
pub async fn relay(a: impl Into<OwnedFd>, b: impl Into<OwnedFd>, options: &Options) -> Report {
    Relay::new(options.clone()).run(a, b).await
}

/// The two directions while they run; if the future is dropped before they finish, the drop
/// still gives their pipes back to the pool.
struct Running<'a> {
    dirs: Option<[Dir<'a>; 2]>,
    first: Option<usize>,
    pool: &'a PipePool,
}

impl Running<'_> {
    fn finish(mut self) -> Report {
        let dirs = self.dirs.take().expect("finished once");
        Report::finish(dirs, self.first, self.pool)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(mut dirs) = self.dirs.take() {
            for d in &mut dirs {
                d.engine.fail(io::Error::other(
                    "relay: cancelled (its future was dropped)",
                ));
            }
            drop(Report::finish(dirs, self.first, self.pool));
        }
    }
}

/// What one poll of the directions came to: done, or waiting (and whether a byte moved).
#[derive(Debug, PartialEq, Eq)]
enum Poll2 {
    Done,
    Pending(bool),
}

impl Poll2 {
    fn is_ready(&self) -> bool {
        *self == Poll2::Done
    }
}

/// Runs each direction until it waits, finishes or used its turn; `Done` once both are done.
/// The waits register `cx`'s waker with the reactor; a direction that used its turn without
/// waiting wakes the task at once (so one busy relay yields to the others).
fn poll_dirs(
    cx: &mut Context<'_>,
    fds: &[AsyncFd<OwnedFd>; 2],
    dirs: &mut [Dir<'_>; 2],
    first: &mut Option<usize>,
    pool: &PipePool,
    progress: &Progress,
) -> Poll2 {
    // Blocked only while this poll may splice into a socket (the copy path sends with
    // MSG_NOSIGNAL): three system calls saved per poll on the copy path.
    let mut sigpipe: Option<SigpipeBlocked> = None;
    let mut moved = false;
    let mut busy = false;
    // Direction 0 reads a and writes b; direction 1 reads b and writes a.
    for (i, d) in dirs.iter_mut().enumerate() {
        let (src, dst) = (&fds[i], &fds[1 - i]);
        let mut turn = 0;
        loop {
            if turn == TURN {
                busy = true;
                break;
            }
            turn += 1;
            match d.engine.next() {
                Op::Fill { len } => match sys::tokio::poll_read(src, cx, |_| d.fill(len)) {
                    Poll::Ready(r) => d.filled(r, pool),
                    Poll::Pending => break,
                },
                Op::Drain { len, more } => {
                    if d.splices() && sigpipe.is_none() {
                        match SigpipeBlocked::new() {
                            Ok(s) => sigpipe = Some(s),
                            Err(e) => {
                                d.engine.fail(e);
                                continue;
                            }
                        }
                    }
                    let guard = sigpipe.as_ref();
                    match sys::tokio::poll_write(dst, cx, |_| d.drain(len, more, guard)) {
                        Poll::Ready(r) => {
                            if let Ok(n) = r {
                                progress.add(i, n);
                                moved = true;
                            }
                            d.drained(r, pool);
                        }
                        Poll::Pending => break,
                    }
                }
                Op::Shut => d.shut(),
                // The reactor did the waiting (`WouldBlock` never reaches the engine here).
                // The wait the engine asks after a short fill falls through to the fill: its
                // readiness is still set (cleared only on a real EAGAIN, see `sys::tokio`), so
                // that fill is what clears it, as before.
                Op::WaitRead | Op::WaitWrite => d.engine.ready(),
                Op::Done => break,
            }
        }
    }
    stop_the_other(dirs, first);
    if dirs.iter().all(|d| d.engine.next() == Op::Done) {
        return Poll2::Done;
    }
    if busy {
        cx.waker().wake_by_ref();
    }
    Poll2::Pending(moved)
}

/// Ends every direction not yet done with a `TimedOut` error.
fn time_out(dirs: &mut [Dir<'_>; 2], first: &mut Option<usize>, idle: Duration) {
    for (i, d) in dirs.iter_mut().enumerate() {
        if d.engine.next() != Op::Done {
            d.engine.fail(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "relay: no byte moved either way for {idle:?} (the idle timeout); raise it \
                     or drop it if the peers may be quiet that long"
                ),
            ));
            first.get_or_insert(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;
    use std::thread;

    use super::*;
    use crate::relay::{End, Mode, Path, Why};

    /// Two connected stream sockets: (our end, the peer's end).
    fn pair(tcp: bool) -> (OwnedFd, OwnedFd) {
        if tcp {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (s, _) = l.accept().unwrap();
            (s.into(), c.into())
        } else {
            let (a, b) = UnixStream::pair().unwrap();
            (a.into(), b.into())
        }
    }

    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..len).map(|_| rng.u8(..)).collect()
    }

    /// A peer: sends `out`, shuts its write side, reads to EOF.
    fn peer(fd: OwnedFd, out: Vec<u8>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let s = UnixOrTcp(std::fs::File::from(fd));
            let mut w = s.0.try_clone().unwrap();
            let writer = thread::spawn(move || {
                w.write_all(&out).unwrap();
                rustix::net::shutdown(&w, rustix::net::Shutdown::Write).unwrap();
            });
            let mut got = Vec::new();
            let mut r = s.0;
            r.read_to_end(&mut got).unwrap();
            writer.join().unwrap();
            got
        })
    }

    struct UnixOrTcp(std::fs::File);

    fn runtime() -> ::tokio::runtime::Runtime {
        ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn options(mode: Mode) -> Options {
        let mut o = Options::new();
        o.mode(mode);
        o
    }

    /// Relays `ab` bytes a->b and `ba` bytes b->a between fresh pairs; checks both arrive
    /// intact and the report's counts.
    fn transfer(tcp: (bool, bool), mode: Mode, ab: usize, ba: usize) -> Report {
        let (a, pa) = pair(tcp.0);
        let (b, pb) = pair(tcp.1);
        let (to_b, to_a) = (data(ab, ab as u64), data(ba, ba as u64 + 1));
        let peer_a = peer(pa, to_b.clone());
        let peer_b = peer(pb, to_a.clone());
        let progress = Progress::new();
        let report = runtime().block_on(async {
            let mut r = Relay::new(options(mode));
            r.progress(progress.clone());
            ::tokio::spawn(async move { r.run(a, b).await })
                .await
                .unwrap()
        });
        assert!(peer_b.join().unwrap() == to_b, "{report}");
        assert!(peer_a.join().unwrap() == to_a, "{report}");
        assert!(report.error().is_none(), "{report}");
        assert_eq!(report.a_to_b().bytes(), ab as u64);
        assert_eq!(report.b_to_a().bytes(), ba as u64);
        assert_eq!(
            (progress.a_to_b(), progress.b_to_a()),
            (ab as u64, ba as u64)
        );
        report
    }

    #[test]
    fn byte_exact_both_ways_over_unix_and_tcp_in_every_mode() {
        for tcp in [(false, false), (true, true), (true, false)] {
            for mode in [Mode::Auto, Mode::Splice, Mode::Copy] {
                let r = transfer(tcp, mode, 5 << 20, 3 << 20 | 17);
                let want = if mode == Mode::Copy {
                    Path::Copy
                } else {
                    Path::Splice
                };
                assert_eq!(r.a_to_b().path(), want, "{r}");
                assert_eq!(r.b_to_a().path(), want, "{r}");
            }
        }
    }

    #[test]
    fn half_close_either_way_still_delivers_the_other_direction() {
        // a sends nothing and shuts at once; b answers with a lot after that.
        let r = transfer((true, true), Mode::Auto, 0, 4 << 20);
        assert!(matches!(r.a_to_b().end(), End::Eof), "{r}");
        let r = transfer((false, false), Mode::Auto, 4 << 20, 0);
        assert!(matches!(r.b_to_a().end(), End::Eof), "{r}");
    }

    #[test]
    fn a_reset_midway_ends_it_and_keeps_the_counts() {
        let (a, pa) = pair(true);
        let (b, pb) = pair(true);
        // b's peer reads a little, then resets.
        let reader = thread::spawn(move || {
            let mut s = TcpStream::from(pb);
            let mut buf = vec![0; 1000];
            s.read_exact(&mut buf).unwrap();
            rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
        });
        let writer = thread::spawn(move || {
            let mut s = TcpStream::from(pa);
            let chunk = vec![7u8; 1 << 16];
            while s.write_all(&chunk).is_ok() {}
        });
        let progress = Progress::new();
        let report = runtime().block_on(async {
            let mut r = Relay::new(Options::new());
            r.progress(progress.clone());
            r.run(a, b).await
        });
        reader.join().unwrap();
        writer.join().unwrap();
        let e = report.error().expect("the reset is an error");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{report}"
        );
        assert!(report.a_to_b().bytes() >= 1000, "{report}");
        assert_eq!(report.a_to_b().bytes(), progress.a_to_b());
    }

    #[test]
    fn same_inputs_same_report_as_the_blocking_driver() {
        for mode in [Mode::Auto, Mode::Copy] {
            let (ab, ba) = (1 << 20, 12345);
            let blocking = {
                let (a, pa) = pair(false);
                let (b, pb) = pair(true);
                let (x, y) = (peer(pa, data(ab, 1)), peer(pb, data(ba, 2)));
                let r = crate::relay::relay(&a, &b, &options(mode));
                drop((a, b));
                x.join().unwrap();
                y.join().unwrap();
                r
            };
            let asynch = transfer((false, true), mode, ab, ba);
            for (s, t) in [
                (blocking.a_to_b(), asynch.a_to_b()),
                (blocking.b_to_a(), asynch.b_to_a()),
            ] {
                assert_eq!((s.bytes(), s.path()), (t.bytes(), t.path()));
                assert_eq!(
                    std::mem::discriminant(s.why()),
                    std::mem::discriminant(t.why())
                );
                assert!(matches!((s.end(), t.end()), (End::Eof, End::Eof)));
            }
        }
    }

    #[test]
    fn an_exhausted_pool_copies_in_auto_and_fails_in_splice_mode() {
        for mode in [Mode::Auto, Mode::Splice] {
            let (a, pa) = pair(false);
            let (b, pb) = pair(true);
            let (x, y) = (peer(pa, data(70_000, 3)), peer(pb, data(90_000, 4)));
            let pool = PipePool::new(1 << 16, 1);
            let mut o = options(mode);
            o.pool(pool.clone());
            let r = runtime().block_on(relay(a, b, &o));
            let (ab, ba) = (r.a_to_b(), r.b_to_a());
            assert_eq!(ab.path(), Path::Splice, "{r}");
            if mode == Mode::Auto {
                assert_eq!(ba.path(), Path::Copy, "{r}");
                assert!(matches!(ba.why(), Why::NoPipe(_)), "{r}");
                assert!(r.error().is_none(), "{r}");
                assert_eq!((ab.bytes(), ba.bytes()), (70_000, 90_000));
                assert!(y.join().unwrap() == data(70_000, 3));
                assert!(x.join().unwrap() == data(90_000, 4));
            } else {
                let e = r.error().unwrap();
                assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{r}");
                assert!(e.to_string().contains("exhausted"), "{e}");
                drop((x, y));
            }
            assert_eq!((pool.live(), pool.idle()), (1, 1), "the pipe went back");
        }
    }

    #[test]
    fn an_idle_relay_times_out_with_its_counts() {
        let (a, pa) = pair(false);
        let (b, pb) = pair(false);
        let mut sa = UnixStream::from(pa);
        sa.write_all(b"hello").unwrap();
        let report = runtime().block_on(async {
            let mut r = Relay::new(Options::new());
            r.idle_timeout(Some(Duration::from_millis(50)));
            r.run(a, b).await
        });
        let e = report.error().expect("timed out");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{report}");
        assert_eq!(report.a_to_b().bytes(), 5);
        let mut got = [0; 5];
        UnixStream::from(pb).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        sa.shutdown(Shutdown::Both).ok();
    }

    #[test]
    fn a_cancelled_relay_gives_its_pipes_back() {
        let pool = PipePool::new(1 << 16, 2);
        let (a, _pa) = pair(false);
        let (b, _pb) = pair(false);
        runtime().block_on(async {
            let mut o = Options::new();
            o.pool(pool.clone());
            let relay = relay(a, b, &o);
            // The peers never send: the relay waits, and is dropped.
            let t = ::tokio::time::timeout(Duration::from_millis(20), relay).await;
            assert!(t.is_err());
        });
        assert_eq!((pool.live(), pool.idle()), (2, 2));
        // Outside a runtime: a setup error, not a panic.
        let (a, _pa) = pair(false);
        let (b, _pb) = pair(false);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let o = Options::new();
        let mut f = Box::pin(relay(a, b, &o));
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert!(r.error().unwrap().to_string().contains("runtime")),
            Poll::Pending => panic!("no runtime, no waiting"),
        }
    }
}
