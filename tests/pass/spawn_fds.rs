//! Descriptors into a child at chosen numbers (`child::Command::fd`) and socket activation
//! (`Command::listen_fds`, `pass::listen_fds`), with real children: `sh`, `python3`, and this
//! test binary re-executed.

use std::io::ErrorKind;
use std::os::fd::{AsRawFd, OwnedFd};

use procwire::child::{Command, StderrTo};
use procwire::pass;

use crate::support::{HELPER_ENV, HELPER_OK, in_helper, leaked_by_environment};
use crate::{pipe, read_n};

/// Runs `cmd` to its end with stderr inherited; returns its stdout, after checking it exited 0.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .stderr(StderrTo::Inherit)
        .spawn()
        .expect("spawn")
        .wait_with_output()
        .expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.exit.success(), "child failed: {:?}\n{stdout}", out.exit);
    stdout
}

/// This test binary, re-run as a helper that runs test `path` only.
pub fn helper(path: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, path);
    cmd
}

#[test]
fn a_mapped_descriptor_reaches_sh_at_its_number() {
    let (r, w) = pipe();
    run_ok(Command::new("sh").args(["-c", "echo hello >&7"]).fd(7, w));
    assert_eq!(read_n(&r, 6), b"hello\n");
}

#[test]
fn sources_numbered_like_other_targets_are_moved_out_of_the_way_first() {
    // Pipe A's writer goes to the number of pipe B's writer and the other way round, and a
    // third maps onto its own number: a naive dup2 in order would clobber a source.
    let (ra, wa) = pipe();
    let (rb, wb) = pipe();
    let (rc, wc) = pipe();
    let (na, nb, nc) = (wa.as_raw_fd(), wb.as_raw_fd(), wc.as_raw_fd());
    let script = format!("echo to-{na} >&{na}; echo to-{nb} >&{nb}; echo to-{nc} >&{nc}");
    run_ok(
        Command::new("sh")
            .args(["-c", &script])
            .fd(nb, wa)
            .fd(na, wb)
            .fd(nc, wc),
    );
    let line = |n: i32| format!("to-{n}\n").into_bytes();
    assert_eq!(read_n(&ra, line(nb).len()), line(nb));
    assert_eq!(read_n(&rb, line(na).len()), line(na));
    assert_eq!(read_n(&rc, line(nc).len()), line(nc));
}

const OPEN_FDS: &str = r#"
import fcntl, os
seen = []
for fd in range(3, 1024):
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        continue
    seen.append("%d:%s" % (fd, "cloexec" if flags & fcntl.FD_CLOEXEC else "inherit"))
print(" ".join(seen))
"#;

#[test]
fn only_the_mapped_descriptors_are_inherited_and_they_are_not_cloexec() {
    let (_r1, w1) = pipe();
    let (_r2, w2) = pipe();
    let out = run_ok(
        Command::new("python3")
            .args(["-c", OPEN_FDS])
            .fd(9, w1)
            .fd(5, w2),
    );
    let mut want: Vec<i32> = leaked_by_environment();
    want.extend([5, 9]);
    want.sort();
    let want: Vec<String> = want.iter().map(|fd| format!("{fd}:inherit")).collect();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), want, "{out}");
}

#[test]
fn stdio_numbers_and_a_number_mapped_twice_are_refused_and_the_descriptors_closed() {
    for target in [0, 1, 2] {
        let (r, w) = pipe();
        let e = Command::new("true").fd(target, w).spawn().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("3 or more"), "{e}");
        assert_eof(r);
    }
    let (r, w) = pipe();
    let (_r2, w2) = pipe();
    let e = Command::new("true").fd(4, w).fd(4, w2).spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("mapped twice"), "{e}");
    assert_eof(r);
}

/// The pipe's only write end is closed: its reader sees end of file at once.
fn assert_eof(r: OwnedFd) {
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn a_number_above_the_descriptor_limit_is_refused_before_the_spawn() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .expect("a finite RLIMIT_NOFILE");
    let (_r, w) = pipe();
    let target = i32::try_from(limit).unwrap_or(i32::MAX);
    let e = Command::new("true").fd(target, w).spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
}

#[test]
fn a_program_that_is_not_there_is_still_reported_with_descriptors_mapped() {
    // std reports a failed exec through a close-on-exec pipe made just before the fork, on the
    // lowest free numbers; were those targets, the child would overwrite the pipe and the
    // spawn would look successful. So: sources high up, targets the lowest free numbers.
    for listen in [false, true] {
        let probe: Vec<OwnedFd> = (0..16).map(|_| pipe().0).collect();
        let free: Vec<i32> = probe.iter().map(|fd| fd.as_raw_fd()).collect();
        drop(probe);
        let high = |fd: OwnedFd| rustix::io::fcntl_dupfd_cloexec(&fd, 900).unwrap();
        let mut cmd = Command::new("/nonexistent/procwire-test-program");
        if listen {
            // Activation targets are 3 and up: free them only if they are the lowest free.
            let (_r, w) = pipe();
            cmd.listen_fds([(high(w), "a")]);
        } else {
            for &target in &free {
                let (_r, w) = pipe();
                cmd.fd(target, high(w));
            }
        }
        let e = cmd.spawn().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "listen={listen}: {e}");
    }
}

