//! `procwire exec`: run a program on a wire and bridge it to our own stdin and stdout, as a
//! remote-shell wrapper (`rsync -e 'procwire exec --connect-timeout 20 -- ssh'`).
//!
//! Two directions run at once, so neither can deadlock the other, each a
//! [`procwire::relay::Bridge`] on the relay engine (zero-copy where the kernel can: straight
//! into a pipe, or into a socket through a pipe of the bridge's own, so `--wire socketpair`
//! to a socket is zero-copy too; else a buffered copy): a thread
//! moves our stdin to the program's input and half-closes it at our EOF; another moves the
//! program's output to our stdout until EOF, or until the program has exited and what was
//! queued then is moved (a descendant such as an ssh `ControlMaster` may hold the wire open
//! long after). Our own stdin and stdout are never made non-blocking: those open file
//! descriptions are shared with whoever started us.
//!
//! The main thread waits for the program and then for the output thread. After an ordinary
//! exit it waits without limit: everything the program wrote before it exits reaches our
//! stdout, however slowly our reader takes it. After a watchdog's kill the program's wire is
//! no longer read (its reads fail), and what the output thread already took from it (at most
//! a pipe or a buffer, a few hundred KiB) is delivered while our stdout keeps taking bytes.
//! A write to our stdout can sleep in the kernel without limit, though, when it is a socket,
//! a tty or anything but a pipe (a pipe is waited on in poll(2), which the watchdog wakes) and
//! its reader has stopped reading; nothing can wake such a write. So once our stdout has taken
//! no byte for as long as the watchdog gave the program (`--stall-timeout` or
//! `--connect-timeout`), exec gives the held bytes up, says so and how many on stderr, and
//! exits 124 as any watchdog kill does, leaving that write to die with the process
//! ([`grace`] is the rule).
//!
//! The program gets `SIGTERM` if we die (`PR_SET_PDEATHSIG`), so a wrapper killed by a signal
//! does not leave an ssh running on its own.
//!
//! Exit status: the program's code; 128+N if signal N ended it; 124 when a watchdog killed it;
//! 127 when it was not found and 126 when it could not be executed; 2 for usage errors.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use procwire::child::{self, Command, Exit, StderrTo, Topology};
use procwire::relay::{Bridge, DEFAULT_PIPE_SIZE, Fd, PipePool, Sink, Source};
use procwire::stderr::{Config, Forward, Settings};

use crate::{CmdResult, Status};

mod grace;

use grace::{StdoutGrace, Verdict};

/// The `--stderr` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StderrMode {
    /// Forward the program's stderr byte for byte as it arrives (prompts and partial lines too).
    Raw,
    /// Forward whole lines, each with --stderr-prefix in front (a `\r` before the newline, as
    /// ssh sends, is dropped).
    Lines,
    /// Forward nothing; if the program fails, print the captured tail (last 64 KiB) under a
    /// one-line header.
    Quiet,
}

/// `--process-group`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupMode {
    /// A new group when we have no controlling terminal (CI, cron, a daemon, rsync without a
    /// terminal); the program stays in ours when we have one, so it can prompt there.
    Auto,
    /// Always a new group.
    Always,
    /// Never: signals reach the program alone.
    Never,
}

impl GroupMode {
    fn new_group(self) -> bool {
        match self {
            GroupMode::Always => true,
            GroupMode::Never => false,
            // open(2) of /dev/tty succeeds exactly when the process has a controlling terminal.
            GroupMode::Auto => std::fs::OpenOptions::new()
                .read(true)
                .open("/dev/tty")
                .is_err(),
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: the program's own; 128+N if signal N killed it; 124 if a \
                  watchdog killed it; 127 if it was not found; 126 if it could not be run; 2 \
                  for a usage error. After a watchdog kill, output exec still holds is given \
                  up (with a line on stderr) once our stdout has taken nothing for as long as \
                  the watchdog allowed.\n\nExample: rsync -a -e 'procwire exec --connect-timeout 20 \
                  -- ssh' src/ host:dst/"
)]
pub struct Args {
    /// The wire between us and the program
    #[arg(long, value_name = "TOPOLOGY", default_value_t = Topology::default(),
          value_parser = topology_parser())]
    wire: Topology,
    /// Kill the program if it has sent no byte on stdout after TIME (20s, 500ms, 2m, or bare
    /// seconds; 1ms to 24h)
    #[arg(long, value_name = "TIME", value_parser = timeout, allow_hyphen_values = true)]
    connect_timeout: Option<Duration>,
    /// Kill the program when neither direction has moved for TIME (as --connect-timeout)
    #[arg(long, value_name = "TIME", value_parser = timeout, allow_hyphen_values = true)]
    stall_timeout: Option<Duration>,
    /// What to do with the program's stderr [default: raw, or lines with --stderr-prefix]
    #[arg(long, value_enum)]
    stderr: Option<StderrMode>,
    /// The prefix of each forwarded line (implies --stderr lines)
    #[arg(long, value_name = "TEXT")]
    stderr_prefix: Option<OsString>,
    /// Whether the program leads a process group of its own, so a watchdog's or the close
    /// policy's signals reach everything it started (an ssh ProxyCommand, a shell's children).
    /// auto: yes unless we have a controlling terminal (a program in a background group that
    /// reads the terminal, like ssh asking for a password, is stopped by SIGTTIN)
    #[arg(long, value_enum, default_value = "auto")]
    process_group: GroupMode,
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

