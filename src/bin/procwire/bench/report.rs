//! The results: JSON schema types, the terminal table and the verdict lines.
//!
//! Everything here is pure (results in, text out), so it is tested without running a bench.

use std::fmt::Write as _;

use procwire::probe::Probe;
use procwire::wire::Capacity;
use serde::Serialize;

use super::plan::{Placement, Row, human_bytes};
use super::stats::Summary;

/// Version of the JSON layout below; bumped on any incompatible change.
pub const SCHEMA: &str = "procwire-bench/1";

/// The whole `--json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub machine: Probe,
    pub settings: Settings,
    pub rows: Vec<Row>,
    pub throughput: Vec<ThroughputCell>,
    pub latency: Vec<LatencyCell>,
    pub memcpy: Vec<MemcpyCell>,
    /// `None` when the spawn row was left out.
    pub spawn: Option<SpawnCell>,
    pub verdicts: Vec<String>,
}

/// Spawn + 1-byte round trip + reap of `cat`: procwire's child (socketpair, stderr captured)
/// against `std::process::Command` with three pipes. `round_trips` counts spawns.
#[derive(Debug, Serialize)]
pub struct SpawnCell {
    pub procwire_us: Latency,
    pub std_us: Latency,
    /// Median over repeats of procwire / std, paired by repeat.
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub repeats: usize,
    /// Seconds per throughput run, when runs are timed.
    pub run_seconds: Option<f64>,
    /// Bytes per throughput run, when runs are sized (`--bytes`).
    pub run_bytes: Option<u64>,
    pub latency_seconds: f64,
    pub memcpy_seconds: f64,
    /// The CPUs the run was allowed to use; placements pin to the first one or two.
    pub cpus: Vec<usize>,
}

/// One throughput cell: a row at a chunk size and placement, procwire next to its raw loop.
#[derive(Debug, Serialize)]
pub struct ThroughputCell {
    pub row: String,
    /// `pipes`, `socketpair`, `loopback` or `model`.
    pub kind: &'static str,
    pub capacity_asked: Option<usize>,
    pub capacity_granted: Capacity,
    pub chunk: usize,
    pub placement: Placement,
    /// (writer CPU, reader CPU).
    pub cpus: (usize, usize),
    pub procwire_gb_s: Summary,
    pub raw_gb_s: Summary,
    /// Median over repeats of procwire / raw loop, each repeat's two runs back to back.
    pub ratio: f64,
    pub repeats: usize,
}

/// One-byte round trips of a row at a placement, in microseconds.
#[derive(Debug, Serialize)]
pub struct LatencyCell {
    pub row: String,
    pub kind: &'static str,
    pub placement: Placement,
    pub cpus: (usize, usize),
    pub procwire_us: Latency,
    pub raw_us: Latency,
    /// Median over repeats of procwire's median / the raw loop's (lower is better here).
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub median: f64,
    pub p99: f64,
    pub round_trips: usize,
    /// Median of each repeat, for the spread.
    pub repeat_medians: Summary,
}

/// Single-core memcpy bandwidth at a chunk size: the ceiling for any copy through the kernel.
#[derive(Debug, Serialize)]
pub struct MemcpyCell {
    pub chunk: usize,
    pub gb_s: Summary,
}

impl Report {
    fn cell(&self, row: &str, chunk: usize, placement: Placement) -> Option<&ThroughputCell> {
        self.throughput
            .iter()
            .find(|c| c.row == row && c.chunk == chunk && c.placement == placement)
    }

