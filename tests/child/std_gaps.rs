//! What users expect of anything named `Command` and `Child` (issue 11's gaps to
//! `std::process`): the environment, `argv[0]`, user and group, a stdin of one's own; on the
//! child, signals, bounded waits and detaching. (`Writer` as a descriptor: `fds.rs`.)

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use procwire::child::{Command, StderrTo, Topology};

use crate::{eventually, exists, gone, quiet, stop};

fn output_of(cmd: &mut Command) -> String {
    let output = cmd
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(output.exit.success(), "{}", output.exit);
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn env_clear_leaves_only_what_is_set_after_it() {
    // Something of ours to clear (set for the child only), and our HOME.
    let got = output_of(
        Command::new("sh")
            .args(["-c", "echo \"$ONLY:${PROCWIRE_GAPS-unset}:${HOME-unset}\""])
            .env("PROCWIRE_GAPS", "set")
            .env_clear()
            .env("ONLY", "1"),
    );
    assert_eq!(got, "1:unset:unset\n");
}

#[test]
fn arg0_is_what_the_child_sees_as_its_name() {
    let got = output_of(
        Command::new("cat")
            .arg0("procwire-named")
            .arg("/proc/self/cmdline"),
    );
    assert_eq!(got, "procwire-named\0/proc/self/cmdline\0");
}

#[test]
fn uid_and_gid_are_applied() {
    let me = rustix::process::getuid().as_raw();
    let mut cmd = Command::from_argv(["sh", "-c", "id -u; id -g"]).unwrap();
    if me == 0 {
        // Root may become nobody.
        let got = output_of(cmd.uid(65534).gid(65534));
        assert_eq!(got, "65534\n65534\n");
    } else {
        // Anyone else may not become another user: the spawn says so.
        let other = if me == 65534 { 65533 } else { 65534 };
        let e = cmd.uid(other).spawn().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    }
}

#[test]
fn stdin_can_come_from_elsewhere_while_stdout_is_on_the_wire() {
    for topology in Topology::ALL {
        // /dev/null: cat reads EOF at once; our writer starts closed.
        let mut child = Command::new("cat")
            .topology(topology)
            .stdin(Stdio::null())
            .stderr(StderrTo::Null)
            .spawn()
            .unwrap();
        assert!(child.writer().is_closed(), "{topology}");
        let e = child.write(b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{topology}");
        let output = child.wait_with_output().unwrap();
        assert!(
            output.stdout.is_empty() && output.exit.success(),
            "{topology}"
        );

        // A file.
        let path =
            std::env::temp_dir().join(format!("procwire-stdin-{}-{topology}", std::process::id()));
        std::fs::write(&path, b"from a file\n").unwrap();
        let got = output_of(
            Command::new("cat")
                .topology(topology)
                .stdin(std::fs::File::open(&path).unwrap()),
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, "from a file\n", "{topology}");
    }
}

#[test]
fn any_signal_can_be_sent_and_bad_numbers_are_refused() {
    let mut child = Command::from_argv([
        "sh",
        "-c",
        "trap 'exit 7' HUP; echo ready; while :; do sleep 0.05; done",
    ])
    .unwrap()
    .stderr(StderrTo::Null)
    .spawn()
    .unwrap();
    let mut ready = [0u8; 6];
    child.read_exact(&mut ready).unwrap();
    for bad in [0, -1, 9999] {
        let e = child.signal(bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad}: {e}");
    }
    child.signal(libc::SIGHUP).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(7), "{exit}");
}

#[test]
fn wait_timeout_and_kill_follow_std() {
    let mut child = quiet(&["sleep", "30"]);
    assert!(
        child
            .wait_timeout(Duration::from_millis(20))
            .unwrap()
            .is_none(),
        "sleep 30 is still running"
    );
    child.kill().unwrap();
    // Generous: a hang-guard for the reap of a killed sleep.
    let status = child.wait_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status.unwrap()),
        Some(9)
    );
    // Killing a reaped child is a no-op, not an error; wait returns the same ending.
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
}

#[test]
fn a_detached_child_runs_on_with_its_wire_and_is_reaped_in_the_background() {
    let child = quiet(&["sh", "-c", "read x; echo got $x"]);
    let pid = child.id();
    let (mut reader, mut writer) = child.detach();
    // Not killed when the handle went: it still answers on the wire.
    writer.write_all(b"hi\n").unwrap();
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "got hi\n");
    // Nobody waits for it here, yet it does not stay a zombie.
    assert!(
        eventually(|| !exists(pid)),
        "the detached child {pid} was not reaped"
    );

    // And one that would run long is not killed by the drop of its handle.
    let child = quiet(&["sleep", "30"]);
    let pid = child.id();
    let (reader, writer) = child.detach();
    drop((reader, writer));
    let alive = !gone(pid);
    stop(pid);
    assert!(alive, "a detached child was killed");
    assert!(
        eventually(|| !exists(pid)),
        "the detached child {pid} was not reaped"
    );
}