/// `--wire`: the values are [`Topology`]'s names, parsed by its `FromStr`.
fn topology_parser() -> impl TypedValueParser<Value = Topology> {
    PossibleValuesParser::new(Topology::ALL.map(|t| {
        PossibleValue::new(t.name()).help(match t {
            Topology::Pipes => "Two pipes, one per direction (what std::process::Command uses)",
            Topology::SocketPairs => "One socketpair per direction (what upstream rsync uses)",
            Topology::SocketPair => "One socketpair for both directions",
        })
    }))
    .try_map(|name| name.parse::<Topology>())
}

/// Adds a tip to a usage error of `procwire exec` (or `connect`) whose command line has no
/// `--`: the program goes after it (`procwire exec ssh host` is refused because `ssh` is not an
/// option).
pub fn tip_separator(e: &mut clap::Error, argv: &[OsString]) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let tip: fn(Option<&str>) -> String = match argv.get(1).and_then(|a| a.to_str()) {
        Some("exec") => |program| {
            format!(
                "put the program and its arguments after `--`: procwire exec [OPTIONS] -- \
                 {} [ARGS]...",
                program.unwrap_or("PROGRAM")
            )
        },
        Some("connect") => crate::connect::tip,
        _ => return,
    };
    if argv.iter().skip(2).any(|a| a == "--")
        || !matches!(
            e.kind(),
            ErrorKind::UnknownArgument | ErrorKind::MissingRequiredArgument
        )
    {
        return;
    }
    let program = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) if !arg.starts_with('-') => Some(arg.as_str()),
        _ => None,
    };
    let tip = tip(program);
    let mut tips = match e.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    tips.push(tip.into());
    e.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
}

/// Runs `procwire exec`. The program's output goes to our stdout's descriptor directly (`out`,
/// a buffered handle, is not used): bytes must reach the reader as they arrive, and splice
/// needs the descriptor. Ends `Ok` when the program exited 0, else with a [`Status`] carrying
/// the exit status.
pub fn run(args: &Args, _out: &mut dyn Write) -> CmdResult {
    let forward = forward(args)?;
    let quiet = forward == Forward::Quiet;
    let program = args.command[0].to_string_lossy().into_owned();
    let mut cmd = Command::from_argv(&args.command).map_err(|e| Status::usage(e.to_string()))?;
    cmd.topology(args.wire)
        // Killed by a signal, we must not leave the program (an ssh, say) running on its own.
        .die_with_parent(true)
        .stderr(StderrTo::Capture(
            Settings::new().config(Config::default().forward(forward)),
        ));
    if args.process_group.new_group() {
        cmd.process_group(0);
    }
    if let Some(t) = args.connect_timeout {
        cmd.connect_timeout(t);
    }
    if let Some(t) = args.stall_timeout {
        cmd.stall_timeout(t);
    }
    let child = cmd
        .spawn()
        .map_err(|e| spawn_failure(&e, &args.command[0]))?;
    let who = format!("{program} (pid {})", child.id());
    let (mut reader, mut writer, mut handle) = child.split();

    // Our stdin to the program's input; at our EOF, half-close it. The thread is not joined:
    // our stdin may never end (rsync keeps it open), and exiting ends the thread.
    std::thread::Builder::new()
        .name("procwire-exec-in".into())
        .spawn(move || {
            let stdin = io::stdin();
            if let Ok(mut src) = Fd::new(stdin.as_fd()) {
                let _ = bridge().run(&mut src, &mut writer);
            }
            let _ = writer.close();
        })
        .map_err(|e| Status::new(1, format!("starting the input thread: {e}")))?;

    // The program's output to our stdout, on a thread of its own: a write to our stdout may
    // sleep in the kernel without limit, and this thread must stay free to end exec then.
    let tally = Arc::new(Tally::default());
    let exited = Arc::new(AtomicBool::new(false));
    let (done, forwarded) = mpsc::channel();
    {
        let (tally, exited) = (Arc::clone(&tally), Arc::clone(&exited));
        std::thread::Builder::new()
            .name("procwire-exec-out".into())
            .spawn(move || {
                let stdout = io::stdout();
                let r = Fd::new(stdout.as_fd()).and_then(|fd| {
                    let mut src = Taking {
                        stdout: fd.as_fd().as_raw_fd(),
                        reader: &mut reader,
                        tally: &tally,
                    };
                    let mut dst = Delivering { fd, tally: &tally };
                    bridge()
                        .run_until_exit(&mut src, &mut dst, || exited.load(Ordering::Acquire))
                        .into_result()
                });
                drop(reader);
                let _ = done.send(r.map(drop));
            })
            .map_err(|e| Status::new(1, format!("starting the output thread: {e}")))?;
    }

    let ended = match supervise(&mut handle, &forwarded, &exited, &tally) {
        Forwarded::Done(Ok(())) => handle.wait(),
        Forwarded::Done(Err(e)) if child::TimedOut::of(&e).is_some() => handle.wait(),
        // Our stdout failed (its reader went away, say): a program that waits on its input
        // would never end by itself, so run the close policy rather than wait without limit.
        Forwarded::Done(Err(_)) => handle.close(),
        Forwarded::GaveUp { idle, watchdog } => {
            let held = tally.held();
            eprintln!(
                "procwire exec: {who}: gave up on {} of its output that exec held: our stdout \
                 took no byte for {} after the {watchdog} watchdog killed the program (is \
                 whatever reads our stdout still reading?)",
                if held == 1 {
                    "1 byte".to_owned()
                } else {
                    format!("{held} bytes")
                },
                crate::units::format_duration(idle),
            );
            handle.wait()
        }
    };

    match ended {
        Ok(exit) => {
            if quiet && !exit.success() {
                print_tail(&format!("{who} {}", ending(&exit)), exit.stderr_tail());
            }
            match exit.shell_code().clamp(0, 255) as u8 {
                0 => Ok(()),
                code => Err(Status::quiet(code).into()),
            }
        }
        Err(e) => match child::TimedOut::of(&e) {
            Some(t) => {
                if let (true, Some(exit)) = (quiet, t.exit()) {
                    let killed = format!("{who} was killed by the {} watchdog", t.watchdog());
                    print_tail(&killed, exit.stderr_tail());
                }
                Err(Status::new(124, format!("{who}: {t}")).into())
            }
            None => Err(Status::new(1, format!("waiting for {who}: {e}")).into()),
        },
    }
}

