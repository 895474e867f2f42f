//! The blocking one-way driver: runs the [engine](super::engine) on the calling thread,
//! moving bytes through the [`Source`] and [`Sink`] traits, which wait in [poll(2)] as needed.
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::event::PollFlags;

use super::engine::{Engine, Op};
use super::owner::{Owner, Seen, readable_now};
use super::pool::{Pipe, PipePool};
use super::{End, Mode, Outcome, Path, Why};
use crate::sys;
use crate::sys::ffi::SigpipeBlocked;
use crate::sys::io::{Again, Target};
use crate::sys::splice::splice_when_ready;

/// The most a [`Bridge`] moves per call by default: 256 KiB, four times a default pipe's
/// capacity, so a splice or a read is never cut short by the chunk on a default pipe.
pub const DEFAULT_CHUNK: usize = 256 << 10;

/// Where a relay reads from: a descriptor with a blocking read and a splice into a [`Sink`].
///
/// Implemented by [`Fd`] (any descriptor) and by [`child::Reader`](crate::child::Reader), whose reads and splices
/// count for the child's watchdogs.
pub trait Source: AsFd {
    /// One read of up to `buf.len()` bytes (0: EOF). Waits for data; `EINTR` is retried, and a
    /// non-blocking descriptor's `EAGAIN` is waited out in poll(2), not returned.
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Moves up to `len` bytes into `dst`, which [`Sink::is_pipe`] said is a pipe, without a
    /// copy through user space; waits until something moved (0: EOF). The default lets `dst`
    /// do it ([`Sink::splice_from_fd`]), so a sink with its own accounting sees the splice.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] (`EINVAL`) or `ENOSYS` when the kernel cannot splice
    /// this pair: the relay copies instead, if nothing has moved yet.
    fn splice_into(&mut self, dst: &mut dyn Sink, len: usize) -> io::Result<usize> {
        dst.splice_from_fd(self.as_fd(), len)
    }
}

/// Where a relay writes to: a blocking write-all, and a splice from a descriptor when the sink
/// is a pipe.
///
/// Implemented by [`Fd`] (any descriptor) and by [`child::Writer`](crate::child::Writer), whose writes and splices
/// count for the child's watchdogs.
pub trait Sink {
    /// Writes all of `buf`, waiting as needed (`EINTR` retried, `EAGAIN` waited out in poll(2)).
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()>;

    /// Whether this sink is a pipe, the only kind of destination the relay splices into (see
    /// the [module docs](super#drawbacks-and-performance-cliffs)).
    fn is_pipe(&self) -> bool;

    /// The pipe itself, for a source that splices into it on its own account
    /// ([`Source::splice_into`]); `None` when the sink is not a pipe, or splices only through
    /// [`splice_from_fd`](Self::splice_from_fd) (it keeps accounts of its own).
    fn pipe_fd(&self) -> Option<BorrowedFd<'_>>;

    /// Moves up to `len` bytes from `src` into this sink, a pipe, with [splice(2)]; waits in
    /// poll(2) until something moved (0: `src` is at EOF) and never blocks inside `splice`.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize>;

    /// The stream this sink writes to, when it is not a pipe but may take bytes spliced out
    /// of a relay's own pipe ([`splice_out_of`](Self::splice_out_of)): a [`Bridge`] with a
    /// [pool](Bridge::pool) then splices source -> pipe -> sink instead of copying. `None`
    /// (the default): only [`write_chunk`](Self::write_chunk) writes to it.
    fn stream_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Moves up to `len` bytes out of `pipe`, a non-blocking pipe private to the relay, into
    /// [`stream_fd`](Self::stream_fd) with [splice(2)] (`SPLICE_F_MORE` when `more`: bytes
    /// follow); waits in poll(2) until the sink is writable. The call may sleep inside the
    /// kernel on a blocking sink, holding only the private pipe's lock. The default does
    /// exactly that; override it to keep accounts (as [`child::Writer`](crate::child::Writer)
    /// does).
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when the sink's peer is gone; `InvalidInput` when it cannot take a splice
    /// or has no [`stream_fd`](Self::stream_fd).
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    fn splice_out_of(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize> {
        let dst = self.stream_fd().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "relay: this sink takes no splice (Sink::stream_fd is None); copy instead",
            )
        })?;
        Ok(splice_when_ready(pipe, dst, len, more, None)?.unwrap_or(0))
    }
}

