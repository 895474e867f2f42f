//! Aggregation: runs the plan's tasks through an [`Executor`], keeps every sample, and turns
//! them into the [`Report`]'s cells (medians, spreads, paired ratios) and verdicts.
//!
//! The executor is a trait, so the arithmetic here is tested with scripted samples below.

use std::collections::HashMap;

use procwire::probe::Probe;
use procwire::wire::Capacity;

use super::plan::{self, Budget, Placement, Plan, Task};
use super::report::{
    self, FileEdgeCell, Latency, LatencyCell, MemcpyCell, Report, Settings, SpawnCell,
    ThroughputCell,
};
use super::runners::{Executor, Spawns, file_edge};
use super::schedule::RoundTrips;
use super::stats::{Summary, percentile, ratio_noise};
use crate::CmdResult;

mod relay;

/// The median over repeats of procwire's figure divided by the raw loop's figure of the same
/// repeat. Both come from one run, their blocks interleaved, so whatever the machine was doing
/// then weighs on both; the median of these ratios is steadier than a ratio of medians.
fn paired_ratio(ours: &[f64], raw: &[f64]) -> f64 {
    percentile(&ratios(ours, raw), 50.0)
}

fn ratios(ours: &[f64], raw: &[f64]) -> Vec<f64> {
    ours.iter().zip(raw).map(|(a, b)| a / b).collect()
}

/// Median of the repeats' medians and p99 of every sample, from one list of timings per repeat.
pub(super) fn latency_of(repeats: &[&Vec<f64>]) -> Option<Latency> {
    let all: Vec<f64> = repeats.iter().flat_map(|r| r.iter()).copied().collect();
    let medians: Vec<f64> = repeats
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| percentile(r, 50.0))
        .collect();
    Some(Latency {
        median: percentile(&medians, 50.0),
        p99: percentile(&all, 99.0),
        round_trips: all.len(),
        repeat_medians: Summary::of(&medians)?,
    })
}

/// Throughput (procwire, raw) of each repeat, by (row, chunk, placement).
type CellKey = (usize, usize, Placement);

/// Every sample of a bench run so far, by cell.
#[derive(Default)]
pub struct Results {
    /// (procwire GB/s, raw GB/s) of each repeat.
    throughput: HashMap<CellKey, Vec<(f64, f64)>>,
    /// The block-pair ratios of every repeat.
    pairs: HashMap<CellKey, Vec<f64>>,
    granted: HashMap<usize, Capacity>,
    latency: HashMap<(usize, Placement), Vec<RoundTrips>>,
    memcpy: HashMap<usize, Vec<f64>>,
    spawns: Vec<Spawns>,
    file_edge: Vec<file_edge::Sample>,
    relay: relay::RelaySamples,
}

