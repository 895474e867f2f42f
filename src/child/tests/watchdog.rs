//! The watchdog: the timing rule, and the whole sequence driven on a scripted process and a
//! fake clock.

use std::time::Duration;

use super::ms;
use crate::child::Watchdog;
use crate::child::state::Fired;
use crate::child::watchdog::{Decision, Timeouts, decide, tick};

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

// The whole sequence, on a scripted process and a fake clock: no thread, no sleep.

use std::cell::RefCell;
use std::rc::Rc;

use super::scripted::{ExitsOn, FakeClock, Scripted};
use crate::child::state::Sample;
use crate::child::watchdog::{Watch, Watched, drive};

/// The wire as the watchdog sees it, scripted: the counters as a function of the fake time,
/// what the probe answers, and a log of the probes and firings (with the time of each firing).
struct Wire {
    clock: Rc<FakeClock>,
    log: Rc<RefCell<Vec<String>>>,
    /// The counters at a time since the start.
    counters: Box<dyn Fn(Duration) -> Sample>,
    /// Data or EOF waiting in our read end.
    answers: bool,
    fired_at: Option<Duration>,
    stopped_after: Option<Duration>,
}

impl Watched for Wire {
    fn sample(&mut self) -> Sample {
        (self.counters)(self.clock.elapsed())
    }
    fn pause(&mut self, d: Duration) -> bool {
        self.clock.advance(d);
        self.stopped_after
            .is_some_and(|stop| self.clock.elapsed() >= stop)
    }
    fn answered(&mut self) -> bool {
        self.log.borrow_mut().push("probe".into());
        self.answers
    }
    fn fire(&mut self, fired: Fired) -> bool {
        self.fired_at = Some(self.clock.elapsed());
        self.log
            .borrow_mut()
            .push(format!("fire {}", fired.watchdog));
        true
    }
}

struct Run {
    log: Vec<String>,
    fired_at: Option<Duration>,
}

/// Runs the watchdog to its end (or to a disarm at `stop`).
fn watch(
    timeouts: Timeouts,
    group: bool,
    exits_on: ExitsOn,
    answers: bool,
    counters: impl Fn(Duration) -> Sample + 'static,
    stop: Option<Duration>,
) -> Run {
    let clock = FakeClock::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let process = Scripted::on(exits_on, &clock, &log);
    let mut wire = Wire {
        clock: clock.clone(),
        log: log.clone(),
        counters: Box::new(counters),
        answers,
        fired_at: None,
        stopped_after: stop,
    };
    drive(
        Watch::new(timeouts, ms(300), group),
        &process,
        &clock,
        &mut wire,
    );
    let log = log.borrow().clone();
    Run {
        log,
        fired_at: wire.fired_at,
    }
}

const CONNECT: Timeouts = Timeouts {
    connect: Some(Duration::from_millis(1000)),
    stall: None,
};

const STALL: Timeouts = Timeouts {
    connect: None,
    stall: Some(Duration::from_millis(800)),
};

fn silent(_: Duration) -> Sample {
    Sample::default()
}

/// Nothing arrived by the connect deadline: probe, check the child runs, fire, `SIGTERM`, wait.
const CONNECT_FIRES: [&str; 5] = [
    "probe",
    "has_exited",
    "fire connect",
    "signal 15",
    "wait 300",
];

#[test]
fn connect_fires_at_its_deadline_and_term_is_honoured() {
    let run = watch(CONNECT, false, ExitsOn::Term, false, silent, None);
    assert_eq!(run.log, CONNECT_FIRES);
    assert_eq!(run.fired_at, Some(ms(1000)));
}

#[test]
fn term_ignored_means_kill_after_the_term_wait() {
    let run = watch(CONNECT, false, ExitsOn::Kill, false, silent, None);
    assert_eq!(run.log[..5], CONNECT_FIRES);
    assert_eq!(run.log[5..], ["signal 9"]);
}

