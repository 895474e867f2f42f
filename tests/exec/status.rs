//! Exit statuses, watchdogs and the quiet flood, with local programs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::procs::{eventually, gone, stop};
use crate::{PROCWIRE, exec};

fn code(args: &[&str]) -> (i32, String) {
    let out = exec(args);
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("procwire exec itself died: {:?}", out.status));
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn exit_codes_are_propagated() {
    assert_eq!(code(&["--", "true"]).0, 0);
    assert_eq!(code(&["--", "sh", "-c", "exit 3"]).0, 3);
    // 128 + the signal, as a shell reports it.
    assert_eq!(code(&["--", "sh", "-c", "kill -USR1 $$"]).0, 128 + 10);
    assert_eq!(code(&["--", "sh", "-c", "kill -TERM $$"]).0, 128 + 15);
    let (c, err) = code(&["--", "procwire-no-such-program"]);
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains("procwire-no-such-program") && err.contains("PATH"),
        "{err}"
    );
    // A file without execute permission (not /etc/hostname: some systems mark it executable).
    let dir = std::env::temp_dir().join(format!("procwire-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("not-executable");
    std::fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let (c, err) = code(&["--", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(c, 126, "{err}");
    assert!(err.contains("not-executable"), "{err}");
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["--bogus", "--", "true"][..],
        &["--wire", "tin-can", "--", "true"],
        &["--connect-timeout", "soon", "--", "true"],
        &["--connect-timeout", "-1", "--", "true"],
        &["--stderr", "loud", "--", "true"],
        // A prefix implies lines mode; beside an explicit other mode it is an error.
        &["--stderr", "raw", "--stderr-prefix", "x", "--", "true"],
        &["--stderr", "quiet", "--stderr-prefix", "x", "--", "true"],
        &[],
    ] {
        let (c, err) = code(args);
        assert_eq!(c, 2, "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?} says what is wrong");
    }
}

#[test]
fn connect_timeout_exits_124_and_names_the_watchdog() {
    let start = Instant::now();
    let (c, err) = code(&["--connect-timeout", "1", "--", "sleep", "30"]);
    let took = start.elapsed();
    assert_eq!(c, 124, "{err}");
    // At least the timeout; the upper bound only tells the watchdog from the 30 s sleep.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("connect watchdog") && err.contains("1s"),
        "{err}"
    );
    // It names the program and its pid.
    assert!(err.starts_with("procwire exec: sleep (pid "), "{err}");
}

#[test]
fn stall_timeout_exits_124_and_names_the_watchdog() {
    let start = Instant::now();
    // 3 s: room for a loaded machine to start sh and forward "hi" before the stall counts.
    let out = exec(&[
        "--stall-timeout",
        "3",
        "--",
        "sh",
        "-c",
        "echo hi; exec sleep 30",
    ]);
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert_eq!(out.stdout, b"hi\n");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(
        err.contains("stall watchdog") && err.contains("3s"),
        "{err}"
    );
}

#[test]
fn stdin_eof_half_closes_and_output_is_forwarded_until_eof() {
    for wire in ["pipes", "socketpair", "socketpairs"] {
        let mut child = Command::new(PROCWIRE)
            .args([
                "exec",
                "--wire",
                wire,
                "--",
                "sh",
                "-c",
                "cat; echo after-eof",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            stdin.write_all(&data).unwrap();
            data
        });
        let out = child.wait_with_output().unwrap();
        let data = feeder.join().unwrap();
        assert!(out.status.success(), "{wire}");
        let (echoed, tail) = out.stdout.split_at(data.len());
        assert!(echoed == data.as_slice(), "{wire}: bytes differ");
        assert_eq!(tail, b"after-eof\n", "{wire}");
    }
}

#[test]
fn stderr_modes() {
    let out = exec(&[
        "--stderr",
        "lines",
        "--stderr-prefix",
        "[r] ",
        "--",
        "sh",
        "-c",
        "printf 'a\\nb' >&2",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "[r] a\n[r] b\n");
    let out = exec(&["--", "sh", "-c", "printf '\\377partial' >&2"]);
    assert_eq!(
        out.stderr, b"\xffpartial",
        "raw is byte-exact and printed once"
    );
    // Quiet: nothing on success; the tail, once, on failure.
    let out = exec(&["--stderr", "quiet", "--", "sh", "-c", "echo noise >&2"]);
    assert!(out.status.success() && out.stderr.is_empty());
    let out = exec(&[
        "--stderr",
        "quiet",
        "--",
        "sh",
        "-c",
        "echo why >&2; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    // The tail, under a one-line header naming the program and how it ended.
    let err = String::from_utf8_lossy(&out.stderr);
    let (header, tail) = err.split_once('\n').unwrap();
    assert!(
        header.starts_with("procwire exec: sh (pid ")
            && header.ends_with("exited with status 4; its last stderr output:"),
        "{err}"
    );
    assert_eq!(tail, "why\n");
    // Killed by a watchdog: the header says so, then the watchdog's own line.
    let out = exec(&[
        "--stderr",
        "quiet",
        // 3 s: room for a loaded machine to start sh and let it say "stuck" first.
        "--connect-timeout",
        "3",
        "--",
        "sh",
        "-c",
        "echo stuck >&2; exec sleep 30",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].contains("killed by the connect watchdog"), "{err}");
    assert_eq!(lines[1], "stuck");
    assert!(lines[2].contains("connect watchdog:"), "{err}");
}

#[test]
fn a_prefix_implies_lines_mode_and_lines_drop_the_cr_of_crlf() {
    let out = exec(&[
        "--stderr-prefix",
        "[r] ",
        "--",
        "sh",
        "-c",
        "printf 'ssh says\\r\\nx\\ry\\r\\nlast' >&2",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "[r] ssh says\n[r] x\ry\n[r] last\n"
    );
}

#[test]
fn a_program_without_the_separator_gets_a_tip() {
    for args in [
        &["ssh", "-p", "22", "host"][..],
        &["--wire", "pipes", "ssh", "host"],
    ] {
        let (c, err) = code(args);
        assert_eq!(c, 2, "{args:?}: {err}");
        assert!(
            err.contains("after `--`") && err.contains("-- ssh [ARGS]..."),
            "{args:?}: {err}"
        );
    }
    // With `--` present the error is about the option itself, no tip.
    let (c, err) = code(&["--bogus", "--", "true"]);
    assert_eq!(c, 2, "{err}");
    assert!(!err.contains("after `--`"), "{err}");
    // Our own option after `--` is taken for the program: 127, with a tip.
    let (c, err) = code(&["--", "--wire", "pipes", "true"]);
    assert_eq!(c, 127, "{err}");
    assert!(err.contains("options go before `--`"), "{err}");
}

/// The peak resident set of process `pid` so far, in KiB (`VmHWM` in /proc/<pid>/status).
/// (Not `wait4`'s `ru_maxrss`: for a child started by vfork and exec that starts from the
/// parent's size, which here is the test binary's.)
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_quiet_stderr_flood_keeps_memory_under_64_mib() {
    let mut child = Command::new(PROCWIRE)
        .args([
            "exec",
            "--stderr",
            "quiet",
            "--",
            "sh",
            "-c",
            // It waits for our word before exiting, so procwire is surely alive when we read
            // its peak.
            "head -c 300000000 /dev/zero >&2; echo done; read _ || :",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "done\n");
    // The flood is over (the shell echoes after head exits) and procwire is still running.
    let peak_kib = peak_rss_kib(child.id());
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "quiet forwards nothing on success");
    println!("peak RSS {peak_kib} KiB");
    assert!(peak_kib < 64 << 10, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_directory_is_not_executable_and_exits_126() {
    let dir = std::env::temp_dir();
    let (c, err) = code(&["--", dir.to_str().unwrap()]);
    assert_eq!(c, 126, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}

/// Our stdout's reader goes away while the program, still alive, waits on an input that stays
/// open: exec must not wait for it without limit.
#[test]
fn a_closed_stdout_ends_exec_through_the_close_policy() {
    let mut child = Command::new(PROCWIRE)
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "echo one; read _; echo two; exec sleep 30",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "one\n");
    drop(stdout);
    // Only now does the program write again: "two" meets our closed stdout for certain.
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
    let start = Instant::now();
    let status = child.wait().unwrap();
    let took = start.elapsed();
    // The program writes once more after we stopped reading ("two": exec's forward fails on
    // our closed stdout), then writes nothing and waits, so only the close policy's SIGTERM
    // ends it. (A second write after that would die of SIGPIPE first, depending on timing.)
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    // A hang guard: without the close policy exec would wait for the 30 s sleep.
    assert!(took < Duration::from_secs(20), "{took:?}");
    drop(stdin);
}

/// `procwire exec` killed by a signal takes the program with it (PR_SET_PDEATHSIG), rather than
/// leaving, say, an ssh running on its own.
#[test]
fn the_program_does_not_outlive_a_killed_exec() {
    let mut wrapper = Command::new(PROCWIRE)
        .args(["exec", "--", "sleep", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", wrapper.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let program: u32 = loop {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = listed.split_whitespace().next() {
            break pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(wrapper.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    wrapper.wait().unwrap();
    // Gone, or a zombie waiting for whoever adopted it: either way no longer running.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{program}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        if matches!(state, None | Some("Z") | Some("X")) {
            break;
        }
        assert!(Instant::now() < deadline, "the program still runs: {stat}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_wire_values_are_the_librarys_topologies() {
    let out = Command::new(PROCWIRE)
        .args(["exec", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for t in procwire::child::Topology::ALL {
        assert!(help.contains(&format!("- {t}:")), "{t} listed: {help}");
    }
    assert!(help.contains("[default: socketpair]"), "{help}");
}

/// `sh` starts a 60 s sleeper, tells us its pid on stderr, and waits; the connect watchdog
/// kills it. Returns the sleeper's pid and whether it went with the shell (`expect`: whether we
/// think it should, which only decides how long to look: 20 s for a yes, 2 s for a no).
fn watchdog_takes_the_sleeper(wrapper: &[&str], group: &str, expect: bool) -> (u32, bool) {
    let mut argv: Vec<&str> = wrapper.to_vec();
    argv.extend([
        PROCWIRE,
        "exec",
        "--process-group",
        group,
        "--connect-timeout",
        "2",
        "--",
        "sh",
        "-c",
        "sleep 60 & echo $! >&2; wait",
    ]);
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    let sleeper: u32 = err.lines().next().unwrap().trim().parse().unwrap();
    let went = if expect {
        eventually(|| gone(sleeper))
    } else {
        std::thread::sleep(Duration::from_secs(2));
        gone(sleeper)
    };
    stop(sleeper);
    (sleeper, went)
}

/// Issue 11, defect 13: a watchdog's kill reaches what the program started, not only the
/// program, when it leads a process group: always with `--process-group always`, and by
/// default (`auto`) when we have no controlling terminal (`setsid` takes it away here).
#[test]
fn a_watchdog_kill_reaches_the_programs_descendants() {
    let (pid, went) = watchdog_takes_the_sleeper(&[], "always", true);
    assert!(went, "always: sleeper {pid} outlived the watchdog");
    let (pid, went) = watchdog_takes_the_sleeper(&["setsid", "--wait"], "auto", true);
    assert!(
        went,
        "auto without a terminal: sleeper {pid} outlived the watchdog"
    );
    // The control: without a group only the shell is signalled, and its sleeper lives on.
    let (pid, went) = watchdog_takes_the_sleeper(&[], "never", false);
    assert!(!went, "never: sleeper {pid} went with the shell");
}