/// Any descriptor as a [`Source`] or a [`Sink`]: our stdin, our stdout, a pipe, a socket.
///
/// Reads are `read(2)`; writes are `send(2)` with `MSG_NOSIGNAL` on a socket (a gone peer is
/// `EPIPE`, never `SIGPIPE`) and `write(2)` otherwise. The descriptor is used as it is: a
/// non-blocking one is waited on in poll(2) rather than switched to blocking, since its open
/// file description may be shared with other processes (upstream rsync hands its remote shell
/// a non-blocking stdout).
#[derive(Clone, Copy, Debug)]
pub struct Fd<'a> {
    target: Target<'a>,
    pipe: bool,
}

impl<'a> Fd<'a> {
    /// A pipe's write end we made ourselves (a relay pipe): no fstat.
    fn own_pipe(fd: BorrowedFd<'a>) -> Fd<'a> {
        Fd {
            target: Target { fd, socket: false },
            pipe: true,
        }
    }

    /// Wraps `fd`, asking [fstat(2)] once whether it is a socket or a pipe.
    ///
    /// # Errors
    ///
    /// The error of `fstat(2)` (a closed descriptor is `EBADF`).
    ///
    /// [fstat(2)]: https://man7.org/linux/man-pages/man2/fstat.2.html
    pub fn new(fd: BorrowedFd<'a>) -> io::Result<Fd<'a>> {
        let mode = rustix::fs::fstat(fd)
            .map_err(|e| sys::hint(e.into(), "fstat of a relay descriptor"))?
            .st_mode;
        let kind = rustix::fs::FileType::from_raw_mode(mode);
        Ok(Fd {
            target: Target {
                fd,
                socket: kind == rustix::fs::FileType::Socket,
            },
            pipe: kind == rustix::fs::FileType::Fifo,
        })
    }
}

impl AsFd for Fd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.target.fd
    }
}

impl Source for Fd<'_> {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::io::read_retrying(self.target.fd, buf, Again::Wait)
    }
}

impl Sink for Fd<'_> {
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()> {
        sys::io::write_all(self.target, buf, Again::Wait)
    }

    fn is_pipe(&self) -> bool {
        self.pipe
    }

    fn pipe_fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.then_some(self.target.fd)
    }

    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        Ok(sys::splice::splice_waiting(src, self.target.fd, len, None)?.unwrap_or(0))
    }

    /// A socket: a [`Bridge`] with a [pool](Bridge::pool) splices into it through a pipe of
    /// its own. Not a file or a tty (`splice` into those is refused or gains nothing).
    fn stream_fd(&self) -> Option<BorrowedFd<'_>> {
        self.target.socket.then_some(self.target.fd)
    }
}

/// A one-way relay on the calling thread: splice or copy from a [`Source`] to a [`Sink`]
/// until EOF, an error, or (with [`run_until_exit`](Self::run_until_exit)) the exit of the
/// source's owner. See the [module docs](super) for the paths and the stopping rules.
///
/// It is a thin driver of the same sans-IO engine as [`relay()`](super::relay()): each step
/// fills (source -> pipe, or a read into the buffer) or drains (pipe -> destination, or a
/// write-all of the buffer). Into a destination that is a pipe, the fill splices straight
/// into it and there is nothing to drain. Into a socket it copies, unless the bridge has a
/// [pool](Self::pool): then it splices through a pipe of its own.
#[derive(Clone, Debug)]
pub struct Bridge {
    chunk: usize,
    mode: Mode,
    pool: Option<PipePool>,
}

impl Default for Bridge {
    /// [`DEFAULT_CHUNK`], [`Mode::Auto`], no pool.
    fn default() -> Bridge {
        Bridge {
            chunk: DEFAULT_CHUNK,
            mode: Mode::Auto,
            pool: None,
        }
    }
}

impl Bridge {
    /// [`DEFAULT_CHUNK`], [`Mode::Auto`], no pool.
    pub fn new() -> Bridge {
        Bridge::default()
    }

    /// Moves at most `bytes` per call (at least 1). The copy path allocates one buffer of this
    /// size, once it is taken.
    pub fn chunk(&mut self, bytes: usize) -> &mut Bridge {
        self.chunk = bytes.max(1);
        self
    }

