//! A child leading its own process group (or session): the watchdog's and the close policy's
//! signals reach its descendants too, so none survives (issue 11, defect 13).

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use procwire::child::{Command, KillPolicy, StderrTo, TimedOut, Watchdog};

use crate::{eventually, gone, read_line, stop};

/// A short close step (the shell never reads its input), then all the time a loaded machine
/// needs for the exit after SIGTERM, so the shell dies of the TERM (15), never of a KILL.
const QUICK: KillPolicy = KillPolicy {
    close: Duration::from_millis(100),
    term: Duration::from_secs(20),
    kill: Duration::from_secs(20),
};

/// `sh` starts a 30 s sleeper, prints its pid, and waits for it.
fn shell_with_a_sleeper() -> Command {
    let mut cmd = Command::from_argv(["sh", "-c", "sleep 30 & echo $!; wait"]).unwrap();
    cmd.stderr(StderrTo::Null).kill_policy(QUICK);
    cmd
}

/// Reads the sleeper's pid from the child's first line.
fn sleeper_pid(reader: impl Read) -> u32 {
    let mut line = String::new();
    BufReader::new(reader).read_line(&mut line).unwrap();
    line.trim().parse().unwrap()
}

/// Runs the close policy on the shell (set up by `configure`); whether its sleeper went too.
fn close_policy_ends_the_sleeper(configure: impl FnOnce(&mut Command)) -> bool {
    let mut cmd = shell_with_a_sleeper();
    configure(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let sleeper = sleeper_pid(child.reader());
    let exit = child.close().unwrap();
    assert_eq!(exit.signal(), Some(15), "{exit}");
    let went = eventually(|| gone(sleeper));
    stop(sleeper);
    went
}

#[test]
fn the_close_policy_ends_the_whole_group() {
    assert!(close_policy_ends_the_sleeper(|c| {
        c.process_group(0);
    }));
}

#[test]
fn a_new_session_ends_whole_too() {
    assert!(close_policy_ends_the_sleeper(|c| {
        c.new_session(true);
    }));
}

#[test]
fn a_watchdog_ends_the_whole_group() {
    let mut cmd = shell_with_a_sleeper();
    let child = cmd
        .process_group(0)
        // Generous, so a loaded machine still prints the pid line before it fires.
        .stall_timeout(Duration::from_secs(5))
        .spawn()
        .unwrap();
    let (mut reader, _writer, handle) = child.split();
    // The pid line, byte by byte (no buffering past it), then a read the stall ends.
    let sleeper: u32 = read_line(&mut reader).trim().parse().unwrap();
    let e = reader.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(
        TimedOut::of(&e).map(|t| t.watchdog()),
        Some(Watchdog::Stall),
        "{e}"
    );
    let e = handle.wait().unwrap_err();
    let exit = TimedOut::of(&e).unwrap().exit().unwrap();
    assert_eq!(exit.signal(), Some(15), "{exit}");
    let went = eventually(|| gone(sleeper));
    stop(sleeper);
    assert!(went, "the sleeper {sleeper} survived the watchdog");
}

#[test]
fn without_a_group_only_the_child_is_signalled() {
    // The behaviour the group option exists for: the sleeper outlives its killed shell.
    let mut cmd = shell_with_a_sleeper();
    let mut child = cmd.spawn().unwrap();
    let sleeper = sleeper_pid(child.reader());
    let exit = child.close().unwrap();
    assert_eq!(exit.signal(), Some(15), "{exit}");
    let survived = !gone(sleeper);
    stop(sleeper);
    assert!(
        survived,
        "the sleeper {sleeper} was signalled without a group"
    );
}

#[test]
fn group_and_session_together_are_refused() {
    let e = Command::new("true")
        .process_group(0)
        .new_session(true)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("new_session"), "{e}");
}
