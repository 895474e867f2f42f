//! The sans-IO core of one direction of a [`relay`](super::relay()): which step comes next
//! (fill the buffer from the source, drain it to the destination, shut the destination's write
//! side, done), decided from what the last step returned. No descriptor, no syscall: the
//! driver in [`super::duplex`] does the moving and reports back; the tests below script it.
//!
//! The buffer is a pipe on the splice path ([splice(2)] source->pipe, then pipe->destination)
//! and a user-space buffer on the copy path (`read(2)`, then `send(2)`); either way the core
//! counts the bytes in it (`pending`) exactly. It is drained to empty before the next fill, so
//! an `EAGAIN` from a fill can only mean "the source is not readable" (never "the pipe is
//! full"), and the tail of a stream is never left waiting in the buffer.
//!
//! A fill that comes back short (fewer bytes than asked) from a source that says so
//! ([`Engine::short_fill_empties`]: a stream socket or a pipe read by a driver that waits in
//! poll(2)) has emptied the source: once those bytes are drained the core asks for a wait
//! ([`Op::WaitRead`]) instead of another fill, which could only return `EAGAIN` (copy path) or
//! move nothing (splice path). That saves one system call per burst, a quarter of a relayed
//! hop's cost for small messages. If bytes did arrive meanwhile the wait returns at once
//! (poll(2) is level triggered); EOF is seen by the fill after the wait.
//!
//! The end-at-exit rule lives here too ([`Engine::owner_exited`]): once the process that owns
//! the source has exited, only the bytes queued in the source at that moment ([FIONREAD]) are
//! moved, then the direction is done (no shutdown: the source may still be open in a
//! descendant, and it is not at EOF). A driver that is never told of an owner never meets it.
//!
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
//! [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html

use std::io;

use super::owner::AtExit;
use super::{Mode, Path, Why};
use crate::sys::splice::cannot_splice;

/// What the driver does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Move up to `len` bytes from the source into the (empty) buffer; report with
    /// [`Engine::filled`].
    Fill {
        /// At most this many: the pipe's granted size or the copy buffer's.
        len: usize,
    },
    /// Move up to `len` bytes from the buffer to the destination; report with
    /// [`Engine::drained`]. `more`: bytes are known to follow this call (`SPLICE_F_MORE`).
    Drain {
        /// At most this many (never more than is pending).
        len: usize,
        /// Bytes stay pending after this call.
        more: bool,
    },
    /// Wait until the source is readable (or hung up); report with [`Engine::ready`].
    WaitRead,
    /// Wait until the destination is writable (or hung up); report with [`Engine::ready`].
    WaitWrite,
    /// The source is at EOF and everything reached the destination: `shutdown(SHUT_WR)` it;
    /// report with [`Engine::shut`].
    Shut,
    /// Finished (see [`Engine::error`]).
    Done,
}

/// One direction's state.
#[derive(Debug)]
pub(crate) struct Engine {
    mode: Mode,
    path: Path,
    why: Why,
    /// Bytes per fill: the pipe's granted size, or the copy buffer's size.
    fill_cap: usize,
    /// Bytes per drain call at most.
    drain_cap: usize,
    /// Bytes copy uses per fill if the splice path is refused.
    buffer: usize,
    /// Bytes in the buffer (read from the source, not yet written).
    pending: usize,
    filled: u64,
    drained: u64,
    eof: bool,
    shut: bool,
    waiting: Option<Op>,
    error: Option<io::Error>,
    /// The owner rule's budget (unset until [`Engine::owner_exited`]).
    at_exit: AtExit,
    /// See [`Engine::fall_back_on_drain`].
    drain_fallback: bool,
    /// See [`Engine::short_fill_empties`].
    short_empties: bool,
    /// The last fill was short (with `short_empties`): wait for the source once the buffer
    /// is drained.
    dry: bool,
}

impl Engine {
    /// A direction on `path` (chosen by the driver, with `why`), filling `fill_cap` bytes at
    /// most per step; `buffer` is the copy path's size if a splice is refused.
    pub(crate) fn new(mode: Mode, path: Path, why: Why, fill_cap: usize, buffer: usize) -> Engine {
        let fill_cap = fill_cap.max(1);
        Engine {
            mode,
            path,
            why,
            fill_cap,
            drain_cap: fill_cap,
            buffer: buffer.max(1),
            pending: 0,
            filled: 0,
            drained: 0,
            eof: false,
            shut: false,
            waiting: None,
            error: None,
            at_exit: AtExit::default(),
            drain_fallback: false,
            short_empties: false,
            dry: false,
        }
    }

