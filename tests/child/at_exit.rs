//! Reading ends at the child's exit, not at EOF, when asked: a descendant holding the child's
//! stdout must not keep the reader (issue 11, defect 4).

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use procwire::child::{Command, StderrTo, Topology};

use crate::stop;

/// `sh` starts a 60 s sleeper that inherits its stdout, prints the sleeper's pid and `hi`, and
/// exits. Returns what was read, and the sleeper's pid.
fn read_past_a_sleeper(topology: Topology, with_output: bool) -> (String, u32) {
    let mut child = Command::from_argv(["sh", "-c", "sleep 60 & echo $!; echo hi"])
        .unwrap()
        .topology(topology)
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let out = if with_output {
        let output = child.wait_with_output().unwrap();
        assert!(output.exit.success(), "{topology}: {}", output.exit);
        String::from_utf8(output.stdout).unwrap()
    } else {
        child.reader().end_at_exit(true);
        let mut out = String::new();
        child.read_to_string(&mut out).unwrap();
        assert!(child.wait().unwrap().success(), "{topology}");
        out
    };
    let (pid, rest) = out.split_once('\n').unwrap();
    (rest.to_string(), pid.parse().unwrap())
}

#[test]
fn end_at_exit_returns_while_a_descendant_holds_stdout() {
    for topology in Topology::ALL {
        for with_output in [false, true] {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || tx.send(read_past_a_sleeper(topology, with_output)));
            // A hang-guard, not a timing: the sleeper holds stdout for 60 s, so a read that
            // waits for EOF cannot be back within half of that.
            let (rest, sleeper) = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "{topology}, wait_with_output {with_output}: the read waited for the 60 s \
                     sleeper's EOF"
                    )
                });
            stop(sleeper);
            assert_eq!(rest, "hi\n", "{topology}");
        }
    }
}

#[test]
fn end_at_exit_reads_everything_the_child_wrote() {
    // 1 MiB, more than any wire holds: the reader must keep up while the child writes, then
    // get the rest after the exit.
    for topology in Topology::ALL {
        let child = Command::from_argv(["head", "-c", "1048576", "/dev/zero"])
            .unwrap()
            .topology(topology)
            .stderr(StderrTo::Null)
            .spawn()
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.stdout.len(), 1 << 20, "{topology}");
        assert!(output.exit.success());
    }
}

#[test]
fn wait_with_output_keeps_the_stderr_tail() {
    let child = Command::from_argv(["sh", "-c", "echo out; echo err >&2; exit 3"])
        .unwrap()
        .stderr(procwire::stderr::Settings::new().sink(std::io::sink()))
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.exit.code(), Some(3));
    assert_eq!(output.exit.stderr_tail(), b"err\n");
}
