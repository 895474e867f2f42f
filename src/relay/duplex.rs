//! The blocking bidirectional relay: one thread, [poll(2)] on both descriptors, non-blocking
//! I/O, each direction run by its [engine](super::engine).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::net::Shutdown;

use super::blocking::pipe_to_buffer;
use super::engine::{Engine, Op};
use super::pool::{DEFAULT_PIPE_SIZE, Pipe, PipePool};
use super::{End, Mode, Outcome, Path, Why};
use crate::sys;
use crate::sys::ffi::SigpipeBlocked;
use crate::sys::io::Target;

/// The copy path's buffer by default: 256 KiB per direction (not 8 KiB: fewer system calls
/// per byte).
pub const DEFAULT_BUFFER: usize = 256 << 10;

/// Moves per direction before the other gets a turn, so one busy direction cannot starve
/// the other.
pub(super) const TURN: usize = 16;

/// Pipes a relay's own pool holds when [`Options::pool`] gives none: one per direction.
const OWN_PIPES: usize = 2;

/// How [`relay`] moves bytes.
#[derive(Clone, Debug)]
pub struct Options {
    mode: Mode,
    buffer: usize,
    pipe_size: usize,
    pool: Option<PipePool>,
}

impl Default for Options {
    /// [`Mode::Auto`], [`DEFAULT_BUFFER`], [`DEFAULT_PIPE_SIZE`], a pool of the relay's own.
    fn default() -> Options {
        Options {
            mode: Mode::Auto,
            buffer: DEFAULT_BUFFER,
            pipe_size: DEFAULT_PIPE_SIZE,
            pool: None,
        }
    }
}

impl Options {
    /// The defaults.
    pub fn new() -> Options {
        Options::default()
    }

    /// Which path to take: [`Mode::Auto`] splices through a pipe per direction and copies
    /// when no pipe is to be had or the kernel refuses; [`Mode::Splice`] fails instead of
    /// copying; [`Mode::Copy`] always copies.
    pub fn mode(&mut self, mode: Mode) -> &mut Options {
        self.mode = mode;
        self
    }

    /// The copy path's buffer per direction (at least 1 byte).
    pub fn buffer(&mut self, bytes: usize) -> &mut Options {
        self.buffer = bytes.max(1);
        self
    }

    /// The capacity asked for the relay's own pipes (not a shared pool's).
    pub fn pipe_size(&mut self, bytes: usize) -> &mut Options {
        self.pipe_size = bytes;
        self
    }

    /// The pool to take pipes from: the shared one, or one of the relay's own.
    pub(super) fn pool_or_own(&self) -> PipePool {
        self.pool
            .clone()
            .unwrap_or_else(|| PipePool::new(self.pipe_size, OWN_PIPES))
    }

    /// Takes pipes from `pool`, shared with other relays, instead of making two of its own.
    pub fn pool(&mut self, pool: PipePool) -> &mut Options {
        self.pool = Some(pool);
        self
    }
}

/// What a [`relay`] did, per direction, and the error that ended it, if one did.
#[derive(Debug)]
pub struct Report {
    flows: [Outcome; 2],
    /// Which flow failed first (its error is the relay's).
    first: Option<usize>,
    setup: Option<io::Error>,
}

impl Report {
    /// From `a` to `b`.
    pub fn a_to_b(&self) -> &Outcome {
        &self.flows[0]
    }

    /// From `b` to `a`.
    pub fn b_to_a(&self) -> &Outcome {
        &self.flows[1]
    }

    /// The error that ended the relay (the first direction's to fail; the other then stopped
    /// too), or a failure to set it up.
    pub fn error(&self) -> Option<&io::Error> {
        self.setup
            .as_ref()
            .or_else(|| self.first.and_then(|i| self.flows[i].error()))
    }
}

impl Report {
    /// The report of a relay that could not start: no byte moved either way.
    pub(super) fn setup_failed(e: io::Error) -> Report {
        let none = || Outcome {
            bytes: 0,
            path: Path::Copy,
            why: Why::Asked,
            end: End::Eof,
        };
        Report {
            flows: [none(), none()],
            first: None,
            setup: Some(e),
        }
    }

