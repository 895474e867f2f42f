//! `procwire bench`: the measured decision matrix for this machine.
//!
//! [`plan`] decides what to measure; [`runners`] measure it behind the `Executor` trait (a
//! writer here, a reader in a re-executed `procwire bench-peer` child ([`peer`]) talking
//! [`protocol`], both pinned by [`affinity`], blocks interleaved by [`schedule`]);
//! [`aggregate`] keeps the samples and builds the [`report`] (JSON, table, verdicts) with
//! [`stats`]; [`chart`] draws the SVG.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{CmdResult, units};

pub mod affinity;
pub mod aggregate;
pub mod chart;
pub mod checks;
pub mod loops;
pub mod output;
pub mod peer;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod runners;
pub mod schedule;
pub mod stats;

use output::Output;
pub use peer::{PeerArgs, parent_gone, run as run_peer};
use plan::{
    Budget, DEFAULT_CHUNKS, Placement, Plan, RELAY_CHUNKS, RelayPlan, UringPlan, default_rows,
};
use runners::Runner;

/// JSON keys of `--json FILE`, for `--help`.
const JSON_SCHEMA: &str = "\
JSON (--json FILE), schema \"procwire-bench/3\" (3: the relay, relay_auto, fd_pass, file_edge,
uring and matrix sections; 2: omitted, ratio_iqr/ratio_clear, structured verdicts and findings;
blocks timed to the reader's last byte):
  schema       \"procwire-bench/3\"
  machine      the facts of `procwire probe --json`
  settings     repeats, run_seconds or run_bytes (per throughput run), latency_seconds,
               memcpy_seconds, cpus (the CPUs we were allowed to use), omitted [{placement,
               reason}] (placements that could not be measured, e.g. one CPU under taskset)
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
                 32 per run, each one procwire and one raw block moved back to back, each block
                 timed from its first byte written to its last byte read),
                 ratio_iqr [25th, 75th percentile of those pair ratios], ratio_clear (false when
                 ratio_iqr contains 1.0: the noise cannot separate the ratio from 1.0; marked ~
                 in the table), repeats
  latency      one object per row and placement: row, kind, placement, cpus,
                 procwire_us and raw_us {median, p99, round_trips, repeat_medians}, ratio,
                 ratio_iqr and ratio_clear (over the per-repeat ratios)
  memcpy       [{chunk, gb_s}]: single-core memcpy bandwidth, the ceiling of any copy
  spawn        null, or the time to spawn `cat`, send it a byte, read it back and reap it:
                 procwire_us (procwire's child on one socketpair, stderr captured) and std_us
                 (std::process::Command, three pipes), each {median, p99, round_trips (= spawns),
                 repeat_medians}, and ratio (procwire / std, paired by repeat)
  file_edge    [] when not run, else one object per (direction, wire kind, method):
                 {direction: \"file->wire\" (relay::send_file) or \"wire->file\" (recv_file),
                 kind (pipes|socketpair|loopback), method (sendfile|splice|copy), chunk (bytes
                 per system call), gb_s {median, ...} over repeats or null, error (the kernel's
                 refusal, e.g. sendfile from a wire, or null)}; each run moves 4 MiB blocks of an
                 in-memory file, the methods of a kind taking turns block by block
  findings     the conclusions printed after the table, as strings
  verdicts     one per workload (bulk transfer, small writes, request/response) and placement:
                 {workload, placement, winner (row label), ratio (winner against baseline, above
                 1 is better), baseline (default pipes), runner_up, runner_up_ratio, text}
  uring        null (left out by --kinds), or {available, error (io_uring_setup's refusal),
                 io_uring_disabled (the sysctl), depth, chunk, send_zc (why no SEND_ZC row),
                 rows [{kind, ops (read/write|recv/send), placement, cpus, uring_gb_s and
                 plain_gb_s {median, ...}, ratio (io_uring / plain read-write, block pairs),
                 ratio_iqr, ratio_clear, uring_us and plain_us {median, p99, ...} (1-byte round
                 trips), rtt_ratio, error}]}
  matrix       the audit's decision matrix: checks {queue, largest_grant, ancillary,
                 half_close, connect_watchdog, remote_shell} (what procwire tried and what the
                 kernel answered), dimensions [{name, audit, figures [{label, value, text}],
                 source}] and workloads [{workload, winner, runner_up, value, ratio,
                 audit_holds, text}], computed from this document
  relay        [] without relay rows, else one object per cell: transport (unix|tcp: AF_UNIX
                 socketpairs or TCP loopback on both hops), placement, cpus [sender, relay or
                 null when direct, receiver] (different CPUs: sender and receiver share the
                 first, the relay has the second), path (direct|copy|splice: no relay, or
                 procwire::relay::relay() in Mode::Copy or Mode::Splice in its own process),
                 chunk (the sender's write size), gb_s {median, ...} (bytes delivered to the
                 receiver per second, one sample per repeat), relay_cpu_s_per_gb (the relay's
                 CPU time over the bytes it moved, median; from /proc/<pid>/schedstat; null
                 when direct), rtt_us (1-byte round trips through this path, as latency's
                 procwire_us; the same for each chunk of a path)
  relay_auto   null without relay rows of both transports, else {unix, tcp: splice|copy, why}:
                 the path procwire relay --mode auto should take here (read by procwire relay
                 --tune FILE)
  fd_pass      [] without fd-passing rows, else per placement: {placement, cpus,
                 channel_per_s, raw_per_s (round trips per second at each repeat's median
                 round trip: send 1 descriptor over a SOCK_SEQPACKET socketpair, receive it,
                 send it back, close it; pass::Channel against raw sendmsg/recvmsg), ratio
                 (channel / raw, median over block pairs)}";

/// Measure which wire wins on this machine
#[derive(Debug, clap::Args)]
#[command(after_long_help = JSON_SCHEMA)]
pub struct Args {
    /// A short run (under 30 s): shorter runs, same matrix
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// A long run (about 10 minutes on an idle machine): more repeats, longer runs
    #[arg(long)]
    full: bool,
    /// Timed time per throughput run, e.g. 250ms, 2s or bare seconds (default 250ms; --quick
    /// 70ms; --full 800ms; at most 10m)
    #[arg(long, value_name = "TIME", conflicts_with = "bytes", value_parser = parse_run_time,
          allow_hyphen_values = true)]
    duration: Option<Duration>,
    /// Timed bytes per throughput run instead of a time, e.g. 256M, 2G or 512MiB
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bytes: Option<u64>,
    /// Repeats of every cell (default 5, --quick 3, --full 9); medians are reported
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    repeats: Option<u16>,
    /// Only rows of these kinds, e.g. --kinds pipes,socketpair (spawn: the child spawn row;
    /// file_edge: send_file/recv_file by sendfile, splice and copy over each wire kind;
    /// uring: the io_uring rows; relay: the relay rows; fd_pass: the descriptor-passing rows)
    #[arg(long, value_name = "KIND,...", value_delimiter = ',',
          value_parser = ["pipes", "socketpair", "loopback", "model", "spawn", "file_edge", "uring",
                          "relay", "fd_pass"])]
    kinds: Vec<String>,
    /// Print the audit's decision matrix only (every dimension answered by a figure or a
    /// check, and a line per workload) instead of the table
    #[arg(long)]
    matrix: bool,
    /// Compare two `--json` result files: their matrices side by side, B/A per cell; measures
    /// nothing
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"], conflicts_with_all =
          ["quick", "full", "duration", "bytes", "repeats", "kinds", "chunks", "placement",
           "json", "svg", "matrix"])]
    compare: Vec<PathBuf>,
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