impl Results {
    /// Runs one task with `exec` and keeps its samples; `cpus` are the CPUs we may use.
    pub fn run(
        &mut self,
        exec: &mut dyn Executor,
        plan: &Plan,
        cpus: &[usize],
        task: &Task,
    ) -> CmdResult {
        let cpus_of = |p: Placement| p.cpus(cpus).expect("placement was planned");
        match *task {
            Task::Throughput {
                row,
                chunk,
                placement,
                ..
            } => {
                let r = &plan.rows[row];
                let t = exec
                    .throughput(r, chunk, cpus_of(placement), plan.budget)
                    .map_err(|e| {
                        format!(
                            "throughput of {} at {}, {}: {e}",
                            r.label,
                            plan::human_bytes(chunk),
                            placement.describe(),
                        )
                    })?;
                self.granted.entry(row).or_insert(t.granted);
                self.throughput
                    .entry((row, chunk, placement))
                    .or_default()
                    .push((t.procwire_gb_s, t.raw_gb_s));
                self.pairs
                    .entry((row, chunk, placement))
                    .or_default()
                    .extend(t.pairs);
            }
            Task::Latency { row, placement, .. } => {
                let r = &plan.rows[row];
                let rtts = exec
                    .latency(r, cpus_of(placement), plan.latency_time)
                    .map_err(|e| {
                        format!(
                            "round trips of {} on {}: {e}",
                            r.label,
                            placement.describe(),
                        )
                    })?;
                self.latency.entry((row, placement)).or_default().push(rtts);
            }
            Task::Memcpy { chunk, .. } => {
                let gbs = exec.memcpy(chunk, cpus[0], plan.memcpy_time)?;
                self.memcpy.entry(chunk).or_default().push(gbs);
            }
            Task::Spawn { .. } => {
                let time = plan.spawn_time.unwrap_or_default();
                self.spawns.push(exec.spawn(time)?);
            }
            Task::FileEdge { .. } => {
                let time = plan.file_edge_time.unwrap_or_default();
                // On two CPUs where we may: the far side runs beside us, as a peer process would.
                let pair = Placement::CrossCpu
                    .cpus(cpus)
                    .unwrap_or_else(|| cpus_of(Placement::SameCpu));
                let samples = exec
                    .file_edge(pair, time)
                    .map_err(|e| format!("file edges: {e}"))?;
                self.file_edge.extend(samples);
            }
            Task::Relay {
                transport,
                path,
                chunk,
                placement,
                ..
            } => {
                let cell = (transport, path, chunk, placement);
                self.relay.throughput(exec, plan, cpus, cell)?;
            }
            Task::RelayLatency {
                transport,
                path,
                placement,
                ..
            } => {
                let cell = (transport, path, placement);
                self.relay.latency(exec, plan, cpus, cell)?;
            }
            Task::FdPass { placement, .. } => self.relay.fd_pass(exec, plan, cpus, placement)?,
        }
        Ok(())
    }

    /// One cell per (direction, kind, method) measured, in that order: the GB/s of its runs,
    /// or the kernel's refusal when no run could time it.
    fn file_edge_cells(&self) -> Vec<FileEdgeCell> {
        let mut cells = Vec::new();
        for direction in file_edge::DIRECTIONS {
            for kind in file_edge::KINDS {
                for method in file_edge::METHODS {
                    let runs: Vec<&file_edge::Sample> = self
                        .file_edge
                        .iter()
                        .filter(|s| (s.direction, s.kind, s.method) == (direction, kind, method))
                        .collect();
                    if runs.is_empty() {
                        continue;
                    }
                    let ok: Vec<f64> = runs.iter().filter_map(|s| s.result.clone().ok()).collect();
                    let error = runs.iter().find_map(|s| s.result.clone().err());
                    let gb_s = Summary::of(&ok);
                    cells.push(FileEdgeCell {
                        direction: direction.name(),
                        kind: kind.name(),
                        method: method.name(),
                        chunk: file_edge::CHUNK,
                        error: if gb_s.is_some() { None } else { error },
                        gb_s,
                    });
                }
            }
        }
        cells
    }

