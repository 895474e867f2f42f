//! The verdicts: plain-word conclusions computed from the medians.

use std::fmt::Write as _;

use super::{Report, ThroughputCell};
use crate::bench::plan::{Placement, human_bytes};
use crate::bench::stats::percentile;

impl Report {
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

#[cfg(test)]
mod tests {
    use super::super::fixture::sample;

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
}