/// The longest `--duration`: ten minutes per run.
const MAX_RUN: Duration = Duration::from_secs(600);

/// `--duration`: `250ms`, `2s`, bare seconds; 1 ms to 10 minutes.
fn parse_run_time(s: &str) -> Result<Duration, String> {
    units::parse_duration(s, MAX_RUN)
}

/// A chunk size: `1` to `64M`, with the units of [`units::parse_size`].
fn parse_chunk(s: &str) -> Result<usize, String> {
    let v = units::parse_size(s)?;
    if !(1..=64 << 20).contains(&v) {
        return Err(format!("chunk {s:?} is out of range: give 1 to 64M"));
    }
    Ok(v as usize)
}

/// Bytes per run: at least 1 MiB, with the units of [`units::parse_size`].
fn parse_size(s: &str) -> Result<u64, String> {
    let v = units::parse_size(s)?;
    if v < 1 << 20 {
        return Err(format!(
            "{s:?} is too small for a throughput run; give at least 1M"
        ));
    }
    Ok(v)
}

impl Args {
    fn plan(&self, cpus: &[usize]) -> Plan {
        let (repeats, run, latency, memcpy, spawn, file_edge) = if self.quick {
            (3, 0.07, 0.04, 0.02, 0.15, 0.4)
        } else if self.full {
            (9, 0.8, 0.4, 0.1, 0.6, 1.2)
        } else {
            (5, 0.25, 0.1, 0.03, 0.3, 0.5)
        };
        let budget = match (self.bytes, self.duration) {
            (Some(b), _) => Budget::Bytes(b),
            (None, Some(d)) => Budget::Time(d),
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
            file_edge_time: (self.kinds.is_empty() || self.kinds.iter().any(|k| k == "file_edge"))
                .then(|| Duration::from_secs_f64(file_edge)),
            omitted: plan::omitted(cpus, self.placement),
            relay: self.relay_plan(),
            uring: self.uring_plan(),
        }
    }

