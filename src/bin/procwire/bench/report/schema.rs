//! The `--json` document: its types, which are also what the table, the verdicts and the
//! chart read.

use procwire::probe::Probe;
use procwire::wire::Capacity;
use serde::Serialize;

use crate::bench::plan::{Omitted, Placement, Row, RowKind};
use crate::bench::stats::Summary;

/// Version of the JSON layout below; bumped on any incompatible change.
///
/// 2: `settings.omitted`; `ratio_iqr` and `ratio_clear` on throughput and latency cells;
/// `verdicts` are objects (workload, winner, ratio, runner-up, text) and the other
/// conclusions moved to `findings`; throughput blocks are timed until the reader has read
/// their last byte (see `bench::protocol`).
pub const SCHEMA: &str = "procwire-bench/3";

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
    /// The file edges (empty when they were left out): one cell per direction, wire kind and
    /// method.
    pub file_edge: Vec<FileEdgeCell>,
    /// What the figures say, in words, as printed after the table.
    pub findings: Vec<String>,
    /// One recommendation per workload and placement, printed last.
    pub verdicts: Vec<Verdict>,
    /// The io_uring rows; `None` when they were left out (`--kinds` without `uring`).
    pub uring: Option<crate::bench::runners::uring::UringSection>,
    /// The audit's decision matrix: the checks' facts, and the dimensions and workload lines
    /// computed from this document (see `report::matrix`).
    pub matrix: Option<MatrixSection>,
    /// The relay rows (empty when they did not run).
    pub relay: Vec<super::RelayCell>,
    /// Which path `procwire relay --mode auto` should take here (null without relay rows).
    pub relay_auto: Option<super::RelayAuto>,
    /// The descriptor-passing rows (empty when they did not run).
    pub fd_pass: Vec<super::FdPassCell>,
}

/// The `matrix` section: what the checks found, and the matrix computed from the document.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixSection {
    pub checks: crate::bench::checks::Checks,
    #[serde(flatten)]
    pub matrix: super::matrix::Matrix,
}

/// What to use for one workload on one placement, and by how much it wins.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// `bulk transfer` (writes of 64 KiB and more), `small writes` (under 64 KiB) or
    /// `request/response` (1-byte round trips).
    pub workload: &'static str,
    pub placement: Placement,
    /// The row to use.
    pub winner: String,
    /// The winner against `baseline`: throughput over the baseline's for transfers, the
    /// baseline's round-trip time over the winner's for request/response (above 1: better).
    pub ratio: f64,
    /// The row compared with: the default pipes, the wire most programs get.
    pub baseline: String,
    /// The next best row and its ratio to the baseline, if any.
    pub runner_up: Option<String>,
    pub runner_up_ratio: Option<f64>,
    /// The printed line.
    pub text: String,
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
    /// Placements that could not be measured, and why (e.g. one CPU under `taskset -c 0`).
    pub omitted: Vec<Omitted>,
}

/// One file-edge cell: `relay::send_file` (file->wire) or `recv_file` (wire->file) over a
/// wire kind by one method, at `chunk` bytes per system call.
#[derive(Debug, Serialize)]
pub struct FileEdgeCell {
    /// `file->wire` or `wire->file`.
    pub direction: &'static str,
    /// `pipes`, `socketpair` or `loopback`.
    pub kind: &'static str,
    /// `sendfile`, `splice` or `copy`.
    pub method: &'static str,
    pub chunk: usize,
    /// GB/s over the repeats; `None` when the kernel refused the method for this pair.
    pub gb_s: Option<Summary>,
    /// The kernel's refusal, when it refused.
    pub error: Option<String>,
}

/// One throughput cell: a row at a chunk size and placement, procwire next to its raw loop.
#[derive(Debug, Serialize)]
pub struct ThroughputCell {
    pub row: String,
    /// `pipes`, `socketpair`, `loopback` or `model`.
    pub kind: RowKind,
    pub capacity_asked: Option<usize>,
    pub capacity_granted: Capacity,
    pub chunk: usize,
    pub placement: Placement,
    /// (writer CPU, reader CPU).
    pub cpus: (usize, usize),
    pub procwire_gb_s: Summary,
    pub raw_gb_s: Summary,
    /// Procwire / raw loop: the median over the block pairs of all repeats.
    pub ratio: f64,
    /// The interquartile range (25th, 75th percentile) of those block-pair ratios.
    pub ratio_iqr: (f64, f64),
    /// False when `ratio_iqr` contains 1.0: the noise cannot separate the ratio from 1.0.
    pub ratio_clear: bool,
    pub repeats: usize,
}

/// One-byte round trips of a row at a placement, in microseconds.
#[derive(Debug, Serialize)]
pub struct LatencyCell {
    pub row: String,
    pub kind: RowKind,
    pub placement: Placement,
    pub cpus: (usize, usize),
    pub procwire_us: Latency,
    pub raw_us: Latency,
    /// Median over repeats of procwire's median / the raw loop's (lower is better here).
    pub ratio: f64,
    /// The interquartile range of the per-repeat ratios.
    pub ratio_iqr: (f64, f64),
    /// False when `ratio_iqr` contains 1.0: the noise cannot separate the ratio from 1.0.
    pub ratio_clear: bool,
}

#[derive(Clone, Debug, Serialize)]
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
    pub(super) fn cell(
        &self,
        row: &str,
        chunk: usize,
        placement: Placement,
    ) -> Option<&ThroughputCell> {
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
}

#[cfg(test)]
mod tests {
    use super::super::fixture::sample;
    use super::*;

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
            r.findings
                .iter()
                .any(|l| l.contains("1.05x the time of std::process::Command"))
        );
        // Schema 2: noise, omissions and structured verdicts.
        assert_eq!(SCHEMA, "procwire-bench/3");
        assert_eq!(v["throughput"][0]["ratio_iqr"][0], 0.98);
        assert_eq!(v["throughput"][0]["ratio_clear"], true);
        assert_eq!(v["latency"][0]["ratio_clear"], false);
        assert!(v["settings"]["omitted"].as_array().unwrap().is_empty());
        let verdict = &v["verdicts"][0];
        for key in [
            "workload",
            "placement",
            "winner",
            "ratio",
            "baseline",
            "runner_up",
            "runner_up_ratio",
            "text",
        ] {
            assert!(verdict.get(key).is_some(), "verdicts[0].{key}");
        }
        assert_eq!(verdict["placement"], "same_cpu");
        assert!(v["findings"][0].is_string());
    }
}
