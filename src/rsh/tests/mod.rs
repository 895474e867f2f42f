//! The tests of [`rsh`](super), one file per part, plus the conflict checks against a real
//! `ssh -G` and the POSIX quoting against a real `sh`.

use super::*;

mod conflicts;
mod remote;
mod sh;
mod split;
mod ssh;

pub(super) fn words(command: &str) -> Vec<String> {
    match split(command) {
        Ok(w) => w,
        Err(e) => panic!("split({command:?}) failed: {e}"),
    }
}

pub(super) fn argv(ssh: Ssh) -> Vec<String> {
    match ssh.argv() {
        Ok(a) => a
            .into_iter()
            .map(|w| w.into_string().expect("test argv is UTF-8"))
            .collect(),
        Err(e) => panic!("argv() failed: {e}"),
    }
}

pub(super) fn refused(ssh: Ssh) -> RshError {
    match ssh.argv() {
        Ok(a) => panic!("argv() should have failed, gave {a:?}"),
        Err(e) => e,
    }
}
