//! `procwire exec` end to end, and the child transport against a real sshd and real rsync.

#[path = "../support/mod.rs"]
mod support;

mod rsync;
mod ssh;
mod status;
mod stuck_stdout;

use std::process::{Command, Output, Stdio};

pub const PROCWIRE: &str = env!("CARGO_BIN_EXE_procwire");

/// `procwire exec ARGS...` with empty stdin, collected.
pub fn exec(args: &[&str]) -> Output {
    Command::new(PROCWIRE)
        .arg("exec")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run procwire exec")
}