    /// The report of two finished directions (their pipes go back to `pool`).
    pub(super) fn finish(dirs: [Dir<'_>; 2], first: Option<usize>, pool: &PipePool) -> Report {
        let [d0, d1] = dirs;
        Report {
            flows: [d0.finish(pool), d1.finish(pool)],
            first,
            setup: None,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a->b: {}; b->a: {}", self.flows[0], self.flows[1])?;
        if let Some(e) = &self.setup {
            write!(f, "; setup failed: {e}")?;
        }
        Ok(())
    }
}

/// One direction: its ends, its engine, and its pipe or buffer. The blocking driver below and
/// the async one in [`super::tokio`] both run it.
pub(super) struct Dir<'a> {
    src: BorrowedFd<'a>,
    dst: Target<'a>,
    pub(super) engine: Engine,
    pipe: Option<Pipe>,
    buf: Vec<u8>,
    /// Copy path: the buffer's bytes end here (the pending ones end here too).
    end: usize,
}

impl<'a> Dir<'a> {
    pub(super) fn new(
        src: BorrowedFd<'a>,
        dst: Target<'a>,
        options: &Options,
        pool: &PipePool,
    ) -> Dir<'a> {
        let mut pipe = None;
        let copy = |why| {
            Engine::new(
                options.mode,
                Path::Copy,
                why,
                options.buffer,
                options.buffer,
            )
        };
        let engine = match options.mode {
            Mode::Copy => copy(Why::Asked),
            Mode::Auto | Mode::Splice => match pool.take() {
                Ok(p) => {
                    let why = match options.mode {
                        Mode::Splice => Why::Asked,
                        _ => Why::Auto,
                    };
                    let e = Engine::new(options.mode, Path::Splice, why, p.size, options.buffer);
                    pipe = Some(p);
                    e
                }
                Err(no) if options.mode == Mode::Auto => copy(Why::NoPipe(no)),
                Err(no) => {
                    let msg = format!("relay mode splice: {no}; use mode auto or copy");
                    let mut e = Engine::new(options.mode, Path::Splice, Why::Asked, 1, 1);
                    e.fail(io::Error::new(io::ErrorKind::ResourceBusy, msg));
                    e
                }
            },
        };
        Dir {
            src,
            dst,
            // Both drivers wait for the source before a fill (poll(2) here, the reactor in
            // tokio's): a short fill is followed by that wait, not by a fill into EAGAIN. A
            // destination that refuses the splice out of the pipe before its first byte is
            // copied to instead (Mode::Auto), like the file edges'.
            engine: engine.short_fill_empties().fall_back_on_drain(),
            pipe,
            buf: Vec::new(),
            end: 0,
        }
    }

    /// Runs the engine until it waits, finishes, or used its turn.
    fn turn(&mut self, pool: &PipePool, sigpipe: &SigpipeBlocked) {
        for _ in 0..TURN {
            match self.engine.next() {
                Op::Fill { len } => {
                    let r = self.fill(len);
                    self.filled(r, pool);
                }
                Op::Drain { len, more } => {
                    let r = self.drain(len, more, Some(sigpipe));
                    self.drained(r, pool);
                }
                Op::Shut => self.shut(),
                Op::WaitRead | Op::WaitWrite | Op::Done => return,
            }
        }
    }

    /// The system call of an [`Op::Fill`]: splice the source into the pipe, or read it into
    /// the buffer. Reports nothing to the engine (see [`Dir::filled`]).
    pub(super) fn fill(&mut self, len: usize) -> io::Result<usize> {
        match &self.pipe {
            Some(pipe) => sys::splice::splice_nonblock(self.src, pipe.write.as_fd(), len, false),
            None => {
                if self.buf.len() < len {
                    self.buf.resize(len, 0);
                }
                let r = sys::io::read(self.src, &mut self.buf[..len]);
                if let Ok(n) = r {
                    self.end = n;
                }
                r
            }
        }
    }

    /// Reports a fill to the engine; gives the pipe back if the engine fell back to copying.
    pub(super) fn filled(&mut self, r: io::Result<usize>, pool: &PipePool) {
        self.engine.filled(r);
        if self.engine.path() == Path::Copy
            && let Some(pipe) = self.pipe.take()
        {
            // Refused before any byte: the pipe is empty.
            pool.give(pipe, 0);
        }
    }

    /// The system call of an [`Op::Drain`]: splice the pipe into the destination, or send the
    /// buffer's pending bytes. A splice into a socket whose peer is gone raises `SIGPIPE`,
    /// which `sigpipe` (blocking it on this thread: needed whenever [`Dir::splices`]) then
    /// discards.
    pub(super) fn drain(
        &mut self,
        len: usize,
        more: bool,
        sigpipe: Option<&SigpipeBlocked>,
    ) -> io::Result<usize> {
        match &self.pipe {
            Some(pipe) => {
                let r = sys::splice::splice_nonblock(pipe.read.as_fd(), self.dst.fd, len, more);
                if r.as_ref()
                    .is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
                    && let Some(sigpipe) = sigpipe
                {
                    sigpipe.discard();
                }
                r
            }
            None => {
                let start = self.end - self.engine.pending();
                sys::io::write(self.dst, &self.buf[start..start + len])
            }
        }
    }

