//! The sans-IO core of one direction: which step comes next, decided from what the last step
//! returned. No descriptor, no thread, no clock: the drivers (the blocking one in
//! [`super::blocking`], a tokio one later) do the waiting and the moving and report back, and
//! the tests below script those reports.

use std::io;

use super::{End, Mode, Outcome, Path, Why};
use crate::sys::splice::cannot_splice;

/// What the driver does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait until the source is readable, then report with [`Direction::readable`]. Only
    /// asked for when the source's owner is watched (elsewhere the move itself waits).
    Wait(Wait),
    /// Move up to `len` bytes by `path`, then report with [`Direction::moved`].
    Move {
        /// Splice or copy.
        path: Path,
        /// At most this many bytes (the chunk, or less while draining what was queued).
        len: usize,
    },
    /// Finished: take the outcome with [`Direction::finish`].
    Done,
}

/// How long a [`Step::Wait`] may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// As long as it takes; a driver that cannot be told of the owner's exit comes back now and
    /// then (without readiness) to ask, and reports an exit with [`Direction::owner_exited`].
    Block,
    /// Only look: the owner is gone and the bytes queued then are being drained; a source
    /// that is not readable now is done.
    Look,
}

/// One direction's state: the path, the bytes moved, and (once the source's owner exited) how
/// much is left to move.
#[derive(Debug)]
pub(crate) struct Direction {
    mode: Mode,
    chunk: usize,
    watch: bool,
    path: Path,
    why: Why,
    moved: u64,
    /// Set when the owner exited: what was queued then and has not moved yet.
    left: Option<u64>,
    /// Readiness reported and not yet used by a move.
    ready: bool,
    end: Option<End>,
}

impl Direction {
    /// A direction that moves `chunk` bytes at most per step. `watch`: the source's owner is
    /// watched (see [`owner_exited`](Self::owner_exited)). `dst_is_pipe`: splice can only
    /// write into a pipe here (see the [module docs](super#when-it-copies)).
    pub(crate) fn new(mode: Mode, chunk: usize, watch: bool, dst_is_pipe: bool) -> Direction {
        let (path, why, end) = match (mode, dst_is_pipe) {
            (Mode::Copy, _) => (Path::Copy, Why::Asked, None),
            (Mode::Auto, true) => (Path::Splice, Why::Auto, None),
            (Mode::Auto, false) => (Path::Copy, Why::NotAPipe, None),
            (Mode::Splice, true) => (Path::Splice, Why::Asked, None),
            (Mode::Splice, false) => (
                Path::Splice,
                Why::Asked,
                Some(End::Failed(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "relay mode splice: the destination is not a pipe, and splice(2) only writes \
                     into pipes here; use mode auto or copy",
                ))),
            ),
        };
        Direction {
            mode,
            chunk: chunk.max(1),
            watch,
            path,
            why,
            moved: 0,
            left: None,
            ready: false,
            end,
        }
    }

    /// The next step.
    pub(crate) fn step(&mut self) -> Step {
        if self.end.is_none() && self.left == Some(0) {
            self.end = Some(End::OwnerExited);
        }
        if self.end.is_some() {
            return Step::Done;
        }
        if self.watch && !self.ready {
            return Step::Wait(match self.left {
                Some(_) => Wait::Look,
                None => Wait::Block,
            });
        }
        let len = match self.left {
            Some(left) => left.min(self.chunk as u64) as usize,
            None => self.chunk,
        };
        Step::Move {
            path: self.path,
            len,
        }
    }

    /// The result of a [`Step::Wait`]: readable (or hung up, or in error: the move reports
    /// which), or not. Not readable while draining ends the direction.
    pub(crate) fn readable(&mut self, ready: bool) {
        if ready {
            self.ready = true;
        } else if self.left.is_some() && self.end.is_none() {
            self.end = Some(End::OwnerExited);
        }
    }

    /// The source's owner (the child whose stdout this is) has exited; `queued` is what the
    /// kernel reported waiting in the source at that moment ([FIONREAD]), `None` if it could
    /// not say (then one chunk more is moved). From now on only that much moves, so a
    /// descendant that inherited the source and keeps writing cannot keep the direction open.
    /// Reported twice, the first report counts.
    ///
    /// [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    pub(crate) fn owner_exited(&mut self, queued: Option<u64>) {
        if self.left.is_none() {
            self.left = Some(queued.unwrap_or(self.chunk as u64));
        }
    }

    /// The result of a [`Step::Move`]: bytes moved (0: the source is at EOF) or the error.
    ///
    /// In [`Mode::Auto`], a splice that the kernel refuses for this pair of descriptors before
    /// any byte moved switches to the copy path (and the same bytes are tried again by copy);
    /// the same refusal later is an error, as is any refusal in [`Mode::Splice`].
    pub(crate) fn moved(&mut self, r: io::Result<usize>) {
        match r {
            Ok(0) => self.end = Some(End::Eof),
            Ok(n) => {
                self.ready = false;
                self.moved += n as u64;
                if let Some(left) = self.left.as_mut() {
                    *left = left.saturating_sub(n as u64);
                }
            }
            Err(e)
                if self.mode == Mode::Auto
                    && self.path == Path::Splice
                    && self.moved == 0
                    && cannot_splice(&e) =>
            {
                // Nothing was consumed: the source is as readable as it was.
                self.path = Path::Copy;
                self.why = Why::Refused(e);
            }
            Err(e) => self.failed(e),
        }
    }

    /// A failure outside the moves (waiting for readiness, say) ends the direction.
    pub(crate) fn failed(&mut self, e: io::Error) {
        self.end = Some(End::Failed(e));
    }

    /// The outcome, once [`step`](Self::step) said [`Step::Done`].
    pub(crate) fn finish(self) -> Outcome {
        debug_assert!(self.end.is_some(), "finish before Step::Done");
        Outcome {
            bytes: self.moved,
            path: self.path,
            why: self.why,
            end: self.end.unwrap_or(End::Eof),
        }
    }
}

