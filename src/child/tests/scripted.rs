//! A scripted process and a fake clock: the process seam's test doubles.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::child::process::{Clock, Exited, Kill, Reap, WaitExit};

/// A clock that moves only when told.
pub(super) struct FakeClock {
    start: Instant,
    now: Cell<Instant>,
}

impl FakeClock {
    pub(super) fn new() -> Rc<FakeClock> {
        let start = Instant::now();
        Rc::new(FakeClock {
            start,
            now: Cell::new(start),
        })
    }

    pub(super) fn advance(&self, d: Duration) {
        self.now.set(self.now.get() + d);
    }

    /// How far the clock has moved.
    pub(super) fn elapsed(&self) -> Duration {
        self.now.get() - self.start
    }
}

impl Clock for Rc<FakeClock> {
    fn now(&self) -> Instant {
        self.now.get()
    }
}

/// When the scripted process exits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ExitsOn {
    AlreadyExited,
    InputClosed,
    Term,
    Kill,
    Never,
}

/// A process that exits at one step of a policy; records the calls it saw. A wait that the
/// process does not end moves the clock by the whole timeout.
pub(super) struct Scripted {
    exits_on: ExitsOn,
    pub(super) log: Rc<RefCell<Vec<String>>>,
    pub(super) input_closed: RefCell<bool>,
    got: RefCell<Vec<Signal>>,
    clock: Option<Rc<FakeClock>>,
}

impl Scripted {
    pub(super) fn new(exits_on: ExitsOn) -> Scripted {
        Scripted {
            exits_on,
            log: Rc::new(RefCell::new(Vec::new())),
            input_closed: RefCell::new(false),
            got: RefCell::new(Vec::new()),
            clock: None,
        }
    }

    /// The same, on `clock`, logging to `log`.
    pub(super) fn on(
        exits_on: ExitsOn,
        clock: &Rc<FakeClock>,
        log: &Rc<RefCell<Vec<String>>>,
    ) -> Scripted {
        Scripted {
            clock: Some(clock.clone()),
            log: log.clone(),
            ..Scripted::new(exits_on)
        }
    }

    fn exited(&self) -> Option<ExitStatus> {
        let got = self.got.borrow();
        let done = match self.exits_on {
            ExitsOn::AlreadyExited => true,
            ExitsOn::InputClosed => *self.input_closed.borrow(),
            ExitsOn::Term => got.contains(&Signal::TERM),
            ExitsOn::Kill => got.contains(&Signal::KILL),
            ExitsOn::Never => false,
        };
        done.then(|| match got.last() {
            Some(sig) => ExitStatus::from_raw(sig.as_raw()),
            None => ExitStatus::from_raw(0),
        })
    }

    fn note(&self, what: String) {
        self.log.borrow_mut().push(what);
    }
}

impl Reap for Scripted {
    fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        self.note("try_reap".into());
        Ok(self.exited())
    }
}

impl Exited for Scripted {
    fn has_exited(&self) -> io::Result<bool> {
        self.note("has_exited".into());
        Ok(self.exited().is_some())
    }
}

impl Kill for Scripted {
    fn signal(&self, sig: Signal) -> io::Result<()> {
        self.note(format!("signal {}", sig.as_raw()));
        self.got.borrow_mut().push(sig);
        Ok(())
    }
}

impl WaitExit for Scripted {
    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        self.note(format!("wait {}", timeout.map_or(0, |t| t.as_millis())));
        let status = self.exited();
        if let (None, Some(clock), Some(t)) = (status, &self.clock, timeout) {
            clock.advance(t);
        }
        Ok(status)
    }
}
