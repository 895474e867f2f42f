//! The measurements, behind one small trait: [`Executor`] runs one task of the plan and hands
//! back raw samples; [`Runner`] is the real one, and tests script a fake (see `aggregate`).
//!
//! One file per row family: [`wire`] (a kernel wire to a `bench-peer` child), [`model`]
//! (procwire's in-memory socketpair between two threads), [`spawn`] (child spawns) and
//! [`memcpy`] (the copy ceiling). A new row family is a new file with a `throughput` and a
//! `latency` function, a `Subject` variant in `plan`, and one arm in each match below.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use procwire::wire::Capacity;

use super::affinity::{pin, unpin};
use super::plan::{Budget, RelayCpus, RelayPath, Row, Subject, Transport};
use super::schedule::RoundTrips;

pub mod fd_pass;
pub mod memcpy;
pub mod model;
pub mod relay;
pub mod spawn;
pub mod uring;
pub mod wire;

pub use fd_pass::FdPassRun;
pub use relay::RelayRun;
pub use spawn::Spawns;

/// One throughput run's outcome: both loops, measured in the same pair of processes.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub procwire_gb_s: f64,
    pub raw_gb_s: f64,
    /// Procwire's rate over raw's in each adjacent block pair (one procwire block, one raw
    /// block, moved back to back): see `schedule::Blocks`.
    pub pairs: Vec<f64>,
    pub granted: Capacity,
}

/// Runs the measurements of the plan's tasks, one call per run.
pub trait Executor {
    /// One throughput run of `row` at `chunk`, writer and reader on `cpus`.
    fn throughput(
        &mut self,
        row: &Row,
        chunk: usize,
        cpus: (usize, usize),
        budget: Budget,
    ) -> io::Result<Throughput>;
    /// One latency run of `row` for about `time`.
    fn latency(
        &mut self,
        row: &Row,
        cpus: (usize, usize),
        time: Duration,
    ) -> io::Result<RoundTrips>;
    /// Single-core memcpy GB/s at `chunk` on `cpu` for about `time`.
    fn memcpy(&mut self, chunk: usize, cpu: usize, time: Duration) -> io::Result<f64>;
    /// One run of the spawn row for about `time`.
    fn spawn(&mut self, time: Duration) -> io::Result<Spawns>;
    /// One relay throughput run of `path` over `transport` at `chunk`.
    fn relay(
        &mut self,
        transport: Transport,
        path: RelayPath,
        chunk: usize,
        cpus: RelayCpus,
        budget: Budget,
    ) -> io::Result<RelayRun>;
    /// 1-byte round trips through `path` for about `time`, in µs.
    fn relay_latency(
        &mut self,
        transport: Transport,
        path: RelayPath,
        cpus: RelayCpus,
        time: Duration,
    ) -> io::Result<Vec<f64>>;
    /// One fd-passing run between two processes on `cpus` for about `time`.
    fn fd_pass(&mut self, cpus: (usize, usize), time: Duration) -> io::Result<FdPassRun>;
}

/// The real measurements: where to find ourselves for the peer, and the CPUs we may use.
pub struct Runner {
    pub exe: PathBuf,
    pub cpus: Vec<usize>,
}

impl Executor for Runner {
    fn throughput(
        &mut self,
        row: &Row,
        chunk: usize,
        (w_cpu, r_cpu): (usize, usize),
        budget: Budget,
    ) -> io::Result<Throughput> {
        pin(w_cpu)?;
        match row.subject {
            Subject::Wire { kind, capacity } => {
                wire::throughput(&self.exe, kind, capacity, chunk, r_cpu, budget)
            }
            Subject::Model { capacity } => model::throughput(capacity, chunk, r_cpu, budget),
        }
    }

    fn latency(
        &mut self,
        row: &Row,
        (w_cpu, r_cpu): (usize, usize),
        time: Duration,
    ) -> io::Result<RoundTrips> {
        pin(w_cpu)?;
        match row.subject {
            Subject::Wire { kind, capacity } => {
                wire::latency(&self.exe, kind, capacity, r_cpu, time)
            }
            Subject::Model { capacity } => model::latency(capacity, r_cpu, time),
        }
    }

    fn memcpy(&mut self, chunk: usize, cpu: usize, time: Duration) -> io::Result<f64> {
        pin(cpu)?;
        Ok(memcpy::run(chunk, time))
    }

    fn spawn(&mut self, time: Duration) -> io::Result<Spawns> {
        // Children inherit our affinity: let them and us run anywhere we may.
        unpin(&self.cpus)
            .map_err(|e| io::Error::new(e.kind(), format!("unpinning for the spawn row: {e}")))?;
        spawn::run(time)
    }

    fn relay(
        &mut self,
        transport: Transport,
        path: RelayPath,
        chunk: usize,
        cpus: RelayCpus,
        budget: Budget,
    ) -> io::Result<RelayRun> {
        pin(cpus.0)?;
        relay::throughput(&self.exe, transport, path, chunk, cpus, budget)
    }

    fn relay_latency(
        &mut self,
        transport: Transport,
        path: RelayPath,
        cpus: RelayCpus,
        time: Duration,
    ) -> io::Result<Vec<f64>> {
        pin(cpus.0)?;
        relay::latency(&self.exe, transport, path, cpus, time)
    }

    fn fd_pass(&mut self, (w_cpu, r_cpu): (usize, usize), time: Duration) -> io::Result<FdPassRun> {
        pin(w_cpu)?;
        fd_pass::run(&self.exe, r_cpu, time)
    }
}