    /// The chunk sizes measured, ascending.
    pub fn chunks(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.throughput.iter().map(|c| c.chunk).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The placements measured.
    pub fn placements(&self) -> Vec<Placement> {
        let mut v: Vec<Placement> = self.throughput.iter().map(|c| c.placement).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The (writer, reader) CPUs of a placement.
    pub fn cpus(&self, placement: Placement) -> (usize, usize) {
        self.throughput
            .iter()
            .find(|c| c.placement == placement)
            .map_or((0, 0), |c| c.cpus)
    }

    /// The terminal table: one block per placement, a line per row.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let chunks = self.chunks();
        let reps = self.settings.repeats;
        for placement in self.placements() {
            let cpus = self.cpus(placement);
            let _ = writeln!(
                s,
                "\n{} (writer on CPU {}, reader on CPU {}): throughput GB/s, median of {reps}, \
                 with procwire/raw-loop ratio",
                capitalise(placement.describe()),
                cpus.0,
                cpus.1
            );
            let _ = write!(s, "{:<20} {:>15}", "row", "granted");
            for &c in &chunks {
                let _ = write!(s, " {:>16}", human_bytes(c));
            }
            let _ = writeln!(s, " {:>18}", "rtt µs median p99");
            for row in &self.rows {
                let granted = self
                    .throughput
                    .iter()
                    .find(|c| c.row == row.label)
                    .map_or(String::from("?"), |c| granted(c.kind, c.capacity_granted));
                let _ = write!(s, "{:<20} {:>15}", row.label, granted);
                for &chunk in &chunks {
                    match self.cell(&row.label, chunk, placement) {
                        Some(c) => {
                            let v = format!("{:.2} ({:.2}x)", c.procwire_gb_s.median, c.ratio);
                            let _ = write!(s, " {v:>16}");
                        }
                        None => {
                            let _ = write!(s, " {:>16}", "-");
                        }
                    }
                }
                match self
                    .latency
                    .iter()
                    .find(|l| l.row == row.label && l.placement == placement)
                {
                    Some(l) => {
                        let v = format!("{:.1} {:.1}", l.procwire_us.median, l.procwire_us.p99);
                        let _ = writeln!(s, " {v:>18}");
                    }
                    None => {
                        let _ = writeln!(s, " {:>18}", "-");
                    }
                }
            }
            let _ = write!(s, "{:<20} {:>15}", "raw loop, best row", "");
            for &chunk in &chunks {
                let best = self
                    .throughput
                    .iter()
                    .filter(|c| c.chunk == chunk && c.placement == placement)
                    .map(|c| c.raw_gb_s.median)
                    .fold(0.0, f64::max);
                let _ = write!(s, " {:>16}", format!("{best:.2}"));
            }
            let _ = writeln!(s);
        }
        if self.rows.iter().any(|r| r.subject.kind_name() == "model") {
            let _ = writeln!(
                s,
                "(model row: procwire's in-memory socketpair between two threads; its ratio is \
                 to a kernel socketpair between the same threads)"
            );
        }
        if !self.memcpy.is_empty() && !chunks.is_empty() {
            let _ = write!(s, "{:<20} {:>15}", "memcpy, one core", "");
            for &chunk in &chunks {
                match self.memcpy.iter().find(|m| m.chunk == chunk) {
                    Some(m) => {
                        let _ = write!(s, " {:>16}", format!("{:.2}", m.gb_s.median));
                    }
                    None => {
                        let _ = write!(s, " {:>16}", "-");
                    }
                }
            }
            let _ = writeln!(s);
        }
        if let Some(sp) = &self.spawn {
            let _ = writeln!(
                s,
                "\nSpawn cat, 1-byte round trip, reap (µs, median and p99 of {} spawns each):",
                sp.procwire_us.round_trips
            );
            for (label, l) in [
                (
                    "procwire child, socketpair + stderr side channel",
                    &sp.procwire_us,
                ),
                ("std::process::Command, 3 pipes", &sp.std_us),
            ] {
                let _ = writeln!(s, "  {label:<50} {:>8.0} {:>8.0}", l.median, l.p99);
            }
            let _ = writeln!(s, "  {:<50} {:>8.2}x", "ratio", sp.ratio);
        }
        s
    }

    /// Plain-word conclusions, computed from the medians.
    pub fn verdicts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let baseline = self.rows.first().map(|r| r.label.clone());
        for placement in self.placements() {
            for chunk in self.chunks() {
                let mut cells: Vec<&ThroughputCell> = self
                    .throughput
                    .iter()
                    .filter(|c| c.chunk == chunk && c.placement == placement)
                    .filter(|c| c.kind != "model")
                    .collect();
                let Some(base) = baseline
                    .as_deref()
                    .and_then(|b| cells.iter().find(|c| c.row == b).copied())
                else {
                    continue;
                };
                cells.sort_by(|a, b| b.procwire_gb_s.median.total_cmp(&a.procwire_gb_s.median));
                let best = cells[0];
                let vs = |c: &ThroughputCell| c.procwire_gb_s.median / base.procwire_gb_s.median;
                let mut line = format!(
                    "at {}, {}, {} is fastest at {:.2} GB/s",
                    human_bytes(chunk),
                    placement.describe(),
                    best.row,
                    best.procwire_gb_s.median
                );
                if best.row != base.row {
                    let _ = write!(line, ", {:.2}x the bytes of {}", vs(best), base.row);
                }
                let others: Vec<String> = cells
                    .iter()
                    .filter(|c| c.row != best.row && c.row != base.row)
                    .map(|c| format!("{} {:.2}x", c.row, vs(c)))
                    .collect();
                if !others.is_empty() {
                    let _ = write!(line, "; against {}: {}", base.row, others.join(", "));
                }
                out.push(line);
            }
        }
        // Placement: how much the second CPU changes each row (median over chunk sizes).
        if self.placements().len() == 2 {
            for row in &self.rows {
                let ratios: Vec<f64> = self
                    .chunks()
                    .into_iter()
                    .filter_map(|chunk| {
                        let same = self.cell(&row.label, chunk, Placement::SameCpu)?;
                        let cross = self.cell(&row.label, chunk, Placement::CrossCpu)?;
                        Some(cross.procwire_gb_s.median / same.procwire_gb_s.median)
                    })
                    .collect();
                if !ratios.is_empty() {
                    out.push(format!(
                        "placement: {} on different CPUs moves {:.2}x what it moves on one CPU \
                         (median over chunk sizes)",
                        row.label,
                        super::stats::percentile(&ratios, 50.0)
                    ));
                }
            }
        }
        for placement in self.placements() {
            if let Some(best) = self
                .latency
                .iter()
                .filter(|l| l.placement == placement && l.kind != "model")
                .min_by(|a, b| a.procwire_us.median.total_cmp(&b.procwire_us.median))
            {
                out.push(format!(
                    "lowest 1-byte round trip on {}: {}, {:.1} µs median, {:.1} µs p99",
                    placement.describe(),
                    best.row,
                    best.procwire_us.median,
                    best.procwire_us.p99
                ));
            }
        }
        // The model against a kernel socketpair between the same two threads.
        for placement in self.placements() {
            let model: Vec<String> = self
                .throughput
                .iter()
                .filter(|c| c.kind == "model" && c.placement == placement)
                .map(|c| format!("{:.2}x at {}", c.ratio, human_bytes(c.chunk)))
                .collect();
            if !model.is_empty() {
                out.push(format!(
                    "the in-memory model between two threads on {} moves {} what a kernel \
                     socketpair between the same threads moves",
                    placement.describe(),
                    model.join(", ")
                ));
            }
        }
        // procwire's own cost against the raw loop (the model row has no raw loop).
        let big: Vec<&ThroughputCell> = self
            .throughput
            .iter()
            .filter(|c| c.chunk >= 64 << 10 && c.kind != "model")
            .collect();
        if let Some(worst) = big.iter().min_by(|a, b| a.ratio.total_cmp(&b.ratio)) {
            let below = big.iter().filter(|c| c.ratio < 0.97).count();
            out.push(format!(
                "procwire against the raw read/write loop: {} of {} cells at 64 KiB and above \
                 reach 0.97x; lowest {:.3}x ({} at {}, {})",
                big.len() - below,
                big.len(),
                worst.ratio,
                worst.row,
                human_bytes(worst.chunk),
                worst.placement.describe()
            ));
        }
        if let Some(l) = self
            .latency
            .iter()
            .filter(|l| l.kind != "model")
            .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
        {
            out.push(format!(
                "round-trip latency against the raw loop: at most {:.3}x ({} on {})",
                l.ratio,
                l.row,
                l.placement.describe()
            ));
        }
        if let Some(sp) = &self.spawn {
            out.push(format!(
                "spawning a child on a socketpair with its stderr captured, one round trip and \
                 the reap take {:.2}x the time of std::process::Command with pipes ({:.0} µs \
                 against {:.0} µs, median)",
                sp.ratio, sp.procwire_us.median, sp.std_us.median
            ));
        }
        out
    }
}

