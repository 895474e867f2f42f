//! The async child's own behaviour beside the parity matrix: the reader's drop, the drop of an
//! un-waited handle inside and outside a runtime, cancel-safe waits, the close policy, and the
//! async stderr drain's subscriber.

use std::time::Duration;

use procwire::child::{Command, KillPolicy, Sigpipe, StderrTo, Topology};
use procwire::stderr::{Line, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{eventually, gone};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn dropping_the_reader_gives_the_child_epipe_on_every_topology() {
    runtime().block_on(async {
        for (topology, sigpipe) in Topology::ALL
            .into_iter()
            .flat_map(|t| [(t, Sigpipe::Default), (t, Sigpipe::Ignore)])
        {
            let child = Command::from_argv(["sh", "-c", "head -c1 >/dev/null; exec yes"])
                .unwrap()
                .topology(topology)
                .stderr(StderrTo::Null)
                .sigpipe(sigpipe)
                .spawn_async()
                .unwrap();
            let (reader, mut writer, mut handle) = child.split();
            drop(reader);
            writer.write_all(b"go").await.unwrap();
            drop(writer);
            let exit = handle.wait().await.unwrap();
            let expected = match sigpipe {
                Sigpipe::Default => (Some(13), None),
                // GNU yes reports the write error and exits 1.
                _ => (None, Some(1)),
            };
            assert_eq!((exit.signal(), exit.code()), expected, "{topology}: {exit}");
        }
    });
}

#[test]
fn an_unwaited_child_is_reaped_by_a_task_when_dropped() {
    let rt = runtime();
    rt.block_on(async {
        let child = Command::new("sleep")
            .arg("30")
            .stderr(StderrTo::Null)
            .spawn_async()
            .unwrap();
        let pid = child.id();
        drop(child);
        // The drop returned at once; the task runs the drop policy (SIGTERM) and reaps.
        let reaped = tokio::time::timeout(Duration::from_secs(20), async {
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(reaped.is_ok(), "child {pid} was not reaped");
    });
}

#[test]
fn an_unwaited_child_dropped_outside_its_runtime_is_reaped_by_a_thread() {
    let rt = runtime();
    let child = rt.block_on(async {
        Command::new("sleep")
            .arg("30")
            .stderr(StderrTo::Null)
            .spawn_async()
            .unwrap()
    });
    drop(rt);
    let pid = child.id();
    drop(child);
    assert!(eventually(|| !crate::exists(pid)), "child {pid} not reaped");
}

#[test]
fn a_cancelled_wait_loses_nothing() {
    runtime().block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "read x; echo bye >&2; exit 7"])
            .stderr(Settings::new().sink(std::io::sink()))
            .spawn_async()
            .unwrap();
        // The child waits for a line: the wait is cancelled by the timeout.
        let first = tokio::time::timeout(Duration::from_millis(50), child.handle().wait()).await;
        assert!(first.is_err());
        child.write_all(b"go\n").await.unwrap();
        let exit = child.wait().await.unwrap();
        assert_eq!(exit.code(), Some(7));
        assert_eq!(exit.stderr_tail(), b"bye\n");
    });
}

#[test]
fn close_runs_the_policy_to_sigterm_for_a_child_that_ignores_eof() {
    runtime().block_on(async {
        let mut child = Command::new("sleep")
            .arg("30")
            .stderr(StderrTo::Null)
            .kill_policy(KillPolicy {
                close: Duration::from_millis(50),
                term: Duration::from_secs(10),
                kill: Duration::from_secs(10),
            })
            .spawn_async()
            .unwrap();
        let pid = child.id();
        let exit = child.close().await.unwrap();
        assert_eq!(exit.signal(), Some(15));
        assert!(gone(pid));
    });
}

#[test]
fn the_async_drain_feeds_a_tokio_channel_subscriber() {
    runtime().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Line>(16);
        let mut child = Command::new("sh")
            .args(["-c", "printf 'one\\ntwo\\n' >&2"])
            .stderr(Settings::new().sink(std::io::sink()).subscriber(tx))
            .spawn_async()
            .unwrap();
        let exit = child.wait().await.unwrap();
        assert_eq!(exit.stderr().unwrap().lines, 2);
        assert_eq!(rx.recv().await.unwrap().bytes, b"one");
        assert_eq!(rx.recv().await.unwrap().bytes, b"two");
    });
}

