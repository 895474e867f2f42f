//! Unit tests of the close policy (against a scripted process) and the watchdog decision.

use std::cell::RefCell;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::Signal;

use super::process::{Ending, Process, terminate};
use super::watchdog::{Decision, Fired, Timeouts, decide, tick};
use super::{KillPolicy, Watchdog};

/// When the scripted process exits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExitsOn {
    AlreadyExited,
    InputClosed,
    Term,
    Kill,
    Never,
}

/// A process that exits at one step of the policy; records the calls it saw.
struct Scripted {
    exits_on: ExitsOn,
    log: RefCell<Vec<String>>,
    input_closed: RefCell<bool>,
    got: RefCell<Vec<Signal>>,
}

impl Scripted {
    fn new(exits_on: ExitsOn) -> Scripted {
        Scripted {
            exits_on,
            log: RefCell::new(Vec::new()),
            input_closed: RefCell::new(false),
            got: RefCell::new(Vec::new()),
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
}

impl Process for Scripted {
    fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        self.log.borrow_mut().push("try_reap".into());
        Ok(self.exited())
    }
    fn signal(&self, sig: Signal) -> io::Result<()> {
        self.log
            .borrow_mut()
            .push(format!("signal {}", sig.as_raw()));
        self.got.borrow_mut().push(sig);
        Ok(())
    }
    fn wait_exit(&self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        self.log
            .borrow_mut()
            .push(format!("wait {}", timeout.map_or(0, |t| t.as_millis())));
        Ok(self.exited())
    }
}

const POLICY: KillPolicy = KillPolicy {
    close: Duration::from_millis(11),
    term: Duration::from_millis(22),
    kill: Duration::from_millis(33),
};

fn run(exits_on: ExitsOn) -> (Ending, Vec<String>) {
    let p = Scripted::new(exits_on);
    let ending = terminate(&p, &POLICY, &mut || {
        p.log.borrow_mut().push("close input".into());
        *p.input_closed.borrow_mut() = true;
    })
    .unwrap();
    (ending, p.log.into_inner())
}

#[test]
fn policy_leaves_an_exited_child_alone() {
    let (ending, log) = run(ExitsOn::AlreadyExited);
    assert_eq!(ending, Ending::Exited(ExitStatus::from_raw(0)));
    assert_eq!(log, ["try_reap"]);
}

#[test]
fn policy_closes_input_first_and_waits_the_close_deadline() {
    let (ending, log) = run(ExitsOn::InputClosed);
    assert_eq!(ending, Ending::Exited(ExitStatus::from_raw(0)));
    assert_eq!(log, ["try_reap", "close input", "wait 11"]);
}

#[test]
fn policy_sends_term_after_the_close_deadline() {
    let (ending, log) = run(ExitsOn::Term);
    assert_eq!(ending, Ending::Terminated(ExitStatus::from_raw(15)));
    assert_eq!(
        log,
        ["try_reap", "close input", "wait 11", "signal 15", "wait 22"]
    );
}

#[test]
fn policy_kills_a_child_that_ignores_term() {
    let (ending, log) = run(ExitsOn::Kill);
    assert_eq!(ending, Ending::Killed(ExitStatus::from_raw(9)));
    assert_eq!(
        log,
        [
            "try_reap",
            "close input",
            "wait 11",
            "signal 15",
            "wait 22",
            "signal 9",
            "wait 33"
        ]
    );
}

#[test]
fn policy_gives_up_after_the_kill_deadline() {
    let (ending, log) = run(ExitsOn::Never);
    assert_eq!(ending, Ending::Unreaped);
    assert_eq!(log.last().unwrap(), "wait 33");
    assert_eq!(log.len(), 7);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn no_timeouts_means_idle() {
    assert_eq!(
        decide(&Timeouts::default(), ms(0), false, ms(0)),
        Decision::Idle
    );
}

#[test]
fn connect_sleeps_until_its_deadline_then_checks() {
    let t = Timeouts {
        connect: Some(ms(1000)),
        stall: None,
    };
    assert_eq!(
        decide(&t, ms(300), false, ms(300)),
        Decision::Sleep(ms(700))
    );
    assert_eq!(
        decide(&t, ms(1000), false, ms(1000)),
        Decision::CheckConnect
    );
    // Settled (a byte arrived, or cancelled): nothing left to watch.
    assert_eq!(decide(&t, ms(5000), true, ms(5000)), Decision::Idle);
}

#[test]
fn stall_samples_at_its_tick_and_fires_after_the_timeout() {
    let t = Timeouts {
        connect: None,
        stall: Some(ms(800)),
    };
    assert_eq!(tick(ms(800)), ms(100));
    assert_eq!(decide(&t, ms(0), true, ms(0)), Decision::Sleep(ms(100)));
    assert_eq!(decide(&t, ms(5000), true, ms(750)), Decision::Sleep(ms(50)));
    assert_eq!(
        decide(&t, ms(5000), true, ms(800)),
        Decision::Fire(Fired {
            watchdog: Watchdog::Stall,
            after: ms(800)
        })
    );
}

#[test]
fn both_watchdogs_sleep_until_the_nearer_event() {
    let t = Timeouts {
        connect: Some(ms(1000)),
        stall: Some(ms(10_000)),
    };
    // The stall tick (1 s cap) versus 950 ms left to the connect deadline.
    assert_eq!(decide(&t, ms(50), false, ms(50)), Decision::Sleep(ms(950)));
    assert_eq!(
        decide(&t, ms(1000), false, ms(1000)),
        Decision::CheckConnect
    );
    assert_eq!(
        decide(&t, ms(1000), true, ms(1000)),
        Decision::Sleep(ms(1000))
    );
}

#[test]
fn tick_is_clamped() {
    assert_eq!(tick(ms(8)), ms(5));
    assert_eq!(tick(Duration::from_secs(3600)), Duration::from_secs(1));
}

#[test]
fn timed_out_messages_name_the_watchdog_and_the_time() {
    let e = Fired {
        watchdog: Watchdog::Connect,
        after: ms(1500),
    }
    .error();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let t = super::timed_out(&e).expect("the TimedOut payload");
    assert_eq!(t.watchdog(), Watchdog::Connect);
    assert!(t.exit().is_none());
    let msg = e.to_string();
    assert!(
        msg.contains("connect watchdog") && msg.contains("1.5s"),
        "{msg}"
    );
    let stall = Fired {
        watchdog: Watchdog::Stall,
        after: Duration::from_secs(30),
    }
    .error()
    .to_string();
    assert!(
        stall.contains("stall watchdog") && stall.contains("30s"),
        "{stall}"
    );
}

#[test]
fn topology_names_round_trip() {
    for t in super::Topology::ALL {
        assert_eq!(t.name().parse::<super::Topology>().unwrap(), t);
    }
    let e = "duplex".parse::<super::Topology>().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("socketpairs"));
}

#[test]
fn an_empty_argv_is_refused() {
    let e = super::Command::from_argv(Vec::<String>::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}
