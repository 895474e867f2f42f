//! Processes a test started and must see end: bounded waits, never timing claims.

use std::time::{Duration, Instant};

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
