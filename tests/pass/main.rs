//! Integration tests of `procwire::pass`: descriptors between real processes over real
//! sockets, grouped by concern.

#[path = "../support/mod.rs"]
mod support;

mod broker;
mod channel;
mod ctrunc;
mod handoff;
mod kinds;
mod prop;
mod python;
mod quirk;
mod roundtrip;
mod spawn_fds;
#[cfg(feature = "tokio")]
mod tokio_broker;
#[cfg(feature = "tokio")]
mod tokio_forms;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use support::HELPER_ENV;
pub use support::in_own_process;

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

/// Reads exactly `n` bytes from `fd`.
pub fn read_n(fd: impl AsFd, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap())
        .read_exact(&mut got)
        .unwrap();
    got
}

/// Writes all of `data` to `fd`.
pub fn write_to(fd: impl AsFd, data: &[u8]) {
    use std::io::Write;
    std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap())
        .write_all(data)
        .unwrap();
}

/// Starts test `path` of this binary as a helper process with `stdin` as its descriptor 0.
pub fn spawn_helper(path: &str, stdin: OwnedFd) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, path)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// In a helper started by [`spawn_helper`]: its descriptor 0, duplicated (close-on-exec).
pub fn helper_stdin() -> OwnedFd {
    std::io::stdin().as_fd().try_clone_to_owned().unwrap()
}