    /// The report of everything measured, for `plan` on `cpus` of `machine`.
    pub fn report(&self, plan: &Plan, cpus: Vec<usize>, machine: Probe) -> Report {
        let mut throughput = Vec::new();
        let mut latency = Vec::new();
        for &placement in &plan.placements {
            let pair = placement.cpus(&cpus).unwrap_or((0, 0));
            for (i, row) in plan.rows.iter().enumerate() {
                let (kind, capacity) = (row.subject.kind(), row.subject.capacity());
                for &chunk in &plan.chunks {
                    let runs = self.throughput.get(&(i, chunk, placement));
                    let series = |pick: fn(&(f64, f64)) -> f64| {
                        let v: Vec<f64> = runs?.iter().map(pick).collect();
                        Summary::of(&v)
                    };
                    let pairs = self.pairs.get(&(i, chunk, placement));
                    if let (Some(ours), Some(raw), Some(pairs)) = (
                        series(|r| r.0),
                        series(|r| r.1),
                        pairs.filter(|p| !p.is_empty()),
                    ) {
                        let (ratio_iqr, ratio_clear) = ratio_noise(pairs);
                        throughput.push(ThroughputCell {
                            row: row.label.clone(),
                            kind,
                            capacity_asked: capacity,
                            capacity_granted: self.granted.get(&i).copied().unwrap_or_default(),
                            chunk,
                            placement,
                            cpus: pair,
                            ratio: percentile(pairs, 50.0),
                            ratio_iqr,
                            ratio_clear,
                            repeats: ours.samples.len(),
                            procwire_gb_s: ours,
                            raw_gb_s: raw,
                        });
                    }
                }
                let lat = |pick: fn(&RoundTrips) -> &Vec<f64>| {
                    let runs = self.latency.get(&(i, placement))?;
                    latency_of(&runs.iter().map(pick).collect::<Vec<_>>())
                };
                if let (Some(ours), Some(raw)) = (lat(|r| &r.procwire_us), lat(|r| &r.raw_us)) {
                    let (ours_m, raw_m) =
                        (&ours.repeat_medians.samples, &raw.repeat_medians.samples);
                    let (ratio_iqr, ratio_clear) = ratio_noise(&ratios(ours_m, raw_m));
                    latency.push(LatencyCell {
                        row: row.label.clone(),
                        kind,
                        placement,
                        cpus: pair,
                        ratio: paired_ratio(ours_m, raw_m),
                        ratio_iqr,
                        ratio_clear,
                        procwire_us: ours,
                        raw_us: raw,
                    });
                }
            }
        }
        let spawn = {
            let ours: Vec<&Vec<f64>> = self.spawns.iter().map(|s| &s.procwire_us).collect();
            let std: Vec<&Vec<f64>> = self.spawns.iter().map(|s| &s.std_us).collect();
            match (latency_of(&ours), latency_of(&std)) {
                (Some(ours), Some(std)) => Some(SpawnCell {
                    ratio: paired_ratio(&ours.repeat_medians.samples, &std.repeat_medians.samples),
                    procwire_us: ours,
                    std_us: std,
                }),
                _ => None,
            }
        };
        let file_edge = self.file_edge_cells();
        let mut memcpy: Vec<MemcpyCell> = self
            .memcpy
            .iter()
            .filter_map(|(&chunk, v)| {
                Some(MemcpyCell {
                    chunk,
                    gb_s: Summary::of(v)?,
                })
            })
            .collect();
        memcpy.sort_by_key(|m| m.chunk);
        let (relay, fd_pass) = self.relay.cells(plan, &cpus);
        let (run_seconds, run_bytes) = match plan.budget {
            Budget::Time(t) => (Some(t.as_secs_f64()), None),
            Budget::Bytes(b) => (None, Some(b)),
        };
        let mut report = Report {
            schema: report::SCHEMA,
            machine,
            settings: Settings {
                repeats: plan.repeats,
                run_seconds,
                run_bytes,
                latency_seconds: plan.latency_time.as_secs_f64(),
                memcpy_seconds: plan.memcpy_time.as_secs_f64(),
                cpus,
                omitted: plan.omitted.clone(),
            },
            rows: plan.rows.clone(),
            throughput,
            latency,
            memcpy,
            spawn,
            file_edge,
            findings: Vec::new(),
            verdicts: Vec::new(),
            uring: None,
            matrix: None,
            relay,
            relay_auto: None,
            fd_pass,
        };
        report.relay_auto = report.relay_auto();
        report.findings = report.findings();
        report.verdicts = report.verdicts();
        report
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use super::*;
    use crate::bench::plan::{
        RelayCpus, RelayPath, RelayPlan, Row, Subject, Transport, default_rows,
    };
    use crate::bench::runners::{FdPassRun, RelayRun, Throughput};

    #[test]
    fn ratios_pair_runs_of_the_same_repeat() {
        // A slow moment (repeat 1) hits both modes; paired, it does not skew the ratio.
        let ours = [1.0, 0.5, 1.0];
        let raw = [1.0, 0.5, 1.02];
        assert!((paired_ratio(&ours, &raw) - 1.0).abs() < 1e-12);
        assert!((paired_ratio(&[0.9, 0.9, 0.9], &[1.0, 1.0, 1.0]) - 0.9).abs() < 1e-12);
    }

    /// Scripted samples: a row's GB/s is `speed` of its position in `default_rows` times the
    /// repeat number (1, 2, 3, ...), twice that on two CPUs; raw is 1% faster; the block pairs
    /// of repeat `n` are all `0.9 + n / 100`. Latency is 10 µs / speed, raw 5% faster.
    struct Scripted {
        speed: Vec<f64>,
        calls: HashMap<String, usize>,
        fail_on: Option<&'static str>,
    }

    impl Scripted {
        fn new() -> Scripted {
            Scripted {
                speed: vec![1.0, 1.05, 1.27, 2.0, 0.6, 3.0],
                calls: HashMap::new(),
                fail_on: None,
            }
        }

        fn speed(&self, row: &Row) -> f64 {
            let i = default_rows().iter().position(|r| r == row).unwrap();
            self.speed[i]
        }

        fn call(&mut self, what: String) -> f64 {
            let n = self.calls.entry(what).or_default();
            *n += 1;
            *n as f64
        }
    }

    impl Executor for Scripted {
        fn throughput(
            &mut self,
            row: &Row,
            chunk: usize,
            cpus: (usize, usize),
            _: Budget,
        ) -> io::Result<Throughput> {
            if self.fail_on == Some(row.label.as_str()) {
                return Err(io::Error::other("scripted failure"));
            }
            let repeat = self.call(format!("{} {chunk} {cpus:?}", row.label));
            let placement = if cpus.0 == cpus.1 { 1.0 } else { 2.0 };
            let gb_s = self.speed(row) * placement * repeat;
            Ok(Throughput {
                procwire_gb_s: gb_s,
                raw_gb_s: gb_s * 1.01,
                pairs: vec![0.9 + repeat / 100.0; 4],
                granted: Capacity {
                    send: row.subject.capacity().unwrap_or(1000),
                    recv: 1,
                    ..Capacity::default()
                },
            })
        }

        fn latency(
            &mut self,
            row: &Row,
            cpus: (usize, usize),
            _: Duration,
        ) -> io::Result<RoundTrips> {
            let repeat = self.call(format!("{} {cpus:?}", row.label));
            let us = 10.0 / self.speed(row) * repeat;
            Ok(RoundTrips {
                procwire_us: vec![us, us, us * 3.0],
                raw_us: vec![us / 1.05; 3],
            })
        }

        fn memcpy(&mut self, chunk: usize, _: usize, _: Duration) -> io::Result<f64> {
            Ok(self.call(format!("memcpy {chunk}")) * 10.0)
        }

        fn spawn(&mut self, _: Duration) -> io::Result<Spawns> {
            let n = self.call("spawn".into());
            Ok(Spawns {
                procwire_us: vec![1100.0 * n; 4],
                std_us: vec![1000.0 * n; 4],
            })
        }

        /// sendfile 3 GB/s x the repeat, splice 2, copy 1; sendfile from a wire refused.
        fn file_edge(
            &mut self,
            cpus: (usize, usize),
            _: Duration,
        ) -> io::Result<Vec<file_edge::Sample>> {
            assert_eq!(cpus, (0, 1), "on two CPUs");
            let n = self.call("file edge".into());
            let mut out = Vec::new();
            for direction in file_edge::DIRECTIONS {
                for kind in file_edge::KINDS {
                    for (method, speed) in file_edge::METHODS.into_iter().zip([3.0, 2.0, 1.0]) {
                        let result = match (direction, method) {
                            (file_edge::Direction::WireToFile, procwire::relay::Path::Sendfile) => {
                                Err("Invalid argument (os error 22)".to_string())
                            }
                            _ => Ok(speed * n),
                        };
                        out.push(file_edge::Sample {
                            direction,
                            kind,
                            method,
                            result,
                        });
                    }
                }
            }
            Ok(out)
        }

        /// Direct 4 GB/s; the copy relay 1 GB/s times the repeat at 1 CPU s/GB; the splice
        /// relay 1.5x copy at 0.5 s/GB over unix, 0.95x at 0.95 s/GB over TCP.
        fn relay(
            &mut self,
            transport: Transport,
            path: RelayPath,
            chunk: usize,
            cpus: RelayCpus,
            _: Budget,
        ) -> io::Result<RelayRun> {
            if self.fail_on == Some("relay") {
                return Err(io::Error::other("scripted failure"));
            }
            let repeat = self.call(format!("relay {transport:?} {path:?} {chunk} {cpus:?}"));
            let (speed, cpu) = match (transport, path) {
                (_, RelayPath::Direct) => {
                    return Ok(RelayRun {
                        gb_s: 4.0,
                        cpu_s_per_gb: None,
                    });
                }
                (_, RelayPath::Copy) => (1.0, 1.0),
                (Transport::Unix, RelayPath::Splice) => (1.5, 0.5),
                (Transport::Tcp, RelayPath::Splice) => (0.95, 0.95),
            };
            Ok(RelayRun {
                gb_s: speed * repeat,
                cpu_s_per_gb: Some(cpu),
            })
        }

        /// 10 µs direct, 25 through the copy relay, 18 through the splice relay.
        fn relay_latency(
            &mut self,
            _: Transport,
            path: RelayPath,
            _: RelayCpus,
            _: Duration,
        ) -> io::Result<Vec<f64>> {
            let us = match path {
                RelayPath::Direct => 10.0,
                RelayPath::Copy => 25.0,
                RelayPath::Splice => 18.0,
            };
            Ok(vec![us; 5])
        }

        /// Channel 90 000 round trips/s, raw 100 000; block pairs 0.9 and 1.0 alternately.
        fn fd_pass(&mut self, cpus: (usize, usize), _: Duration) -> io::Result<FdPassRun> {
            self.call(format!("fd {cpus:?}"));
            Ok(FdPassRun {
                channel_per_s: 90_000.0,
                raw_per_s: 100_000.0,
                pairs: vec![0.9, 1.0, 0.9],
            })
        }
    }

    fn plan(repeats: usize) -> Plan {
        Plan {
            rows: default_rows(),
            chunks: vec![64 << 10, 4 << 10],
            placements: vec![Placement::SameCpu, Placement::CrossCpu],
            repeats,
            budget: Budget::Time(Duration::from_millis(1)),
            latency_time: Duration::from_millis(1),
            memcpy_time: Duration::from_millis(1),
            spawn_time: Some(Duration::from_millis(1)),
            file_edge_time: Some(Duration::from_millis(1)),
            omitted: Vec::new(),
            relay: RelayPlan::none(),
            uring: None,
        }
    }

    fn report_of(exec: &mut Scripted, plan: &Plan) -> Report {
        let mut results = Results::default();
        for task in plan.schedule() {
            results.run(exec, plan, &[0, 1], &task).unwrap();
        }
        results.report(plan, vec![0, 1], procwire::probe::collect())
    }

    #[test]
    fn cells_hold_every_repeat_and_pool_the_block_pairs() {
        let plan = plan(3);
        let r = report_of(&mut Scripted::new(), &plan);
        assert_eq!(r.throughput.len(), 6 * 2 * 2);
        let cell = r
            .throughput
            .iter()
            .find(|c| {
                c.row == "socketpair 4 MiB"
                    && c.chunk == 64 << 10
                    && c.placement == Placement::CrossCpu
            })
            .unwrap();
        // Speed 2.0, twice on two CPUs, times repeats 1..=3.
        assert_eq!(cell.procwire_gb_s.samples, [4.0, 8.0, 12.0]);
        assert_eq!(cell.procwire_gb_s.median, 8.0);
        assert_eq!(cell.repeats, 3);
        assert_eq!(cell.cpus, (0, 1));
        assert_eq!(cell.capacity_granted.send, 4 << 20);
        // Four pairs of 0.91, four of 0.92, four of 0.93: the pooled median is 0.92.
        assert!((cell.ratio - 0.92).abs() < 1e-12, "{}", cell.ratio);
        assert_eq!(cell.kind.name(), "socketpair");
        // Rows, then chunks in the plan's order, within each placement.
        assert_eq!(r.throughput[0].row, "pipes default");
        assert_eq!(r.throughput[0].chunk, 64 << 10);
        assert_eq!(r.throughput[0].placement, Placement::SameCpu);
    }

    #[test]
    fn latency_memcpy_and_spawn_summarise_their_repeats() {
        let plan = plan(3);
        let r = report_of(&mut Scripted::new(), &plan);
        assert_eq!(r.latency.len(), 6 * 2);
        let l = &r.latency[0];
        assert_eq!(l.row, "pipes default");
        // Repeat medians 10, 20, 30; p99 from every sample (the largest is 3 x 30).
        assert_eq!(l.procwire_us.repeat_medians.samples, [10.0, 20.0, 30.0]);
        assert_eq!(l.procwire_us.median, 20.0);
        assert!(l.procwire_us.p99 > 80.0 && l.procwire_us.p99 <= 90.0);
        assert_eq!(l.procwire_us.round_trips, 9);
        assert!((l.ratio - 1.05).abs() < 1e-9, "{}", l.ratio);
        // memcpy sorted by chunk, whatever the plan's order.
        let chunks: Vec<usize> = r.memcpy.iter().map(|m| m.chunk).collect();
        assert_eq!(chunks, [4 << 10, 64 << 10]);
        assert_eq!(r.memcpy[0].gb_s.samples, [10.0, 20.0, 30.0]);
        let spawn = r.spawn.as_ref().unwrap();
        assert!((spawn.ratio - 1.1).abs() < 1e-9, "{}", spawn.ratio);
        assert_eq!(spawn.procwire_us.round_trips, 12);
        assert_eq!(r.settings.run_seconds, Some(0.001));
        assert_eq!(r.settings.repeats, 3);
    }

    #[test]
    fn file_edge_cells_summarise_repeats_and_keep_refusals() {
        let r = report_of(&mut Scripted::new(), &plan(3));
        assert_eq!(r.file_edge.len(), 2 * 3 * 3);
        let c = &r.file_edge[0];
        assert_eq!(
            (c.direction, c.kind, c.method),
            ("file->wire", "pipes", "sendfile")
        );
        assert_eq!(c.gb_s.as_ref().unwrap().samples, [3.0, 6.0, 9.0]);
        assert!(c.error.is_none());
        let refused = r
            .file_edge
            .iter()
            .find(|c| c.direction == "wire->file" && c.method == "sendfile")
            .unwrap();
        assert!(refused.gb_s.is_none());
        assert!(refused.error.as_deref().unwrap().contains("os error 22"));
        let f = r.findings.join("\n");
        assert!(
            f.contains(
                "file->wire over socketpair: sendfile wins at 6.00 GB/s; splice 0.67x, copy 0.33x"
            ),
            "{f}"
        );
        assert!(
            f.contains("sendfile refused (Invalid argument (os error 22))"),
            "{f}"
        );
        assert!(f.contains("does a socketpair break splice?"), "{f}");
    }

    #[test]
    fn findings_and_verdicts_follow_the_scripted_figures() {
        let r = report_of(&mut Scripted::new(), &plan(1));
        let v = &r.findings;
        assert!(
            v.iter().any(|l| l.starts_with(
                "at 64 KiB, different CPUs, socketpair 4 MiB is fastest at 4.00 GB/s, 2.00x the \
                 bytes of pipes default"
            )),
            "{v:#?}"
        );
        // The model is fastest by far but is no wire choice.
        assert!(
            !v.iter().any(|l| l.contains("model, threads is fastest")),
            "{v:#?}"
        );
        assert!(
            v.iter().any(|l| l.starts_with(
                "procwire against the raw read/write loop: 0 of 10 cells at 64 KiB and above \
                 reach 0.97x; lowest 0.910x"
            )),
            "{v:#?}"
        );
        let bulk = &r.verdicts[0];
        assert_eq!(
            (bulk.workload, bulk.winner.as_str()),
            ("bulk transfer", "socketpair 4 MiB")
        );
        assert!((bulk.ratio - 2.0).abs() < 1e-9, "{bulk:?}");
        assert_eq!(bulk.runner_up.as_deref(), Some("socketpair default"));
    }

    #[test]
    fn a_failed_run_names_its_cell() {
        let plan = plan(1);
        let mut exec = Scripted {
            fail_on: Some("pipes 1 MiB"),
            ..Scripted::new()
        };
        let mut results = Results::default();
        let err = plan
            .schedule()
            .iter()
            .try_for_each(|t| results.run(&mut exec, &plan, &[0, 1], t))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "throughput of pipes 1 MiB at 64 KiB, same CPU: scripted failure"
        );
        assert!(matches!(default_rows()[5].subject, Subject::Model { .. }));
    }