fn granted(kind: &str, c: Capacity) -> String {
    if kind == "socketpair" || kind == "loopback" {
        format!("snd {}", human_bytes(c.send))
    } else {
        human_bytes(c.send)
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::plan::{Row, default_rows};

    fn summary(v: f64) -> Summary {
        Summary::of(&[v * 0.99, v, v * 1.01]).unwrap()
    }

    /// A report with made-up figures: pipes 1 GB/s, everything else scaled.
    pub(crate) fn sample() -> Report {
        let rows = default_rows();
        let speed = [1.0, 1.05, 1.27, 1.3, 0.6, 2.0];
        let mut throughput = Vec::new();
        let mut latency = Vec::new();
        for placement in [Placement::SameCpu, Placement::CrossCpu] {
            let p = if placement == Placement::SameCpu {
                1.0
            } else {
                2.0
            };
            for (row, s) in rows.iter().zip(speed) {
                let (kind, capacity) = (row.subject.kind_name(), row.subject.capacity());
                for chunk in [4 << 10, 64 << 10, 1 << 20] {
                    throughput.push(ThroughputCell {
                        row: row.label.clone(),
                        kind,
                        capacity_asked: capacity,
                        capacity_granted: Capacity {
                            send: capacity.unwrap_or(65536),
                            recv: capacity.unwrap_or(65536),
                            ..Capacity::default()
                        },
                        chunk,
                        placement,
                        cpus: if p == 1.0 { (0, 0) } else { (0, 1) },
                        procwire_gb_s: summary(s * p),
                        raw_gb_s: summary(s * p / 0.99),
                        ratio: 0.99,
                        repeats: 3,
                    });
                }
                let lat = |m: f64| Latency {
                    median: m,
                    p99: m * 2.0,
                    round_trips: 1000,
                    repeat_medians: summary(m),
                };
                latency.push(LatencyCell {
                    row: row.label.clone(),
                    kind,
                    placement,
                    cpus: (0, 0),
                    procwire_us: lat(10.0 / s),
                    raw_us: lat(10.0 / s),
                    ratio: 1.0,
                });
            }
        }
        let mut r = Report {
            schema: SCHEMA,
            machine: procwire::probe::collect(),
            settings: Settings {
                repeats: 3,
                run_seconds: Some(0.25),
                run_bytes: None,
                latency_seconds: 0.1,
                memcpy_seconds: 0.05,
                cpus: vec![0, 1],
            },
            rows: rows.clone(),
            throughput,
            latency,
            memcpy: vec![MemcpyCell {
                chunk: 64 << 10,
                gb_s: summary(20.0),
            }],
            spawn: Some(SpawnCell {
                procwire_us: Latency {
                    median: 1050.0,
                    p99: 2000.0,
                    round_trips: 300,
                    repeat_medians: summary(1050.0),
                },
                std_us: Latency {
                    median: 1000.0,
                    p99: 1900.0,
                    round_trips: 300,
                    repeat_medians: summary(1000.0),
                },
                ratio: 1.05,
            }),
            verdicts: Vec::new(),
        };
        r.verdicts = r.verdicts();
        let _: &[Row] = &r.rows;
        r
    }

    #[test]
    fn verdicts_compare_against_default_pipes_in_words() {
        let v = sample().verdicts;
        assert!(
            v.iter().any(|l| l
                == "at 64 KiB, same CPU, socketpair 4 MiB is fastest at 1.30 GB/s, 1.30x the bytes \
                    of pipes default; against pipes default: socketpair default 1.27x, \
                    pipes 1 MiB 1.05x, loopback default 0.60x"),
            "{v:#?}"
        );
        assert!(
            v.iter()
                .any(|l| l.starts_with("placement: pipes default on different CPUs moves 2.00x")),
            "{v:#?}"
        );
        assert!(v.iter().any(|l| {
            l.starts_with("lowest 1-byte round trip on same CPU: socketpair 4 MiB, 7.7 µs median")
        }));
        assert!(
            v.iter()
                .any(|l| l.starts_with("procwire against the raw read/write loop: 20 of 20 cells")),
            "{v:#?}"
        );
        // The model is reported against its own baseline, never as a wire choice.
        assert!(
            v.iter().any(|l| l.starts_with(
                "the in-memory model between two threads on same CPU moves 0.99x at 4 KiB"
            )),
            "{v:#?}"
        );
    }

    #[test]
    fn table_has_a_line_per_row_and_placement() {
        let r = sample();
        let t = r.table();
        for row in &r.rows {
            assert_eq!(t.matches(&format!("\n{}", row.label)).count(), 2, "{t}");
        }
        assert!(
            t.contains("Same CPU (writer on CPU 0, reader on CPU 0)"),
            "{t}"
        );
        assert!(
            t.contains("Different CPUs (writer on CPU 0, reader on CPU 1)"),
            "{t}"
        );
        assert!(t.contains("1.00 (0.99x)"), "{t}");
        assert!(t.contains("memcpy, one core"), "{t}");
        assert!(t.contains("Spawn cat, 1-byte round trip, reap"), "{t}");
        assert!(t.contains("1.05x"), "{t}");
        let no_spawn = Report {
            spawn: None,
            ..sample()
        };
        assert!(!no_spawn.table().contains("Spawn"));
    }

    #[test]
    fn json_holds_every_cell_with_the_documented_fields() {
        let r = sample();
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        let cells = v["throughput"].as_array().unwrap();
        assert_eq!(cells.len(), 6 * 3 * 2);
        for c in cells {
            for key in [
                "row",
                "kind",
                "capacity_asked",
                "capacity_granted",
                "chunk",
                "placement",
                "cpus",
                "procwire_gb_s",
                "raw_gb_s",
                "ratio",
                "repeats",
            ] {
                assert!(c.get(key).is_some(), "missing {key} in {c}");
            }
            assert!(c["procwire_gb_s"]["median"].is_f64());
            assert!(c["procwire_gb_s"]["spread"].is_f64());
        }
        assert_eq!(v["throughput"][0]["kind"], "pipes");
        assert_eq!(v["throughput"][0]["placement"], "same_cpu");
        assert_eq!(v["rows"][2]["kind"], "socketpair");
        assert_eq!(v["latency"].as_array().unwrap().len(), 12);
        assert_eq!(v["rows"][5]["subject"], "model");
        assert!(v["machine"]["pipe_max_size"].is_u64());
        assert_eq!(v["settings"]["run_seconds"], 0.25);
        for side in ["procwire_us", "std_us"] {
            for key in ["median", "p99", "round_trips", "repeat_medians"] {
                assert!(v["spawn"][side].get(key).is_some(), "spawn.{side}.{key}");
            }
        }
        assert_eq!(v["spawn"]["ratio"], 1.05);
        assert!(
            r.verdicts
                .iter()
                .any(|l| l.contains("1.05x the time of std::process::Command"))
        );
    }
}
