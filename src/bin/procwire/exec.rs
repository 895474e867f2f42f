//! `procwire exec`: run a program on a wire and bridge it to our own stdin and stdout, as a
//! remote-shell wrapper (`rsync -e 'procwire exec --connect-timeout 20 -- ssh'`).
//!
//! Two directions run at once, so neither can deadlock the other: a thread copies our stdin to
//! the program's input and half-closes it at our EOF; this thread copies the program's output
//! to our stdout until EOF, or until the program has exited and its output is drained (a
//! descendant such as an ssh `ControlMaster` may hold the wire open long after). Each direction
//! tries `splice(2)` first (it moves pages without copying when either side is a pipe) and
//! falls back to a buffered copy on `EINVAL` before any byte moved. Our own stdin and stdout
//! are never made non-blocking: those open file descriptions are shared with whoever started
//! us.
//!
//! The program gets `SIGTERM` if we die (`PR_SET_PDEATHSIG`), so a wrapper killed by a signal
//! does not leave an ssh running on its own.
//!
//! Exit status: the program's code; 128+N if signal N ended it; 124 when a watchdog killed it;
//! 127 when it was not found and 126 when it could not be executed; 2 for usage errors.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;
use std::time::Duration;

use procwire::child::{self, Command, StderrTo, Topology};
use procwire::stderr::{Config, Forward, Settings};
use rustix::event::{PollFd, PollFlags, Timespec};

/// The `--wire` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// Two pipes, one per direction (what std::process::Command uses).
    Pipes,
    /// One socketpair for both directions.
    Socketpair,
    /// One socketpair per direction (what upstream rsync uses).
    Socketpairs,
}

impl From<Wire> for Topology {
    fn from(w: Wire) -> Topology {
        match w {
            Wire::Pipes => Topology::Pipes,
            Wire::Socketpair => Topology::SocketPair,
            Wire::Socketpairs => Topology::SocketPairs,
        }
    }
}

/// The `--stderr` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StderrMode {
    /// Forward the program's stderr byte for byte as it arrives (prompts and partial lines too).
    Raw,
    /// Forward whole lines, each with --stderr-prefix in front.
    Lines,
    /// Forward nothing; print the captured tail (last 64 KiB) only if the program fails.
    Quiet,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: the program's own; 128+N if signal N killed it; 124 if a \
                  watchdog killed it; 127 if it was not found; 126 if it could not be run; 2 \
                  for a usage error.\n\nExample: rsync -a -e 'procwire exec --connect-timeout 20 \
                  -- ssh' src/ host:dst/"
)]
pub struct Args {
    /// The wire between us and the program
    #[arg(long, value_enum, default_value = "socketpair")]
    wire: Wire,
    /// Kill the program if it has sent no byte on stdout after TIME (20s, 500ms, 2m, or bare
    /// seconds; 1ms to 24h)
    #[arg(long, value_name = "TIME", value_parser = timeout, allow_hyphen_values = true)]
    connect_timeout: Option<Duration>,
    /// Kill the program when neither direction has moved for TIME (as --connect-timeout)
    #[arg(long, value_name = "TIME", value_parser = timeout, allow_hyphen_values = true)]
    stall_timeout: Option<Duration>,
    /// What to do with the program's stderr
    #[arg(long, value_enum, default_value = "raw")]
    stderr: StderrMode,
    /// The prefix of each forwarded line in --stderr lines mode
    #[arg(long, value_name = "TEXT")]
    stderr_prefix: Option<OsString>,
    /// The program and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    command: Vec<OsString>,
}

/// The longest watchdog timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A watchdog timeout: [`crate::units::parse_duration`], 1 ms to 24 h.
fn timeout(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s, MAX_TIMEOUT)
}