#[test]
fn spawn_async_outside_a_runtime_is_an_error() {
    let e = Command::new("true").spawn_async().unwrap_err();
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}

#[test]
fn a_write_to_a_child_that_never_reads_is_woken_by_the_stall_watchdog() {
    runtime().block_on(async {
        for topology in Topology::ALL {
            let mut child = Command::new("sleep")
                .arg("30")
                .topology(topology)
                .stderr(StderrTo::Null)
                .stall_timeout(Duration::from_millis(300))
                .spawn_async()
                .unwrap();
            // Far more than any pipe or socket buffer holds: the write waits until woken.
            let flood = vec![0u8; 64 << 20];
            let e = child.write_all(&flood).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{topology}: {e}");
            let waited = child.wait().await.unwrap_err();
            let t = procwire::child::TimedOut::of(&waited).unwrap();
            assert_eq!(t.watchdog(), procwire::child::Watchdog::Stall, "{topology}");
            assert_eq!(t.exit().unwrap().signal(), Some(15), "{topology}");
        }
    });
}

#[test]
fn wait_with_output_reads_everything_a_writing_child_wrote() {
    // 1 MiB, more than any wire holds: the reader keeps up while the child writes, then takes
    // the rest after the exit.
    runtime().block_on(async {
        for topology in Topology::ALL {
            let child = Command::from_argv(["head", "-c", "1048576", "/dev/zero"])
                .unwrap()
                .topology(topology)
                .stderr(Settings::new().sink(std::io::sink()))
                .spawn_async()
                .unwrap();
            let output = child.wait_with_output().await.unwrap();
            assert_eq!(output.stdout.len(), 1 << 20, "{topology}");
            assert!(output.stdout.iter().all(|&b| b == 0), "{topology}");
            assert!(output.exit.success(), "{topology}");
        }
    });
}

#[test]
fn end_at_exit_is_not_kept_by_a_descendant_that_goes_on_writing() {
    runtime().block_on(async {
        for topology in Topology::ALL {
            let pids = crate::PidFile::new("async-at-exit-writer");
            let script = format!(
                "(while :; do echo spam; done) 2>/dev/null </dev/null & echo $! >{}; echo hi",
                pids.path()
            );
            let mut child = Command::new("sh")
                .args(["-c", &script])
                .topology(topology)
                .stderr(StderrTo::Null)
                .spawn_async()
                .unwrap();
            child.reader().end_at_exit(true);
            let mut out = Vec::new();
            // A hang-guard, not a timing: the writer never stops, so only the exit ends this.
            let read = tokio::time::timeout(Duration::from_secs(30), child.read_to_end(&mut out));
            read.await
                .unwrap_or_else(|_| panic!("{topology}: the read was kept by the descendant"))
                .unwrap();
            assert!(child.wait().await.unwrap().success(), "{topology}");
            drop(pids);
            let text = String::from_utf8(out).unwrap();
            assert!(text.lines().any(|l| l == "hi"), "{topology}");
            assert!(text.lines().all(|l| l == "hi" || l == "spam"), "{topology}");
        }
    });
}

/// The reader learns of the exit from the pidfd the handle also waits on: a handle that
/// waits (and reaps) at the same time must not take the exit away from the reader.
#[test]
fn end_at_exit_sees_the_exit_while_the_handle_waits_on_the_same_pidfd() {
    runtime().block_on(async {
        for round in 0..6 {
            for topology in Topology::ALL {
                let pids = crate::PidFile::new("async-at-exit-waited");
                let script = format!(
                    "(while :; do echo spam; done) 2>/dev/null </dev/null & echo $! >{}; echo hi",
                    pids.path()
                );
                let child = Command::new("sh")
                    .args(["-c", &script])
                    .topology(topology)
                    .stderr(StderrTo::Null)
                    .spawn_async()
                    .unwrap();
                let (mut reader, _writer, mut handle) = child.split();
                reader.end_at_exit(true);
                let mut out = Vec::new();
                let read = reader.read_to_end(&mut out);
                // Both orders of polling, round by round.
                let both = async {
                    if round % 2 == 0 {
                        tokio::join!(handle.wait(), read)
                    } else {
                        let (r, w) = tokio::join!(read, handle.wait());
                        (w, r)
                    }
                };
                // A hang-guard, not a timing: the descendant never stops writing.
                let (waited, read) = tokio::time::timeout(Duration::from_secs(30), both)
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{topology}, round {round}: the reader missed the exit")
                    });
                assert!(waited.unwrap().success(), "{topology}");
                read.unwrap();
                drop(pids);
                assert!(
                    String::from_utf8(out).unwrap().lines().any(|l| l == "hi"),
                    "{topology}"
                );
            }
        }
    });
}