#[cfg(test)]
mod tests {
    use rustix::io::Errno;

    use super::*;

    const CHUNK: usize = 100;

    fn einval() -> io::Result<usize> {
        Err(Errno::INVAL.into())
    }

    fn mv(path: Path, len: usize) -> Step {
        Step::Move { path, len }
    }

    #[test]
    fn splices_to_eof_and_counts() {
        let mut d = Direction::new(Mode::Auto, CHUNK, false, true);
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(Ok(60));
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(Ok(100));
        d.moved(Ok(0));
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        assert_eq!((o.bytes(), o.path()), (160, Path::Splice));
        assert!(matches!(o.why(), Why::Auto));
        assert!(matches!(o.end(), End::Eof));
        assert_eq!(o.into_result().unwrap(), 160);
    }

    #[test]
    fn a_refused_first_splice_falls_back_to_copy_and_says_why() {
        let mut d = Direction::new(Mode::Auto, CHUNK, false, true);
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(einval());
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
        d.moved(Ok(7));
        d.moved(Ok(0));
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        assert_eq!((o.bytes(), o.path()), (7, Path::Copy));
        match o.why() {
            Why::Refused(e) => assert_eq!(e.raw_os_error(), Some(Errno::INVAL.raw_os_error())),
            other => panic!("{other:?}"),
        }
        // ENOSYS (a kernel without splice) falls back too.
        let mut d = Direction::new(Mode::Auto, CHUNK, false, true);
        d.moved(Err(Errno::NOSYS.into()));
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
    }

