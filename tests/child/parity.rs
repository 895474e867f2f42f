//! The parity matrix (issue 14): the same child programs through the blocking child
//! (`Command::spawn`, a drain thread) and the async one (`Command::spawn_async`, a drain task),
//! compared on everything they report: forwarded stderr bytes, tails, counts, the lines a
//! deterministic subscriber took and how many it refused, stdout, exit reports and error kinds.
//! Each program is read three ways through both forms: to EOF, with the end-at-exit rule
//! (`Reader::end_at_exit`), and by `wait_with_output`.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use procwire::child::{Command, Exit, TimedOut, Topology, Watchdog};
use procwire::stderr::{Config, Forward, Line, Settings, Subscriber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A sink both drivers write to, read back after.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Takes the first `cap` lines and refuses every later one: what it takes and how many it
/// drops depend on the stream only, not on timing.
#[derive(Clone)]
struct FirstLines {
    got: Arc<Mutex<Vec<Line>>>,
    cap: usize,
}

impl Subscriber for FirstLines {
    fn try_send(&mut self, line: Line) -> bool {
        let mut got = self.got.lock().unwrap();
        if got.len() < self.cap {
            got.push(line);
            true
        } else {
            false
        }
    }
}

/// Everything one run reports, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: Vec<u8>,
    read_error: Option<io::ErrorKind>,
    wait_error: Option<io::ErrorKind>,
    watchdog: Option<Watchdog>,
    code: Option<i32>,
    signal: Option<i32>,
    forwarded: Vec<u8>,
    tail: Vec<u8>,
    bytes: u64,
    lines: u64,
    dropped: u64,
    eof: bool,
    joined: bool,
    subscribed: Vec<Line>,
}

/// How a run reads the child's stdout and waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// `read_to_end`, then `wait`.
    ToEnd,
    /// The same with `Reader::end_at_exit(true)`.
    EndAtExit,
    /// `wait_with_output` (a failure loses the stdout read so far, in both forms).
    WithOutput,
}

impl How {
    const ALL: [How; 3] = [How::ToEnd, How::EndAtExit, How::WithOutput];
}

/// One row of the matrix: the program and how its command is set up.
struct Case {
    script: String,
    config: Config,
    cap: usize,
    set: fn(&mut Command),
}

impl Case {
    fn new(script: &str) -> Case {
        Case {
            script: script.to_owned(),
            config: Config::default(),
            cap: usize::MAX,
            set: |_| {},
        }
    }

    /// A fresh command, its sink and its subscriber's store.
    fn command(&self, topology: Topology) -> (Command, Buf, Arc<Mutex<Vec<Line>>>) {
        let sink = Buf::default();
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &self.script]).topology(topology).stderr(
            Settings::new()
                .config(self.config.clone())
                .sink(sink.clone())
                .subscriber(FirstLines {
                    got: got.clone(),
                    cap: self.cap,
                })
                .grace(Duration::from_secs(5)),
        );
        (self.set)(&mut cmd);
        (cmd, sink, got)
    }

    fn run_sync(&self, topology: Topology, how: How) -> Outcome {
        let (mut cmd, sink, got) = self.command(topology);
        let mut child = cmd.spawn().unwrap();
        if how == How::WithOutput {
            return match child.wait_with_output() {
                Ok(o) => outcome(o.stdout, None, Ok(o.exit), &sink, &got),
                Err(e) => outcome(Vec::new(), None, Err(e), &sink, &got),
            };
        }
        child.reader().end_at_exit(how == How::EndAtExit);
        child.close_input().unwrap();
        let mut stdout = Vec::new();
        let read = child.read_to_end(&mut stdout).err().map(|e| e.kind());
        let waited = child.wait();
        outcome(stdout, read, waited, &sink, &got)
    }

    fn run_async(&self, topology: Topology, how: How) -> Outcome {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut cmd, sink, got) = self.command(topology);
            let mut child = cmd.spawn_async().unwrap();
            if how == How::WithOutput {
                return match child.wait_with_output().await {
                    Ok(o) => outcome(o.stdout, None, Ok(o.exit), &sink, &got),
                    Err(e) => outcome(Vec::new(), None, Err(e), &sink, &got),
                };
            }
            child.reader().end_at_exit(how == How::EndAtExit);
            child.shutdown().await.unwrap();
            let mut stdout = Vec::new();
            let read = child.read_to_end(&mut stdout).await.err().map(|e| e.kind());
            let waited = child.wait().await;
            outcome(stdout, read, waited, &sink, &got)
        })
    }

    /// Runs both forms on every topology, each read every way, and asserts the two forms
    /// report the same; returns the first read to EOF.
    fn check(&self) -> Outcome {
        let mut first = None;
        for topology in Topology::ALL {
            for how in How::ALL {
                let sync = self.run_sync(topology, how);
                let tokio = self.run_async(topology, how);
                assert_eq!(
                    sync, tokio,
                    "{} on {topology}, {how:?}: sync vs async",
                    self.script
                );
                if how == How::ToEnd {
                    first.get_or_insert(sync);
                }
            }
        }
        first.unwrap()
    }
}

