//! The relay and fd-passing rows' samples, and their cells.

use std::collections::HashMap;

use super::latency_of;
use crate::CmdResult;
use crate::bench::plan::{self, Placement, Plan, RelayPath, Transport};
use crate::bench::report::{FdPassCell, RelayCell};
use crate::bench::runners::{Executor, FdPassRun, RelayRun};
use crate::bench::stats::{Summary, percentile};

/// Every relay and fd-passing sample so far, by cell, in repeat order.
#[derive(Default)]
pub struct RelaySamples {
    runs: HashMap<(Transport, Placement, RelayPath, usize), Vec<RelayRun>>,
    rtts: HashMap<(Transport, Placement, RelayPath), Vec<Vec<f64>>>,
    fd: HashMap<Placement, Vec<FdPassRun>>,
}

fn cpus_of(allowed: &[usize], placement: Placement, path: RelayPath) -> plan::RelayCpus {
    placement
        .relay_cpus(allowed, path)
        .expect("placement was planned")
}

impl RelaySamples {
    /// One relay throughput run.
    pub fn throughput(
        &mut self,
        exec: &mut dyn Executor,
        plan: &Plan,
        allowed: &[usize],
        (transport, path, chunk, placement): (Transport, RelayPath, usize, Placement),
    ) -> CmdResult {
        let cpus = cpus_of(allowed, placement, path);
        let run = exec
            .relay(transport, path, chunk, cpus, plan.relay.budget)
            .map_err(|e| {
                format!(
                    "relay {} {} at {}, {}: {e}",
                    transport.name(),
                    path.name(),
                    plan::human_bytes(chunk),
                    placement.describe()
                )
            })?;
        self.runs
            .entry((transport, placement, path, chunk))
            .or_default()
            .push(run);
        Ok(())
    }

    /// One relay round-trip run.
    pub fn latency(
        &mut self,
        exec: &mut dyn Executor,
        plan: &Plan,
        allowed: &[usize],
        (transport, path, placement): (Transport, RelayPath, Placement),
    ) -> CmdResult {
        let cpus = cpus_of(allowed, placement, path);
        let us = exec
            .relay_latency(transport, path, cpus, plan.relay.latency_time)
            .map_err(|e| {
                format!(
                    "round trips through relay {} {}, {}: {e}",
                    transport.name(),
                    path.name(),
                    placement.describe()
                )
            })?;
        self.rtts
            .entry((transport, placement, path))
            .or_default()
            .push(us);
        Ok(())
    }

    /// One fd-passing run.
    pub fn fd_pass(
        &mut self,
        exec: &mut dyn Executor,
        plan: &Plan,
        allowed: &[usize],
        placement: Placement,
    ) -> CmdResult {
        let cpus = placement.cpus(allowed).expect("placement was planned");
        let time = plan.relay.fd_pass_time.unwrap_or_default();
        let run = exec
            .fd_pass(cpus, time)
            .map_err(|e| format!("fd passing on {}: {e}", placement.describe()))?;
        self.fd.entry(placement).or_default().push(run);
        Ok(())
    }

    /// The cells, in the plan's order: transport, placement, path, chunk.
    pub fn cells(&self, plan: &Plan, allowed: &[usize]) -> (Vec<RelayCell>, Vec<FdPassCell>) {
        let mut relay = Vec::new();
        for &transport in &plan.relay.transports {
            for &placement in &plan.placements {
                for path in RelayPath::ALL {
                    let rtt_us = self
                        .rtts
                        .get(&(transport, placement, path))
                        .and_then(|r| latency_of(&r.iter().collect::<Vec<_>>()));
                    for &chunk in &plan.relay.chunks {
                        let Some(runs) = self.runs.get(&(transport, placement, path, chunk)) else {
                            continue;
                        };
                        let gb: Vec<f64> = runs.iter().map(|r| r.gb_s).collect();
                        let cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_s_per_gb).collect();
                        let Some(gb_s) = Summary::of(&gb) else {
                            continue;
                        };
                        relay.push(RelayCell {
                            transport,
                            placement,
                            cpus: placement.relay_cpus(allowed, path).unwrap_or((0, None, 0)),
                            path,
                            chunk,
                            gb_s,
                            relay_cpu_s_per_gb: (!cpu.is_empty()).then(|| percentile(&cpu, 50.0)),
                            rtt_us: rtt_us.clone(),
                        });
                    }
                }
            }
        }
        let mut fd = Vec::new();
        for &placement in &plan.placements {
            let Some(runs) = self.fd.get(&placement) else {
                continue;
            };
            let series = |pick: fn(&FdPassRun) -> f64| {
                Summary::of(&runs.iter().map(pick).collect::<Vec<_>>())
            };
            let pairs: Vec<f64> = runs.iter().flat_map(|r| r.pairs.iter().copied()).collect();
            if let (Some(channel_per_s), Some(raw_per_s)) =
                (series(|r| r.channel_per_s), series(|r| r.raw_per_s))
            {
                let ratio = if pairs.is_empty() {
                    channel_per_s.median / raw_per_s.median
                } else {
                    percentile(&pairs, 50.0)
                };
                fd.push(FdPassCell {
                    placement,
                    cpus: placement.cpus(allowed).unwrap_or((0, 0)),
                    channel_per_s,
                    raw_per_s,
                    ratio,
                });
            }
        }
        (relay, fd)
    }
}