/// How often the supervising thread looks at the output thread while the program runs (the
/// program's exit itself wakes it at once, through the pidfd): the delay before an output
/// failure (our stdout's reader gone) starts the close policy.
const TICK: Duration = Duration::from_millis(200);

/// How the output thread ended, as the supervising thread saw it.
enum Forwarded {
    /// It ended by itself: EOF, the program's exit, or an error.
    Done(io::Result<()>),
    /// A watchdog killed the program, and our stdout then took no byte for `idle`: the
    /// thread is left inside its write, and exec ends without it.
    GaveUp {
        idle: Duration,
        watchdog: child::Watchdog,
    },
}

/// Waits for the program to end, marks `exited` for the output thread (its end-at-exit rule),
/// then waits for that thread: without limit after an ordinary exit (every byte the program
/// wrote before it is delivered), under [`StdoutGrace`] after a watchdog's kill.
fn supervise(
    handle: &mut child::Handle,
    forwarded: &mpsc::Receiver<io::Result<()>>,
    exited: &AtomicBool,
    tally: &Tally,
) -> Forwarded {
    let gone = || io::Error::other("the output thread ended without a result");
    loop {
        match forwarded.try_recv() {
            Ok(r) => return Forwarded::Done(r),
            Err(mpsc::TryRecvError::Disconnected) => return Forwarded::Done(Err(gone())),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        match handle.wait_timeout(TICK) {
            Ok(None) => {}
            // Exited, or waiting failed (handle.wait() reports that): no exit is coming.
            Ok(Some(_)) | Err(_) => break,
        }
    }
    exited.store(true, Ordering::Release);
    let Some((watchdog, after)) = handle.timed_out() else {
        return Forwarded::Done(forwarded.recv().unwrap_or_else(|_| Err(gone())));
    };
    let mut grace = StdoutGrace::new(after, Instant::now(), tally.delivered());
    loop {
        match grace.check(Instant::now(), tally.delivered()) {
            Verdict::Wait(left) => match forwarded.recv_timeout(left) {
                Ok(r) => return Forwarded::Done(r),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Forwarded::Done(Err(gone())),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            },
            Verdict::GiveUp => {
                return Forwarded::GaveUp {
                    idle: grace.limit(),
                    watchdog,
                };
            }
        }
    }
}

/// What the output thread has moved: bytes taken from the program, bytes our stdout took.
#[derive(Debug, Default)]
struct Tally {
    taken: AtomicU64,
    delivered: AtomicU64,
}

impl Tally {
    fn took(&self, n: usize) {
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn gave(&self, n: usize) {
        self.delivered.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Taken from the program and not yet in our stdout: in the bridge's pipe or buffer.
    fn held(&self) -> u64 {
        self.taken
            .load(Ordering::Relaxed)
            .saturating_sub(self.delivered())
    }
}

/// The program's output as a relay source, counting what it gives into [`Tally::taken`]
/// (a splice straight into our stdout, a pipe, counts as delivered too).
struct Taking<'a> {
    reader: &'a mut child::Reader,
    tally: &'a Tally,
    stdout: RawFd,
}

impl AsFd for Taking<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }
}

