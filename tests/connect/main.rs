//! `procwire connect` end to end: real programs on both wire kinds, exit statuses, timeouts,
//! stderr in lines, signals. Every wait is bounded (a hang fails the test instead of hanging
//! it); no test assumes a timing or an order the kernel does not promise.

#[path = "../support/mod.rs"]
mod support;

mod signals;
mod status;
mod stderr;
mod wire;

use std::process::{Command, Output, Stdio};

pub const PROCWIRE: &str = env!("CARGO_BIN_EXE_procwire");

/// Both wire kinds, by their `--wire` names.
pub const WIRES: [&str; 2] = ["socketpair", "pipes"];

/// `procwire connect ARGS...` with empty stdin, collected; fails the test (rather than hanging
/// it) if procwire has not finished within the support module's bound.
pub fn connect(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let shown = format!("procwire connect {args:?}");
    support::bounded::spawn(move || {
        Command::new(PROCWIRE)
            .arg("connect")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run procwire connect")
    })
    .join(&shown)
}

/// procwire's exit code and stderr; fails the test if procwire itself died of a signal.
pub fn code(args: &[&str]) -> (i32, String) {
    let out = connect(args);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("procwire connect itself died: {:?}", out.status));
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A fresh directory for one test's files, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "procwire-connect-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The path of `file` in it, as a string for a shell command.
    pub fn file(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
