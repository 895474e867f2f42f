//! rsync push of a tree (3000 files of mixed sizes and one of 100 MiB) to a real sshd on
//! 127.0.0.1: over plain `ssh`, and over `procwire exec --wire W -- ssh` for each wire. The
//! variants run in rotated order round by round, each to an empty destination, and the report
//! is the median wall time of each and the median of its per-round ratio to plain ssh.
//!
//! `cargo bench --bench exec` (needs sshd, ssh and rsync: `.ci/run` installs them).
//! `PROCWIRE_EXEC_ROUNDS` sets the rounds (default 7). Issue target: the wrapper costs under 5%.

#[path = "../tests/support/sshd.rs"]
mod sshd;
#[path = "../tests/support/tree.rs"]
mod tree;

use std::process::Command;
use std::time::Instant;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument that is not ours skips this bench.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"exec".contains(&a))
    {
        return;
    }
    let rounds: usize = std::env::var("PROCWIRE_EXEC_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let server = sshd::Sshd::start();
    let src = server.dir().join("src");
    tree::make_tree(&src, 3000);
    let ssh = server.rsh();
    let procwire = env!("CARGO_BIN_EXE_procwire");
    let variants: Vec<(String, String)> = std::iter::once(("ssh".to_string(), ssh.clone()))
        .chain(["socketpair", "pipes", "socketpairs"].map(|w| {
            (
                format!("procwire exec --wire {w} -- ssh"),
                format!("{procwire} exec --wire {w} -- {ssh}"),
            )
        }))
        .collect();
    let mut times = vec![Vec::new(); variants.len()];
    let dst = server.dir().join("dst");
    for round in 0..rounds + 1 {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let _ = std::fs::remove_dir_all(&dst);
            let t = Instant::now();
            let out = Command::new("rsync")
                .args(["-a", "-e", &variants[i].1])
                .arg(format!("{}/", src.display()))
                .arg(format!("127.0.0.1:{}/", dst.display()))
                .output()
                .expect("run rsync");
            let secs = t.elapsed().as_secs_f64();
            assert!(
                out.status.success(),
                "{}: {}",
                variants[i].0,
                String::from_utf8_lossy(&out.stderr)
            );
            // Round 0 warms caches and is not counted.
            if round > 0 {
                times[i].push(secs);
            }
        }
    }
    tree::assert_same_tree(&src, &dst);
    println!("rsync -a push, {rounds} rounds, median wall time and per-round ratio to plain ssh:");
    let base = times[0].clone();
    for ((name, _), t) in variants.iter().zip(&times) {
        let mut ratios: Vec<f64> = t.iter().zip(&base).map(|(a, b)| a / b).collect();
        let mut t = t.clone();
        println!(
            "  {name:<40} {:7.3} s   {:.3}x",
            median(&mut t),
            median(&mut ratios)
        );
    }
}