fn outcome(
    stdout: Vec<u8>,
    read_error: Option<io::ErrorKind>,
    waited: io::Result<Exit>,
    sink: &Buf,
    got: &Mutex<Vec<Line>>,
) -> Outcome {
    let (exit, wait_error, watchdog) = match &waited {
        Ok(exit) => (exit, None, None),
        Err(e) => {
            let t = TimedOut::of(e).unwrap_or_else(|| panic!("wait failed: {e}"));
            (t.exit().unwrap(), Some(e.kind()), Some(t.watchdog()))
        }
    };
    let report = exit.stderr().unwrap();
    assert!(report.sink_error.is_none() && report.read_error.is_none());
    Outcome {
        stdout,
        read_error,
        wait_error,
        watchdog,
        code: exit.code(),
        signal: exit.signal(),
        forwarded: sink.0.lock().unwrap().clone(),
        tail: report.tail.clone(),
        bytes: report.bytes,
        lines: report.lines,
        dropped: report.dropped,
        eof: report.eof,
        joined: report.joined,
        subscribed: got.lock().unwrap().clone(),
    }
}

#[test]
fn a_flood_with_newlines_forwarded_as_lines() {
    let mut case = Case::new("seq 1 20000 >&2; echo out");
    case.config = Config::default().tail(1000).forward(Forward::Lines {
        prefix: b"[c] ".to_vec(),
    });
    case.cap = 100;
    let o = case.check();
    assert_eq!(o.stdout, b"out\n");
    assert_eq!(
        (o.lines, o.dropped, o.subscribed.len()),
        (20000, 19900, 100)
    );
    assert!(o.forwarded.starts_with(b"[c] 1\n[c] 2\n") && o.forwarded.ends_with(b"[c] 20000\n"));
    assert!(o.tail.ends_with(b"19999\n20000\n") && o.tail.len() == 1000);
    assert!(o.eof && o.joined);
}

#[test]
fn a_flood_without_newlines_is_cut_and_forwarded_raw() {
    let mut case = Case::new("head -c 300000 /dev/zero | tr '\\0' x >&2");
    case.config = Config::default().tail(4096).max_line(1000);
    case.cap = 7;
    let o = case.check();
    assert_eq!(o.forwarded.len(), 300_000);
    assert_eq!((o.bytes, o.lines, o.dropped), (300_000, 300, 293));
    assert!(
        o.subscribed
            .iter()
            .all(|l| l.partial && l.bytes.len() == 1000)
    );
    assert_eq!(o.tail, vec![b'x'; 4096]);
}

#[test]
fn non_utf8_crlf_and_a_partial_last_line() {
    let mut case = Case::new("printf '\\377\\376 bad\\r\\nok\\nno newline' >&2");
    case.config = Config::default().forward(Forward::Lines {
        prefix: b"> ".to_vec(),
    });
    let o = case.check();
    assert_eq!(o.forwarded, b"> \xff\xfe bad\n> ok\n> no newline\n");
    assert_eq!(o.tail, b"\xff\xfe bad\r\nok\nno newline");
    let lines: Vec<&[u8]> = o.subscribed.iter().map(|l| &l.bytes[..]).collect();
    assert_eq!(lines, [&b"\xff\xfe bad\r"[..], b"ok", b"no newline"]);
}