#[test]
fn a_byte_waiting_unread_settles_the_connect_watchdog() {
    let run = watch(CONNECT, false, ExitsOn::Never, true, silent, None);
    assert_eq!(run.log, ["probe"]);
    assert_eq!(run.fired_at, None);
}

#[test]
fn a_byte_read_or_a_cancel_in_time_settles_it_without_a_probe() {
    let read = |t: Duration| Sample {
        read: u64::from(t >= ms(400)),
        ..Sample::default()
    };
    let run = watch(CONNECT, false, ExitsOn::Never, false, read, None);
    assert!(run.log.is_empty(), "{:?}", run.log);
    let cancelled = |t: Duration| Sample {
        connect_cancelled: t >= ms(900),
        ..Sample::default()
    };
    let run = watch(CONNECT, false, ExitsOn::Never, false, cancelled, None);
    assert!(run.log.is_empty(), "{:?}", run.log);
}

#[test]
fn without_a_reader_the_connect_watchdog_fires_without_probing() {
    let gone = |_: Duration| Sample {
        reader_gone: true,
        ..Sample::default()
    };
    let run = watch(CONNECT, false, ExitsOn::Term, false, gone, None);
    assert_eq!(
        run.log,
        ["has_exited", "fire connect", "signal 15", "wait 300"]
    );
}

#[test]
fn stall_fires_after_the_last_move_within_a_tick() {
    // Bytes move every 10 ms until 2 s, then nothing.
    let moving = |t: Duration| Sample {
        moved: (t.min(ms(2000)).as_millis() / 10) as u64,
        read: 1,
        ..Sample::default()
    };
    let run = watch(STALL, false, ExitsOn::Term, false, moving, None);
    assert_eq!(
        run.log,
        ["has_exited", "fire stall", "signal 15", "wait 300"]
    );
    let at = run.fired_at.unwrap();
    // The last move is seen at most a tick after 2 s; the stall is declared 800 ms after
    // that sample, and sampling runs a tick (100 ms) apart.
    assert!(
        at >= ms(2800) && at <= ms(2800) + 2 * tick(ms(800)),
        "{at:?}"
    );
}

#[test]
fn a_child_that_exited_before_firing_is_left_alone() {
    // Exited, and EOF (or data) is waiting for the reader: nobody hangs.
    let run = watch(STALL, false, ExitsOn::AlreadyExited, true, silent, None);
    assert_eq!(run.log, ["has_exited", "probe"]);
    assert_eq!(run.fired_at, None);
}

#[test]
fn a_descendant_holding_the_wire_gets_the_handles_woken() {
    // Exited, but nothing and no EOF for the reader: a descendant holds the wire. Wake the
    // handles; with no group there is nothing to signal.
    let run = watch(STALL, false, ExitsOn::AlreadyExited, false, silent, None);
    assert_eq!(run.log, ["has_exited", "probe", "fire stall"]);
    // With the child leading a process group, the group (the descendant) gets SIGTERM.
    let run = watch(STALL, true, ExitsOn::AlreadyExited, false, silent, None);
    assert_eq!(run.log, ["has_exited", "probe", "fire stall", "signal 15"]);
}

#[test]
fn disarming_stops_the_watchdog_before_it_fires() {
    let run = watch(STALL, false, ExitsOn::Never, false, silent, Some(ms(500)));
    assert!(run.log.is_empty(), "{:?}", run.log);
    assert_eq!(run.fired_at, None);
}

#[test]
fn both_watchdogs_the_nearer_fires_first() {
    let both = Timeouts {
        connect: Some(ms(5000)),
        stall: Some(ms(800)),
    };
    let run = watch(both, false, ExitsOn::Term, false, silent, None);
    assert_eq!(
        run.log,
        ["has_exited", "fire stall", "signal 15", "wait 300"]
    );
    assert!(run.fired_at.unwrap() < ms(1000));
}
