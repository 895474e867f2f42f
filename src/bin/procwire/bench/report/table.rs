//! The terminal table: one block per placement, a line per row.

use std::fmt::Write as _;

use procwire::wire::{Capacity, Kind};

use super::Report;
use crate::bench::plan::{RowKind, human_bytes};

impl Report {
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
                            let mark = if c.ratio_clear { "" } else { "~" };
                            let v =
                                format!("{:.2} ({mark}{:.2}x)", c.procwire_gb_s.median, c.ratio);
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
        for o in &self.settings.omitted {
            let _ = writeln!(
                s,
                "\n{}: not measured: {}",
                capitalise(o.placement.describe()),
                o.reason
            );
        }
        if self.throughput.iter().any(|c| !c.ratio_clear) {
            let _ = writeln!(s, "{NOISE_NOTE}");
        }
        if self.rows.iter().any(|r| r.subject.kind().is_model()) {
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
        s += &self.relay_table();
        s
    }
}

/// The legend of the `~` mark.
pub const NOISE_NOTE: &str = "(~: the noise cannot separate this procwire/raw ratio from 1.0: \
the middle half of its block-pair ratios straddles 1.0)";

fn granted(kind: RowKind, c: Capacity) -> String {
    if matches!(kind, RowKind::Wire(Kind::SocketPair | Kind::Loopback)) {
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
mod tests {
    use super::super::fixture::sample;
    use super::*;
    use crate::bench::plan::Placement;

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
        assert!(!t.contains(NOISE_NOTE), "every sample cell is clear: {t}");
        assert!(!t.contains("not measured"), "{t}");
    }

    #[test]
    fn unclear_ratios_are_marked_and_explained() {
        let mut r = sample();
        r.throughput[0].ratio_clear = false;
        let t = r.table();
        assert!(t.contains("1.00 (~0.99x)"), "{t}");
        assert!(t.contains(NOISE_NOTE), "{t}");
    }

    #[test]
    fn an_omitted_placement_says_why() {
        let mut r = sample();
        r.throughput.retain(|c| c.placement == Placement::SameCpu);
        r.settings.omitted = crate::bench::plan::omitted(&[0], None);
        let t = r.table();
        assert!(!t.contains("Different CPUs (writer"), "{t}");
        assert!(
            t.contains("\nDifferent CPUs: not measured: this process may run on CPU 0 only"),
            "{t}"
        );
    }

    #[test]
    fn granted_sizes_read_like_every_other_size() {
        let c = Capacity {
            send: 3_939_840,
            recv: 0,
            ..Capacity::default()
        };
        assert_eq!(granted(RowKind::Wire(Kind::SocketPair), c), "snd 3.8 MiB");
        assert_eq!(granted(RowKind::Wire(Kind::Pipes), c), "3.8 MiB");
    }
}