    /// Reports a drain to the engine; if the destination refused the splice before its
    /// first byte and the engine turned to copying, moves the bytes pending in the pipe into
    /// the copy buffer and gives the pipe back.
    pub(super) fn drained(&mut self, r: io::Result<usize>, pool: &PipePool) {
        self.engine.drained(r);
        if self.engine.path() == Path::Copy
            && let Some(pipe) = self.pipe.take()
        {
            self.end = pipe_to_buffer(pipe, &mut self.engine, &mut self.buf, Some(pool));
        }
    }

    /// Whether it splices through a pipe now (its drains can raise `SIGPIPE`). Only the tokio
    /// driver asks: the blocking one blocks `SIGPIPE` for its whole run.
    #[cfg(feature = "tokio")]
    pub(super) fn splices(&self) -> bool {
        self.pipe.is_some()
    }

    /// An [`Op::Shut`]: `shutdown(SHUT_WR)` the destination. One that is not a socket (a
    /// tty, a file) has no write side to shut on its own: the direction simply ends there,
    /// and the caller's close is its EOF.
    pub(super) fn shut(&mut self) {
        let r = if self.dst.socket {
            sys::io::shutdown(self.dst.fd, Shutdown::Write)
        } else {
            Ok(())
        };
        self.engine.shut(r);
    }

    /// Neither waiting nor done: it has work now.
    fn runnable(&self) -> bool {
        !matches!(self.engine.next(), Op::WaitRead | Op::WaitWrite | Op::Done)
    }

    pub(super) fn finish(mut self, pool: &PipePool) -> Outcome {
        if let Some(pipe) = self.pipe.take() {
            pool.give(pipe, self.engine.pending());
        }
        let (bytes, path, why, shut, error) = self.engine.into_parts();
        debug_assert!(shut || error.is_some(), "a direction ends shut or failed");
        Outcome {
            bytes,
            path,
            why,
            end: error.map_or(End::Eof, End::Failed),
        }
    }
}

