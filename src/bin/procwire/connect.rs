//! `procwire connect`: two programs on one wire, each one's stdout the other's stdin.
//!
//! We make the wire (a socketpair, or two pipes), give program A one end as its fd 0 and 1 and
//! program B the other, and stay out of the data path: the bytes go from program to program in
//! the kernel. When a program exits, the other reads EOF once it has read what was sent, and
//! its further writes fail with `EPIPE`, as in a shell pipeline, on both kinds:
//!
//! - Pipes: we close our copies right after the spawns, so the exiting program's close of its
//!   descriptors is the last one (a program can also close its stdout early, and the other
//!   reads EOF then). A descendant that inherited them keeps them open, as in a shell.
//! - Socketpair: we keep our copy of both ends, so that when a program has exited (reaped by
//!   its waiter thread) we can [shutdown(2)] its end both ways ([`End::shutdown_read`], then
//!   [`End::shutdown_write`]). That works even when a descendant of the exited program still
//!   holds the end, which a close could not do; and a program's own `shutdown(SHUT_WR)` works
//!   whoever holds the socket.
//!
//! [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
//!
//! Threads: the main thread spawns both programs (so their `PR_SET_PDEATHSIG` is tied to it,
//! which lives as long as we do) and then handles events from a channel; one waiter thread per
//! program owns its [`Handle`], waits for the exit (or the `--timeout` deadline, at which it
//! runs the close policy: `SIGTERM`, then `SIGKILL`) and reports; a signal thread (a
//! current-thread tokio runtime) reports `SIGINT` and `SIGTERM`, which the main thread forwards
//! to both programs through their [`Signaller`]s.
//!
//! Exit status, pipefail-style: 0 when both exit 0; else the status of the first program that
//! failed (its code, or 128+N for signal N); 124 when `--timeout` ran out; 127/126 when a
//! program was not found or could not be executed; 2 for usage errors. "First" is the order
//! the waiter threads report in. On a socketpair a program that fails because its peer's exit
//! gave it EOF is always reported second (the EOF is our shutdown, made after the report); on
//! pipes the kernel gives that EOF at the exit itself, so two failures moments apart may be
//! reported in either order.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use procwire::child::{Command, Exit, Handle, KillPolicy, Signaller, StderrTo};
use procwire::stderr::{Config, Forward, Settings};
use procwire::wire::{Builder, End, Kind};

use crate::{CmdResult, Status};

/// The `--wire` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WireKind {
    /// One socketpair: each program's fd 0 and fd 1 are its end
    Socketpair,
    /// Two pipes, one per direction
    Pipes,
}

/// The `--stderr` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StderrMode {
    /// Both programs write to our stderr directly, byte for byte
    Raw,
    /// Whole lines, each prefixed with `[A] ` or `[B] ` (or the --name-a/--name-b labels),
    /// never mixed within a line; a last line without a newline is still printed
    Lines,
}

const USAGE: &str = "procwire connect [OPTIONS] -- CMD_A [ARGS]... -- CMD_B [ARGS]...";

