//! The close policy with real children: EOF, SIGTERM, SIGKILL, and Drop.

use std::time::Duration;

use procwire::child::{Command, KillPolicy, StderrTo};
use procwire::stderr::Settings;

use crate::{eventually, exists, timed};

/// A hang-guard: longer than any step may take on a loaded machine, shorter than the 30 s
/// sleeps the tests tell apart from it.
const GUARD: Duration = Duration::from_secs(20);

/// Every step generous: a child that exits on EOF has all the time a loaded machine needs.
const PATIENT: KillPolicy = KillPolicy {
    close: GUARD,
    term: GUARD,
    kill: GUARD,
};

/// A short close step (the child here never reads its input, so the step always runs out),
/// then a generous wait for the exit after SIGTERM.
const TERM_SOON: KillPolicy = KillPolicy {
    close: Duration::from_millis(200),
    term: GUARD,
    kill: GUARD,
};

/// Short close and TERM steps, where the deadlines are what is tested (the child ignores
/// TERM, so only the KILL ends it).
const QUICK: KillPolicy = KillPolicy {
    close: Duration::from_millis(200),
    term: Duration::from_millis(300),
    kill: GUARD,
};

#[test]
fn a_child_that_exits_on_eof_needs_no_signal() {
    let child = Command::new("cat")
        .stderr(StderrTo::Null)
        .kill_policy(PATIENT)
        .spawn()
        .unwrap();
    let (exit, took) = timed(|| child.close().unwrap());
    assert!(exit.success(), "{exit}");
    assert!(took < PATIENT.close, "{took:?}");
}

#[test]
fn a_child_that_honours_term_exits_on_term() {
    let child = Command::from_argv(["sleep", "30"])
        .unwrap()
        .stderr(StderrTo::Null)
        .kill_policy(TERM_SOON)
        .spawn()
        .unwrap();
    let pid = child.id();
    let (exit, took) = timed(|| child.close().unwrap());
    assert_eq!(exit.signal(), Some(15), "{exit}");
    assert!(
        took >= TERM_SOON.close && took < TERM_SOON.close + TERM_SOON.term,
        "{took:?}"
    );
    assert!(!exists(pid), "reaped");
}

#[test]
fn a_child_that_ignores_term_is_killed_after_the_deadline() {
    // The shell ignores TERM and execs nothing, so only SIGKILL ends it.
    let child = Command::from_argv([
        "sh",
        "-c",
        "trap '' TERM; echo ready; while :; do sleep 1; done",
    ])
    .unwrap()
    .stderr(StderrTo::Null)
    .kill_policy(QUICK)
    .spawn()
    .unwrap();
    let (mut reader, writer, handle) = child.split();
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(&mut reader, &mut ready).unwrap();
    drop(writer);
    let pid = handle.id();
    let (exit, took) = timed(|| handle.close().unwrap());
    assert_eq!(exit.signal(), Some(9), "{exit}");
    assert!(took >= QUICK.close + QUICK.term, "{took:?}");
    assert!(took < GUARD, "{took:?}");
    assert!(!exists(pid), "reaped");
}

#[test]
fn dropping_a_child_reaps_it_without_blocking_for_long() {
    let child = Command::from_argv(["sleep", "30"])
        .unwrap()
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let pid = child.id();
    let ((), took) = timed(|| drop(child));
    // Drop's steps (KillPolicy::DROP) add up to a fraction of a second; a loaded machine may
    // stretch that, but a drop that waited for `sleep 30` to end would take 30 s.
    assert!(took < GUARD, "{took:?}");
    // A child that outlived the steps is reaped in the background: gone soon, never a zombie.
    assert!(
        eventually(|| !exists(pid)),
        "the child was reaped, not left a zombie"
    );
}

#[test]
fn dropping_the_halves_never_kills_the_child() {
    let child = Command::from_argv(["sh", "-c", "sleep 0.3; exit 7"])
        .unwrap()
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let (reader, writer, handle) = child.split();
    drop(reader);
    drop(writer);
    let exit = handle.wait().unwrap();
    assert_eq!(exit.code(), Some(7), "the child ran to its own end: {exit}");
}

#[test]
fn kill_sends_sigkill_and_reaps() {
    let mut child = crate::quiet(&["sleep", "30"]);
    let (exit, took) = timed(|| {
        child.kill().unwrap();
        child.wait().unwrap()
    });
    assert_eq!(exit.signal(), Some(9));
    assert!(took < GUARD, "{took:?}");
}

#[test]
fn deadlines_too_far_to_represent_mean_no_deadline() {
    let far = KillPolicy {
        close: Duration::MAX,
        term: Duration::MAX,
        kill: Duration::MAX,
    };
    let child = Command::new("cat")
        .stderr(Settings::new().sink(std::io::sink()).grace(Duration::MAX))
        .kill_policy(far)
        .stall_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .spawn()
        .unwrap();
    // cat exits on the EOF of the first step; nothing overflows.
    assert!(child.close().unwrap().success());
}
