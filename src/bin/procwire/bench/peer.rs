//! `procwire bench-peer`: the child side of a wire row, with the wire as stdin and stdout,
//! following the writer's block sequence to pick its loop for every byte (`bench::protocol`).

use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use procwire::wire::{Kind, ReadHalf, WriteHalf};

use super::affinity::pin;
use super::loops::raw_write_all;
use super::plan::Mode;
use super::protocol;
use super::schedule::{ROUND_TRIPS_PER_BLOCK, block_mode};
use crate::CmdResult;

/// What to run the peer as.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Role {
    /// Read until EOF, then report the byte count.
    Sink,
    /// Echo each byte back until EOF.
    Echo,
    /// `procwire::relay::relay()` between stdin and stdout (two sockets), `Mode::Copy`.
    RelayCopy,
    /// The same with `Mode::Splice`.
    RelaySplice,
    /// Send every descriptor received on stdin (a `pass::Channel` end) back, then close it.
    FdEcho,
}

/// The child side of a bench run (internal: started by `procwire bench`)
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    #[arg(long)]
    role: Role,
    #[arg(long)]
    kind: Kind,
    #[arg(long)]
    cpu: usize,
    /// Read buffer size of a sink.
    #[arg(long, default_value_t = 1)]
    chunk: usize,
    /// Untimed bytes a sink reads before the block-size header.
    #[arg(long, default_value_t = 0)]
    warm: u64,
}

/// Whether a peer's error means its parent is gone: EOF where a byte was due, or a write to
/// a closed wire (`EPIPE`, or `ECONNRESET` on a socket). Ctrl-C interrupts the parent; its
/// peer then exits quietly rather than print "unexpected end of file".
pub fn parent_gone(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>().is_some_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
        )
    })
}

/// Runs `procwire bench-peer` (the child side).
pub fn run(args: &PeerArgs) -> CmdResult {
    if args.cpu >= rustix::thread::CpuSet::MAX_CPU {
        return Err(format!("--cpu {} is beyond the CPUs this system can name", args.cpu).into());
    }
    match args.role {
        Role::RelayCopy => relay_peer(procwire::relay::Mode::Copy, args.cpu)?,
        Role::RelaySplice => relay_peer(procwire::relay::Mode::Splice, args.cpu)?,
        Role::FdEcho => {
            pin(args.cpu)?;
            super::runners::fd_pass::echo(io::stdin().as_fd().try_clone_to_owned()?)?
        }
        role => peer(role, args.kind, args.chunk.max(1), args.warm, args.cpu)?,
    }
    Ok(())
}

/// The relay of a relay row: both directions between stdin (the sender's socket) and stdout
/// (the receiver's) until both reach EOF; an error, or a path other than the one asked, fails
/// the run.
fn relay_peer(mode: procwire::relay::Mode, cpu: usize) -> io::Result<()> {
    pin(cpu)?;
    let (stdin, stdout) = (io::stdin(), io::stdout());
    let mut options = procwire::relay::Options::new();
    options.mode(mode);
    let report = procwire::relay::relay(stdin.as_fd(), stdout.as_fd(), &options);
    if let Some(e) = report.error() {
        return Err(io::Error::new(
            e.kind(),
            format!("the relay failed: {report}"),
        ));
    }
    let want = match mode {
        procwire::relay::Mode::Copy => procwire::relay::Path::Copy,
        _ => procwire::relay::Path::Splice,
    };
    if report.a_to_b().path() != want {
        return Err(io::Error::other(format!(
            "the relay took another path than asked: {report}"
        )));
    }
    Ok(())
}

fn peer(role: Role, kind: Kind, chunk: usize, warm: u64, cpu: usize) -> io::Result<()> {
    pin(cpu)?;
    let (stdin, stdout) = (io::stdin(), io::stdout());
    let (rfd, wfd) = (stdin.as_fd(), stdout.as_fd());
    let mut r = ReadHalf::from_fd(kind, rfd.try_clone_to_owned()?);
    let mut w = WriteHalf::from_fd(kind, wfd.try_clone_to_owned()?);
    protocol::send_ready(&mut w)?;
    match role {
        Role::Sink => {
            let mut buf = vec![0u8; chunk];
            // Reads up to `left` bytes with the loop of `mode`; 0 means EOF.
            let mut read = |r: &mut ReadHalf, mode: Mode, left: u64| -> io::Result<usize> {
                let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match mode {
                    Mode::Procwire => r.read(&mut buf[..n]),
                    Mode::Raw => Ok(rustix::io::read(rfd, &mut buf[..n])?),
                }
            };
            // Step 3: the warm-up.
            let mut left = warm;
            while left > 0 {
                match read(&mut r, Mode::Procwire, left)? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => left -= n as u64,
                }
            }
            protocol::send_ack(&mut w)?;
            // Steps 4-6: the block size, then blocks until EOF at a block boundary.
            let block = protocol::recv_u64(&mut r)?;
            let mut total = warm + 8;
            let mut i = 0u64;
            'blocks: loop {
                let mut left = block;
                while left > 0 {
                    match read(&mut r, block_mode(i), left)? {
                        0 if left == block => break 'blocks,
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => left -= n as u64,
                    }
                }
                protocol::send_ack(&mut w)?;
                total += block;
                i += 1;
            }
            // Step 7.
            protocol::send_u64(&mut w, total)
        }
        Role::Echo => {
            let mut byte = [0u8];
            let mut count = 0u64;
            loop {
                let got = match block_mode(count / ROUND_TRIPS_PER_BLOCK) {
                    Mode::Procwire => {
                        let n = r.read(&mut byte)?;
                        if n == 1 {
                            w.write_all(&byte)?;
                        }
                        n
                    }
                    Mode::Raw => {
                        let n = rustix::io::read(rfd, &mut byte)?;
                        if n == 1 {
                            raw_write_all(wfd, &byte)?;
                        }
                        n
                    }
                };
                if got == 0 {
                    return Ok(());
                }
                count += 1;
            }
        }
        Role::RelayCopy | Role::RelaySplice | Role::FdEcho => {
            unreachable!("run() starts these roles")
        }
    }
}