    /// Tells the core that a short fill (fewer bytes than asked, more than none) leaves the
    /// source empty, so the next step after draining those bytes is [`Op::WaitRead`], not a
    /// fill bound to hit `EAGAIN`. True enough of stream sockets and pipes (a read or a splice
    /// returns early only when nothing more is queued, or the pipe ran out of slots); where it
    /// is not, the wait returns at once and costs one poll(2), never a byte. Only for a driver
    /// whose [`Op::WaitRead`] is a real readiness wait on a non-blocking source (off by
    /// default: a blocking read waits by itself, and a wait before it is one call more).
    pub(crate) fn short_fill_empties(mut self) -> Engine {
        self.short_empties = true;
        self
    }

    /// Caps each drain call at `len` bytes (default: the fill size).
    #[cfg(test)]
    pub(crate) fn drain_cap(mut self, len: usize) -> Engine {
        self.drain_cap = len.max(1);
        self
    }

    /// The next step.
    pub(crate) fn next(&self) -> Op {
        if self.error.is_some() || self.shut || (self.at_exit.spent() && self.pending == 0) {
            return Op::Done;
        }
        if let Some(wait) = self.waiting {
            return wait;
        }
        if self.pending > 0 {
            let len = self.pending.min(self.drain_cap);
            return Op::Drain {
                len,
                more: self.pending > len,
            };
        }
        if self.eof {
            return Op::Shut;
        }
        Op::Fill {
            len: self.at_exit.cap(self.fill_cap),
        }
    }

    /// The result of an [`Op::Fill`]: bytes now in the buffer (0: the source is at EOF).
    ///
    /// `WouldBlock` waits for the source. In [`Mode::Auto`], a splice the kernel refuses for
    /// this pair (`EINVAL`, `ENOSYS`) before any byte moved switches to the copy path
    /// ([`Why::Refused`]; the driver then gives the pipe back); later, or in
    /// [`Mode::Splice`], it is an error.
    pub(crate) fn filled(&mut self, r: io::Result<usize>) {
        match r {
            Ok(0) => self.eof = true,
            Ok(n) => {
                // What next() asked for (before the budget takes this fill).
                let asked = self.at_exit.cap(self.fill_cap);
                // After the owner's exit, its rule ends the direction at a dry source.
                self.dry = self.short_empties && n < asked && !self.at_exit.is_set();
                self.pending += n;
                self.filled += n as u64;
                self.at_exit.took(n);
            }
            // After the owner's exit, nothing readable now means nothing more is coming that
            // was queued at the exit.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.at_exit.is_set() => {
                self.at_exit.stop();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.waiting = Some(Op::WaitRead),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if self.filled == 0 && self.may_fall_back(&e) => self.switch_to_copy(e),
            Err(e) => self.fail(e),
        }
    }

    /// Whether `e` is a refusal of the zero-copy path that [`Mode::Auto`] answers by copying.
    fn may_fall_back(&self, e: &io::Error) -> bool {
        self.mode == Mode::Auto && self.path != Path::Copy && cannot_splice(e)
    }

    /// Switches to the copy path (the pending bytes, if any, stay pending: the driver moves
    /// them from its pipe into its buffer).
    fn switch_to_copy(&mut self, e: io::Error) {
        self.path = Path::Copy;
        self.why = Why::Refused(e);
        self.fill_cap = self.buffer;
        self.drain_cap = self.buffer;
    }

    /// Lets a drain that the destination refuses (`EINVAL`, `ENOSYS`) before any byte reached
    /// it switch to the copy path too, in [`Mode::Auto`] (off by default): the driver then
    /// moves the bytes pending in its pipe into its copy buffer (see
    /// [`drained`](Self::drained)). For a destination that only says at the first drain that
    /// it cannot take a splice (a file opened with `O_APPEND`).
    pub(crate) fn fall_back_on_drain(mut self) -> Engine {
        self.drain_fallback = true;
        self
    }

