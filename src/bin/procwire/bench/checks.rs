//! The matrix's checks: facts of the kernel that one call or a short exchange settles, run by
//! `procwire bench` beside its measurements and kept in the JSON's `matrix.checks` (see
//! `report::matrix`, which renders them with the measured rows).
//!
//! Each check records what it did and what the kernel answered, errors included: a check that
//! could not run says why instead of leaving a blank.

use std::io::{IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use procwire::child::{Command, Topology};
use procwire::wire::{Builder, Kind};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use super::stats::percentile;

/// Everything the checks found.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Checks {
    /// Per kind: the default send buffer and the bytes a non-blocking writer queued before
    /// `EAGAIN`.
    pub queue: Vec<Queue>,
    /// Per kind: what a request of [`HUGE`] bytes per direction was granted.
    pub largest_grant: Vec<Grant>,
    /// `sendmsg(2)` with one `SCM_RIGHTS` descriptor, per kind.
    pub ancillary: Vec<Attempt>,
    /// `shutdown(SHUT_WR)` (pipes: closing the write pipe) then a read on the peer, per kind.
    pub half_close: Vec<HalfClose>,
    /// The connect watchdog: how late after its deadline it ended a read.
    pub connect_watchdog: Watchdog,
    /// `sh -c cat` as a child on each topology; rsync over ssh when possible.
    pub remote_shell: Vec<Attempt>,
}

/// The request of the largest-grant check: 1 GiB per direction.
pub const HUGE: usize = 1 << 30;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Queue {
    pub kind: String,
    /// `F_GETPIPE_SZ` or `SO_SNDBUF` as read back.
    pub send_buffer: Option<usize>,
    /// Bytes written in 4 KiB writes before `EAGAIN`.
    pub queued: Option<u64>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    pub kind: String,
    pub asked: usize,
    pub send: Option<usize>,
    pub recv: Option<usize>,
    /// The limit that clamps it (`/proc/sys/fs/pipe-max-size`, `net.core.wmem_max`).
    pub limit: String,
    pub error: Option<String>,
}

/// A thing tried: whether it worked, and the kernel's or the program's answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    /// What was tried on: a kind, a topology, `rsync over ssh`.
    pub on: String,
    pub ok: bool,
    /// `ENOTSOCK`, `works, 12 ms`, `sshd not running ...`.
    pub detail: String,
    /// True when the attempt was not made (a missing program or service), not refused.
    #[serde(default)]
    pub skipped: bool,
}

