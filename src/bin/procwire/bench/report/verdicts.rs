//! The verdicts: plain-word conclusions computed from the medians.

use std::fmt::Write as _;

use procwire::wire::Kind;

use super::{Report, ThroughputCell, Verdict};
use crate::bench::plan::{Placement, Row, Subject, human_bytes};
use crate::bench::stats::percentile;

impl Report {
    /// Plain-word findings, computed from the medians.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let baseline = self.rows.first().map(|r| r.label.clone());
        for placement in self.placements() {
            for chunk in self.chunks() {
                let mut cells: Vec<&ThroughputCell> = self
                    .throughput
                    .iter()
                    .filter(|c| c.chunk == chunk && c.placement == placement)
                    .filter(|c| !c.kind.is_model())
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
                        percentile(&ratios, 50.0)
                    ));
                }
            }
        }
        for placement in self.placements() {
            if let Some(best) = self
                .latency
                .iter()
                .filter(|l| l.placement == placement && !l.kind.is_model())
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
                .filter(|c| c.kind.is_model() && c.placement == placement)
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
            .filter(|c| c.chunk >= 64 << 10 && !c.kind.is_model())
            .collect();
        if let Some(worst) = big.iter().min_by(|a, b| a.ratio.total_cmp(&b.ratio)) {
            let below = big.iter().filter(|c| c.ratio < 0.97).count();
            let unclear = big.iter().filter(|c| !c.ratio_clear).count();
            out.push(format!(
                "procwire against the raw read/write loop: {} of {} cells at 64 KiB and above \
                 reach 0.97x; lowest {:.3}x ({} at {}, {}{}); {unclear} of {} cannot be told \
                 from 1.0 (~ in the table)",
                big.len() - below,
                big.len(),
                worst.ratio,
                worst.row,
                human_bytes(worst.chunk),
                worst.placement.describe(),
                if worst.ratio_clear {
                    ""
                } else {
                    ", within the noise"
                },
                big.len(),
            ));
        }
        if let Some(l) = self
            .latency
            .iter()
            .filter(|l| !l.kind.is_model())
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

/// The workloads a verdict is given for, by chunk size: (name, smallest, largest chunk).
const TRANSFERS: [(&str, usize, usize); 2] = [
    ("bulk transfer", 64 << 10, usize::MAX),
    ("small writes", 0, (64 << 10) - 1),
];

/// What a row is, as advice: "a socketpair with 4 MiB buffers".
fn advice(row: &Row) -> String {
    let sized = |what: &str, c: Option<usize>| match c {
        None => format!("default {what}"),
        Some(c) => format!("{what} with {} buffers", human_bytes(c)),
    };
    match row.subject {
        Subject::Wire {
            kind: Kind::Pipes,
            capacity,
        } => sized("pipes", capacity),
        Subject::Wire {
            kind: Kind::SocketPair,
            capacity,
        } => format!("a {}", sized("socketpair", capacity)),
        Subject::Wire {
            kind: Kind::Loopback,
            capacity,
        } => sized("TCP loopback", capacity),
        Subject::Model { .. } => "procwire's in-memory model".to_string(),
    }
}

impl Report {
    /// One verdict per workload and placement: the best wire, against default pipes.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let wires: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| !r.subject.kind().is_model())
            .collect();
        let Some(&baseline) = wires
            .iter()
            .find(|r| {
                r.subject
                    == (Subject::Wire {
                        kind: Kind::Pipes,
                        capacity: None,
                    })
            })
            .or(wires.first())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for placement in self.placements() {
            for (workload, lo, hi) in TRANSFERS {
                // A row's score: the geometric mean of its GB/s over the workload's chunks.
                let score = |row: &Row| {
                    let v: Vec<f64> = self
                        .throughput
                        .iter()
                        .filter(|c| c.row == row.label && c.placement == placement)
                        .filter(|c| (lo..=hi).contains(&c.chunk))
                        .map(|c| c.procwire_gb_s.median.ln())
                        .collect();
                    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64).exp())
                };
                let sizes = self
                    .chunks()
                    .into_iter()
                    .filter(|c| (lo..=hi).contains(c))
                    .map(human_bytes)
                    .collect::<Vec<_>>()
                    .join(", ");
                let what = format!("{workload} ({sizes} writes) between two processes");
                if let Some(v) = verdict(workload, what, placement, &wires, baseline, score, false)
                {
                    out.push(v);
                }
            }
            let rtt = |row: &Row| {
                self.latency
                    .iter()
                    .find(|l| l.row == row.label && l.placement == placement)
                    .map(|l| 1.0 / l.procwire_us.median)
            };
            let what = "1-byte request/response between two processes".to_string();
            if let Some(v) = verdict(
                "request/response",
                what,
                placement,
                &wires,
                baseline,
                rtt,
                true,
            ) {
                out.push(v);
            }
        }
        out
    }

    /// The findings as `- ` lines, then the verdicts under a heading.
    pub fn verdict_lines(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            let _ = writeln!(s, "- {f}");
        }
        let relay = self.relay_lines();
        if !relay.is_empty() {
            let _ = writeln!(s, "\nRelay and descriptor passing, against the targets:");
            for line in relay {
                let _ = writeln!(s, "  {line}");
            }
        }
        if !self.verdicts.is_empty() {
            let _ = writeln!(s, "\nVerdict, per workload:");
            for v in &self.verdicts {
                let _ = writeln!(s, "  {}", v.text);
            }
        }
        s
    }
}

/// A winner less than this much better than default pipes is reported as "either will do".
const CLOSE: f64 = 1.05;