impl Source for Taking<'_> {
    fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read_chunk(buf)?;
        self.tally.took(n);
        Ok(n)
    }

    fn splice_into(&mut self, dst: &mut dyn Sink, len: usize) -> io::Result<usize> {
        let direct = dst.pipe_fd().map(|p| p.as_raw_fd()) == Some(self.stdout);
        let n = self.reader.splice_into(dst, len)?;
        self.tally.took(n);
        if direct {
            self.tally.gave(n);
        }
        Ok(n)
    }
}

/// Our stdout as a relay sink, counting what it takes into [`Tally::delivered`].
struct Delivering<'a> {
    fd: Fd<'a>,
    tally: &'a Tally,
}

impl Sink for Delivering<'_> {
    fn write_chunk(&mut self, buf: &[u8]) -> io::Result<()> {
        self.fd.write_chunk(buf)?;
        self.tally.gave(buf.len());
        Ok(())
    }

    fn is_pipe(&self) -> bool {
        self.fd.is_pipe()
    }

    fn pipe_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.pipe_fd()
    }

    fn splice_from_fd(&mut self, src: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        let n = self.fd.splice_from_fd(src, len)?;
        self.tally.gave(n);
        Ok(n)
    }

    fn stream_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.stream_fd()
    }

    fn splice_out_of(&mut self, pipe: BorrowedFd<'_>, len: usize, more: bool) -> io::Result<usize> {
        let n = self.fd.splice_out_of(pipe, len, more)?;
        self.tally.gave(n);
        Ok(n)
    }
}

/// One direction's bridge: splice where the kernel can, through a pipe of its own into a
/// socket (one pipe per direction, asked [`DEFAULT_PIPE_SIZE`]).
fn bridge() -> Bridge {
    let mut b = Bridge::new();
    b.pool(PipePool::new(DEFAULT_PIPE_SIZE, 1));
    b
}

/// The stderr forwarding the options ask for: `--stderr-prefix` implies lines mode, and is a
/// usage error beside an explicit raw or quiet.
fn forward(args: &Args) -> Result<Forward, Status> {
    let prefix = args
        .stderr_prefix
        .as_ref()
        .map(|p| p.as_encoded_bytes().to_vec());
    match (args.stderr, prefix) {
        (None | Some(StderrMode::Raw), None) => Ok(Forward::Raw),
        (Some(StderrMode::Quiet), None) => Ok(Forward::Quiet),
        (None | Some(StderrMode::Lines), prefix) => Ok(Forward::Lines {
            prefix: prefix.unwrap_or_default(),
        }),
        (Some(mode), Some(_)) => Err(Status::usage(format!(
            "--stderr-prefix applies to --stderr lines, not --stderr {}",
            if mode == StderrMode::Raw {
                "raw"
            } else {
                "quiet"
            }
        ))),
    }
}

/// "exited with status N" or "was killed by signal N", for the quiet tail's header.
pub(crate) fn ending(exit: &Exit) -> String {
    match (exit.code(), exit.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => format!("ended ({exit})"),
    }
}

/// Quiet mode's report of a failed program: a one-line header, then the captured tail as it
/// was written. Nothing when the program wrote nothing to stderr.
fn print_tail(what: &str, tail: &[u8]) {
    if tail.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "procwire exec: {what}; its last stderr output:");
    let _ = err.write_all(tail);
    if !tail.ends_with(b"\n") {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

/// The status and message for a program that could not be started: 127 when it was not
/// found, 126 when it was found but could not be executed, 1 for anything else (descriptors,
/// threads). A program that looks like one of our options gets a tip about `--`.
fn spawn_failure(e: &io::Error, program: &OsStr) -> Status {
    let mut message = e.to_string();
    if program.as_encoded_bytes().starts_with(b"-") {
        message.push_str(
            " (the program after `--` starts with '-': procwire exec's own options go before \
             `--`, the program and its arguments after it)",
        );
    }
    Status::new(spawn_failure_code(e), message)
}

pub(crate) fn spawn_failure_code(e: &io::Error) -> u8 {
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
