//! Exit statuses (pipefail-style), spawn failures, `--timeout` and usage errors.

use std::time::{Duration, Instant};

use crate::{TempDir, WIRES, code};

#[test]
fn exit_status_is_the_first_failure() {
    // (A, B, status, who failed first): each program is `sh -c SCRIPT`.
    let cases: &[(&str, &str, i32, &str)] = &[
        ("true", "true", 0, ""),
        ("exit 3", "cat", 3, "A"),
        ("cat", "exit 4", 4, "B"),
        ("kill -USR1 $$", "cat", 128 + 10, "A"),
        ("cat", "kill -TERM $$", 128 + 15, "B"),
        // A exits 0 first: B's later failure is the first failure.
        ("true", "cat; exit 7", 7, "B"),
    ];
    // Both fail, the second only after the first one's exit gave it EOF. On a socketpair that
    // EOF comes from procwire's shutdown after it has reaped the first, so the order is
    // certain; on pipes it comes from the kernel at the first one's exit, and the two waiter
    // threads may then report in either order.
    let both_fail: &[(&str, &str, i32, &str)] = &[
        ("exit 5", "cat; exit 6", 5, "A"),
        ("cat; exit 6", "exit 5", 5, "B"),
    ];
    for wire in WIRES {
        let extra = if wire == "socketpair" { both_fail } else { &[] };
        for &(a, b, want, who) in cases.iter().chain(extra) {
            let (c, err) = code(&["--wire", wire, "--", "sh", "-c", a, "--", "sh", "-c", b]);
            assert_eq!(c, want, "{wire}: A {a:?}, B {b:?}: {err}");
            if want == 0 {
                assert_eq!(err, "", "{wire}: nothing to say");
            } else {
                // One line, naming the program that failed first.
                assert_eq!(err.lines().count(), 1, "{wire}: {err}");
                let named = format!("procwire connect: {who} (sh, pid ");
                assert!(err.starts_with(&named), "{wire}: A {a:?}, B {b:?}: {err}");
            }
        }
    }
}

#[test]
fn programs_not_found_or_not_executable() {
    let (c, err) = code(&["--", "procwire-no-such-program", "--", "cat"]);
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains("A: ") && err.contains("procwire-no-such-program"),
        "{err}"
    );
    // B missing while A is already running (and would run for ever): A is ended, not waited
    // for, and the status is still B's 127.
    let (c, err) = code(&["--", "sleep", "1000", "--", "procwire-no-such-program"]);
    assert_eq!(c, 127, "{err}");
    assert!(err.contains("B: ") && err.contains("PATH"), "{err}");

    let dir = TempDir::new("noexec");
    let file = dir.file("not-executable");
    std::fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let (c, err) = code(&["--", "cat", "--", &file]);
    assert_eq!(c, 126, "{err}");
    assert!(
        err.contains("B: ") && err.contains("not-executable"),
        "{err}"
    );
}

#[test]
fn timeout_kills_both_and_exits_124() {
    let start = Instant::now();
    let (c, err) = code(&[
        "--timeout",
        "1",
        "--",
        "sleep",
        "1000",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(c, 124, "{err}");
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(err.contains("--timeout 1s ran out"), "{err}");
    assert!(
        err.contains("A (sleep, pid ") && err.contains("B (sleep, pid "),
        "{err}"
    );
    assert!(err.contains("signal 15"), "{err}");
}

#[test]
fn timeout_escalates_to_sigkill() {
    // B ignores SIGTERM (the disposition survives exec): the close policy's SIGKILL ends it.
    // The timeout leaves sh ample time to set the trap, even on a loaded machine.
    let (c, err) = code(&[
        "--timeout",
        "5s",
        "--",
        "sleep",
        "1000",
        "--",
        "sh",
        "-c",
        "trap '' TERM; exec sleep 1000",
    ]);
    assert_eq!(c, 124, "{err}");
    assert!(
        err.contains("B (sh, pid ") && err.contains("killed by signal 9"),
        "{err}"
    );
}

#[test]
fn a_timeout_that_does_not_run_out_changes_nothing() {
    let (c, err) = code(&["--timeout", "1h", "--", "sh", "-c", "exit 3", "--", "cat"]);
    assert_eq!(c, 3, "{err}");
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let cases: &[(&[&str], &str)] = &[
        (&["--", "cat"], "put `--` between them"),
        (&["--", "cat", "--"], "CMD_B is empty"),
        (&["--", "--", "cat"], "CMD_A is empty"),
        (&["cat", "cat"], "procwire connect [OPTIONS] -- cat"),
        (&[], "Usage"),
        (&["--wire", "tin-can", "--", "cat", "--", "cat"], "tin-can"),
        (&["--timeout", "soon", "--", "cat", "--", "cat"], "soon"),
        (&["--timeout", "-1", "--", "cat", "--", "cat"], "negative"),
        (&["--stderr", "loud", "--", "cat", "--", "cat"], "loud"),
        (
            &["--stderr", "raw", "--name-a", "x", "--", "cat", "--", "cat"],
            "--stderr lines",
        ),
    ];
    for (args, says) in cases {
        let (c, err) = code(args);
        assert_eq!(c, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    }
}
