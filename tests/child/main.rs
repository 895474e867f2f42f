//! Integration tests of `procwire::child` and `procwire::stderr` with real child processes,
//! grouped by concern.

#[path = "../support/mod.rs"]
mod support;

mod fds;
mod kill;
mod sigpipe;
mod splice;
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