    #[test]
    fn relay_and_fd_pass_cells_pair_their_repeats_and_decide_auto() {
        let with_relay = Plan {
            relay: RelayPlan {
                transports: Transport::ALL.to_vec(),
                chunks: vec![4 << 10, 1 << 20],
                repeats: 3,
                budget: Budget::Time(Duration::from_millis(1)),
                latency_time: Duration::from_millis(1),
                fd_pass_time: Some(Duration::from_millis(1)),
            },
            ..plan(3)
        };
        let r = report_of(&mut Scripted::new(), &with_relay);
        assert_eq!(r.relay.len(), 2 * 2 * 3 * 2);
        let cell = |t, p, path, chunk| {
            r.relay
                .iter()
                .find(|c| (c.transport, c.placement, c.path, c.chunk) == (t, p, path, chunk))
                .unwrap()
        };
        let splice = cell(
            Transport::Unix,
            Placement::CrossCpu,
            RelayPath::Splice,
            1 << 20,
        );
        assert_eq!(splice.gb_s.samples, [1.5, 3.0, 4.5]);
        assert_eq!(splice.relay_cpu_s_per_gb, Some(0.5));
        assert_eq!(splice.cpus, (0, Some(1), 0));
        assert_eq!(splice.rtt_us.as_ref().unwrap().median, 18.0);
        let direct = cell(
            Transport::Tcp,
            Placement::CrossCpu,
            RelayPath::Direct,
            4 << 10,
        );
        assert_eq!(
            (direct.cpus, direct.relay_cpu_s_per_gb),
            ((0, None, 1), None)
        );
        let auto = r.relay_auto.as_ref().unwrap();
        assert_eq!((auto.unix, auto.tcp), (RelayPath::Splice, RelayPath::Copy));
        assert!(
            auto.why.starts_with(
                "unix splice (splice 1.50x copy's GB/s at 0.50x its relay CPU per GB), tcp \
                 copy (splice 0.95x copy's GB/s at 0.95x its relay CPU per GB): medians over \
                 1 MiB writes on same CPU and different CPUs"
            ),
            "{}",
            auto.why
        );
        let lines = r.relay_lines();
        assert!(
            lines.iter().any(
                |l| l.starts_with("relay unix->unix on same CPU: splice moves 1.50x")
                    && l.ends_with("target >= 1.4x: met")
            ),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("relay tcp->tcp on different CPUs")
                    && l.ends_with("0.9x the GB/s: MISSED")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(
                "1-byte round trip unix->unix on same CPU: direct 10.0 µs; through the relay \
                 copy 25.0 µs (2.50x, MISSED), splice 18.0 µs (1.80x, met)"
            )),
            "{lines:#?}"
        );
        assert_eq!(r.fd_pass.len(), 2);
        let fd = &r.fd_pass[1];
        assert_eq!((fd.placement, fd.cpus), (Placement::CrossCpu, (0, 1)));
        assert_eq!(fd.channel_per_s.samples, [90_000.0; 3]);
        assert!((fd.ratio - 0.9).abs() < 1e-12, "{}", fd.ratio);
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("0.900x (target >= 0.95x: MISSED)"))
        );
        // A run with neither family leaves both sections empty and relay_auto null.
        let none = report_of(&mut Scripted::new(), &plan(1));
        assert!(none.relay.is_empty() && none.fd_pass.is_empty() && none.relay_auto.is_none());
        assert!(none.relay_lines().is_empty() && none.relay_table().is_empty());
    }

    #[test]
    fn a_failed_relay_run_names_its_cell() {
        let plan = Plan {
            relay: RelayPlan {
                transports: vec![Transport::Tcp],
                chunks: vec![64 << 10],
                repeats: 1,
                budget: Budget::Time(Duration::from_millis(1)),
                latency_time: Duration::from_millis(1),
                fd_pass_time: None,
            },
            ..plan(1)
        };
        let mut exec = Scripted {
            fail_on: Some("relay"),
            ..Scripted::new()
        };
        let mut results = Results::default();
        let err = plan
            .schedule()
            .iter()
            .filter(|t| matches!(t, Task::Relay { .. }))
            .try_for_each(|t| results.run(&mut exec, &plan, &[0, 1], t))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "relay tcp direct at 64 KiB, same CPU: scripted failure"
        );
    }
}
