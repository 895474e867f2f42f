//! The close policy as a step machine, and its blocking driver.
//!
//! [`Close`] is sans-IO: given what the last step observed, it says what to do next (reap if
//! already exited, close the input, wait until a deadline, send a signal, or stop with an
//! [`Ending`]). It holds no process, descriptor, thread or clock, so a blocking driver
//! ([`terminate`], below) and an async one (a tokio task awaiting the exit with a timeout) run the
//! same policy.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::Signal;

use super::KillPolicy;
use super::process::Process;

/// How the close policy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Exited by itself (before or after its input was closed).
    Exited(ExitStatus),
    /// Exited after `SIGTERM`.
    Terminated(ExitStatus),
    /// Reaped after `SIGKILL`.
    Killed(ExitStatus),
    /// Not reaped within the last deadline.
    Unreaped,
}

/// What the close policy does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Reap the child if it has exited, without blocking; report [`Seen::Status`].
    TryReap,
    /// Close the child's input; report [`Seen::Nothing`].
    CloseInput,
    /// Wait up to this long for the exit and reap it; report [`Seen::Status`].
    Wait(Duration),
    /// Send this signal; report [`Seen::Nothing`].
    Signal(Signal),
    /// Finished.
    Done(Ending),
}

/// What the last step observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Nothing to report (the first step, or after closing the input or signalling).
    Nothing,
    /// The status if the child was reaped, `None` if it is still running.
    Status(Option<ExitStatus>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Start,
    Reaping,
    ClosingInput,
    WaitingClose,
    Terming,
    WaitingTerm,
    Killing,
    WaitingKill,
    Done(Ending),
}

/// The close policy: close the input, wait, `SIGTERM`, wait, `SIGKILL`, wait; each wait bounded
/// by the [`KillPolicy`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Close {
    policy: KillPolicy,
    stage: Stage,
}

impl Close {
    pub(crate) fn new(policy: KillPolicy) -> Close {
        Close {
            policy,
            stage: Stage::Start,
        }
    }

    /// The next step, given what the last one observed.
    pub(crate) fn step(&mut self, seen: Seen) -> Step {
        use Stage::*;
        let reaped = match seen {
            Seen::Status(s) => s,
            Seen::Nothing => None,
        };
        let (stage, step) = match (self.stage, reaped) {
            (Start, _) => (Reaping, Step::TryReap),
            (Reaping | WaitingClose, Some(s)) => {
                (Done(Ending::Exited(s)), Step::Done(Ending::Exited(s)))
            }
            (Reaping, None) => (ClosingInput, Step::CloseInput),
            (ClosingInput, _) => (WaitingClose, Step::Wait(self.policy.close)),
            (WaitingClose, None) => (Terming, Step::Signal(Signal::TERM)),
            (Terming, _) => (WaitingTerm, Step::Wait(self.policy.term)),
            (WaitingTerm, Some(s)) => (
                Done(Ending::Terminated(s)),
                Step::Done(Ending::Terminated(s)),
            ),
            (WaitingTerm, None) => (Killing, Step::Signal(Signal::KILL)),
            (Killing, _) => (WaitingKill, Step::Wait(self.policy.kill)),
            (WaitingKill, Some(s)) => (Done(Ending::Killed(s)), Step::Done(Ending::Killed(s))),
            (WaitingKill, None) => (Done(Ending::Unreaped), Step::Done(Ending::Unreaped)),
            (Done(e), _) => (Done(e), Step::Done(e)),
        };
        self.stage = stage;
        step
    }
}

/// The blocking driver: runs [`Close`] on `p`, calling `close_input` for its input step.
pub(crate) fn terminate<P: Process + ?Sized>(
    p: &P,
    policy: &KillPolicy,
    close_input: &mut dyn FnMut(),
) -> io::Result<Ending> {
    let mut machine = Close::new(*policy);
    let mut seen = Seen::Nothing;
    loop {
        seen = match machine.step(seen) {
            Step::TryReap => Seen::Status(p.try_reap()?),
            Step::CloseInput => {
                close_input();
                Seen::Nothing
            }
            Step::Wait(d) => Seen::Status(p.wait_exit(Some(d))?),
            Step::Signal(sig) => {
                p.signal(sig)?;
                Seen::Nothing
            }
            Step::Done(ending) => return Ok(ending),
        };
    }
}
