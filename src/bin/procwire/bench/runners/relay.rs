//! Relay rows: sender (this process) -> relay -> receiver, three pinned processes, the relay
//! being `procwire::relay::relay()` in a `procwire bench-peer --role relay-copy|relay-splice`
//! child between two sockets of one transport; and the same bytes sent directly, with no relay,
//! for the ceiling.
//!
//! The receiver is the wire rows' sink (or echo) peer and the sender speaks the same protocol
//! (`bench::protocol`), its ACKs and totals passing back through the relay. The relay's CPU
//! time is read from `/proc/<pid>/schedstat` (its first field: nanoseconds on a CPU, the
//! scheduler's `sum_exec_runtime`, which `utime + stime` are scaled from; the relay has one
//! thread) right before the first settling block and right after the last timed block, and
//! divided by the bytes those blocks moved; where schedstat is missing, `/proc/<pid>/stat`
//! `utime + stime` (clock ticks, 10 ms on most systems: coarse for short runs).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use procwire::wire::{End, EndFds};

use super::wire::{drive_echo, drive_sink, finish, pair, spawn_peer};
use crate::bench::plan::{Budget, RelayCpus, RelayPath, Transport};
use crate::bench::protocol;
use crate::bench::schedule::{SETTLE_BLOCKS, TIMED_BLOCKS};

/// One relay throughput run.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayRun {
    /// Bytes delivered to the receiver per second over the timed blocks, in GB (1e9 B).
    pub gb_s: f64,
    /// The relay's CPU seconds per GB moved (`None` when direct).
    pub cpu_s_per_gb: Option<f64>,
}

/// The processes of one run besides this one.
struct Peers {
    receiver: Child,
    relay: Option<Child>,
}

impl Peers {
    /// Reaps both (the relay ends once the receiver has closed its socket and we have shut
    /// ours) and reports the first failure.
    fn finish<T>(self, result: io::Result<T>) -> io::Result<T> {
        let result = finish(self.receiver, result);
        match self.relay {
            Some(relay) => finish(relay, result),
            None => result,
        }
    }
}

/// The socket of an end, for a relay's stdin or stdout.
fn socket(end: End) -> OwnedFd {
    match end.into_fds() {
        EndFds::Socket(fd) => fd,
        EndFds::Pipes { .. } => unreachable!("relay transports are sockets"),
    }
}

/// Our end of the first hop, and the peers on the way: a receiver started with `args`, and a
/// relay for a relayed path. `buffered` is told the bytes the way can hold (both directions
/// of every hop, and the relay's pipe), before the receiver starts.
fn start(
    exe: &Path,
    transport: Transport,
    path: RelayPath,
    cpus: RelayCpus,
    args: impl FnOnce(u64) -> Vec<String>,
) -> io::Result<(End, Peers)> {
    let kind = transport.kind();
    let (ours, next) = pair(kind, None)?;
    let hop = ours.capacity()?;
    let hop = (hop.send + hop.recv) as u64;
    let (relay, rx_end) = match (path, cpus.1) {
        (RelayPath::Direct, _) | (_, None) => (None, next),
        (RelayPath::Copy | RelayPath::Splice, Some(cpu)) => {
            let (relay_b, rx_end) = pair(kind, None)?;
            (Some((socket(next), socket(relay_b), cpu)), rx_end)
        }
    };
    let buffered = match relay {
        None => hop,
        Some(_) => 2 * hop + procwire::relay::DEFAULT_PIPE_SIZE as u64,
    };
    let receiver = spawn_peer(exe, kind, rx_end, &args(buffered), cpus.2)?;
    let relay = match relay {
        None => None,
        Some((a, b, cpu)) => {
            let role = if path == RelayPath::Splice {
                "relay-splice"
            } else {
                "relay-copy"
            };
            let spawned = Command::new(exe)
                .arg("bench-peer")
                .args([
                    "--role",
                    role,
                    "--kind",
                    kind.name(),
                    "--cpu",
                    &cpu.to_string(),
                ])
                .stdin(Stdio::from(a))
                .stdout(Stdio::from(b))
                .stderr(Stdio::inherit())
                .spawn();
            match spawned {
                Ok(child) => Some(child),
                Err(e) => {
                    let e = io::Error::new(e.kind(), format!("could not start the relay: {e}"));
                    return Err(finish(receiver, Err::<(), _>(e)).unwrap_err());
                }
            }
        }
    };
    Ok((ours, Peers { receiver, relay }))
}

/// The CPU time, in nanoseconds, the single-threaded process `pid` has used so far.
fn cpu_ns(pid: u32) -> io::Result<u64> {
    if let Ok(s) = fs::read_to_string(format!("/proc/{pid}/schedstat"))
        && let Some(ns) = s.split_whitespace().next().and_then(|f| f.parse().ok())
    {
        return Ok(ns);
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat_ticks(&stat)
        .map(|ticks| ticks * 1_000_000_000 / rustix::param::clock_ticks_per_second())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat has no utime and stime")))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The
/// command name (field 2) may hold spaces and parentheses: fields are counted after its last
/// `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// One throughput run of `path` over `transport` with `chunk`-sized writes, this thread
/// already pinned to the sender's CPU.
pub fn throughput(
    exe: &Path,
    transport: Transport,
    path: RelayPath,
    chunk: usize,
    cpus: RelayCpus,
    budget: Budget,
) -> io::Result<RelayRun> {
    let mut warm = 0;
    let (ours, peers) = start(exe, transport, path, cpus, |buffered| {
        // Twice what the way holds, not the wire rows' four times: TCP's 4 MiB send buffers
        // on two hops would make the warm-up longer than the timed part.
        warm = protocol::warm_bytes(buffered / 2, chunk);
        protocol::sink_args(chunk, warm)
    })?;
    let relay_pid = peers.relay.as_ref().map(Child::id);
    let mut marks = Vec::with_capacity(2);
    let result = drive_sink(ours, chunk, warm, budget, || {
        if let Some(pid) = relay_pid {
            marks.push(cpu_ns(pid)?);
        }
        Ok(())
    });
    let run = result.map(|(blocks, block)| {
        let timed = (block * TIMED_BLOCKS) as f64;
        let moved = (block * (SETTLE_BLOCKS + TIMED_BLOCKS)) as f64;
        RelayRun {
            gb_s: timed / (blocks.secs[0] + blocks.secs[1]) / 1e9,
            cpu_s_per_gb: match marks[..] {
                [before, after] => Some((after - before) as f64 / 1e9 / (moved / 1e9)),
                _ => None,
            },
        }
    });
    peers.finish(run)
}

/// 1-byte round trips through `path` for about `time`, in µs (both loops of the echo
/// protocol together: the loop is not what is compared here).
pub fn latency(
    exe: &Path,
    transport: Transport,
    path: RelayPath,
    cpus: RelayCpus,
    time: Duration,
) -> io::Result<Vec<f64>> {
    let (ours, peers) = start(exe, transport, path, cpus, |_| protocol::echo_args())?;
    let result = drive_echo(ours, time).map(|r| {
        let mut all = r.procwire_us;
        all.extend(r.raw_us);
        all
    });
    peers.finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_are_counted_after_the_command_name() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0";
        assert_eq!(parse_stat_ticks(line), Some(22));
        assert_eq!(parse_stat_ticks("1 (x) S 1"), None);
        let own = fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_stat_ticks(&own).is_some(), "{own}");
    }
}