impl Attempt {
    /// An attempt that was made.
    fn tried(on: impl Into<String>, ok: bool, detail: impl Into<String>) -> Attempt {
        Attempt {
            on: on.into(),
            ok,
            detail: detail.into(),
            skipped: false,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HalfClose {
    pub kind: String,
    /// The peer read end of file after the half-close.
    pub eof: bool,
    /// The other direction still carried a byte afterwards.
    pub other_direction: bool,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Watchdog {
    /// The connect timeout set, ms.
    pub timeout_ms: f64,
    /// Median over the tries of how long after the timeout the blocked read returned, ms.
    pub late_ms: Option<f64>,
    pub tries: usize,
    pub error: Option<String>,
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({e})", Errno::from_raw_os_error(n).kind_name()),
        None => e.to_string(),
    }
}

/// Runs every check; `rsync_over_ssh` also tries rsync through ssh to 127.0.0.1 when both
/// are installed and something listens on port 22.
pub fn run(rsync_over_ssh: bool) -> Checks {
    let kinds = [Kind::Pipes, Kind::SocketPair, Kind::Loopback];
    Checks {
        queue: kinds.iter().map(|&k| queue(k)).collect(),
        largest_grant: kinds.iter().map(|&k| grant(k)).collect(),
        ancillary: kinds.iter().map(|&k| ancillary(k)).collect(),
        half_close: kinds.iter().map(|&k| half_close(k)).collect(),
        connect_watchdog: watchdog(),
        remote_shell: Topology::ALL
            .iter()
            .map(|&t| local_shell(t))
            .chain(rsync_over_ssh.then(rsync_ssh))
            .collect(),
    }
}

trait ErrnoName {
    fn kind_name(self) -> String;
}

impl ErrnoName for Errno {
    /// `ENOTSOCK`, from the libc constant's name where we know it.
    fn kind_name(self) -> String {
        let n = self.raw_os_error();
        let name = match n {
            libc::ENOTSOCK => "ENOTSOCK",
            libc::EAGAIN => "EAGAIN",
            libc::EPERM => "EPERM",
            libc::ENOSYS => "ENOSYS",
            libc::EINVAL => "EINVAL",
            libc::EBADF => "EBADF",
            libc::EPIPE => "EPIPE",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            _ => return format!("errno {n}"),
        };
        name.to_string()
    }
}

fn queue(kind: Kind) -> Queue {
    let run = || -> std::io::Result<(usize, u64)> {
        let (a, _b) = Builder::new()
            .kind(kind)
            .nonblocking(true, true)
            .build()?
            .into_ends();
        let buffer = a.capacity()?.send;
        let fd = a.write_fd().expect("a fresh end writes");
        let chunk = [0u8; 4096];
        let mut queued = 0u64;
        loop {
            match rustix::io::write(fd, &chunk) {
                Ok(n) => queued += n as u64,
                Err(Errno::AGAIN) => return Ok((buffer, queued)),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    };
    match run() {
        Ok((b, q)) => Queue {
            kind: kind.name().into(),
            send_buffer: Some(b),
            queued: Some(q),
            error: None,
        },
        Err(e) => Queue {
            kind: kind.name().into(),
            error: Some(errno_text(&e)),
            ..Queue::default()
        },
    }
}

fn grant(kind: Kind) -> Grant {
    let limit = match kind {
        Kind::Pipes => format!(
            "/proc/sys/fs/pipe-max-size = {}",
            read_sysctl("/proc/sys/fs/pipe-max-size")
        ),
        _ => format!(
            "net.core.wmem_max = {}, rmem_max = {} (the kernel doubles the grant)",
            read_sysctl("/proc/sys/net/core/wmem_max"),
            read_sysctl("/proc/sys/net/core/rmem_max")
        ),
    };
    let granted = Builder::new()
        .kind(kind)
        .capacity(HUGE)
        .build()
        .and_then(|p| p.into_ends().0.capacity());
    match granted {
        Ok(c) => Grant {
            kind: kind.name().into(),
            asked: HUGE,
            send: Some(c.send),
            recv: Some(c.recv),
            limit,
            error: None,
        },
        Err(e) => Grant {
            kind: kind.name().into(),
            asked: HUGE,
            limit,
            error: Some(errno_text(&e)),
            ..Grant::default()
        },
    }
}

fn read_sysctl(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|e| format!("? ({e})"), |s| s.trim().to_string())
}

fn ancillary(kind: Kind) -> Attempt {
    let run = || -> std::io::Result<usize> {
        let (a, _b) = Builder::new().kind(kind).build()?.into_ends();
        let passed = [a.write_fd().expect("a fresh end writes")];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
        control.push(rustix::net::SendAncillaryMessage::ScmRights(&passed));
        Ok(rustix::net::sendmsg(
            a.write_fd().expect("a fresh end writes"),
            &[IoSlice::new(b"x")],
            &mut control,
            rustix::net::SendFlags::NOSIGNAL,
        )?)
    };
    let on = kind.name().to_string();
    match run() {
        Ok(_) => Attempt::tried(on, true, "sendmsg with SCM_RIGHTS: accepted"),
        Err(e) => Attempt::tried(
            on,
            false,
            format!("sendmsg with SCM_RIGHTS: {}", errno_text(&e)),
        ),
    }
}

fn half_close(kind: Kind) -> HalfClose {
    let run = || -> std::io::Result<(bool, bool)> {
        let (mut a, mut b) = Builder::new().kind(kind).build()?.into_ends();
        a.write_all(b"x")?;
        a.shutdown_write()?;
        let mut got = Vec::new();
        b.read_to_end(&mut got)?;
        let eof = got == b"x";
        b.write_all(b"y")?;
        let mut back = [0u8];
        a.read_exact(&mut back)?;
        Ok((eof, back == *b"y"))
    };
    match run() {
        Ok((eof, other_direction)) => HalfClose {
            kind: kind.name().into(),
            eof,
            other_direction,
            error: None,
        },
        Err(e) => HalfClose {
            kind: kind.name().into(),
            error: Some(errno_text(&e)),
            ..HalfClose::default()
        },
    }
}

/// The connect timeout of the watchdog check.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(50);

fn watchdog() -> Watchdog {
    let tries = 3;
    let mut late = Vec::new();
    for _ in 0..tries {
        let run = || -> std::io::Result<f64> {
            let mut child = Command::new("sleep")
                .arg("30")
                .connect_timeout(CONNECT_TIMEOUT)
                .spawn()?;
            let t = Instant::now();
            let mut byte = [0u8];
            let read = child.reader().read(&mut byte);
            let took = t.elapsed();
            let _ = child.close();
            match read {
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    Ok(took.saturating_sub(CONNECT_TIMEOUT).as_secs_f64() * 1e3)
                }
                Err(e) => Err(e),
                Ok(_) => Err(std::io::Error::other("sleep wrote a byte")),
            }
        };
        match run() {
            Ok(ms) => late.push(ms),
            Err(e) => {
                return Watchdog {
                    timeout_ms: CONNECT_TIMEOUT.as_secs_f64() * 1e3,
                    late_ms: None,
                    tries,
                    error: Some(format!("a child `sleep 30` with a connect timeout: {e}")),
                };
            }
        }
    }
    Watchdog {
        timeout_ms: CONNECT_TIMEOUT.as_secs_f64() * 1e3,
        late_ms: Some(percentile(&late, 50.0)),
        tries,
        error: None,
    }
}

fn local_shell(topology: Topology) -> Attempt {
    let payload: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let t = Instant::now();
    let run = || -> std::io::Result<bool> {
        let mut child = Command::new("sh")
            .args(["-c", "cat"])
            .topology(topology)
            .spawn()?;
        child.writer().write_all(&payload)?;
        let out = child.wait_with_output()?;
        Ok(out.stdout == payload && out.exit.success())
    };
    let on = format!("sh -c cat on {}", topology.name());
    match run() {
        Ok(true) => Attempt::tried(
            on,
            true,
            format!(
                "4000 bytes echoed, EOF on input close, exit 0 ({:.1} ms)",
                t.elapsed().as_secs_f64() * 1e3
            ),
        ),
        Ok(false) => Attempt::tried(on, false, "the bytes came back changed, or sh failed"),
        Err(e) => Attempt::tried(on, false, errno_text(&e)),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn rsync_ssh() -> Attempt {
    let on = "rsync over ssh to 127.0.0.1".to_string();
    let skip = |detail: String| Attempt {
        on: on.clone(),
        ok: false,
        detail,
        skipped: true,
    };
    let missing: Vec<&str> = ["rsync", "ssh"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    if !missing.is_empty() {
        return skip(format!("{} not installed", missing.join(" and ")));
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], 22));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        return skip(
            "sshd is not running on 127.0.0.1:22 (the bench does not start one)".to_string(),
        );
    }
    let dir = std::env::temp_dir().join(format!("procwire-matrix-{}", std::process::id()));
    let src = dir.join("src");
    let t = Instant::now();
    let result = (|| -> std::io::Result<std::process::Output> {
        std::fs::create_dir_all(&src)?;
        std::fs::write(src.join("f"), vec![7u8; 100_000])?;
        let mut child = std::process::Command::new("rsync")
            .args([
                "-a",
                "-e",
                "ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no",
            ])
            .arg(format!("{}/", src.display()))
            .arg(format!("127.0.0.1:{}/", dir.join("dst").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output()
    })();
    let copied = std::fs::read(dir.join("dst/f")).is_ok_and(|f| f.len() == 100_000);
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(out) if out.status.success() && copied => Attempt::tried(
            on,
            true,
            format!("100 KB copied ({:.0} ms)", t.elapsed().as_secs_f64() * 1e3),
        ),
        Ok(out) => Attempt::tried(
            on,
            false,
            format!(
                "rsync {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
            ),
        ),
        Err(e) => Attempt::tried(on, false, errno_text(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_answers_every_check() {
        let c = run(false);
        assert_eq!(c.queue.len(), 3);
        for q in &c.queue {
            assert!(q.error.is_none(), "{q:?}");
            assert!(q.queued.unwrap() > 0 && q.send_buffer.unwrap() > 0, "{q:?}");
        }
        let pipes = &c.ancillary[0];
        assert!(!pipes.ok && pipes.detail.contains("ENOTSOCK"), "{pipes:?}");
        assert!(c.ancillary[1].ok, "{:?}", c.ancillary[1]);
        for h in &c.half_close {
            assert!(h.eof && h.other_direction, "{h:?}");
        }
        for g in &c.largest_grant {
            assert!(g.send.unwrap() > 0, "{g:?}");
        }
        assert!(
            c.connect_watchdog.late_ms.is_some(),
            "{:?}",
            c.connect_watchdog
        );
        assert_eq!(c.remote_shell.len(), 3);
        assert!(c.remote_shell.iter().all(|a| a.ok), "{:?}", c.remote_shell);
    }
}