    #[test]
    fn a_refusal_after_bytes_moved_is_an_error_that_keeps_the_count() {
        let mut d = Direction::new(Mode::Auto, CHUNK, false, true);
        d.moved(Ok(40));
        d.moved(einval());
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        assert_eq!((o.bytes(), o.path()), (40, Path::Splice));
        assert!(matches!(o.end(), End::Failed(e) if e.kind() == io::ErrorKind::InvalidInput));
        let e = o.into_result().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn other_errors_end_the_direction_without_falling_back() {
        for path_is_pipe in [true, false] {
            let mut d = Direction::new(Mode::Auto, CHUNK, false, path_is_pipe);
            d.moved(Ok(3));
            d.moved(Err(Errno::PIPE.into()));
            assert_eq!(d.step(), Step::Done);
            let o = d.finish();
            assert_eq!(o.bytes(), 3);
            assert!(matches!(o.end(), End::Failed(e) if e.kind() == io::ErrorKind::BrokenPipe));
        }
        // An EPIPE on the very first splice is not a reason to copy.
        let mut d = Direction::new(Mode::Auto, CHUNK, false, true);
        d.moved(Err(Errno::PIPE.into()));
        assert_eq!(d.step(), Step::Done);
        assert_eq!(d.finish().path(), Path::Splice);
    }

    #[test]
    fn a_destination_that_is_not_a_pipe_copies_from_the_start() {
        let mut d = Direction::new(Mode::Auto, CHUNK, false, false);
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
        d.moved(Ok(0));
        let o = d.finish();
        assert_eq!(o.path(), Path::Copy);
        assert!(matches!(o.why(), Why::NotAPipe));
    }

    #[test]
    fn the_mode_can_ask_for_a_path() {
        let mut d = Direction::new(Mode::Copy, CHUNK, false, true);
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
        assert!(matches!(d.finish_now().why(), Why::Asked));
        // Splice asked for: no fallback, and a destination that is not a pipe fails at once.
        let mut d = Direction::new(Mode::Splice, CHUNK, false, true);
        d.moved(einval());
        assert_eq!(d.step(), Step::Done);
        assert!(matches!(d.finish().end(), End::Failed(_)));
        let mut d = Direction::new(Mode::Splice, CHUNK, false, false);
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        assert_eq!((o.bytes(), o.path()), (0, Path::Splice));
        let e = o.into_result().unwrap_err();
        assert!(e.to_string().contains("not a pipe"), "{e}");
    }

    #[test]
    fn a_watched_direction_waits_before_each_move() {
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        assert_eq!(d.step(), Step::Wait(Wait::Block));
        // Nothing yet, owner still running: wait again.
        d.readable(false);
        assert_eq!(d.step(), Step::Wait(Wait::Block));
        d.readable(true);
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(Ok(5));
        assert_eq!(d.step(), Step::Wait(Wait::Block));
        // A refused splice keeps the readiness: copy at once.
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        d.readable(true);
        d.moved(einval());
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
    }

    #[test]
    fn after_the_owner_exits_only_what_was_queued_moves() {
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        d.readable(true);
        d.moved(Ok(30));
        d.readable(false);
        d.owner_exited(Some(250));
        // A second report does not extend the budget.
        d.owner_exited(Some(10_000));
        assert_eq!(d.step(), Step::Wait(Wait::Look));
        d.readable(true);
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(Ok(100));
        d.readable(true);
        assert_eq!(d.step(), mv(Path::Splice, CHUNK));
        d.moved(Ok(120));
        d.readable(true);
        // 30 left: never asks for more, even if more has arrived since.
        assert_eq!(d.step(), mv(Path::Splice, 30));
        d.moved(Ok(30));
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        assert_eq!(o.bytes(), 280);
        assert!(matches!(o.end(), End::OwnerExited));
        assert_eq!(o.into_result().unwrap(), 280);
    }

    #[test]
    fn draining_ends_when_nothing_is_readable_or_at_eof() {
        // Nothing readable when we look: done, though FIONREAD said more.
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        d.owner_exited(Some(50));
        assert_eq!(d.step(), Step::Wait(Wait::Look));
        d.readable(false);
        assert_eq!(d.step(), Step::Done);
        assert!(matches!(d.finish().end(), End::OwnerExited));
        // Nothing queued: done without looking.
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        d.owner_exited(Some(0));
        assert_eq!(d.step(), Step::Done);
        // FIONREAD could not say: one chunk more at most.
        let mut d = Direction::new(Mode::Auto, CHUNK, true, false);
        d.owner_exited(None);
        d.readable(true);
        assert_eq!(d.step(), mv(Path::Copy, CHUNK));
        // EOF while draining is EOF.
        d.moved(Ok(0));
        assert!(matches!(d.finish().end(), End::Eof));
    }

    #[test]
    fn a_wait_that_fails_ends_the_direction() {
        let mut d = Direction::new(Mode::Auto, CHUNK, true, true);
        d.failed(Errno::INVAL.into());
        assert_eq!(d.step(), Step::Done);
        let o = d.finish();
        // Not mistaken for a refused splice.
        assert!(matches!(o.why(), Why::Auto));
        assert!(matches!(o.end(), End::Failed(_)));
    }

    impl Direction {
        /// The outcome so far, for tests that stop early.
        fn finish_now(mut self) -> Outcome {
            self.end.get_or_insert(End::Eof);
            self.finish()
        }
    }
}