    /// Which path to take ([`Mode`]).
    pub fn mode(&mut self, mode: Mode) -> &mut Bridge {
        self.mode = mode;
        self
    }

    /// Splices into a destination that is not a pipe but a stream ([`Sink::stream_fd`]: a
    /// socket) through a pipe taken from `pool` for the run (given back empty, or closed):
    /// source -> pipe with `SPLICE_F_NONBLOCK`, then pipe -> destination. The pipe is private,
    /// so a splice that sleeps in the kernel on a blocking destination stalls nobody else.
    /// No pipe to be had (pool exhausted, grant collapsed) copies in [`Mode::Auto`]
    /// ([`Why::NoPipe`]) and fails in [`Mode::Splice`]. `SIGPIPE` is blocked on the calling
    /// thread while such a bridge runs (a splice into a socket whose peer is gone raises it),
    /// so that case is `BrokenPipe`.
    pub fn pool(&mut self, pool: PipePool) -> &mut Bridge {
        self.pool = Some(pool);
        self
    }

    /// Relays until `src` reaches EOF or something fails.
    pub fn run(&self, src: &mut dyn Source, dst: &mut dyn Sink) -> Outcome {
        self.drive(src, dst, None)
    }

    /// Relays until `src` reaches EOF, something fails, or `exited()` says the source's owner
    /// has exited and the bytes queued in `src` at that moment ([FIONREAD]) have moved.
    ///
    /// `exited` is asked every 50 ms while nothing is readable, and at most every 50 ms while
    /// bytes flow; it should not block (e.g. [`child::Handle::try_wait`]). The relay waits for
    /// `src` to be readable in [poll(2)] before each move, so a `src` that a descendant holds
    /// open and never writes to does not keep it waiting past the owner's exit, and one the
    /// descendant keeps writing to does not keep it busy. This is the same rule (and code) as
    /// [`child::Reader::end_at_exit`].
    ///
    /// [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    /// [`child::Handle::try_wait`]: crate::child::Handle::try_wait
    /// [`child::Reader::end_at_exit`]: crate::child::Reader::end_at_exit
    pub fn run_until_exit(
        &self,
        src: &mut dyn Source,
        dst: &mut dyn Sink,
        mut exited: impl FnMut() -> bool,
    ) -> Outcome {
        let mut ask = || Ok(exited());
        self.drive(src, dst, Some(Owner::new(None, &mut ask)))
    }

    /// The engine for this pair, and the pipe it splices through when the destination is not
    /// one.
    fn engine(&self, dst: &dyn Sink) -> (Engine, Option<Pipe>) {
        let chunk = self.chunk;
        let splice_why = || match self.mode {
            Mode::Splice => Why::Asked,
            _ => Why::Auto,
        };
        let refused = |kind, msg: String| {
            let mut e = Engine::new(self.mode, Path::Splice, Why::Asked, 1, 1);
            e.fail(io::Error::new(kind, msg));
            (e, None)
        };
        if self.mode == Mode::Copy {
            return (
                Engine::new(self.mode, Path::Copy, Why::Asked, chunk, chunk),
                None,
            );
        }
        if dst.is_pipe() {
            let e = Engine::new(self.mode, Path::Splice, splice_why(), chunk, chunk);
            return (e, None);
        }
        let taken = match (&self.pool, dst.stream_fd()) {
            (Some(pool), Some(_)) => pool.take(),
            _ if self.mode == Mode::Auto => {
                let e = Engine::new(self.mode, Path::Copy, Why::NotAPipe, chunk, chunk);
                return (e, None);
            }
            _ => {
                return refused(
                    io::ErrorKind::InvalidInput,
                    "relay mode splice: the destination is not a pipe, and splice(2) only \
                     writes into pipes here; use mode auto or copy, or give the bridge a pipe \
                     pool to splice into a socket through"
                        .into(),
                );
            }
        };
        match taken {
            Ok(pipe) => {
                let cap = pipe.size.min(chunk);
                let e = Engine::new(self.mode, Path::Splice, splice_why(), cap, chunk);
                (e, Some(pipe))
            }
            Err(no) if self.mode == Mode::Auto => (
                Engine::new(self.mode, Path::Copy, Why::NoPipe(no), chunk, chunk),
                None,
            ),
            Err(no) => refused(
                io::ErrorKind::ResourceBusy,
                format!("relay mode splice: {no}; use mode auto or copy"),
            ),
        }
    }

