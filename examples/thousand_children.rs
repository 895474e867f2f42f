//! A thousand concurrent children, each echoing its input and writing to its captured stderr,
//! through the blocking API (a drain thread each) or the tokio one (one `current_thread`
//! runtime): prints the peak thread count, the peak RSS (`VmHWM`) and the wall time.
//!
//! `cargo run --release --example thousand_children --features tokio -- sync|async [N]`
//! (each mode in its own process, so the figures are its own). Raises the soft
//! `RLIMIT_NOFILE` to the hard limit: a child takes about five of our descriptors.

use std::io::{Read, Write};
use std::time::Instant;

use procwire::child::Command;
use procwire::stderr::Settings;

const SCRIPT: &str = "echo start >&2; cat; echo end >&2";

fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn data(i: usize) -> Vec<u8> {
    format!("child {i}\n").repeat(100).into_bytes()
}

fn command() -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SCRIPT])
        .stderr(Settings::new().sink(std::io::sink()));
    cmd
}

fn check(i: usize, echoed: &[u8], exit: &procwire::child::Exit) {
    assert_eq!(echoed, data(i), "child {i}");
    assert!(
        exit.success() && exit.stderr_tail() == b"start\nend\n",
        "child {i}"
    );
}

/// Spawns all, then serves each in turn; returns the peak thread count seen.
fn run_sync(n: usize) -> u64 {
    let mut children: Vec<_> = (0..n).map(|_| command().spawn().unwrap()).collect();
    let mut threads = status("Threads");
    for (i, child) in children.iter_mut().enumerate() {
        child.write_all(&data(i)).unwrap();
        child.close_input().unwrap();
    }
    threads = threads.max(status("Threads"));
    for (i, mut child) in children.into_iter().enumerate() {
        let mut echoed = Vec::new();
        child.read_to_end(&mut echoed).unwrap();
        let exit = child.wait().unwrap();
        check(i, &echoed, &exit);
    }
    threads
}

#[cfg(feature = "tokio")]
fn run_async(n: usize) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let children: Vec<_> = (0..n).map(|_| command().spawn_async().unwrap()).collect();
        let mut threads = status("Threads");
        let mut tasks = tokio::task::JoinSet::new();
        for (i, mut child) in children.into_iter().enumerate() {
            tasks.spawn(async move {
                child.write_all(&data(i)).await.unwrap();
                child.shutdown().await.unwrap();
                let mut echoed = Vec::new();
                child.read_to_end(&mut echoed).await.unwrap();
                let exit = child.wait().await.unwrap();
                check(i, &echoed, &exit);
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
            threads = threads.max(status("Threads"));
        }
        threads
    })
}

#[cfg(not(feature = "tokio"))]
fn run_async(_n: usize) -> u64 {
    panic!("build with --features tokio for the async mode");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "async".into());
    let n: usize = args.next().map_or(1000, |a| a.parse().unwrap());
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let start = Instant::now();
    let threads = match mode.as_str() {
        "sync" => run_sync(n),
        "async" => run_async(n),
        other => panic!("mode is sync or async, not {other}"),
    };
    let wall = start.elapsed();
    println!(
        "{mode}: {n} children, peak threads {threads}, VmHWM {} kB, wall {:.3} s",
        status("VmHWM"),
        wall.as_secs_f64()
    );
}