    /// The io_uring rows unless `--kinds` leaves them out: fewer repeats than the wire rows
    /// (`runners::uring::budget`), never more than `--repeats`.
    fn uring_plan(&self) -> Option<UringPlan> {
        if !(self.kinds.is_empty() || self.kinds.iter().any(|k| k == "uring")) {
            return None;
        }
        let (repeats, run, latency) = runners::uring::budget(self.quick, self.full);
        Some(UringPlan {
            repeats: self
                .repeats
                .map_or(repeats, usize::from)
                .min(repeats.max(1)),
            rows: runners::uring::ROWS.len(),
            run: Duration::from_secs_f64(run),
            latency: Duration::from_secs_f64(latency),
        })
    }

    /// The relay and fd-passing rows: shorter runs and fewer repeats than the wire rows, since
    /// each cell is three runs of up to three processes.
    fn relay_plan(&self) -> RelayPlan {
        let (repeats, run, latency, fd_pass) = if self.quick {
            (3, 0.025, 0.02, 0.04)
        } else if self.full {
            (5, 0.25, 0.1, 0.5)
        } else {
            (5, 0.05, 0.04, 0.15)
        };
        let wants = |kind: &str| self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind);
        RelayPlan {
            transports: if wants("relay") {
                plan::Transport::ALL.to_vec()
            } else {
                Vec::new()
            },
            chunks: match (self.chunks.is_empty(), self.quick) {
                (false, _) => self.chunks.clone(),
                // --quick: the bulk sizes the targets are read at.
                (true, true) => RELAY_CHUNKS
                    .iter()
                    .copied()
                    .filter(|&c| c >= 64 << 10)
                    .collect(),
                (true, false) => RELAY_CHUNKS.to_vec(),
            },
            repeats: self.repeats.map_or(repeats, usize::from),
            budget: match (self.bytes, self.duration) {
                (Some(b), _) => Budget::Bytes(b),
                (None, Some(d)) => Budget::Time(d),
                (None, None) => Budget::Time(Duration::from_secs_f64(run)),
            },
            latency_time: Duration::from_secs_f64(latency),
            fd_pass_time: wants("fd_pass").then(|| Duration::from_secs_f64(fd_pass)),
        }
    }
}

