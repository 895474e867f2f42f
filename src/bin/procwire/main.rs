//! The `procwire` command-line tool.
//!
//! Each subcommand is one variant of [`Command`] holding its clap `Args` struct, and one module
//! next to this file with a `run(&Args, &mut dyn Write) -> CmdResult` function; [`main`] parses,
//! dispatches and turns errors into `procwire: <message>` (`procwire exec: <message>` for exec)
//! on stderr and a non-zero status: 1, or the one a [`Status`] error carries.
//! To add a subcommand: `mod name;`, a variant `Name(name::Args)` with its doc comment (that is
//! its `--help` line), and one arm in [`run`].

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod connect;
mod exec;
mod probe;
mod relay;
mod units;

/// What a subcommand returns: any error, reported by [`main`] as `procwire: <error>`.
type CmdResult = Result<(), Box<dyn Error + Send + Sync>>;

/// An error that ends the process with its own status rather than 1: `exec` passes on its
/// program's status (with nothing to print), and has 124, 126, 127 and 2 of its own.
#[derive(Debug)]
pub(crate) struct Status {
    code: u8,
    message: Option<String>,
}

impl Status {
    /// Exit with `code` and print `message`.
    pub(crate) fn new(code: u8, message: String) -> Status {
        Status {
            code,
            message: Some(message),
        }
    }

    /// A usage error: status 2.
    pub(crate) fn usage(message: String) -> Status {
        Status::new(2, message)
    }

    /// Exit with `code`, printing nothing (the program's own status: it spoke for itself).
    pub(crate) fn quiet(code: u8) -> Status {
        Status {
            code,
            message: None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl Error for Status {}

/// Byte wires between processes: make them, measure them.
#[derive(Debug, Parser)]
#[command(name = "procwire", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what this machine's kernel grants for wires
    ///
    /// Reads the pipe and socket buffer limits (/proc/sys/fs/pipe-*, /proc/sys/net/core/*), the
    /// sizes a fresh pipe and a fresh socketpair get, RLIMIT_NOFILE, and tries splice(2) between
    /// a pipe and a socketpair both ways. A fact that cannot be read is shown as `unknown` (null
    /// in JSON) and the rest are still reported.
    Probe(probe::Args),
    /// Measure which wire wins on this machine
    ///
    /// Throughput (GB/s) at 4 KiB to 1 MiB chunks and 1-byte round-trip latency for pipes and
    /// socketpairs at default and large buffers and TCP loopback, with the writer here and the
    /// reader in a child process, both pinned to the same CPU and then to different CPUs. Each
    /// figure stands next to a raw read/write loop on the same wire and single-core memcpy, as
    /// the median of interleaved repeats. About 90 s, --quick under 20 s, --full about 9 min on an
    /// idle 2-CPU machine (the plan's forecast; longer on a busy one).
    Bench(bench::Args),
    /// Connect two programs: A's stdout to B's stdin and B's stdout to A's stdin
    ///
    /// One wire (a socketpair, or two pipes) between them, with us out of the data path. When
    /// one program exits the other reads EOF; we wait for both and exit pipefail-style: 0 when
    /// both exit 0, else the status of the first that failed. Their stderr is inherited, or
    /// forwarded in whole lines prefixed with [A] and [B]. SIGINT and SIGTERM are forwarded to
    /// both, and neither outlives us.
    Connect(connect::Args),
    /// Run a program on a wire, bridged to our stdin and stdout (a remote-shell wrapper)
    ///
    /// PROGRAM runs with its stdin and stdout on a socketpair (or --wire), its stderr on a
    /// bounded side channel forwarded to ours, and optional connect and stall watchdogs. Our
    /// stdin's EOF half-closes its input; its output is forwarded until EOF, or until it has
    /// exited and nothing is left to read. Use it wherever a remote shell goes:
    /// rsync -e 'procwire exec --connect-timeout 20 -- ssh'.
    Exec(exec::Args),
    /// Forward TCP or Unix stream connections to another address, spliced (or copied)
    ///
    /// Accepts on --listen and relays each connection to --to in both directions: spliced
    /// through pipes from a shared pool where both ends allow it (--mode auto), with correct
    /// half-close, byte counts per connection (--stats), an idle timeout, a connection cap and a
    /// graceful stop on SIGTERM/SIGINT (--grace).
    Relay(relay::Args),
    #[command(hide = true)]
    BenchPeer(bench::PeerArgs),
}

impl Command {
    /// What our messages start with: `procwire`, or `procwire exec` for exec, whose messages
    /// stand among its program's.
    fn label(&self) -> &'static str {
        match self {
            Command::Exec(_) => "procwire exec",
            Command::Connect(_) => "procwire connect",
            _ => "procwire",
        }
    }
}

fn run(command: &Command, out: &mut dyn Write) -> CmdResult {
    match command {
        Command::Exec(args) => exec::run(args, out),
        Command::Connect(args) => connect::run(args, out),
        Command::Probe(args) => probe::run(args, out),
        Command::Bench(args) => bench::run(args, out),
        Command::Relay(args) => relay::run(args, out),
        Command::BenchPeer(args) => bench::run_peer(args),
    }
}

/// Exit statuses: 0 success, 1 a failed command, 2 a usage error (clap's own exit), or what a
/// [`Status`] error says.
fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version exit 0.
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|mut e| {
        exec::tip_separator(&mut e, &argv);
        e.exit()
    });
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result =
        run(&cli.command, &mut out).and_then(|()| Ok(out.flush().map_err(writing_stdout)?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`procwire probe | head -1`): nothing to tell it.
        Err(e) if is_broken_pipe(&*e) => ExitCode::FAILURE,
        // A bench peer whose parent is gone (interrupted, or failed) has nothing to add.
        Err(e) if matches!(cli.command, Command::BenchPeer(_)) && bench::parent_gone(&*e) => {
            ExitCode::FAILURE
        }
        Err(e) => {
            let status = e.downcast_ref::<Status>();
            if status.is_none_or(|s| s.message.is_some()) {
                eprintln!("{}: {e}", cli.command.label());
            }
            status.map_or(ExitCode::FAILURE, |s| ExitCode::from(s.code))
        }
    }
}

/// Names the failed step in an error from writing our output, keeping its kind.
pub(crate) fn writing_stdout(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("writing to stdout: {e}"))
}

fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