#[derive(Debug, clap::Args)]
#[command(
    override_usage = USAGE,
    after_help = "A's stdout feeds B's stdin and B's stdout feeds A's stdin. When one program \
                  exits, the other reads EOF. CMD_A's arguments cannot contain `--` (the first \
                  one ends CMD_A; wrap A in `sh -c '...'` if it needs one); CMD_B's can.\n\n\
                  Exit status: 0 when both exit 0; otherwise the status of the first program \
                  that failed (its code, or 128+N for signal N); 124 if --timeout ran out; 127 \
                  if a program was not found; 126 if it could not be run; 2 for a usage \
                  error.\n\nExample: procwire connect --stderr lines -- python3 client.py -- \
                  python3 server.py"
)]
pub struct Args {
    /// The wire between the two programs
    #[arg(long, value_enum, default_value = "socketpair")]
    wire: WireKind,
    /// What to do with the programs' stderr [default: raw, or lines with --name-a/--name-b]
    #[arg(long, value_enum)]
    stderr: Option<StderrMode>,
    /// A's label in --stderr lines (default A; implies --stderr lines)
    #[arg(long, value_name = "LABEL")]
    name_a: Option<String>,
    /// B's label in --stderr lines (default B; implies --stderr lines)
    #[arg(long, value_name = "LABEL")]
    name_b: Option<String>,
    /// Kill both programs after TIME (SIGTERM, then SIGKILL 2s later) and exit 124 (20s,
    /// 500ms, 2m, or bare seconds; 1ms to 30 days)
    #[arg(long, value_name = "TIME", value_parser = timeout, allow_hyphen_values = true)]
    timeout: Option<Duration>,
    /// `--`, program A and its arguments, `--`, program B and its arguments
    #[arg(last = true, required = true, value_name = "PROGRAMS")]
    programs: Vec<OsString>,
}

/// The longest `--timeout`.
const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long a finished program's stderr drain may take to forward what was queued (it waits
/// only when our stderr is slow: a pipe nobody reads, a paused terminal).
const STDERR_GRACE: Duration = Duration::from_secs(5);

fn timeout(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s, MAX_TIMEOUT)
}

/// One of the two programs: its label, its argv, and once started its pid.
struct Program {
    label: String,
    argv: Vec<OsString>,
    pid: u32,
}

impl Program {
    /// `A (python3, pid 123)`.
    fn who(&self) -> String {
        format!(
            "{} ({}, pid {})",
            self.label,
            self.argv[0].to_string_lossy(),
            self.pid
        )
    }
}

/// How a waiter thread saw its program end.
enum Ended {
    Exited(Exit),
    /// Killed by the close policy when `--timeout` ran out.
    TimedOut(Exit),
    Failed(io::Error),
}

enum Event {
    Ended(usize, Ended),
    Signal(i32),
}

/// Runs `procwire connect`. `out` is not used: the programs' output goes to each other.
pub fn run(args: &Args, _out: &mut dyn Write) -> CmdResult {
    let mut programs = programs(args)?;
    let forward = lines_mode(args)?;
    let (tx, events) = mpsc::channel();
    // Before any program starts, so that from its first moment a signal to us is forwarded.
    watch_signals(tx.clone()).map_err(|e| Status::new(1, format!("watching signals: {e}")))?;
    let deadline = args.timeout.and_then(|t| Instant::now().checked_add(t));

    let kind = match args.wire {
        WireKind::Socketpair => Kind::SocketPair,
        WireKind::Pipes => Kind::Pipes,
    };
    let (a, b) = Builder::new()
        .kind(kind)
        .build()
        .map_err(|e| Status::new(1, format!("making the {kind} wire: {e}")))?
        .into_ends();
    let ends = [a, b];

    let mut handles = Vec::with_capacity(2);
    for (end, program) in ends.iter().zip(&mut programs) {
        let prefix = forward.then(|| format!("[{}] ", program.label).into_bytes());
        match spawn(&program.argv, end, prefix) {
            Ok(handle) => {
                program.pid = handle.id();
                handles.push(handle);
            }
            Err(e) => {
                // A started program must not wait for a peer that will never come: it reads
                // EOF once our ends are closed, and the close policy ends it.
                drop(ends);
                for handle in handles {
                    let _ = handle.close();
                }
                return Err(spawn_failure(&program.label, &e, &program.argv[0]).into());
            }
        }
    }

    // Pipes: our copies would keep the other program from reading EOF (see the module docs).
    let mut ends = match kind {
        Kind::Pipes => {
            drop(ends);
            None
        }
        _ => Some(ends),
    };
    let signallers: Vec<Signaller> = handles.iter_mut().map(Handle::signaller).collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::Builder::new()
            .name(format!("procwire-wait-{}", programs[i].label))
            .spawn(move || {
                let _ = tx.send(Event::Ended(i, wait(handle, deadline)));
            })
            .map_err(|e| Status::new(1, format!("starting a waiter thread: {e}")))?;
    }
    drop(tx);

    // Which program ended in which order, and how.
    let mut ended: Vec<(usize, Ended)> = Vec::with_capacity(2);
    while ended.len() < 2 {
        match events.recv() {
            Ok(Event::Ended(i, how)) => {
                // Its peer's further writes fail with EPIPE, then it reads EOF after what was
                // sent. In that order: the other way round the peer could read EOF and write
                // once more before our read side is shut, and that write would succeed on one
                // run and fail on another. Errors are moot: the end is then as good as shut.
                if let Some(ends) = &mut ends {
                    let _ = ends[i].shutdown_read();
                    let _ = ends[i].shutdown_write();
                }
                ended.push((i, how));
            }
            Ok(Event::Signal(sig)) => {
                for (i, s) in signallers.iter().enumerate() {
                    if ended.iter().all(|(j, _)| *j != i) {
                        if let Err(e) = s.signal(sig) {
                            eprintln!("procwire connect: forwarding signal {sig}: {e}");
                        }
                    }
                }
            }
            // Every waiter sends before it ends; this cannot happen, but must not spin.
            Err(_) => return Err(Status::new(1, "lost track of the programs".into()).into()),
        }
    }
    drop(ends);
    verdict(&programs, ended, args.timeout)
}

