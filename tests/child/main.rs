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

pub use support::procs::{eventually, gone, stop};

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

/// Spawns `argv` on the default wire with stderr to `/dev/null`.
pub fn quiet(argv: &[&str]) -> procwire::child::Child {
    procwire::child::Command::from_argv(argv)
        .unwrap()
        .stderr(procwire::child::StderrTo::Null)
        .spawn()
        .unwrap()
}
