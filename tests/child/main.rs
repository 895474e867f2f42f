//! Integration tests of `procwire::child` and `procwire::stderr` with real child processes,
//! grouped by concern.

#[path = "../support/mod.rs"]
mod support;

mod at_exit;
mod fds;
mod given;
mod group;
mod kill;
#[cfg(feature = "tokio")]
mod parity;
#[cfg(feature = "tokio")]
mod scale;
mod sigpipe;
mod splice;
mod std_gaps;
mod stderr;
#[cfg(feature = "tokio")]
mod tokio_child;
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

/// A file a child's shell writes a descendant's pid to (`echo $! >FILE`), so a test can end
/// the descendant it left behind on purpose: on drop, `SIGKILL` to that pid (if the shell got
/// to write it) and the file removed.
pub struct PidFile(std::path::PathBuf);

impl PidFile {
    /// A fresh path in the temporary directory, unique to this process and `tag`.
    pub fn new(tag: &str) -> PidFile {
        let path = std::env::temp_dir().join(format!("procwire-{tag}-{}.pid", std::process::id()));
        let _ = std::fs::remove_file(&path);
        PidFile(path)
    }

    /// The path, for the shell script.
    pub fn path(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.0) {
            if let Ok(pid) = text.trim().parse() {
                stop(pid);
            }
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sleeps until `deadline` (at once if it has passed).
pub fn sleep_until(deadline: Instant) {
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Reads one line from `reader` byte by byte, so nothing past it is taken from the wire.
pub fn read_line(reader: &mut impl std::io::Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while byte != *b"\n" {
        reader.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}