/// The two programs from the words after the first `--`: A up to the second `--`, B after it.
fn programs(args: &Args) -> Result<Vec<Program>, Status> {
    let words = &args.programs;
    let Some(sep) = words.iter().position(|w| w == "--") else {
        return Err(Status::usage(format!(
            "connect runs two programs and found only one: put `--` between them: {USAGE}"
        )));
    };
    let (a, b) = (&words[..sep], &words[sep + 1..]);
    let label = |name: &Option<String>, default: &str| name.clone().unwrap_or(default.into());
    let mut programs = Vec::with_capacity(2);
    for (argv, name, which) in [(a, &args.name_a, "A"), (b, &args.name_b, "B")] {
        if argv.is_empty() {
            return Err(Status::usage(format!(
                "CMD_{which} is empty: give a program after each `--`: {USAGE}"
            )));
        }
        programs.push(Program {
            label: label(name, which),
            argv: argv.to_vec(),
            pid: 0,
        });
    }
    Ok(programs)
}

/// The tip for a command line without `--` (see [`crate::exec::tip_separator`]), `program`
/// being the first word clap refused, if any.
pub fn tip(program: Option<&str>) -> String {
    format!(
        "put each program after a `--` of its own: procwire connect [OPTIONS] -- {} \
         [ARGS]... -- CMD_B [ARGS]...",
        program.unwrap_or("CMD_A")
    )
}

/// Whether stderr goes in lines mode: asked for, or implied by a label; a label beside an
/// explicit `--stderr raw` is a usage error.
fn lines_mode(args: &Args) -> Result<bool, Status> {
    let labelled = args.name_a.is_some() || args.name_b.is_some();
    match args.stderr {
        Some(StderrMode::Lines) => Ok(true),
        None => Ok(labelled),
        Some(StderrMode::Raw) if labelled => Err(Status::usage(
            "--name-a and --name-b label lines of --stderr lines, not --stderr raw".into(),
        )),
        Some(StderrMode::Raw) => Ok(false),
    }
}

