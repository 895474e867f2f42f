//! A directory tree of mixed file sizes for transfer tests and benches, and a comparison.

use std::path::{Path, PathBuf};

/// A tree of `files` files in nested directories: mostly small, some medium, one of 100 MiB,
/// plus an empty file and an empty directory.
pub fn make_tree(root: &Path, files: usize) {
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

pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (walk(a), walk(b));
    assert_eq!(ta.len(), tb.len(), "entry counts of {a:?} and {b:?}");
    for ((pa, da), (pb, db)) in ta.iter().zip(&tb) {
        assert_eq!(pa, pb);
        assert!(da == db, "{pa:?} differs");
    }
}