/// The verdict for one workload: the row with the highest `score` (higher is better), its
/// ratio to `baseline`'s, and the runner-up; `latency` words it as round trips.
fn verdict(
    workload: &'static str,
    what: String,
    placement: Placement,
    wires: &[&Row],
    baseline: &Row,
    score: impl Fn(&Row) -> Option<f64>,
    latency: bool,
) -> Option<Verdict> {
    let base = score(baseline)?;
    let mut ranked: Vec<(&Row, f64)> = wires.iter().filter_map(|r| Some((*r, score(r)?))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (winner, best) = *ranked.first()?;
    let runner_up = ranked.get(1).map(|&(r, s)| (r.label.clone(), s / base));
    let ratio = best / base;
    let against = if winner == baseline {
        match &runner_up {
            Some((r, x)) => format!("nothing measured beats it (next: {r}, {x:.2}x)"),
            None => "the only wire measured".to_string(),
        }
    } else if ratio < CLOSE {
        // Not worth a change on this evidence: say so rather than "1.0x".
        format!(
            "or keep default pipes: they come within {:.0}% ({ratio:.2}x), either will do",
            (CLOSE - 1.0) * 100.0
        )
    } else if !latency {
        format!("{ratio:.1}x the throughput of default pipes")
    } else {
        format!(
            "{:.1} µs per round trip, {ratio:.1}x quicker than default pipes",
            1.0 / best
        )
    };
    let text = format!(
        "{what} on {}: use {}, {against}",
        placement.describe(),
        advice(winner)
    );
    Some(Verdict {
        workload,
        placement,
        winner: winner.label.clone(),
        ratio,
        baseline: baseline.label.clone(),
        runner_up_ratio: runner_up.as_ref().map(|r| r.1),
        runner_up: runner_up.map(|r| r.0),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::sample;

    #[test]
    fn verdicts_compare_against_default_pipes_in_words() {
        let v = sample().findings;
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
    fn verdicts_name_a_wire_per_workload_and_placement() {
        let r = sample();
        // Two placements x (bulk, small writes, request/response).
        assert_eq!(r.verdicts.len(), 6, "{:#?}", r.verdicts);
        let bulk = &r.verdicts[0];
        assert_eq!(bulk.workload, "bulk transfer");
        assert_eq!(bulk.winner, "socketpair 4 MiB");
        assert_eq!(bulk.baseline, "pipes default");
        assert!((bulk.ratio - 1.3).abs() < 1e-9, "{}", bulk.ratio);
        assert_eq!(bulk.runner_up.as_deref(), Some("socketpair default"));
        assert_eq!(
            bulk.text,
            "bulk transfer (64 KiB, 1 MiB writes) between two processes on same CPU: use a \
             socketpair with 4 MiB buffers, 1.3x the throughput of default pipes"
        );
        let rr = r
            .verdicts
            .iter()
            .find(|v| v.workload == "request/response")
            .unwrap();
        assert_eq!(rr.winner, "socketpair 4 MiB");
        assert!(
            rr.text.contains("7.7 µs per round trip, 1.3x quicker"),
            "{}",
            rr.text
        );
        // The model is never a verdict.
        assert!(r.verdicts.iter().all(|v| v.winner != "model, threads"));
        let lines = r.verdict_lines();
        assert!(
            lines.ends_with(&format!("  {}\n", r.verdicts[5].text)),
            "{lines}"
        );
        assert!(lines.contains("\nVerdict, per workload:\n"), "{lines}");
    }

    #[test]
    fn default_pipes_winning_says_nothing_beats_them() {
        let mut r = sample();
        for c in &mut r.throughput {
            if c.row == "pipes default" {
                c.procwire_gb_s.median *= 10.0;
            }
        }
        let v = r.verdicts();
        assert_eq!(v[0].winner, "pipes default");
        assert!(
            v[0].text.ends_with(
                "use default pipes, nothing measured beats it (next: socketpair \
                                 4 MiB, 0.13x)"
            ),
            "{}",
            v[0].text
        );
    }

    #[test]
    fn a_winner_within_five_percent_of_default_pipes_is_either_will_do() {
        let mut r = sample();
        // Default pipes' round trip 2% slower than the quickest other row's, per placement.
        let best: Vec<_> = r
            .latency
            .iter()
            .map(|l| {
                r.latency
                    .iter()
                    .filter(|o| o.row != "pipes default" && !o.row.starts_with("model"))
                    .filter(|o| o.placement == l.placement)
                    .map(|o| o.procwire_us.median)
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        for (l, best) in r.latency.iter_mut().zip(best) {
            if l.row == "pipes default" {
                l.procwire_us.median = best * 1.02;
            }
        }
        let v = r.verdicts();
        let rr = v.iter().find(|v| v.workload == "request/response").unwrap();
        assert_ne!(rr.winner, "pipes default");
        assert!(
            rr.text
                .contains("or keep default pipes: they come within 5% (1.02x), either will do"),
            "{}",
            rr.text
        );
    }

    #[test]
    fn a_noisy_worst_cell_is_called_within_the_noise() {
        let mut r = sample();
        r.throughput[4].ratio = 0.9;
        r.throughput[4].ratio_clear = false;
        let f = r.findings();
        assert!(
            f.iter().any(|l| l.contains(
                "lowest 0.900x (pipes 1 MiB at 64 KiB, same CPU, \
                                          within the noise); 1 of 20 cannot be told from 1.0"
            )),
            "{f:#?}"
        );
    }
}