#[test]
fn listen_fds_gives_sh_its_pid_count_and_names() {
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let script = r#"test "$LISTEN_PID" = "$$" || { echo "pid $LISTEN_PID, not $$"; exit 1; }
echo "$LISTEN_FDS $LISTEN_FDNAMES"; echo one >&3; echo two >&4"#;
    let out = run_ok(
        Command::new("sh")
            .args(["-c", script])
            // Ours are replaced, never passed through.
            .env("LISTEN_PID", "1")
            .env("LISTEN_FDS", "7")
            .listen_fds([(w1, "first"), (w2, "second one")]),
    );
    assert_eq!(out, "2 first:second one\n");
    assert_eq!(read_n(&r1, 4), b"one\n");
    assert_eq!(read_n(&r2, 4), b"two\n");
}

#[test]
fn listen_fds_builds_the_environment_std_would_plus_the_three() {
    let (_r, w) = pipe();
    let mut cmd = Command::new("env");
    cmd.env_clear()
        .env("KEEP", "yes")
        .env("DROP", "x")
        .env_remove("DROP")
        .listen_fds([(w, "only")]);
    let child = cmd.stderr(StderrTo::Inherit).spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.exit.success());
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "KEEP=yes".to_string(),
            "LISTEN_FDNAMES=only".into(),
            "LISTEN_FDS=1".into(),
            format!("LISTEN_PID={pid}"),
        ]
    );
}

#[test]
fn listen_fds_keeps_arg0_the_arguments_and_the_path_search() {
    let (_r, w) = pipe();
    let out = run_ok(
        Command::new("sh")
            .arg0("renamed")
            .args(["-c", "echo \"$0 $1\"", "x", "arg"])
            .listen_fds([(w, "a")]),
    );
    // sh -c: $0 is the word after the script; argv[0] shows in /proc, checked below.
    assert_eq!(out, "x arg\n");
    let (_r, w) = pipe();
    let out = run_ok(
        Command::new("sh")
            .arg0("renamed-sh")
            .args(["-c", "tr '\\0' '\\n' < /proc/$$/cmdline | head -n 1"])
            .listen_fds([(w, "a")]),
    );
    assert_eq!(out, "renamed-sh\n");
}

/// The Rust child: takes over what it was given, checks it, writes through it.
#[test]
fn activated_child() {
    if !in_helper() {
        return;
    }
    let pid = std::process::id().to_string();
    assert_eq!(std::env::var("LISTEN_PID").unwrap(), pid);
    let got = pass::listen_fds().unwrap();
    // libtest runs the test on a thread of its own: more than one thread, so the variables
    // are left (removing them would race with getenv elsewhere), still naming this process.
    assert!(std::fs::read_dir("/proc/self/task").unwrap().count() > 1);
    assert_eq!(std::env::var("LISTEN_PID").unwrap(), pid);
    let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    for (i, l) in got.iter().enumerate() {
        assert_eq!(l.fd.as_raw_fd(), 3 + i as i32);
        assert!(procwire::fd::is_cloexec(&l.fd).unwrap());
        crate::write_to(&l.fd, l.name.as_bytes());
    }
    // A second call finds nothing, though the variables are still there.
    assert!(pass::listen_fds().unwrap().is_empty());
    println!("{HELPER_OK}");
}

#[test]
fn a_rust_child_takes_over_its_activation_descriptors() {
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let out =
        run_ok(helper("spawn_fds::activated_child").listen_fds([(w1, "alpha"), (w2, "beta")]));
    assert!(out.contains(HELPER_OK), "{out}");
    assert_eq!(read_n(&r1, 5), b"alpha");
    assert_eq!(read_n(&r2, 4), b"beta");
}

/// A child whose LISTEN_PID is not its own (set by hand): nothing is taken, the variables go.
#[test]
fn misdirected_child() {
    if !in_helper() {
        return;
    }
    assert!(pass::listen_fds().unwrap().is_empty());
    // Descriptor 3 was not touched: still inherited, not close-on-exec.
    let info = std::fs::read_to_string("/proc/self/fdinfo/3").unwrap();
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap();
    let flags = u32::from_str_radix(flags.trim(), 8).unwrap();
    assert_eq!(flags & 0o2000000, 0, "fd 3 became close-on-exec");
    println!("{HELPER_OK}");
}

#[test]
fn a_listen_pid_that_is_not_the_childs_is_ignored() {
    let (_r, w) = pipe();
    let out = run_ok(
        helper("spawn_fds::misdirected_child")
            .env("LISTEN_PID", "1")
            .env("LISTEN_FDS", "1")
            .fd(3, w),
    );
    assert!(out.contains(HELPER_OK), "{out}");
}