/// Runs `procwire exec`; returns the exit status to end with.
pub fn run(args: &Args) -> ExitCode {
    match exec(args) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("procwire exec: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

fn exec(args: &Args) -> Result<u8, Failure> {
    let forward = match (args.stderr, &args.stderr_prefix) {
        (StderrMode::Raw, None) => Forward::Raw,
        (StderrMode::Quiet, None) => Forward::Quiet,
        (StderrMode::Lines, prefix) => Forward::Lines {
            prefix: prefix
                .as_ref()
                .map(|p| p.as_encoded_bytes().to_vec())
                .unwrap_or_default(),
        },
        (mode, Some(_)) => {
            return Err(usage(format!(
                "--stderr-prefix applies to --stderr lines, not --stderr {}",
                if mode == StderrMode::Raw {
                    "raw"
                } else {
                    "quiet"
                }
            )));
        }
    };
    let quiet = forward == Forward::Quiet;
    let mut cmd = Command::from_argv(&args.command).map_err(|e| usage(e.to_string()))?;
    cmd.topology(args.wire.into())
        // Killed by a signal, we must not leave the program (an ssh, say) running on its own.
        .die_with_parent(true)
        .stderr(StderrTo::Capture(
            Settings::new().config(Config::default().forward(forward)),
        ));
    if let Some(t) = args.connect_timeout {
        cmd.connect_timeout(t);
    }
    if let Some(t) = args.stall_timeout {
        cmd.stall_timeout(t);
    }
    let child = cmd.spawn().map_err(|e| Failure {
        code: spawn_failure_code(&e),
        message: e.to_string(),
    })?;
    let (mut reader, mut writer, mut handle) = child.split();

    // Our stdin to the program's input; at our EOF, half-close it. The thread is not joined:
    // our stdin may never end (rsync keeps it open), and exiting ends the thread.
    std::thread::Builder::new()
        .name("procwire-exec-in".into())
        .spawn(move || {
            let _ = forward_input(io::stdin().as_fd(), &mut writer);
            let _ = writer.close();
        })
        .map_err(|e| Failure {
            code: 1,
            message: format!("starting the input thread: {e}"),
        })?;

    // The program's output to our stdout, until EOF or until it exited and nothing is left.
    let forwarded = forward_output(&mut reader, io::stdout().as_fd(), || {
        matches!(handle.try_wait(), Ok(Some(_)))
    });
    drop(reader);
    // Our stdout failed (its reader went away, say): a program that waits on its input would
    // never end by itself, so run the close policy rather than wait without limit.
    let ended = match forwarded {
        Ok(()) => handle.wait(),
        Err(e) if child::TimedOut::of(&e).is_some() => handle.wait(),
        Err(_) => handle.close(),
    };

    match ended {
        Ok(exit) => {
            if quiet && !exit.success() {
                let mut err = io::stderr().lock();
                let _ = err.write_all(exit.stderr_tail());
                let _ = err.flush();
            }
            Ok(exit.shell_code().clamp(0, 255) as u8)
        }
        Err(e) => match child::TimedOut::of(&e) {
            Some(t) => {
                if quiet {
                    if let Some(exit) = t.exit() {
                        let _ = io::stderr().write_all(exit.stderr_tail());
                    }
                }
                Err(Failure {
                    code: 124,
                    message: t.to_string(),
                })
            }
            None => Err(Failure {
                code: 1,
                message: format!("waiting for the program: {e}"),
            }),
        },
    }
}

const CHUNK: usize = 256 << 10;

/// The shell's status for a program that could not be started: 127 when it was not found, 126
/// when it was found but could not be executed, 1 for anything else (descriptors, threads).
fn spawn_failure_code(e: &io::Error) -> u8 {
    let errno = child::SpawnError::of(e).and_then(child::SpawnError::os_error);
    let is = |n: rustix::io::Errno| errno == Some(n.raw_os_error());
    use rustix::io::Errno;
    if is(Errno::NOENT) || is(Errno::NOTDIR) {
        127
    } else if is(Errno::ACCESS)
        || is(Errno::NOEXEC)
        || is(Errno::ISDIR)
        || is(Errno::TXTBSY)
        || is(Errno::PERM)
        || is(Errno::LOOP)
        || is(Errno::NAMETOOLONG)
    {
        126
    } else {
        1
    }
}

/// Whether a splice error means "this pair of descriptors cannot splice": fall back to copying.
fn cannot_splice(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidInput
        || e.raw_os_error() == Some(rustix::io::Errno::NOSYS.raw_os_error())
}

/// Our stdin to the program until EOF or an error; `splice(2)` while it works, else a copy.
///
/// Our stdin and stdout may be non-blocking: upstream rsync hands its remote shell a
/// non-blocking stdout (and other callers may do the same to stdin). `EAGAIN` then means
/// "wait in poll(2)", never "give up".
fn forward_input(stdin: BorrowedFd<'_>, writer: &mut child::Writer) -> io::Result<()> {
    let mut moved = 0u64;
    loop {
        match writer.splice_from(stdin, CHUNK) {
            Ok(0) => return Ok(()),
            Ok(n) => moved += n as u64,
            Err(e) if moved == 0 && cannot_splice(&e) => break,
            Err(e) => return Err(e),
        }
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = read_fd(stdin, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        writer.write_all(&buf[..n])?;
    }
}

/// The program's output to our stdout until EOF, an error, or the program's exit followed by
/// an empty wire: once `exited()` says it is gone, only what is already readable is moved.
fn forward_output(
    reader: &mut child::Reader,
    stdout: BorrowedFd<'_>,
    mut exited: impl FnMut() -> bool,
) -> io::Result<()> {
    let mut splicing = true;
    let mut moved = 0u64;
    let mut buf = Vec::new();
    // Once the program is gone: how much more to move (what was queued then), so a descendant
    // that keeps writing cannot keep us here.
    let mut left: Option<u64> = None;
    loop {
        let wait = match left {
            Some(_) => Duration::ZERO,
            None => Duration::from_millis(50),
        };
        if left == Some(0) || !ready(reader.as_fd(), PollFlags::IN, Some(wait))? {
            if left.is_some() {
                return Ok(());
            }
            if exited() {
                // What FIONREAD says is queued now, or one buffer's worth if it cannot say.
                left = Some(rustix::io::ioctl_fionread(reader.as_fd()).unwrap_or(CHUNK as u64));
            }
            continue;
        }
        let want = left.map_or(CHUNK, |l| l.min(CHUNK as u64) as usize);
        let n = if splicing {
            match reader.splice_to(stdout, want) {
                Ok(n) => n,
                Err(e) if moved == 0 && cannot_splice(&e) => {
                    splicing = false;
                    buf = vec![0u8; CHUNK];
                    continue;
                }
                Err(e) => return Err(e),
            }
        } else {
            let n = io::Read::read(reader, &mut buf[..want])?;
            write_all_fd(stdout, &buf[..n])?;
            n
        };
        if n == 0 {
            return Ok(());
        }
        moved += n as u64;
        if let Some(l) = left.as_mut() {
            *l = l.saturating_sub(n as u64);
        }
    }
}

fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => {
                ready(fd, PollFlags::IN, None)?;
            }
            r => return Ok(r?),
        }
    }
}

/// Writes to our stdout without buffering (bytes reach the reader as they arrive).
fn write_all_fd(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => {
                ready(fd, PollFlags::OUT, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits in poll(2) until `fd` is ready for `events` (or hung up or in error, which the next
/// call reports) or `timeout` passes (`None`: no limit); false on the timeout.
fn ready(fd: BorrowedFd<'_>, events: PollFlags, timeout: Option<Duration>) -> io::Result<bool> {
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs() as i64,
        tv_nsec: t.subsec_nanos() as _,
    });
    let mut fds = [PollFd::from_borrowed_fd(fd, events)];
    loop {
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