    fn drive(&self, src: &mut dyn Source, dst: &mut dyn Sink, owner: Option<Owner<'_>>) -> Outcome {
        let (mut engine, pipe) = self.engine(dst);
        // A non-blocking source is waited on in poll(2) after a short fill rather than read
        // into EAGAIN first. Not a blocking one (its read waits by itself: a poll before it
        // is one call more), not straight into a destination pipe (a splice there is cut
        // short by the pipe, not the source), not with an owner (its rule does the waits).
        if owner.is_none()
            && !dst.is_pipe()
            && crate::fd::is_nonblocking(src.as_fd()).unwrap_or(false)
        {
            engine = engine.short_fill_empties();
        }
        // A splice into a socket whose peer is gone raises SIGPIPE: keep it off this thread.
        let sigpipe = pipe.is_some();
        let mut moves = Ends { src, dst };
        drive(engine, pipe, self.pool.as_ref(), &mut moves, owner, sigpipe)
    }
}

/// A [`Bridge`]'s ends as [`Moves`].
struct Ends<'s, 'd> {
    src: &'s mut dyn Source,
    dst: &'d mut dyn Sink,
}

impl Moves for Ends<'_, '_> {
    fn direct(&mut self, len: usize) -> io::Result<usize> {
        self.src.splice_into(self.dst, len)
    }

    fn fill(&mut self, pipe: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        self.src.splice_into(&mut Fd::own_pipe(pipe), len)
    }

