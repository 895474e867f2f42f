//! The stderr side channel with real children: floods, descendants holding stderr open, slow
//! subscribers, and byte-exact forwarding.

use std::io::{self, Read};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use procwire::child::{Command, Topology};
use procwire::stderr::{Config, Forward, Line, Settings};

use crate::support::{HELPER_OK, SharedSink, assert_helper_ok, in_helper, rerun};
use crate::{read_line, stop, timed};

const FLOOD: u64 = 256 << 20;

/// The largest resident set this process has had, in KiB (`VmHWM` in /proc/self/status).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// In a helper process (so its peak RSS is its own): a child floods 256 MiB to stderr, then
/// writes a sentinel to stdout. The sentinel must arrive, the tail must hold the last bytes,
/// and the peak RSS must stay small.
fn flood(script: &str, forward: Forward) {
    let (tx, rx) = sync_channel::<Line>(16);
    let mut child = Command::from_argv(["sh", "-c", script])
        .unwrap()
        .topology(Topology::SocketPair)
        .stderr(
            Settings::from(Config::default().forward(forward))
                .sink(io::sink())
                .subscriber(tx),
        )
        .spawn()
        .unwrap();
    let mut out = String::new();
    child.read_to_string(&mut out).unwrap();
    assert_eq!(out, "sentinel\n");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let report = exit.stderr().unwrap();
    assert_eq!(report.bytes, FLOOD + 3, "every stderr byte was drained");
    assert_eq!(report.tail.len(), 64 << 10);
    assert!(
        report.tail.ends_with(b"END"),
        "the tail holds the last bytes"
    );
    drop(rx);
    let peak = peak_rss_kib();
    println!("peak RSS {peak} KiB");
    assert!(
        peak < 64 << 10,
        "peak RSS {peak} KiB: memory was not bounded"
    );
    println!("{HELPER_OK}");
}

#[test]
fn flood_without_newlines_keeps_memory_bounded() {
    if !in_helper() {
        let (out, took) =
            timed(|| rerun("stderr::flood_without_newlines_keeps_memory_bounded", &[]));
        assert_helper_ok(&out);
        println!("{} in {took:?}", String::from_utf8_lossy(&out.stdout));
        return;
    }
    flood(
        &format!("head -c {FLOOD} /dev/zero >&2; printf END >&2; echo sentinel"),
        Forward::Raw,
    );
}

#[test]
fn flood_of_lines_keeps_memory_bounded() {
    if !in_helper() {
        let out = rerun("stderr::flood_of_lines_keeps_memory_bounded", &[]);
        assert_helper_ok(&out);
        return;
    }
    flood(
        &format!(
            "yes 'warning: a line of stderr' | head -c {FLOOD} >&2; printf END >&2; echo sentinel"
        ),
        Forward::Lines {
            prefix: b"remote: ".to_vec(),
        },
    );
}

#[test]
fn a_descendant_holding_stderr_open_does_not_hang_wait() {
    // The background sleep inherits stderr and outlives the shell by 30 s; the shell prints
    // its pid (so the test can end it) and "hi".
    let mut child =
        Command::from_argv(["sh", "-c", "sleep 30 >&2 & echo $!; echo hi; echo bye >&2"])
            .unwrap()
            .stderr(Settings::new().sink(io::sink()))
            .spawn()
            .unwrap();
    let sleeper: u32 = read_line(&mut child).trim().parse().unwrap();
    let mut hi = [0u8; 3];
    child.read_exact(&mut hi).unwrap();
    assert_eq!(&hi, b"hi\n");
    let (exit, took) = timed(|| child.wait().unwrap());
    stop(sleeper);
    assert!(exit.success());
    // A hang-guard: a wait that waited for the descendant's EOF would take 30 s.
    assert!(took < Duration::from_secs(20), "wait took {took:?}");
    let report = exit.stderr().unwrap();
    assert_eq!(
        report.tail, b"bye\n",
        "bytes queued before the reap are delivered"
    );
    assert!(!report.eof, "stderr is still open in the descendant");
}

#[test]
fn a_slow_subscriber_never_blocks_the_drain() {
    const LINES: usize = 5000;
    let (tx, rx) = sync_channel::<Line>(8);
    let consumer = std::thread::spawn(move || {
        let mut received = 0;
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    assert!(line.bytes.starts_with(b"line "));
                    received += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(RecvTimeoutError::Disconnected) => return received,
                Err(RecvTimeoutError::Timeout) => panic!("the sender was never dropped"),
            }
        }
    });
    let script =
        format!("i=0; while [ $i -lt {LINES} ]; do echo \"line $i\"; i=$((i+1)); done >&2");
    let child = Command::from_argv(["sh", "-c", &script])
        .unwrap()
        .stderr(Settings::from(Config::default().forward(Forward::Quiet)).subscriber(tx))
        .spawn()
        .unwrap();
    let (exit, took) = timed(|| child.wait().unwrap());
    // A hang-guard: blocking on the subscriber would take 10 ms a line, 50 s in all.
    assert!(took < Duration::from_secs(20), "{took:?}");
    let (lines, dropped) = {
        let r = exit.stderr().unwrap();
        (r.lines, r.dropped)
    };
    drop(exit);
    let received = consumer.join().unwrap() as u64;
    assert_eq!(lines, LINES as u64);
    assert!(
        dropped > 0,
        "a 10 ms consumer cannot keep up with a shell loop"
    );
    assert_eq!(dropped, lines - received, "dropped = produced - received");
}

#[test]
fn raw_mode_forwards_non_utf8_and_escapes_byte_exact_once() {
    let sink = SharedSink::default();
    let child = Command::from_argv([
        "sh",
        "-c",
        r"printf '\377\376\033[31mred\033[0m\r\nPassword: ' >&2; sleep 0.1; printf 'x' >&2",
    ])
    .unwrap()
    .stderr(Settings::new().sink(sink.clone()))
    .spawn()
    .unwrap();
    let exit = child.wait().unwrap();
    let want: &[u8] = b"\xff\xfe\x1b[31mred\x1b[0m\r\nPassword: x";
    assert_eq!(sink.bytes(), want, "forwarded once, byte for byte");
    assert_eq!(exit.stderr_tail(), want);
}

#[test]
fn lines_mode_prefixes_each_line() {
    let sink = SharedSink::default();
    let child = Command::from_argv(["sh", "-c", "printf 'one\\ntwo\\nthree' >&2"])
        .unwrap()
        .stderr(
            Settings::from(Config::default().forward(Forward::Lines {
                prefix: b"[ssh] ".to_vec(),
            }))
            .sink(sink.clone()),
        )
        .spawn()
        .unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success());
    assert_eq!(
        String::from_utf8(sink.bytes()).unwrap(),
        "[ssh] one\n[ssh] two\n[ssh] three\n"
    );
}

#[test]
fn quiet_mode_forwards_nothing_but_keeps_the_tail() {
    let sink = SharedSink::default();
    let child = Command::from_argv(["sh", "-c", "echo 'fatal: no such repo' >&2; exit 2"])
        .unwrap()
        .stderr(Settings::from(Config::default().forward(Forward::Quiet)).sink(sink.clone()))
        .spawn()
        .unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(2));
    assert!(sink.bytes().is_empty());
    assert_eq!(exit.stderr_tail(), b"fatal: no such repo\n");
}