#[test]
fn async_splice_moves_a_stream_both_ways_on_every_topology() {
    use crate::support::Stream;
    const TOTAL: usize = 8 << 20;
    runtime().block_on(async {
        for topology in Topology::ALL {
            let child = Command::new("cat")
                .topology(topology)
                .stderr(StderrTo::Null)
                .stall_timeout(Duration::from_secs(5))
                .spawn_async()
                .unwrap();
            let (mut reader, mut writer, mut handle) = child.split();
            let (mut src_r, mut src_w) = procwire::wire::tokio::pipe().unwrap();
            let (mut dst_r, mut dst_w) = procwire::wire::tokio::pipe().unwrap();
            let feeder = tokio::spawn(async move {
                let (mut s, mut buf, mut left) = (Stream::new(5), vec![0u8; 70_001], TOTAL);
                while left > 0 {
                    let n = left.min(buf.len());
                    s.fill(&mut buf[..n]);
                    src_w.write_all(&buf[..n]).await.unwrap();
                    left -= n;
                }
            });
            // splice_from needs the child's input to be a pipe and refuses a socket before any
            // byte moved; the caller copies then.
            let pump_in = tokio::spawn(async move {
                match writer.splice_from(&mut src_r, 1 << 20).await {
                    Ok(n) => {
                        assert_eq!(topology, Topology::Pipes);
                        if n > 0 {
                            while writer.splice_from(&mut src_r, 1 << 20).await.unwrap() > 0 {}
                        }
                    }
                    Err(e) => {
                        assert_ne!(topology, Topology::Pipes, "{e}");
                        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
                        tokio::io::copy(&mut src_r, &mut writer).await.unwrap();
                    }
                }
                writer.close();
            });
            let pump_out = tokio::spawn(async move {
                while reader.splice_to(&mut dst_w, 1 << 20).await.unwrap() > 0 {}
            });
            let (mut check, mut buf, mut got) = (Stream::new(5), vec![0u8; 100_003], 0);
            loop {
                let n = dst_r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                if let Err(i) = check.check(&buf[..n]) {
                    panic!("{topology}: byte {} differs", got + i);
                }
                got += n;
            }
            feeder.await.unwrap();
            pump_in.await.unwrap();
            pump_out.await.unwrap();
            assert_eq!(got, TOTAL, "{topology}");
            // The stall watchdog counted the spliced bytes as progress: it never fired.
            assert!(handle.wait().await.unwrap().success(), "{topology}");
        }
    });
}

/// The async form of the ping-pong regression (`splice.rs`): a splice from a socket into
/// `cat`'s stdin pipe must never stall `cat`, and the pump's waits must not lose a wake-up.
#[test]
fn async_splicing_from_a_socket_into_the_childs_pipe_ping_pongs_through_cat() {
    runtime().block_on(async {
        let child = Command::new("cat")
            .topology(Topology::Pipes)
            .stderr(StderrTo::Null)
            .spawn_async()
            .unwrap();
        let (mut reader, mut writer, mut handle) = child.split();
        let (mut ours, theirs) = tokio::net::UnixStream::pair().unwrap();
        let (mut theirs, _their_writes) = procwire::wire::AsyncEnd::try_from(theirs)
            .unwrap()
            .into_split()
            .unwrap();
        let pump = tokio::spawn(async move {
            let mut total = 0;
            loop {
                match writer.splice_from(&mut theirs, 1 << 16).await.unwrap() {
                    0 => return total,
                    n => total += n,
                }
            }
        });
        let rounds = async {
            let mut buf = [0u8; 5];
            for round in 0..200u32 {
                ours.write_all(&round.to_le_bytes()).await.unwrap();
                ours.write_all(b"!").await.unwrap();
                reader.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf[..4], &round.to_le_bytes());
            }
            ours.shutdown().await.unwrap();
        };
        // A hang-guard, not a timing.
        tokio::time::timeout(Duration::from_secs(30), rounds)
            .await
            .expect("the ping-pong through cat deadlocked");
        assert_eq!(pump.await.unwrap(), 200 * 5);
        drop(reader);
        assert!(handle.wait().await.unwrap().success());
    });
}
