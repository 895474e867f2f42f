//! `procwire bench`: the measured decision matrix for this machine.
//!
//! [`plan`] decides what to measure, [`measure`] runs it (a writer here, a reader in a
//! re-executed `procwire bench-peer` child, both pinned), [`stats`] summarises repeats,
//! [`report`] turns results into the table, verdicts and JSON, and [`chart`] draws the SVG.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use procwire::wire::{Capacity, Kind};

use crate::CmdResult;

pub mod chart;
pub mod measure;
pub mod plan;
pub mod report;
pub mod spawn;
pub mod stats;

use measure::{Role, Runner};
use plan::{Budget, DEFAULT_CHUNKS, Placement, Plan, Task, default_rows};
use report::{Latency, LatencyCell, MemcpyCell, Report, Settings, SpawnCell, ThroughputCell};
use stats::{Summary, percentile};

/// JSON keys of `--json FILE`, for `--help`.
const JSON_SCHEMA: &str = "\
JSON (--json FILE), schema \"procwire-bench/1\":
  schema       \"procwire-bench/1\"
  machine      the facts of `procwire probe --json`
  settings     repeats, run_seconds or run_bytes (per throughput run), latency_seconds,
               memcpy_seconds, cpus (the CPUs we were allowed to use)
  rows         [{label, subject: \"wire\" (with kind) or \"model\", capacity}] in table order; the model
               row is procwire's in-memory socketpair between two threads of this process, and
               its raw figures are a kernel socketpair between the same two threads
  throughput   one object per cell:
                 row, kind (pipes|socketpair|loopback|model), capacity_asked (bytes or null),
                 capacity_granted {send, recv} (bytes, the kernel's read-back: F_GETPIPE_SZ,
                 or SO_SNDBUF/SO_RCVBUF which Linux reports doubled), chunk (bytes),
                 placement (same_cpu|cross_cpu), cpus [writer, reader],
                 procwire_gb_s and raw_gb_s {median, min, max, spread, samples} (GB/s = 1e9 B/s;
                 spread = (max-min)/median; each sample is one run's bytes over its time),
                 ratio (procwire / raw: the median over the adjacent block pairs of all repeats,
                 32 per run, each one procwire and one raw block moved back to back),
                 repeats
  latency      one object per row and placement: row, kind, placement, cpus,
                 procwire_us and raw_us {median, p99, round_trips, repeat_medians}, ratio
  memcpy       [{chunk, gb_s}]: single-core memcpy bandwidth, the ceiling of any copy
  spawn        null, or the time to spawn `cat`, send it a byte, read it back and reap it:
                 procwire_us (procwire's child on one socketpair, stderr captured) and std_us
                 (std::process::Command, three pipes), each {median, p99, round_trips (= spawns),
                 repeat_medians}, and ratio (procwire / std, paired by repeat)
  verdicts     the conclusions printed after the table";

/// Measure which wire wins on this machine
#[derive(Debug, clap::Args)]
#[command(after_long_help = JSON_SCHEMA)]
pub struct Args {
    /// A short run (under 20 s): shorter runs, same matrix
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// A long run (up to 10 minutes): more repeats, longer runs
    #[arg(long)]
    full: bool,
    /// Timed seconds per throughput run (default 0.25; --quick 0.07; --full 0.8)
    #[arg(long, value_name = "SECS", conflicts_with = "bytes", value_parser = parse_seconds)]
    duration: Option<f64>,
    /// Timed bytes per throughput run instead of a time, e.g. 256M or 2G
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bytes: Option<u64>,
    /// Repeats of every cell (default 5, --quick 3, --full 9); medians are reported
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    repeats: Option<u16>,
    /// Only rows of these kinds, e.g. --kinds pipes,socketpair (spawn: the child spawn row)
    #[arg(long, value_name = "KIND,...", value_delimiter = ',',
          value_parser = ["pipes", "socketpair", "loopback", "model", "spawn"])]
    kinds: Vec<String>,
    /// Only these chunk sizes, e.g. --chunks 64K,1M
    #[arg(long, value_name = "SIZE,...", value_delimiter = ',', value_parser = parse_chunk)]
    chunks: Vec<usize>,
    /// Only this CPU placement
    #[arg(long, value_name = "WHERE")]
    placement: Option<Placement>,
    /// Write every cell, with the machine's facts, as JSON to FILE (schema in --help)
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a chart of throughput by chunk size to FILE (SVG)
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
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

fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.001..=600.0).contains(&v) {
        return Err(format!("{v} s is out of range: give 0.001 to 600"));
    }
    Ok(v)
}

/// A chunk size: `1` to `64M`, with the suffixes of [`parse_size`].
fn parse_chunk(s: &str) -> Result<usize, String> {
    let v = parse_number(s)?;
    if !(1..=64 << 20).contains(&v) {
        return Err(format!("chunk {s:?} is out of range: give 1 to 64M"));
    }
    Ok(v as usize)
}

/// `4096`, `64K`, `256M`, `2G` (binary multiples), at least 1 MiB: bytes per run.
fn parse_size(s: &str) -> Result<u64, String> {
    let v = parse_number(s)?;
    if v < 1 << 20 {
        return Err(format!(
            "{s:?} is too small for a throughput run; give at least 1M"
        ));
    }
    Ok(v)
}

fn parse_number(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("{s:?}: unknown suffix {c:?}; use K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size; try 4096, 64K, 256M or 2G"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

impl Args {
    fn plan(&self, cpus: &[usize]) -> Plan {
        let (repeats, run, latency, memcpy, spawn) = if self.quick {
            (3, 0.07, 0.04, 0.02, 0.15)
        } else if self.full {
            (9, 0.8, 0.5, 0.2, 1.0)
        } else {
            (5, 0.25, 0.15, 0.05, 0.4)
        };
        let budget = match (self.bytes, self.duration) {
            (Some(b), _) => Budget::Bytes(b),
            (None, Some(d)) => Budget::Time(Duration::from_secs_f64(d)),
            (None, None) => Budget::Time(Duration::from_secs_f64(run)),
        };
        let mut rows = default_rows();
        if !self.kinds.is_empty() {
            rows.retain(|r| self.kinds.iter().any(|k| k == r.subject.kind_name()));
        }
        let mut placements = plan::placements(cpus);
        if let Some(want) = self.placement {
            placements.retain(|&q| q == want);
        }
        Plan {
            rows,
            chunks: if self.chunks.is_empty() {
                DEFAULT_CHUNKS.to_vec()
            } else {
                self.chunks.clone()
            },
            placements,
            repeats: self.repeats.map_or(repeats, usize::from),
            budget,
            latency_time: Duration::from_secs_f64(latency),
            memcpy_time: Duration::from_secs_f64(memcpy),
            spawn_time: (self.kinds.is_empty() || self.kinds.iter().any(|k| k == "spawn"))
                .then(|| Duration::from_secs_f64(spawn)),
        }
    }
}

/// Runs `procwire bench`.
pub fn run(args: &Args, out: &mut dyn Write) -> CmdResult {
    let cpus = measure::allowed_cpus().map_err(|e| format!("reading the CPU affinity: {e}"))?;
    let plan = args.plan(&cpus);
    if plan.placements.is_empty() {
        return Err(match args.placement {
            Some(Placement::CrossCpu) => {
                "--placement cross needs two CPUs; this process may use one".into()
            }
            _ => "no CPU is available to pin the benchmark to".into(),
        });
    }
    // Refuse unwritable output paths now, not after a minute of measuring.
    let json_file = open_output(args.json.as_deref())?;
    let svg_file = open_output(args.svg.as_deref())?;
    let runner = Runner {
        exe: std::env::current_exe().map_err(|e| format!("finding our own executable: {e}"))?,
        cpus: cpus.clone(),
    };
    let tasks = plan.schedule();
    let bar = ProgressBar::with_draw_target(Some(tasks.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar.set_message(format!("about {} s", plan.forecast().as_secs()));

    let mut results = Results::default();
    let outcome = (|| -> CmdResult {
        for task in &tasks {
            results.run(&runner, &plan, task)?;
            bar.inc(1);
        }
        Ok(())
    })();
    bar.finish_and_clear();
    let _ = measure::unpin(&cpus);
    outcome?;

    let report = results.report(&plan, cpus);
    write!(out, "{}", report.table()).map_err(crate::writing_stdout)?;
    writeln!(out).map_err(crate::writing_stdout)?;
    for v in &report.verdicts {
        writeln!(out, "- {v}").map_err(crate::writing_stdout)?;
    }
    if let (Some(mut file), Some(path)) = (json_file, &args.json) {
        let text = serde_json::to_string_pretty(&report)? + "\n";
        file.write_all(text.as_bytes())
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
    }
    if let (Some(mut file), Some(path)) = (svg_file, &args.svg) {
        let mut svg = String::new();
        chart::render(&report, &mut svg)?;
        file.write_all(svg.as_bytes())
            .map_err(|e| format!("could not write the chart to {}: {e}", path.display()))?;
    }
    Ok(())
}

fn open_output(path: Option<&std::path::Path>) -> Result<Option<std::fs::File>, String> {
    path.map(|p| {
        std::fs::File::create(p)
            .map_err(|e| format!("cannot write {}: {e}; choose another path", p.display()))
    })
    .transpose()
}

/// Runs `procwire bench-peer` (the child side).
pub fn run_peer(args: &PeerArgs) -> CmdResult {
    if args.cpu >= rustix::thread::CpuSet::MAX_CPU {
        return Err(format!("--cpu {} is beyond the CPUs this system can name", args.cpu).into());
    }
    measure::peer(args.role, args.kind, args.chunk.max(1), args.warm, args.cpu)?;
    Ok(())
}

/// The median over repeats of procwire's figure divided by the raw loop's figure of the same
/// repeat. Both come from one run, their blocks interleaved, so whatever the machine was doing
/// then weighs on both; the median of these ratios is steadier than a ratio of medians.
fn paired_ratio(ours: &[f64], raw: &[f64]) -> f64 {
    let ratios: Vec<f64> = ours.iter().zip(raw).map(|(a, b)| a / b).collect();
    percentile(&ratios, 50.0)
}

/// Median of the repeats' medians and p99 of every sample, from one list of timings per repeat.
fn latency_of(repeats: &[&Vec<f64>]) -> Option<Latency> {
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

#[derive(Default)]
struct Results {
    /// (procwire GB/s, raw GB/s) of each repeat.
    throughput: HashMap<CellKey, Vec<(f64, f64)>>,
    /// The block-pair ratios of every repeat.
    pairs: HashMap<CellKey, Vec<f64>>,
    granted: HashMap<usize, Capacity>,
    latency: HashMap<(usize, Placement), Vec<measure::RoundTrips>>,
    memcpy: HashMap<usize, Vec<f64>>,
    spawns: Vec<spawn::Spawns>,
}

impl Results {
    fn run(&mut self, runner: &Runner, plan: &Plan, task: &Task) -> CmdResult {
        let cpus_of = |p: Placement| p.cpus(&runner.cpus).expect("placement was planned");
        match *task {
            Task::Throughput {
                row,
                chunk,
                placement,
                ..
            } => {
                let r = &plan.rows[row];
                let t = runner
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
                let rtts = runner
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
                let gbs = runner.memcpy(chunk, runner.cpus[0], plan.memcpy_time)?;
                self.memcpy.entry(chunk).or_default().push(gbs);
            }
            Task::Spawn { .. } => {
                // Children inherit our affinity: let them and us run anywhere we may.
                measure::unpin(&runner.cpus)
                    .map_err(|e| format!("unpinning for the spawn row: {e}"))?;
                let time = plan.spawn_time.unwrap_or_default();
                self.spawns.push(spawn::run(time)?);
            }
        }
        Ok(())
    }

    fn report(&self, plan: &Plan, cpus: Vec<usize>) -> Report {
        let mut throughput = Vec::new();
        let mut latency = Vec::new();
        for &placement in &plan.placements {
            let pair = placement.cpus(&cpus).unwrap_or((0, 0));
            for (i, row) in plan.rows.iter().enumerate() {
                let (kind, capacity) = (row.subject.kind_name(), row.subject.capacity());
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
                        throughput.push(ThroughputCell {
                            row: row.label.clone(),
                            kind,
                            capacity_asked: capacity,
                            capacity_granted: self.granted.get(&i).copied().unwrap_or_default(),
                            chunk,
                            placement,
                            cpus: pair,
                            ratio: percentile(pairs, 50.0),
                            repeats: ours.samples.len(),
                            procwire_gb_s: ours,
                            raw_gb_s: raw,
                        });
                    }
                }
                let lat = |pick: fn(&measure::RoundTrips) -> &Vec<f64>| {
                    let runs = self.latency.get(&(i, placement))?;
                    latency_of(&runs.iter().map(pick).collect::<Vec<_>>())
                };
                if let (Some(ours), Some(raw)) = (lat(|r| &r.procwire_us), lat(|r| &r.raw_us)) {
                    latency.push(LatencyCell {
                        row: row.label.clone(),
                        kind,
                        placement,
                        cpus: pair,
                        ratio: paired_ratio(
                            &ours.repeat_medians.samples,
                            &raw.repeat_medians.samples,
                        ),
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
        let (run_seconds, run_bytes) = match plan.budget {
            Budget::Time(t) => (Some(t.as_secs_f64()), None),
            Budget::Bytes(b) => (None, Some(b)),
        };
        let mut report = Report {
            schema: report::SCHEMA,
            machine: procwire::probe::collect(),
            settings: Settings {
                repeats: plan.repeats,
                run_seconds,
                run_bytes,
                latency_seconds: plan.latency_time.as_secs_f64(),
                memcpy_seconds: plan.memcpy_time.as_secs_f64(),
                cpus,
            },
            rows: plan.rows.clone(),
            throughput,
            latency,
            memcpy,
            spawn,
            verdicts: Vec::new(),
        };
        report.verdicts = report.verdicts();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("12Q").unwrap_err().contains("unknown suffix"));
        assert!(parse_size("4K").unwrap_err().contains("too small"));
        assert!(parse_size("1.5M").unwrap_err().contains("not a size"));
        assert_eq!(parse_chunk("64K"), Ok(64 << 10));
        assert!(parse_chunk("0").unwrap_err().contains("out of range"));
    }

    #[test]
    fn seconds_are_bounded() {
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("1e9").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn ratios_pair_runs_of_the_same_repeat() {
        // A slow moment (repeat 1) hits both modes; paired, it does not skew the ratio.
        let ours = [1.0, 0.5, 1.0];
        let raw = [1.0, 0.5, 1.02];
        assert!((paired_ratio(&ours, &raw) - 1.0).abs() < 1e-12);
        assert!((paired_ratio(&[0.9, 0.9, 0.9], &[1.0, 1.0, 1.0]) - 0.9).abs() < 1e-12);
    }

    #[test]
    fn presets_shape_the_plan() {
        let args = |quick, full| Args {
            quick,
            full,
            duration: None,
            bytes: None,
            repeats: None,
            kinds: Vec::new(),
            chunks: Vec::new(),
            placement: None,
            json: None,
            svg: None,
        };
        let default = args(false, false).plan(&[0, 1]);
        let quick = args(true, false).plan(&[0, 1]);
        let full = args(false, true).plan(&[0, 1]);
        assert!(
            quick.forecast() < Duration::from_secs(20),
            "{:?}",
            quick.forecast()
        );
        assert!(
            default.forecast() < Duration::from_secs(100),
            "{:?}",
            default.forecast()
        );
        assert!(
            full.forecast() < Duration::from_secs(600),
            "{:?}",
            full.forecast()
        );
        assert_eq!(full.repeats, 9);
        assert_eq!(default.placements.len(), 2);
        assert_eq!(
            args(false, false).plan(&[3]).placements,
            [Placement::SameCpu]
        );
    }
}
