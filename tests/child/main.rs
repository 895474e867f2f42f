//! Integration tests of `procwire::child` and `procwire::stderr` with real child processes,
//! grouped by concern.

#[path = "../support/mod.rs"]
mod support;

mod at_exit;
mod fds;
mod group;
mod kill;
mod sigpipe;
mod splice;
mod std_gaps;
mod stderr;
mod transfer;
mod watchdog;

use std::time::{Duration, Instant};

/// Runs `f` and returns its result with how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let t = f();
    (t, start.elapsed())
}

/// Whether process `pid` still exists (running or a zombie).
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether process `pid` runs no more: gone, or a zombie nobody has reaped yet (an orphan's
/// reaper may take its time).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Whether `done` comes true within a generous bound (a hang-guard, never a timing claim),
/// asking every 10 ms.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// `SIGKILL` to `pid`, for cleaning up a descendant a test left behind (an error is fine: it
/// may be gone already).
pub fn stop(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Spawns `argv` on the default wire with stderr to `/dev/null`.
pub fn quiet(argv: &[&str]) -> procwire::child::Child {
    procwire::child::Command::from_argv(argv)
        .unwrap()
        .stderr(procwire::child::StderrTo::Null)
        .spawn()
        .unwrap()
}
