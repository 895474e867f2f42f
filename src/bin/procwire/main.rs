//! The `procwire` command-line tool.
//!
//! Each subcommand is one variant of [`Command`] holding its clap `Args` struct, and one module
//! next to this file with a `run(&Args, &mut dyn Write) -> CmdResult` function; [`main`] parses,
//! dispatches and turns errors into `procwire: <message>` on stderr and a non-zero status.
//! To add a subcommand: `mod name;`, a variant `Name(name::Args)` with its doc comment (that is
//! its `--help` line), and one arm in [`run`].

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod exec;
mod probe;
mod units;

/// What a subcommand returns: any error, reported by [`main`] as `procwire: <error>`.
type CmdResult = Result<(), Box<dyn Error + Send + Sync>>;

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
    /// Run a program on a wire, bridged to our stdin and stdout (a remote-shell wrapper)
    ///
    /// PROGRAM runs with its stdin and stdout on a socketpair (or --wire), its stderr on a
    /// bounded side channel forwarded to ours, and optional connect and stall watchdogs. Our
    /// stdin's EOF half-closes its input; its output is forwarded until EOF, or until it has
    /// exited and nothing is left to read. Use it wherever a remote shell goes:
    /// rsync -e 'procwire exec --connect-timeout 20 -- ssh'.
    Exec(exec::Args),
    #[command(hide = true)]
    BenchPeer(bench::PeerArgs),
}

fn run(command: &Command, out: &mut dyn Write) -> CmdResult {
    match command {
        Command::Exec(_) => unreachable!("exec ends the process with its program's status"),
        Command::Probe(args) => probe::run(args, out),
        Command::Bench(args) => bench::run(args, out),
        Command::BenchPeer(args) => bench::run_peer(args),
    }
}

/// Exit statuses: 0 success, 1 a failed command, 2 a usage error (clap's own exit).
fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version exit 0.
    let cli = Cli::parse();
    if let Command::Exec(args) = &cli.command {
        return exec::run(args);
    }
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
            eprintln!("procwire: {e}");
            ExitCode::FAILURE
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