/// Runs `procwire bench`.
pub fn run(args: &Args, out: &mut dyn Write) -> CmdResult {
    if let [a, b] = &args.compare[..] {
        let text = report::compare::compare(a, b)?;
        write!(out, "{text}").map_err(crate::writing_stdout)?;
        return Ok(());
    }
    let cpus = affinity::allowed_cpus().map_err(|e| format!("reading the CPU affinity: {e}"))?;
    let plan = args.plan(&cpus);
    if plan.placements.is_empty() {
        return Err(match args.placement {
            Some(Placement::CrossCpu) => {
                "--placement cross needs two CPUs; this process may use one".into()
            }
            _ => "no CPU is available to pin the benchmark to".into(),
        });
    }
    if args.svg.is_some() && plan.rows.is_empty() {
        return Err(
            "--svg charts the wire rows, and --kinds spawn measures none; add a wire \
                    kind (e.g. --kinds spawn,socketpair) or leave out --svg"
                .into(),
        );
    }
    // Refuse unwritable output paths now, not after a minute of measuring.
    let json_file = args.json.as_deref().map(Output::check).transpose()?;
    let svg_file = args.svg.as_deref().map(Output::check).transpose()?;
    let mut runner = Runner {
        exe: std::env::current_exe().map_err(|e| format!("finding our own executable: {e}"))?,
        cpus: cpus.clone(),
    };
    let tasks = plan.schedule();
    // The schedule, then the io_uring runs and the checks (one step each).
    let mut progress = Progress::new(&plan, tasks.len() + plan.uring_runs() + 1);
    let mut results = aggregate::Results::default();
    let outcome = (|| -> CmdResult {
        for task in &tasks {
            progress.start(&plan, task);
            results.run(&mut runner, &plan, &cpus, task)?;
            progress.done();
        }
        Ok(())
    })();
    let uring = outcome
        .is_ok()
        .then(|| args.uring(&plan, &cpus, &mut progress))
        .flatten();
    let _ = affinity::unpin(&cpus);
    let checks = outcome.map(|()| {
        progress.note("the decision matrix's checks");
        checks::run(true)
    });
    progress.finish();
    let checks = checks?;

    let mut report = results.report(&plan, cpus, procwire::probe::collect());
    report.uring = uring;
    report.matrix = Some(matrix_section(&report, checks)?);
    // The files first: a closed stdout (`| head`) must not lose minutes of measurements.
    if let Some(file) = json_file {
        file.commit((serde_json::to_string_pretty(&report)? + "\n").as_bytes())?;
    }
    if let Some(file) = svg_file {
        let mut svg = String::new();
        chart::render(&report, &mut svg)?;
        file.commit(svg.as_bytes())?;
    }
    let matrix = report.matrix.as_ref().map(|m| m.matrix.render());
    if !args.matrix {
        write!(out, "{}", report.table()).map_err(crate::writing_stdout)?;
        writeln!(out).map_err(crate::writing_stdout)?;
        write!(out, "{}", report.verdict_lines()).map_err(crate::writing_stdout)?;
    }
    write!(out, "{}", matrix.unwrap_or_default()).map_err(crate::writing_stdout)?;
    Ok(())
}

/// The `matrix` section: the checks put into the document, and the matrix computed from the
/// document as JSON, as `--compare` computes it from a file.
fn matrix_section(
    report: &report::Report,
    checks: checks::Checks,
) -> Result<report::MatrixSection, Box<dyn std::error::Error + Send + Sync>> {
    let mut v = serde_json::to_value(report)?;
    v["matrix"] = serde_json::json!({ "checks": &checks });
    Ok(report::MatrixSection {
        matrix: report::matrix::matrix_of(&v),
        checks,
    })
}