    fn drain(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize> {
        self.dst.splice_out_of(pipe, len, more)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.src.read_chunk(buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.dst.write_chunk(buf).map(|()| buf.len())
    }

    fn source(&self) -> BorrowedFd<'_> {
        self.src.as_fd()
    }
}

/// The moves of one blocking direction that [`drive`] runs its engine with; each waits (in
/// poll(2)) as long as needed, so only errors and counts come back.
pub(crate) trait Moves {
    /// Source -> destination in one call, nothing to drain after (a splice into a destination
    /// pipe, a sendfile): the bytes moved, 0 at the source's EOF.
    fn direct(&mut self, len: usize) -> io::Result<usize>;
    /// Source -> the write end of the driver's own pipe.
    fn fill(&mut self, pipe: BorrowedFd<'_>, len: usize) -> io::Result<usize>;
    /// The read end of the driver's own pipe -> destination.
    fn drain(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize>;
    /// One read from the source (copy path).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Some of `buf` to the destination (copy path; at least a byte, waiting as needed).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// The source, for the owner rule's waits.
    fn source(&self) -> BorrowedFd<'_>;
}

/// Runs `engine` to the end on the calling thread: the one blocking driver of a direction
/// (the [`Bridge`] and the file edges). With `pipe` (from `pool`, given back at the end, or
/// closed if it still holds bytes) the splice path fills it and drains it; without one it
/// moves [direct](Moves::direct). `owner`: the end-at-exit rule's wait. `sigpipe`: block
/// `SIGPIPE` on this thread meanwhile (a splice or sendfile into a socket raises it).
pub(crate) fn drive(
    mut engine: Engine,
    mut pipe: Option<Pipe>,
    pool: Option<&PipePool>,
    moves: &mut dyn Moves,
    mut owner: Option<Owner<'_>>,
    sigpipe: bool,
) -> Outcome {
    let sigpipe = if sigpipe {
        SigpipeBlocked::new().ok()
    } else {
        None
    };
    let mut buf = Vec::new();
    // Copy path: the buffer's filled bytes end here (the pending ones end here too).
    let mut end = 0;
    loop {
        match engine.next() {
            Op::Done => break,
            Op::Fill { len } => {
                if let Some(owner) = owner.as_mut() {
                    // After the exit, a look: nothing readable now means done.
                    let seen = if engine.owner_has_exited() {
                        readable_now(moves.source()).map(|r| r.then_some(Seen::Readable))
                    } else {
                        owner.wait(moves.source(), None).map(Some)
                    };
                    match seen {
                        Ok(Some(Seen::Readable)) => {}
                        Ok(Some(Seen::Exited)) => {
                            engine.owner_exited(sys::io::queued(moves.source()));
                            continue;
                        }
                        // Nothing readable (no waker here): what a non-blocking fill would say.
                        Ok(None | Some(Seen::Woken)) => {
                            engine.filled(Err(io::ErrorKind::WouldBlock.into()));
                            continue;
                        }
                        Err(e) => {
                            engine.fail(sys::hint(e, "poll(2) on the relay's source"));
                            continue;
                        }
                    }
                }
                let r = match (engine.path(), &pipe) {
                    (Path::Copy, _) => {
                        if buf.len() < len {
                            buf.resize(len, 0);
                        }
                        let r = moves.read(&mut buf[..len]);
                        if let Ok(n) = r {
                            end = n;
                        }
                        r
                    }
                    (_, Some(p)) => moves.fill(p.write.as_fd(), len),
                    (_, None) => moves.direct(len),
                };
                engine.filled(r);
                if engine.path() == Path::Copy
                    && let Some(p) = pipe.take()
                {
                    // Refused before any byte: the pipe is empty.
                    give(pool, p, 0);
                }
            }
            Op::Drain { len, more } => {
                let r = match (engine.path(), &pipe) {
                    (Path::Copy, _) => {
                        let start = end - engine.pending();
                        moves.write(&buf[start..start + len])
                    }
                    (_, Some(p)) => {
                        let r = moves.drain(p.read.as_fd(), len, more);
                        if let (Err(e), Some(sigpipe)) = (&r, &sigpipe)
                            && e.kind() == io::ErrorKind::BrokenPipe
                        {
                            sigpipe.discard();
                        }
                        r
                    }
                    // Moved straight into the destination: already there.
                    (_, None) => Ok(len),
                };
                engine.drained(r);
                if engine.path() == Path::Copy
                    && let Some(p) = pipe.take()
                {
                    end = pipe_to_buffer(p, &mut engine, &mut buf, pool);
                }
            }
            // Every move above waits by itself; a wait asked for is over.
            Op::WaitRead => match sys::poll::wait(moves.source(), PollFlags::IN, None) {
                Ok(_) => engine.ready(),
                Err(e) => engine.fail(sys::hint(e, "poll(2) on the relay's source")),
            },
            Op::WaitWrite => engine.ready(),
            // A one-way driver leaves the destination open: its caller closes it.
            Op::Shut => engine.shut(Ok(())),
        }
    }
    if let Some(p) = pipe.take() {
        give(pool, p, engine.pending());
    }
    let at_exit = engine.ended_at_exit();
    let (bytes, path, why, _, error) = engine.into_parts();
    Outcome {
        bytes,
        path,
        why,
        end: match error {
            Some(e) => End::Failed(e),
            None if at_exit => End::OwnerExited,
            None => End::Eof,
        },
    }
}

/// Gives `pipe` back to `pool`, or closes it when there is none.
fn give(pool: Option<&PipePool>, pipe: Pipe, pending: usize) {
    if let Some(pool) = pool {
        pool.give(pipe, pending);
    }
}

/// After a drain the destination refused before any byte reached it
/// ([`Engine::fall_back_on_drain`]): moves the bytes pending in `pipe` (the driver's own) into
/// the start of the copy buffer `buf` and gives the pipe back to `pool` empty; if that fails,
/// the error ends the direction and the pipe is closed with its bytes. Returns where the
/// buffer's bytes end.
pub(super) fn pipe_to_buffer(
    pipe: Pipe,
    engine: &mut Engine,
    buf: &mut Vec<u8>,
    pool: Option<&PipePool>,
) -> usize {
    match take_out(&pipe, engine.pending(), buf) {
        Ok(()) => {
            give(pool, pipe, 0);
            engine.pending()
        }
        Err(e) => {
            engine.fail(e);
            give(pool, pipe, engine.pending());
            0
        }
    }
}

/// Reads the `pending` bytes out of our own pipe into the start of `buf`.
fn take_out(pipe: &Pipe, pending: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.len() < pending {
        buf.resize(pending, 0);
    }
    let mut got = 0;
    while got < pending {
        match sys::io::read_retrying(pipe.read.as_fd(), &mut buf[got..pending], Again::Wait)? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "relay: its own pipe held fewer bytes than counted",
                ));
            }
            n => got += n,
        }
    }
    Ok(())
}
