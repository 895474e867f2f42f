//! Real rsync through `procwire exec -- ssh` to a real sshd: push and pull a tree.

use std::process::Command;

use crate::PROCWIRE;
use crate::support::sshd::Sshd;
use crate::support::tree::{assert_same_tree, make_tree};

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