#[test]
fn a_descendant_holding_stderr_does_not_hold_up_wait() {
    // The background sleep keeps the side channel open long after the shell exits.
    let case = Case::new("echo before >&2; sleep 5 >/dev/null </dev/null & echo after >&2");
    let o = case.check();
    assert_eq!(o.tail, b"before\nafter\n");
    assert_eq!(o.code, Some(0));
    assert!(!o.eof && o.joined);
}

#[test]
fn exit_codes_and_signals() {
    let o = Case::new("echo bye >&2; exit 3").check();
    assert_eq!((o.code, o.signal, o.wait_error), (Some(3), None, None));
    let o = Case::new("kill -9 $$").check();
    assert_eq!((o.code, o.signal), (None, Some(9)));
    assert!(o.eof);
}

#[test]
fn a_silent_child_under_the_connect_watchdog() {
    let mut case = Case::new("echo waiting >&2; exec sleep 30");
    case.set = |c| {
        c.connect_timeout(Duration::from_millis(300));
    };
    let o = case.check();
    assert_eq!(o.read_error, Some(io::ErrorKind::TimedOut));
    assert_eq!(o.wait_error, Some(io::ErrorKind::TimedOut));
    assert_eq!(o.watchdog, Some(Watchdog::Connect));
    assert_eq!(o.signal, Some(libc_sigterm()));
    assert_eq!(o.tail, b"waiting\n");
}

#[test]
fn a_stalled_child_under_the_stall_watchdog() {
    let mut case = Case::new("echo hello; exec sleep 30");
    case.set = |c| {
        c.stall_timeout(Duration::from_millis(300));
    };
    let o = case.check();
    assert_eq!(o.stdout, b"hello\n");
    assert_eq!(o.read_error, Some(io::ErrorKind::TimedOut));
    assert_eq!(o.watchdog, Some(Watchdog::Stall));
    assert_eq!(o.signal, Some(libc_sigterm()));
}

#[test]
fn a_descendant_holding_stdout_ends_at_the_exit_identically() {
    for topology in Topology::ALL {
        for how in [How::EndAtExit, How::WithOutput] {
            let mut seen = Vec::new();
            for asynchronous in [false, true] {
                // The sleeper inherits stdout and holds it for 60 s; the pid file ends it when
                // dropped. The shell lets go of stderr before it forks, so the sleeper never
                // holds stderr, not even between its fork and its exec (stderr's EOF is
                // compared, and a fork that still held it would make that a race).
                let pids = crate::PidFile::new("parity-stdout-holder");
                let case = Case::new(&format!(
                    "echo bye >&2; exec 2>/dev/null; sleep 60 </dev/null & echo $! >{}; echo hi",
                    pids.path()
                ));
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let o = match asynchronous {
                        false => case.run_sync(topology, how),
                        true => case.run_async(topology, how),
                    };
                    // The receiver may have given up (the hang-guard): nothing to report then.
                    let _ = tx.send(o);
                });
                // A hang-guard, not a timing: a read that waits for EOF waits for the sleeper.
                let o = rx
                    .recv_timeout(Duration::from_secs(30))
                    .unwrap_or_else(|_| {
                        panic!("{topology}, {how:?}, async {asynchronous}: waited for the sleeper")
                    });
                drop(pids);
                seen.push(o);
            }
            assert_eq!(seen[0], seen[1], "{topology}, {how:?}: sync vs async");
            let o = &seen[0];
            assert_eq!(o.stdout, b"hi\n", "{topology}, {how:?}");
            assert_eq!((o.code, o.read_error, o.wait_error), (Some(0), None, None));
            assert_eq!(o.tail, b"bye\n");
        }
    }
}

fn libc_sigterm() -> i32 {
    15
}
