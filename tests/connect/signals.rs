//! SIGINT and SIGTERM are forwarded to both programs; neither outlives procwire, even when
//! procwire is killed outright.

use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, Signal, kill_process};

use crate::support::procs::{eventually, gone, stop};
use crate::{PROCWIRE, TempDir, WIRES};

/// Starts procwire with two programs that write their pid to a file, then sleep; returns
/// procwire and the two pids once both have been written.
fn start_sleepers(dir: &TempDir, wire: &str) -> (Child, [u32; 2]) {
    let script = |f: &str| {
        format!(
            "echo $$ > {}.tmp && mv {0}.tmp {0}; exec sleep 1000",
            dir.file(f)
        )
    };
    let (a, b) = (script("a"), script("b"));
    let procwire = Command::new(PROCWIRE)
        .args([
            "connect", "--wire", wire, "--", "sh", "-c", &a, "--", "sh", "-c", &b,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |f: &str| {
        std::fs::read_to_string(dir.file(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    assert!(
        eventually(|| read("a").is_some() && read("b").is_some()),
        "the programs never started"
    );
    (procwire, [read("a").unwrap(), read("b").unwrap()])
}

fn signal(pid: u32, sig: Signal) {
    kill_process(Pid::from_raw(pid as i32).unwrap(), sig).unwrap();
}

#[test]
fn sigint_and_sigterm_are_forwarded_and_nothing_is_left_running() {
    for (sig, n) in [(Signal::TERM, 15), (Signal::INT, 2)] {
        let dir = TempDir::new(&format!("sig{n}"));
        let (procwire, pids) = start_sleepers(&dir, "socketpair");
        signal(procwire.id(), sig);
        let out = crate::support::bounded::spawn(move || procwire.wait_with_output().unwrap())
            .join("procwire after the signal");
        let err = String::from_utf8_lossy(&out.stderr);
        // Both programs died of the forwarded signal; procwire reports the first.
        assert_eq!(out.status.code(), Some(128 + n), "{err}");
        assert!(err.contains(&format!("killed by signal {n}")), "{err}");
        for pid in pids {
            assert!(
                gone(pid),
                "pid {pid} still running after signal {n} to procwire"
            );
        }
    }
}

#[test]
fn neither_program_outlives_a_killed_procwire() {
    let dir = TempDir::new("sigkill");
    let (mut procwire, pids) = start_sleepers(&dir, "socketpair");
    // SIGKILL cannot be forwarded: PR_SET_PDEATHSIG sends both programs SIGTERM.
    signal(procwire.id(), Signal::KILL);
    procwire.wait().unwrap();
    let both_gone = eventually(|| pids.iter().all(|&p| gone(p)));
    for pid in pids {
        stop(pid);
    }
    assert!(both_gone, "a program outlived procwire");
}

/// Each program holds its end as fd 0 and 1, its stderr as fd 2, and nothing else of ours
/// (neither our copies of the ends, nor the other program's end, nor the signal thread's
/// descriptors) besides what the environment leaked into the test itself. Whatever procwire
/// makes is a socket, a pipe or an anonymous inode; a file by path (`sleep` reading
/// `/etc/ld.so.cache` while it starts) is the program's own.
#[test]
fn programs_hold_only_their_stdio() {
    let want = crate::support::expected_child_fds();
    for wire in WIRES {
        let dir = TempDir::new(&format!("fds-{wire}"));
        let (procwire, pids) = start_sleepers(&dir, wire);
        let seen = pids.map(|pid| {
            let mut theirs = Vec::new();
            for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
                let entry = entry.unwrap();
                let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
                // A descriptor closed since the listing was read is gone: nothing to check.
                if let Ok(link) = std::fs::read_link(entry.path()) {
                    if want.contains(&fd) || !link.starts_with("/") {
                        theirs.push((fd, link));
                    }
                }
            }
            theirs.sort();
            theirs
        });
        signal(procwire.id(), Signal::TERM);
        crate::support::bounded::spawn(move || procwire.wait_with_output().unwrap())
            .join("procwire after SIGTERM");
        for (fds, who) in seen.iter().zip(["A", "B"]) {
            let numbers: Vec<i32> = fds.iter().map(|(fd, _)| *fd).collect();
            assert_eq!(numbers, want, "{wire}: {who}'s descriptors: {fds:?}");
        }
    }
}
