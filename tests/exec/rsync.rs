//! Real rsync through `procwire exec -- ssh` to a real sshd: push and pull a tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PROCWIRE;
use crate::support::sshd::Sshd;

/// A tree of `files` files in nested directories: mostly small, some medium, one of 100 MiB,
/// plus an empty file and an empty directory.
fn make_tree(root: &Path, files: usize) {
    let mut rng = fastrand::Rng::with_seed(42);
    for i in 0..files {
        let dir = root.join(format!("d{}/e{}", i % 37, i % 5));
        std::fs::create_dir_all(&dir).unwrap();
        let size = match i % 100 {
            0 => rng.usize(256 << 10..1 << 20),
            1..=9 => rng.usize(8 << 10..64 << 10),
            _ => rng.usize(0..4096),
        };
        let mut data = vec![0u8; size];
        rng.fill(&mut data);
        std::fs::write(dir.join(format!("f{i}.bin")), data).unwrap();
    }
    let mut big = vec![0u8; 100 << 20];
    rng.fill(&mut big);
    std::fs::write(root.join("big.bin"), big).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
}

/// Every path under `root`, relative, sorted, with `None` for directories and the bytes for
/// files.
fn walk(root: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                out.push((rel, None));
                stack.push(path);
            } else {
                out.push((rel, Some(std::fs::read(&path).unwrap())));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (walk(a), walk(b));
    assert_eq!(ta.len(), tb.len(), "entry counts of {a:?} and {b:?}");
    for ((pa, da), (pb, db)) in ta.iter().zip(&tb) {
        assert_eq!(pa, pb);
        assert!(da == db, "{pa:?} differs");
    }
}

fn rsync(rsh: &str, from: &str, to: &str) {
    let out = Command::new("rsync")
        .args(["-a", "-e", rsh, from, to])
        .output()
        .expect("run rsync (.ci/run installs it)");
    assert!(
        out.status.success(),
        "rsync -e {rsh:?} {from} {to}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rsync_pushes_and_pulls_a_tree_through_procwire_exec() {
    let sshd = Sshd::start();
    let base = sshd.dir().join("trees");
    let src = base.join("src");
    make_tree(&src, 3000);
    for wire in ["socketpair", "pipes", "socketpairs"] {
        let rsh = format!(
            "{PROCWIRE} exec --wire {wire} --connect-timeout 20 -- {}",
            sshd.rsh()
        );
        let pushed = base.join(format!("pushed-{wire}"));
        rsync(
            &rsh,
            &format!("{}/", src.display()),
            &format!("127.0.0.1:{}/", pushed.display()),
        );
        assert_same_tree(&src, &pushed);
        if wire == "socketpair" {
            let pulled = base.join("pulled");
            rsync(
                &rsh,
                &format!("127.0.0.1:{}/", pushed.display()),
                &format!("{}/", pulled.display()),
            );
            assert_same_tree(&src, &pulled);
        }
        std::fs::remove_dir_all(&pushed).unwrap();
    }
}