    /// The result of an [`Op::Drain`]: bytes that left the buffer for the destination.
    /// `WouldBlock` waits for the destination; nothing taken from a non-empty buffer is
    /// `WriteZero`.
    pub(crate) fn drained(&mut self, r: io::Result<usize>) {
        match r {
            Ok(0) => self.fail(io::Error::new(
                io::ErrorKind::WriteZero,
                "relay: the destination took no byte of a non-empty buffer",
            )),
            Ok(n) => {
                debug_assert!(n <= self.pending, "drained more than was pending");
                let n = n.min(self.pending);
                self.pending -= n;
                self.drained += n as u64;
                if self.pending == 0 && std::mem::take(&mut self.dry) {
                    // The short fill emptied the source: wait rather than fill into EAGAIN.
                    self.waiting = Some(Op::WaitRead);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.waiting = Some(Op::WaitWrite),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // With fall_back_on_drain: the bytes stay pending, now in the driver's buffer.
            Err(e) if self.drain_fallback && self.drained == 0 && self.may_fall_back(&e) => {
                self.switch_to_copy(e);
            }
            Err(e) => self.fail(e),
        }
    }

    /// The source's owner (the child whose stdout this is) has exited; `queued` is what the
    /// kernel reported waiting in the source at that moment ([FIONREAD]), `None` if it could
    /// not say (then one fill more at most). From now on only that much is filled, the bytes
    /// already in the buffer are drained, and the direction is then [`Op::Done`] without
    /// [`Op::Shut`]: a descendant that inherited the source and keeps writing cannot keep it
    /// open. A `WouldBlock` fill from now on ends it too. Reported twice, the first counts.
    ///
    /// [FIONREAD]: https://man7.org/linux/man-pages/man2/FIONREAD.2const.html
    pub(crate) fn owner_exited(&mut self, queued: Option<u64>) {
        self.at_exit.exited(queued, self.fill_cap as u64);
        self.dry = false;
        if self.waiting == Some(Op::WaitRead) {
            self.waiting = None;
        }
    }

    /// Whether [`owner_exited`](Self::owner_exited) was reported.
    pub(crate) fn owner_has_exited(&self) -> bool {
        self.at_exit.is_set()
    }

    /// Whether the direction ended by the owner rule ([`owner_exited`](Self::owner_exited))
    /// rather than at EOF or an error.
    pub(crate) fn ended_at_exit(&self) -> bool {
        self.error.is_none() && !self.shut && self.at_exit.spent() && self.pending == 0
    }

    /// The wait asked for has ended (ready, hung up or in error: the next move says which).
    pub(crate) fn ready(&mut self) {
        self.waiting = None;
    }

    /// The result of an [`Op::Shut`].
    pub(crate) fn shut(&mut self, r: io::Result<()>) {
        match r {
            Ok(()) => self.shut = true,
            Err(e) => self.fail(e),
        }
    }

    /// Ends the direction with `e` (a failed wait, or the other direction failed). The counts
    /// stay.
    pub(crate) fn fail(&mut self, e: io::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Bytes in the buffer now: a pipe holding any is never reused.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// The path now.
    pub(crate) fn path(&self) -> Path {
        self.path
    }

    /// What the driver is waiting for, if anything.
    pub(crate) fn waiting(&self) -> Option<Op> {
        if self.error.is_some() || self.shut {
            None
        } else {
            self.waiting
        }
    }

    /// The error that ended the direction, if one did.
    pub(crate) fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Bytes delivered to the destination, the path, why, whether the destination was shut,
    /// and the error.
    pub(crate) fn into_parts(self) -> (u64, Path, Why, bool, Option<io::Error>) {
        (self.drained, self.path, self.why, self.shut, self.error)
    }
}

#[cfg(test)]
mod tests {
    use rustix::io::Errno;

    use super::*;

    fn again() -> io::Result<usize> {
        Err(Errno::AGAIN.into())
    }

    fn drain(len: usize, more: bool) -> Op {
        Op::Drain { len, more }
    }

    fn splice(cap: usize) -> Engine {
        Engine::new(Mode::Auto, Path::Splice, Why::Auto, cap, 1000)
    }

    #[test]
    fn fills_drains_to_empty_then_shuts() {
        let mut e = splice(100);
        assert_eq!(e.next(), Op::Fill { len: 100 });
        e.filled(Ok(100));
        assert_eq!(e.pending(), 100);
        // Short drain: the rest is drained before any new fill.
        assert_eq!(e.next(), drain(100, false));
        e.drained(Ok(30));
        assert_eq!(e.next(), drain(70, false));
        e.drained(Ok(70));
        assert_eq!(e.next(), Op::Fill { len: 100 });
        e.filled(Ok(0));
        assert_eq!(e.next(), Op::Shut);
        e.shut(Ok(()));
        assert_eq!(e.next(), Op::Done);
        let (bytes, path, why, shut, err) = e.into_parts();
        assert_eq!((bytes, path, shut), (100, Path::Splice, true));
        assert!(matches!(why, Why::Auto));
        assert!(err.is_none());
    }

    #[test]
    fn eagain_on_either_side_waits_for_that_side() {
        let mut e = splice(64);
        e.filled(again());
        assert_eq!(e.next(), Op::WaitRead);
        assert_eq!(e.waiting(), Some(Op::WaitRead));
        e.ready();
        assert_eq!(e.next(), Op::Fill { len: 64 });
        e.filled(Ok(10));
        e.drained(again());
        assert_eq!(e.next(), Op::WaitWrite);
        e.ready();
        // Still the same 10 bytes to drain.
        assert_eq!(e.next(), drain(10, false));
    }

    #[test]
    fn eof_with_bytes_in_the_pipe_drains_them_before_the_shutdown() {
        let mut e = splice(64);
        e.filled(Ok(64));
        e.drained(Ok(4));
        e.drained(again());
        e.ready();
        // EOF is only seen after the pipe is empty; bytes are never lost or shut off.
        assert!(matches!(e.next(), Op::Drain { len: 60, .. }));
        e.drained(Ok(60));
        e.filled(Ok(5));
        e.filled(Ok(0)); // a driver that reports EOF with 5 pending
        assert!(matches!(e.next(), Op::Drain { len: 5, .. }));
        e.drained(Ok(5));
        assert_eq!(e.next(), Op::Shut);
        e.shut(Ok(()));
        assert_eq!(e.into_parts().0, 69);
    }

    #[test]
    fn more_only_while_bytes_are_known_to_follow() {
        let mut e = splice(100).drain_cap(40);
        e.filled(Ok(100));
        assert_eq!(e.next(), drain(40, true));
        e.drained(Ok(40));
        assert_eq!(e.next(), drain(40, true));
        e.drained(Ok(40));
        assert_eq!(e.next(), drain(20, false));
    }

    #[test]
    fn errors_midway_keep_the_bytes_delivered() {
        let mut e = splice(100);
        e.filled(Ok(100));
        e.drained(Ok(60));
        e.drained(Err(Errno::PIPE.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.pending(), 40);
        let (bytes, _, _, shut, err) = e.into_parts();
        assert_eq!((bytes, shut), (60, false));
        assert_eq!(err.unwrap().kind(), io::ErrorKind::BrokenPipe);
        // On the fill side.
        let mut e = splice(100);
        e.filled(Ok(7));
        e.drained(Ok(7));
        e.filled(Err(Errno::CONNRESET.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.into_parts().0, 7);
        // A destination that takes nothing.
        let mut e = splice(100);
        e.filled(Ok(7));
        e.drained(Ok(0));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.error().unwrap().kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn a_refusal_before_any_byte_falls_back_to_copy_and_later_is_an_error() {
        let mut e = splice(100);
        e.filled(Err(Errno::INVAL.into()));
        assert_eq!(e.path(), Path::Copy);
        assert_eq!(e.next(), Op::Fill { len: 1000 });
        e.filled(Ok(3));
        e.drained(Ok(3));
        let (_, path, why, _, err) = {
            e.filled(Ok(0));
            e.shut(Ok(()));
            e.into_parts()
        };
        assert_eq!(path, Path::Copy);
        assert!(matches!(why, Why::Refused(_)));
        assert!(err.is_none());
        // ENOSYS too; after a byte, or in Mode::Splice, it is an error.
        let mut e = splice(100);
        e.filled(Err(Errno::NOSYS.into()));
        assert_eq!(e.path(), Path::Copy);
        let mut e = splice(100);
        e.filled(Ok(1));
        e.drained(Ok(1));
        e.filled(Err(Errno::INVAL.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.path(), Path::Splice);
        let mut e = Engine::new(Mode::Splice, Path::Splice, Why::Asked, 100, 1000);
        e.filled(Err(Errno::INVAL.into()));
        assert_eq!(e.next(), Op::Done);
    }

    #[test]
    fn a_failed_shutdown_or_an_outside_failure_ends_it() {
        let mut e = splice(10);
        e.filled(Ok(0));
        e.shut(Err(Errno::NOTSOCK.into()));
        assert_eq!(e.next(), Op::Done);
        let mut e = splice(10);
        e.filled(again());
        e.fail(io::Error::other("the other direction failed"));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.waiting(), None);
    }

    #[test]
    fn after_the_owner_exits_only_what_was_queued_moves_then_done_without_shut() {
        let mut e = splice(100);
        e.filled(Ok(30));
        e.owner_exited(Some(250));
        // A second report does not extend the budget.
        e.owner_exited(Some(10_000));
        assert!(e.owner_has_exited());
        // The 30 already in the buffer drain first (they are not part of the budget).
        assert_eq!(e.next(), drain(30, false));
        e.drained(Ok(30));
        assert_eq!(e.next(), Op::Fill { len: 100 });
        e.filled(Ok(100));
        e.drained(Ok(100));
        e.filled(Ok(120));
        e.drained(Ok(120));
        // 30 left: never asks for more, even if more has arrived since.
        assert_eq!(e.next(), Op::Fill { len: 30 });
        e.filled(Ok(30));
        assert!(!e.ended_at_exit(), "30 still to drain");
        assert_eq!(e.next(), drain(30, false));
        e.drained(Ok(30));
        assert_eq!(e.next(), Op::Done);
        assert!(e.ended_at_exit());
        let (bytes, _, _, shut, err) = e.into_parts();
        assert_eq!((bytes, shut), (280, false));
        assert!(err.is_none());
    }

    #[test]
    fn after_the_exit_a_dry_source_or_eof_ends_it() {
        // Nothing readable when we look: done, though FIONREAD said more.
        let mut e = splice(100);
        e.owner_exited(Some(50));
        e.filled(again());
        assert_eq!(e.next(), Op::Done);
        assert!(e.ended_at_exit());
        // A wait for the source that was pending is over once the owner is gone.
        let mut e = splice(100);
        e.filled(again());
        assert_eq!(e.next(), Op::WaitRead);
        e.owner_exited(Some(5));
        assert_eq!(e.next(), Op::Fill { len: 5 });
        // Nothing queued: done without a fill.
        let mut e = splice(100);
        e.owner_exited(Some(0));
        assert_eq!(e.next(), Op::Done);
        // FIONREAD could not say: one fill more at most.
        let mut e = splice(100);
        e.owner_exited(None);
        assert_eq!(e.next(), Op::Fill { len: 100 });
        // EOF while draining is EOF: shut as usual.
        e.filled(Ok(0));
        assert_eq!(e.next(), Op::Shut);
        e.shut(Ok(()));
        assert!(!e.ended_at_exit());
    }

    #[test]
    fn a_refusal_after_the_exit_still_falls_back_within_the_budget() {
        let mut e = splice(100);
        e.owner_exited(Some(40));
        e.filled(Err(Errno::INVAL.into()));
        assert_eq!(e.path(), Path::Copy);
        // The copy buffer is larger, the budget still caps it.
        assert_eq!(e.next(), Op::Fill { len: 40 });
    }

    #[test]
    fn a_refused_drain_falls_back_only_when_asked_and_before_any_byte_arrived() {
        // Off by default: a refused drain is an error, the bytes stay in the pipe.
        let mut e = splice(100);
        e.filled(Ok(60));
        e.drained(Err(Errno::INVAL.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.pending(), 60);
        // Asked for: the path turns to copy with the 60 bytes still pending (now the
        // driver's to move through its buffer), and the reason is kept.
        let mut e = splice(100).fall_back_on_drain();
        e.filled(Ok(60));
        e.drained(Err(Errno::INVAL.into()));
        assert_eq!(e.path(), Path::Copy);
        assert_eq!(e.next(), drain(60, false));
        e.drained(Ok(60));
        assert_eq!(e.next(), Op::Fill { len: 1000 });
        let mut e = splice(100).fall_back_on_drain();
        e.filled(Ok(60));
        e.drained(Ok(10));
        // A byte arrived by splice: too late to change paths.
        e.drained(Err(Errno::INVAL.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.path(), Path::Splice);
        // Sendfile, the other zero-copy path, falls back like splice.
        let mut e = Engine::new(Mode::Auto, Path::Sendfile, Why::Auto, 100, 1000);
        e.filled(Err(Errno::INVAL.into()));
        assert_eq!(e.path(), Path::Copy);
        assert!(matches!(e.into_parts().2, Why::Refused(_)));
    }

    #[test]
    fn a_short_fill_is_drained_then_waited_on_not_filled_again() {
        for path in [Path::Splice, Path::Copy] {
            let mut e = Engine::new(Mode::Auto, path, Why::Auto, 100, 100).short_fill_empties();
            assert_eq!(e.next(), Op::Fill { len: 100 });
            e.filled(Ok(1));
            // Short: write the byte, then wait for the source (no fill bound for EAGAIN).
            assert_eq!(e.next(), drain(1, false));
            assert_eq!(e.waiting(), None);
            e.drained(Ok(1));
            assert_eq!(e.next(), Op::WaitRead);
            assert_eq!(e.waiting(), Some(Op::WaitRead));
            e.ready();
            assert_eq!(e.next(), Op::Fill { len: 100 });
            // EOF is still seen by the fill after the wait, and shuts as before.
            e.filled(Ok(0));
            assert_eq!(e.next(), Op::Shut);
            e.shut(Ok(()));
            assert_eq!(e.next(), Op::Done);
            assert_eq!(e.into_parts().0, 1);
        }
    }

    #[test]
    fn a_full_fill_fills_again_and_a_short_one_waits_only_once_drained() {
        let mut e = splice(100).drain_cap(30).short_fill_empties();
        // A full fill: more may be queued, fill again after draining (no wait).
        e.filled(Ok(100));
        for _ in 0..3 {
            e.drained(Ok(30));
        }
        e.drained(Ok(10));
        assert_eq!(e.next(), Op::Fill { len: 100 });
        // A short one, drained in pieces with the destination full midway: the source is
        // waited on only once the buffer is empty.
        e.filled(Ok(50));
        e.drained(Ok(30));
        assert_eq!(e.next(), drain(20, false));
        e.drained(again());
        assert_eq!(e.next(), Op::WaitWrite);
        e.ready();
        e.drained(Ok(20));
        assert_eq!(e.next(), Op::WaitRead);
        e.ready();
        // The wait was a hint: a fill after it that finds nothing waits as usual.
        e.filled(again());
        assert_eq!(e.next(), Op::WaitRead);
        e.ready();
        e.filled(Ok(0));
        assert_eq!(e.next(), Op::Shut);
    }

    #[test]
    fn without_the_hint_or_after_an_error_or_the_owner_exit_a_short_fill_fills_again() {
        // Off by default: a short fill is followed by another fill, as for a blocking source.
        let mut e = splice(100);
        e.filled(Ok(1));
        e.drained(Ok(1));
        assert_eq!(e.next(), Op::Fill { len: 100 });
        // A failing drain ends it: no wait left behind.
        let mut e = splice(100).short_fill_empties();
        e.filled(Ok(1));
        e.drained(Err(Errno::PIPE.into()));
        assert_eq!(e.next(), Op::Done);
        assert_eq!(e.waiting(), None);
        // After the owner's exit its rule decides (a dry source ends it at the next fill).
        let mut e = splice(100).short_fill_empties();
        e.filled(Ok(1));
        e.owner_exited(Some(5));
        e.drained(Ok(1));
        assert_eq!(e.next(), Op::Fill { len: 5 });
        e.filled(Ok(2));
        e.drained(Ok(2));
        assert_eq!(e.next(), Op::Fill { len: 3 });
        e.filled(again());
        assert_eq!(e.next(), Op::Done);
        assert!(e.ended_at_exit());
    }

    #[test]
    fn a_short_fill_then_a_refused_drain_falls_back_and_still_waits_once_drained() {
        let mut e = splice(100).fall_back_on_drain().short_fill_empties();
        e.filled(Ok(60));
        e.drained(Err(Errno::INVAL.into()));
        assert_eq!(e.path(), Path::Copy);
        assert_eq!(e.next(), drain(60, false));
        e.drained(Ok(60));
        assert_eq!(e.next(), Op::WaitRead);
    }
}
