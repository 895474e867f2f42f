//! Helpers shared by the integration tests: reproducible byte streams, fd checks, and
//! re-running one test of the current binary as a helper process.
#![allow(dead_code)]

pub mod bounded;
pub mod procs;
pub mod pty;
pub mod sshd;
pub mod tree;

use std::os::fd::AsFd;
use std::process::{Command, Output, Stdio};

/// Environment variable that marks a re-run test binary as a helper process.
pub const HELPER_ENV: &str = "PROCWIRE_TEST_HELPER";

/// True inside a helper process started by [`rerun`].
pub fn in_helper() -> bool {
    std::env::var_os(HELPER_ENV).is_some()
}

/// Runs the test `path` (e.g. `close::broken_pipe`) of this very binary as a separate process
/// with `HELPER_ENV` set, and returns its output. The helper prints [`HELPER_OK`] when it got
/// through, so a filter that matched no test can never pass for a success.
pub fn rerun(path: &str, env: &[(&str, &str)]) -> Output {
    rerun_under(&[], path, env)
}

/// Like [`rerun`], with the helper started through `wrapper` (e.g. `["unshare", "-n"]`).
pub fn rerun_under(wrapper: &[&str], path: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, path)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn helper")
}

/// What a helper prints on success.
pub const HELPER_OK: &str = "PROCWIRE-HELPER-OK";

/// Asserts a helper ran to its end and exited 0; shows its output otherwise.
pub fn assert_helper_ok(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(HELPER_OK),
        "helper failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// True in the helper process, where a test may change process-wide state (limits, signal
/// dispositions) or count descriptors undisturbed; outside it, runs test `path` of this binary
/// there, checks that it got through, and returns false.
pub fn in_own_process(path: &str) -> bool {
    if in_helper() {
        return true;
    }
    assert_helper_ok(&rerun(path, &[]));
    false
}

/// Asserts `fd` is close-on-exec.
#[track_caller]
pub fn assert_cloexec(fd: impl AsFd) {
    assert!(
        procwire::fd::is_cloexec(fd).unwrap(),
        "fd is not close-on-exec"
    );
}

/// Asserts `fd`'s `O_NONBLOCK` is `want`.
#[track_caller]
pub fn assert_nonblocking(fd: impl AsFd, want: bool) {
    assert_eq!(
        procwire::fd::is_nonblocking(fd).unwrap(),
        want,
        "O_NONBLOCK"
    );
}

/// A reproducible pseudo-random byte stream: the same seed gives the same bytes whatever the
/// sizes of the pieces they are taken in.
pub struct Stream {
    rng: fastrand::Rng,
    block: Vec<u8>,
    at: usize,
}

impl Stream {
    pub fn new(seed: u64) -> Stream {
        Stream {
            rng: fastrand::Rng::with_seed(seed),
            block: vec![0; 4096],
            at: 4096,
        }
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, mut out: &mut [u8]) {
        while !out.is_empty() {
            if self.at == self.block.len() {
                self.rng.fill(&mut self.block);
                self.at = 0;
            }
            let n = out.len().min(self.block.len() - self.at);
            out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
            self.at += n;
            out = &mut out[n..];
        }
    }

    /// Checks that `got` is the next part of the stream; returns the first differing index.
    pub fn check(&mut self, got: &[u8]) -> Result<(), usize> {
        let mut want = vec![0; got.len()];
        self.fill(&mut want);
        match got.iter().zip(&want).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(i) => Err(i),
        }
    }
}

/// Descriptors above 2 that this process holds without close-on-exec: whatever launched the
/// test binary leaked them to us, and any child inherits them whatever procwire does. Read from
/// the `flags:` line of `/proc/self/fdinfo/N` (octal; `O_CLOEXEC` is `0o2000000`).
pub fn leaked_by_environment() -> Vec<i32> {
    procwire::fd::open_fds()
        .unwrap()
        .into_iter()
        .filter(|&fd| fd > 2)
        .filter(|fd| {
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .is_some_and(|flags| flags & 0o2000000 == 0)
        })
        .collect()
}

/// What a child spawned with null or given stdio should hold: 0, 1, 2 and whatever the
/// environment leaked into this process.
pub fn expected_child_fds() -> Vec<i32> {
    let mut v = vec![0, 1, 2];
    v.extend(leaked_by_environment());
    v
}

/// Spawns `cat` with stdin `stdin` (or a pipe when `None`), feeds it one byte through `poke`
/// (or the pipe), waits until `cat` echoes it, and returns `cat`'s open descriptors.
///
/// Waiting for the echo matters: `spawn()` returns once the child's exec has released the
/// parent, but Linux closes close-on-exec descriptors a little later in the same exec, so a
/// listing taken at once can still show them.
pub fn child_fds_after_exec(stdin: Option<Stdio>, poke: impl FnOnce()) -> Vec<i32> {
    use std::io::{Read, Write};
    let piped = stdin.is_none();
    let mut child = Command::new("cat")
        .stdin(stdin.unwrap_or(Stdio::piped()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cat");
    if piped {
        child.stdin.as_mut().unwrap().write_all(b"x").unwrap();
    } else {
        poke();
    }
    let mut one = [0u8];
    child.stdout.as_mut().unwrap().read_exact(&mut one).unwrap();
    let seen = procwire::fd::open_fds_of(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    seen.expect("list the child's descriptors")
}

/// Writes `total` bytes of [`Stream::new(seed)`](Stream) to `w`, in pieces of `piece` bytes.
pub fn write_stream(w: &mut impl std::io::Write, seed: u64, total: usize, piece: usize) {
    let mut s = Stream::new(seed);
    let mut buf = vec![0u8; piece];
    let mut left = total;
    while left > 0 {
        let n = left.min(piece);
        s.fill(&mut buf[..n]);
        w.write_all(&buf[..n]).unwrap();
        left -= n;
    }
}

/// Reads `r` to EOF, checking every byte against [`Stream::new(seed)`](Stream); returns how
/// many arrived. Panics naming `what` and the offset of the first wrong byte.
pub fn read_stream(r: &mut impl std::io::Read, seed: u64, what: &str) -> usize {
    let mut check = Stream::new(seed);
    let mut buf = vec![0u8; 100_003];
    let mut got = 0;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return got;
        }
        if let Err(i) = check.check(&buf[..n]) {
            panic!("{what}: byte {} differs", got + i);
        }
        got += n;
    }
}

/// A `Write` sink (for a child's forwarded stderr) that the test can read back.
#[derive(Clone, Default)]
pub struct SharedSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedSink {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl std::io::Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