impl Args {
    /// Runs the io_uring rows the plan holds.
    fn uring(
        &self,
        plan: &Plan,
        cpus: &[usize],
        progress: &mut Progress,
    ) -> Option<runners::uring::UringSection> {
        let u = plan.uring?;
        let placements: Vec<_> = plan
            .placements
            .iter()
            .filter_map(|&p| Some((p, p.cpus(cpus)?)))
            .collect();
        Some(runners::uring::run_all(
            &placements,
            u.repeats,
            u.run,
            u.latency,
            |what| progress.note(what),
        ))
    }
}

/// Progress on stderr: a bar on a terminal; elsewhere (CI, `| tee`) one line as each row
/// starts, so a log shows the run is alive without a bar's control codes.
enum Progress {
    Bar(ProgressBar),
    Lines {
        done: usize,
        total: usize,
        last: Option<String>,
        started: std::time::Instant,
    },
}

impl Progress {
    fn new(plan: &Plan, total: usize) -> Progress {
        let forecast = plan.forecast().as_secs();
        if !std::io::stderr().is_terminal() {
            eprintln!("procwire bench: {total} runs, about {forecast} s");
            return Progress::Lines {
                done: 0,
                total,
                last: None,
                started: std::time::Instant::now(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
            )
            .expect("valid template"),
        );
        bar.set_message(format!("about {forecast} s"));
        Progress::Bar(bar)
    }

    fn start(&mut self, plan: &Plan, task: &plan::Task) {
        if let Progress::Lines {
            done,
            total,
            last,
            started,
        } = self
        {
            let what = task.describe(plan);
            if last.as_deref() != Some(what.as_str()) {
                eprintln!(
                    "procwire bench: [{done}/{total}, {} s] {what}",
                    started.elapsed().as_secs()
                );
                *last = Some(what);
            }
        }
    }

    /// A step outside the plan's tasks (an io_uring run, the checks) as it starts: its line,
    /// and it counts as done (the next step or the end follows it).
    fn note(&mut self, what: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_message(what.to_string());
                bar.inc(1);
            }
            Progress::Lines {
                done,
                total,
                started,
                ..
            } => {
                eprintln!(
                    "procwire bench: [{done}/{total}, {} s] {what}",
                    started.elapsed().as_secs()
                );
                *done += 1;
            }
        }
    }

    fn done(&mut self) {
        match self {
            Progress::Bar(bar) => bar.inc(1),
            Progress::Lines { done, .. } => *done += 1,
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
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
        assert_eq!(parse_run_time("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_run_time("0").is_err());
        assert!(parse_run_time("1e9").is_err());
        assert!(parse_run_time("soon").is_err());
        assert_eq!(parse_run_time("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_run_time("11m").unwrap_err().contains("at most 10m"));
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
            matrix: false,
            compare: Vec::new(),
        };
        let default = args(false, false).plan(&[0, 1]);
        let quick = args(true, false).plan(&[0, 1]);
        let full = args(false, true).plan(&[0, 1]);
        assert!(
            // --help says "under 30 s" (20 s before the relay and fd-passing rows).
            quick.forecast() < Duration::from_secs(30),
            "{:?}",
            quick.forecast()
        );
        assert!(
            // About two minutes (100 s before the relay and fd-passing rows).
            default.forecast() < Duration::from_secs(120),
            "{:?}",
            default.forecast()
        );
        assert!(
            full.forecast() < Duration::from_secs(600),
            "{:?}",
            full.forecast()
        );
        // --help says "about 10 minutes" for --full.
        assert!(
            full.forecast() > Duration::from_secs(8 * 60),
            "{:?}",
            full.forecast()
        );
        // The io_uring rows and the checks are in every preset's forecast.
        for p in [&quick, &default, &full] {
            let families = p.families();
            assert!(families.contains(&plan::Family::Uring), "{families:?}");
            assert!(families.contains(&plan::Family::Checks), "{families:?}");
        }
        assert_eq!(full.repeats, 9);
        assert_eq!(default.placements.len(), 2);
        assert_eq!(
            args(false, false).plan(&[3]).placements,
            [Placement::SameCpu]
        );
    }
}
