//! The close policy: its step machine alone, and its blocking driver on a scripted process.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::Signal;

use super::scripted::{ExitsOn, Scripted};
use crate::child::KillPolicy;
use crate::child::policy::{Close, Ending, Seen, Step, terminate};

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
    let log = p.log.borrow().clone();
    (ending, log)
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

/// The machine alone: fed observations, it answers with steps; no process at all.
#[test]
fn the_step_machine_walks_the_policy() {
    let mut m = Close::new(POLICY);
    assert_eq!(m.step(Seen::Nothing), Step::TryReap);
    assert_eq!(m.step(Seen::Status(None)), Step::CloseInput);
    assert_eq!(m.step(Seen::Nothing), Step::Wait(POLICY.close));
    assert_eq!(m.step(Seen::Status(None)), Step::Signal(Signal::TERM));
    assert_eq!(m.step(Seen::Nothing), Step::Wait(POLICY.term));
    assert_eq!(m.step(Seen::Status(None)), Step::Signal(Signal::KILL));
    assert_eq!(m.step(Seen::Nothing), Step::Wait(POLICY.kill));
    let killed = ExitStatus::from_raw(9);
    assert_eq!(
        m.step(Seen::Status(Some(killed))),
        Step::Done(Ending::Killed(killed))
    );
    // Finished stays finished.
    assert_eq!(m.step(Seen::Nothing), Step::Done(Ending::Killed(killed)));
}

#[test]
fn the_step_machine_stops_at_the_first_exit() {
    let status = ExitStatus::from_raw(0);
    let mut m = Close::new(POLICY);
    m.step(Seen::Nothing);
    assert_eq!(
        m.step(Seen::Status(Some(status))),
        Step::Done(Ending::Exited(status))
    );
    let mut m = Close::new(POLICY);
    for seen in [Seen::Nothing, Seen::Status(None), Seen::Nothing] {
        m.step(seen);
    }
    assert_eq!(
        m.step(Seen::Status(Some(status))),
        Step::Done(Ending::Exited(status))
    );
    let mut m = Close::new(POLICY);
    for seen in [
        Seen::Nothing,
        Seen::Status(None),
        Seen::Nothing,
        Seen::Status(None),
        Seen::Nothing,
    ] {
        m.step(seen);
    }
    let termed = ExitStatus::from_raw(15);
    assert_eq!(
        m.step(Seen::Status(Some(termed))),
        Step::Done(Ending::Terminated(termed))
    );
}

#[test]
fn zero_deadlines_still_send_every_signal_in_order() {
    // Handle::kill's policy: no close or term grace.
    let quick = KillPolicy {
        close: Duration::ZERO,
        term: Duration::ZERO,
        kill: Duration::from_millis(5),
    };
    let p = Scripted::new(ExitsOn::Kill);
    let ending = terminate(&p, &quick, &mut || {}).unwrap();
    assert_eq!(ending, Ending::Killed(ExitStatus::from_raw(9)));
    let log = p.log.borrow().clone();
    assert_eq!(
        log,
        [
            "try_reap",
            "wait 0",
            "signal 15",
            "wait 0",
            "signal 9",
            "wait 5"
        ]
    );
}
