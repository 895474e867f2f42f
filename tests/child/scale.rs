//! A thousand children on one `current_thread` runtime (issue 14): every child echoes its
//! input and writes a line to its captured stderr; all must come back right, with the
//! process's thread count under 10 and its peak memory bounded. The blocking API's figures
//! for the same run come from `examples/thousand_children.rs`.

use std::time::Duration;

use procwire::child::Command;
use procwire::stderr::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::in_own_process;

const CHILDREN: usize = 1000;

/// A field of `/proc/self/status` (`Threads`, `VmHWM` in kB).
fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_thousand_children_on_one_thread() {
    // Its own process: it raises RLIMIT_NOFILE, and counts this process's threads.
    if !in_own_process("scale::a_thousand_children_on_one_thread") {
        return;
    }
    // About five descriptors a child (our two ends, the stderr end, the pidfd and its
    // registered duplicate): raise the soft limit to the hard one.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut threads = status("Threads");
    rt.block_on(async {
        let mut children = Vec::with_capacity(CHILDREN);
        for _ in 0..CHILDREN {
            let child = Command::new("sh")
                .args(["-c", "echo start >&2; cat; echo end >&2"])
                .stderr(Settings::new().sink(std::io::sink()))
                .spawn_async()
                .unwrap();
            children.push(child);
        }
        threads = threads.max(status("Threads"));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, mut child) in children.into_iter().enumerate() {
            tasks.spawn(async move {
                let data = format!("child {i}\n").repeat(100);
                child.write_all(data.as_bytes()).await.unwrap();
                child.shutdown().await.unwrap();
                let mut echoed = Vec::new();
                child.read_to_end(&mut echoed).await.unwrap();
                let exit = child.wait().await.unwrap();
                assert_eq!(echoed, data.as_bytes(), "child {i}");
                assert!(exit.success(), "child {i}: {exit}");
                assert_eq!(exit.stderr_tail(), b"start\nend\n", "child {i}");
            });
        }
        let mut done = 0;
        // A hang-guard only.
        tokio::time::timeout(Duration::from_secs(600), async {
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
                done += 1;
                threads = threads.max(status("Threads"));
            }
        })
        .await
        .expect("the thousand children did not finish within 10 minutes");
        assert_eq!(done, CHILDREN);
    });
    let hwm_kb = status("VmHWM");
    eprintln!("{CHILDREN} children: at most {threads} threads, VmHWM {hwm_kb} kB");
    assert!(threads < 10, "{threads} threads");
    // About 20 KiB of buffers a child: far below this bound, which a buffer per byte, a
    // thread per child or an unbounded tail would pass.
    assert!(hwm_kb < 256 * 1024, "VmHWM {hwm_kb} kB");
    println!("{}", crate::support::HELPER_OK);
}