/// Relays between two connected stream descriptors (TCP or Unix stream sockets) in both
/// directions on the calling thread, until both directions are done or one fails.
///
/// Both descriptors are switched to non-blocking (`O_NONBLOCK` on their open file
/// descriptions: anyone sharing them sees it), and the relay waits for readiness in
/// [poll(2)]. Each direction has a sans-IO engine of its own: with a pipe from the pool it
/// splices source->pipe->destination ([splice(2)], `SPLICE_F_NONBLOCK`, never
/// `SPLICE_F_MOVE`, each call capped by the pipe's granted size); without one (pool
/// exhausted, grant collapsed, [`Mode::Copy`]) or when the kernel refuses the pair before any
/// byte moved, it copies through a buffer (`read(2)`, `send(2)` with `MSG_NOSIGNAL`). Each
/// [`Outcome`] says which path and why.
///
/// **Half-close**: when a source reaches EOF, the bytes still in its pipe or buffer go to the
/// destination first, then the destination's write side is shut ([shutdown(2)] `SHUT_WR`),
/// while the other direction keeps flowing. The relay returns when both directions are shut,
/// or at the first error (the other direction then stops too: a reset peer would otherwise
/// leave it waiting for ever). The byte counts survive an error.
///
/// **No `SIGPIPE`**: a splice into a socket whose peer is gone raises `SIGPIPE` on the calling
/// thread (splice has no `MSG_NOSIGNAL`); the relay blocks it on this thread while it runs and
/// discards it, so the splice surfaces as [`io::ErrorKind::BrokenPipe`]. Caveat: a
/// process-wide `SIGPIPE` pending at that moment is discarded too.
///
/// **Fallback on either side**: in [`Mode::Auto`] a splice the kernel refuses (`EINVAL`,
/// `ENOSYS`) before any byte moved turns that direction to copying, whether the source
/// refused the fill (a tty on older kernels) or the destination refused the drain out of the
/// pipe (a file opened with `O_APPEND`, an eventfd): the bytes already in the pipe are read
/// out into the copy buffer and delivered from there, and the [`Outcome`] says
/// [`Why::Refused`] with the kernel's error. In [`Mode::Splice`] the refusal is the error.
///
/// A destination that is not a socket has no write side to shut: at its source's EOF that
/// direction just ends (close the descriptor to pass the EOF on).
///
/// The pipes are private to the relay, so a splice out of one into a socket cannot stall any
/// other process on the pipe's lock; the sockets are non-blocking, so no splice blocks.
///
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
/// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
pub fn relay(a: impl AsFd, b: impl AsFd, options: &Options) -> Report {
    let (a, b) = (a.as_fd(), b.as_fd());
    let pool = options.pool_or_own();
    let setup = targets(a, b).and_then(|(ta, tb)| Ok((ta, tb, SigpipeBlocked::new()?)));
    let (ta, tb, sigpipe) = match setup {
        Ok(s) => s,
        Err(e) => return Report::setup_failed(e),
    };
    let mut dirs = [
        Dir::new(a, tb, options, &pool),
        Dir::new(b, ta, options, &pool),
    ];
    let mut first = None;
    loop {
        for d in &mut dirs {
            d.turn(&pool, &sigpipe);
        }
        stop_the_other(&mut dirs, &mut first);
        if dirs.iter().all(|d| d.engine.next() == Op::Done) {
            break;
        }
        if dirs.iter().any(Dir::runnable) {
            continue;
        }
        // Both wait (or one waits and one is done): poll what they wait for.
        let gone = PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL;
        let want = |fd_is_src: usize, fd_is_dst: usize| {
            let mut ev = PollFlags::empty();
            if dirs[fd_is_src].engine.waiting() == Some(Op::WaitRead) {
                ev |= PollFlags::IN;
            }
            if dirs[fd_is_dst].engine.waiting() == Some(Op::WaitWrite) {
                ev |= PollFlags::OUT;
            }
            ev
        };
        let (ev_a, ev_b) = (want(0, 1), want(1, 0));
        // On the stack: this runs once per relayed burst.
        let mut fds = [
            PollFd::from_borrowed_fd(a, ev_a),
            PollFd::from_borrowed_fd(b, ev_b),
        ];
        let asked = match (ev_a.is_empty(), ev_b.is_empty()) {
            (false, false) => &mut fds[..],
            (false, true) => &mut fds[..1],
            (true, _) => &mut fds[1..],
        };
        if let Err(e) = sys::poll::poll(asked, None) {
            fail_both(&mut dirs, &mut first, sys::hint(e, "poll(2) in a relay"));
            continue;
        }
        // One not asked about reports nothing (revents starts empty).
        let got = [fds[0].revents(), fds[1].revents()];
        // Direction 0 reads a and writes b; direction 1 reads b and writes a.
        for (i, (src, dst)) in [(0, 1), (1, 0)].into_iter().enumerate() {
            let hit = match dirs[i].engine.waiting() {
                Some(Op::WaitRead) => got[src].intersects(PollFlags::IN | gone),
                Some(Op::WaitWrite) => got[dst].intersects(PollFlags::OUT | gone),
                _ => false,
            };
            if hit {
                dirs[i].engine.ready();
            }
        }
    }
    Report::finish(dirs, first, &pool)
}

/// `a` and `b` as write targets (socket or not, by [fstat(2)]), both switched to non-blocking.
///
/// [fstat(2)]: https://man7.org/linux/man-pages/man2/fstat.2.html
pub(super) fn targets<'a>(
    a: BorrowedFd<'a>,
    b: BorrowedFd<'a>,
) -> io::Result<(Target<'a>, Target<'a>)> {
    let fstat = |e| sys::hint(e, "fstat of a relay descriptor");
    let nonblock = |e| sys::hint(e, "fcntl(O_NONBLOCK) on a relay descriptor");
    let (ta, tb) = (
        Target::detect(a).map_err(fstat)?,
        Target::detect(b).map_err(fstat)?,
    );
    crate::fd::set_nonblocking(a, true).map_err(nonblock)?;
    crate::fd::set_nonblocking(b, true).map_err(nonblock)?;
    Ok((ta, tb))
}

/// Once one direction failed, the other stops too (a reset peer would otherwise leave it
/// waiting for ever); `first` remembers which failed first.
pub(super) fn stop_the_other(dirs: &mut [Dir<'_>; 2], first: &mut Option<usize>) {
    if first.is_none()
        && let Some(i) = (0..2).find(|&i| dirs[i].engine.error().is_some())
    {
        *first = Some(i);
        let e = dirs[i].engine.error().expect("found above");
        let stop = io::Error::new(e.kind(), format!("the other direction failed: {e}"));
        dirs[1 - i].engine.fail(stop);
    }
}

/// Ends both directions with `e` (a failed wait), direction 0 first.
fn fail_both(dirs: &mut [Dir<'_>; 2], first: &mut Option<usize>, e: io::Error) {
    *first = Some(0);
    dirs[1].engine.fail(io::Error::new(e.kind(), e.to_string()));
    dirs[0].engine.fail(e);
}