/// Starts one program with `end` as its fd 0 and 1 (duplicates: we keep `end` to shut it down
/// at the program's exit), stderr inherited or captured in lines with `prefix`, `SIGTERM` if
/// we die, and the close policy going straight to `SIGTERM` (there is no input of ours to
/// close first).
fn spawn(argv: &[OsString], end: &End, prefix: Option<Vec<u8>>) -> io::Result<Handle> {
    let dup = |fd: Option<std::os::fd::BorrowedFd<'_>>| {
        fd.expect("a fresh end has both directions")
            .try_clone_to_owned()
    };
    let mut cmd = Command::from_argv(argv)?;
    cmd.stdin(dup(end.read_fd())?)
        .stdout(dup(end.write_fd())?)
        .die_with_parent(true)
        .kill_policy(KillPolicy {
            close: Duration::ZERO,
            ..KillPolicy::DEFAULT
        })
        .stderr(match prefix {
            None => StderrTo::Inherit,
            Some(prefix) => StderrTo::Capture(
                Settings::new()
                    .config(Config::default().forward(Forward::Lines { prefix }))
                    .grace(STDERR_GRACE),
            ),
        });
    let (reader, writer, handle) = cmd.spawn()?.split();
    // The library's own wire is unused (both stdin and stdout were given).
    drop((reader, writer));
    // `cmd` is dropped here, and with it the duplicates it kept for later spawns: otherwise
    // they would hold the pipes open and the peer would never read EOF.
    Ok(handle)
}

/// Waits for the program to exit, or until `deadline`, when the close policy ends it.
fn wait(mut handle: Handle, deadline: Option<Instant>) -> Ended {
    let left = deadline.map_or(Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    });
    match handle.wait_timeout(left) {
        // Reaped: `wait` returns at once, with the stderr report.
        Ok(Some(_)) => handle.wait().map_or_else(Ended::Failed, Ended::Exited),
        Ok(None) => handle.close().map_or_else(Ended::Failed, Ended::TimedOut),
        Err(e) => Ended::Failed(e),
    }
}

/// Reports `SIGINT` and `SIGTERM` on `tx`, from a thread of its own running a current-thread
/// tokio runtime. The handlers are installed before this returns.
fn watch_signals(tx: Sender<Event>) -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut int, mut term) = rt.block_on(async {
        io::Result::Ok((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    std::thread::Builder::new()
        .name("procwire-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                loop {
                    let sig = tokio::select! {
                        Some(()) = int.recv() => libc::SIGINT,
                        Some(()) = term.recv() => libc::SIGTERM,
                        else => return,
                    };
                    if tx.send(Event::Signal(sig)).is_err() {
                        return;
                    }
                }
            })
        })?;
    Ok(())
}

/// Our exit status from how the programs ended, in the order they ended.
fn verdict(
    programs: &[Program],
    ended: Vec<(usize, Ended)>,
    timeout: Option<Duration>,
) -> CmdResult {
    let mut killed = Vec::new();
    let mut first_failure = None;
    for (i, how) in &ended {
        let who = programs[*i].who();
        match how {
            Ended::Failed(e) => {
                return Err(Status::new(1, format!("waiting for {who}: {e}")).into());
            }
            Ended::TimedOut(exit) => killed.push(format!("{who} {}", crate::exec::ending(exit))),
            Ended::Exited(exit) if !exit.success() && first_failure.is_none() => {
                first_failure = Some((
                    exit.shell_code().clamp(1, 255) as u8,
                    who,
                    crate::exec::ending(exit),
                ));
            }
            Ended::Exited(_) => {}
        }
    }
    if !killed.is_empty() {
        let after = crate::units::format_duration(timeout.unwrap_or_default());
        return Err(Status::new(
            124,
            format!("--timeout {after} ran out: {}", killed.join("; ")),
        )
        .into());
    }
    match first_failure {
        None => Ok(()),
        Some((code, who, how)) => Err(Status::new(code, format!("{who} {how}")).into()),
    }
}

/// A program that could not be started: 127 not found, 126 not executable, else 1, with the
/// label in front of the library's message (which names the program).
fn spawn_failure(label: &str, e: &io::Error, program: &OsStr) -> Status {
    let code = crate::exec::spawn_failure_code(e);
    let mut message = format!("{label}: {e}");
    if program.as_encoded_bytes().starts_with(b"-") {
        message.push_str(
            " (procwire connect's own options go before the first `--`, the programs after it)",
        );
    }
    Status::new(code, message)
}
