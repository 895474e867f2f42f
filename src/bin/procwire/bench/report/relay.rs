//! The relay and fd-passing sections: their JSON cells, their table, and their verdict lines
//! (the targets, and which path `procwire relay --mode auto` should take here).

use std::fmt::Write as _;

use serde::Serialize;

use super::{Latency, Report};
use crate::bench::plan::{Placement, RelayCpus, RelayPath, Transport, human_bytes};
use crate::bench::stats::{Summary, percentile};

/// One relay cell: a path over a transport at a chunk size and placement.
#[derive(Debug, Serialize)]
pub struct RelayCell {
    pub transport: Transport,
    pub placement: Placement,
    /// [sender, relay (null when direct), receiver].
    pub cpus: RelayCpus,
    pub path: RelayPath,
    /// The sender's write size.
    pub chunk: usize,
    /// Bytes delivered to the receiver per second, one sample per repeat (in repeat order).
    pub gb_s: Summary,
    /// The relay process's CPU seconds per GB moved, median over repeats (null when direct).
    pub relay_cpu_s_per_gb: Option<f64>,
    /// 1-byte round trips through this path (the same for every chunk of the path).
    pub rtt_us: Option<Latency>,
}

/// Which path `procwire relay --mode auto` should take on this machine, per transport.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayAuto {
    pub unix: RelayPath,
    pub tcp: RelayPath,
    /// One sentence with the ratios it was decided from.
    pub why: String,
}

/// Descriptor-passing round trips (send 1 descriptor, receive, close; both ways) per second
/// (at each repeat's median round trip)
/// between two processes: `pass::Channel` against a raw `sendmsg`/`recvmsg` loop.
#[derive(Debug, Serialize)]
pub struct FdPassCell {
    pub placement: Placement,
    /// (our CPU, the peer's).
    pub cpus: (usize, usize),
    pub channel_per_s: Summary,
    pub raw_per_s: Summary,
    /// Channel / raw: the median over the block pairs of all repeats.
    pub ratio: f64,
}

/// Splice is chosen when it moves at least this share of copy's bytes per second ...
const AUTO_MIN_SPEED: f64 = 0.9;
/// ... while its relay spends at most this share of copy's CPU per GB; or when it moves at
/// least [`AUTO_FASTER`] times copy's bytes whatever its CPU.
const AUTO_MAX_CPU: f64 = 0.9;
const AUTO_FASTER: f64 = 1.1;

/// Splice against copy in one cell: (throughput ratio, median over repeats paired by repeat;
/// CPU-per-GB ratio of the medians).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpliceVsCopy {
    pub speed: f64,
    pub cpu: Option<f64>,
}

impl Report {
    fn relay_cell(
        &self,
        transport: Transport,
        placement: Placement,
        path: RelayPath,
        chunk: usize,
    ) -> Option<&RelayCell> {
        self.relay.iter().find(|c| {
            (c.transport, c.placement, c.path, c.chunk) == (transport, placement, path, chunk)
        })
    }

    fn relay_chunks(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.relay.iter().map(|c| c.chunk).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn relay_keys(&self) -> Vec<(Transport, Placement)> {
        let mut v: Vec<_> = self
            .relay
            .iter()
            .map(|c| (c.transport, c.placement))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// `a` against `b` (`a`'s GB/s over `b`'s, paired by repeat; CPU per GB likewise).
    fn relay_vs(
        &self,
        transport: Transport,
        placement: Placement,
        chunk: usize,
        a: RelayPath,
        b: RelayPath,
    ) -> Option<SpliceVsCopy> {
        let a = self.relay_cell(transport, placement, a, chunk)?;
        let b = self.relay_cell(transport, placement, b, chunk)?;
        let pairs: Vec<f64> = a
            .gb_s
            .samples
            .iter()
            .zip(&b.gb_s.samples)
            .map(|(x, y)| x / y)
            .collect();
        (!pairs.is_empty()).then(|| SpliceVsCopy {
            speed: percentile(&pairs, 50.0),
            cpu: a
                .relay_cpu_s_per_gb
                .zip(b.relay_cpu_s_per_gb)
                .map(|(x, y)| x / y),
        })
    }

    /// Splice against copy over `transport`'s cells on `placements` at the bulk chunk sizes
    /// (64 KiB and up; all chunks if none is that large): the medians over those cells.
    fn splice_vs_copy(
        &self,
        transport: Transport,
        placements: &[Placement],
    ) -> Option<(SpliceVsCopy, String)> {
        let chunks = self.relay_chunks();
        let bulk: Vec<usize> = chunks.iter().copied().filter(|&c| c >= 64 << 10).collect();
        let chunks = if bulk.is_empty() { chunks } else { bulk };
        let cells: Vec<SpliceVsCopy> = placements
            .iter()
            .flat_map(|&p| chunks.iter().map(move |&c| (p, c)))
            .filter_map(|(p, c)| self.relay_vs(transport, p, c, RelayPath::Splice, RelayPath::Copy))
            .collect();
        if cells.is_empty() {
            return None;
        }
        let speeds: Vec<f64> = cells.iter().map(|c| c.speed).collect();
        let cpus: Vec<f64> = cells.iter().filter_map(|c| c.cpu).collect();
        let sizes = match (chunks.first(), chunks.last()) {
            (Some(a), Some(b)) if a != b => format!("{}-{}", human_bytes(*a), human_bytes(*b)),
            (Some(a), _) => human_bytes(*a),
            _ => String::new(),
        };
        Some((
            SpliceVsCopy {
                speed: percentile(&speeds, 50.0),
                cpu: (!cpus.is_empty()).then(|| percentile(&cpus, 50.0)),
            },
            sizes,
        ))
    }

    /// The path `--mode auto` should take per transport, from every placement measured; `None`
    /// unless both transports have splice and copy cells.
    pub fn relay_auto(&self) -> Option<RelayAuto> {
        let placements: Vec<Placement> = {
            let mut v: Vec<_> = self.relay.iter().map(|c| c.placement).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut picks = Vec::new();
        let mut words = Vec::new();
        let mut sizes = String::new();
        for t in Transport::ALL {
            let (r, s) = self.splice_vs_copy(t, &placements)?;
            let splice = (r.speed >= AUTO_MIN_SPEED && r.cpu.is_some_and(|c| c <= AUTO_MAX_CPU))
                || r.speed >= AUTO_FASTER;
            let pick = if splice {
                RelayPath::Splice
            } else {
                RelayPath::Copy
            };
            let cpu = r.cpu.map_or("?".to_string(), |c| format!("{c:.2}x"));
            words.push(format!(
                "{} {} (splice {:.2}x copy's GB/s at {cpu} its relay CPU per GB)",
                t.name(),
                pick.name(),
                r.speed
            ));
            picks.push(pick);
            sizes = s;
        }
        let on = placements
            .iter()
            .map(|p| p.describe())
            .collect::<Vec<_>>()
            .join(" and ");
        Some(RelayAuto {
            unix: picks[0],
            tcp: picks[1],
            why: format!(
                "{}: medians over {sizes} writes on {on}; splice is taken when it moves at \
                 least {AUTO_MIN_SPEED}x copy's bytes per second at most {AUTO_MAX_CPU}x its CPU \
                 per GB, or at least {AUTO_FASTER}x whatever its CPU",
                words.join(", ")
            ),
        })
    }

    /// The relay and fd-passing lines of the table (empty when neither ran).
    pub fn relay_table(&self) -> String {
        let mut s = String::new();
        let chunks = self.relay_chunks();
        let reps = self.relay.first().map_or(0, |c| c.gb_s.samples.len());
        if !self.relay.is_empty() {
            let _ = writeln!(
                s,
                "\nRelay, sender -> relay -> receiver: GB/s median of {reps} (relay CPU s per GB), \
                 1-byte round trip µs median"
            );
        }
        for (transport, placement) in self.relay_keys() {
            let cpus = self
                .relay
                .iter()
                .find(|c| {
                    c.transport == transport && c.placement == placement && c.cpus.1.is_some()
                })
                .map_or(String::new(), |c| {
                    format!(
                        " (sender CPU {}, relay CPU {}, receiver CPU {})",
                        c.cpus.0,
                        c.cpus.1.unwrap_or(c.cpus.0),
                        c.cpus.2
                    )
                });
            let _ = write!(
                s,
                "{:<20}",
                format!("{}, {}", transport.name(), placement.describe())
            );
            for &c in &chunks {
                let _ = write!(s, " {:>16}", human_bytes(c));
            }
            let _ = writeln!(s, " {:>10}{cpus}", "rtt µs");
            for path in RelayPath::ALL {
                let _ = write!(s, "  {:<18}", path.name());
                for &chunk in &chunks {
                    let v = match self.relay_cell(transport, placement, path, chunk) {
                        Some(c) => match c.relay_cpu_s_per_gb {
                            Some(cpu) => format!("{:.2} ({cpu:.2})", c.gb_s.median),
                            None => format!("{:.2}", c.gb_s.median),
                        },
                        None => "-".to_string(),
                    };
                    let _ = write!(s, " {v:>16}");
                }
                let rtt = self
                    .relay
                    .iter()
                    .find(|c| (c.transport, c.placement, c.path) == (transport, placement, path))
                    .and_then(|c| c.rtt_us.as_ref())
                    .map_or("-".to_string(), |l| format!("{:.1}", l.median));
                let _ = writeln!(s, " {rtt:>10}");
            }
        }
        if !self.fd_pass.is_empty() {
            let _ = writeln!(
                s,
                "\nDescriptor passing, two processes (send 1 fd, receive, close; both ways): \
                 round trips/s, median"
            );
            for c in &self.fd_pass {
                let _ = writeln!(
                    s,
                    "  {:<36} Channel {:>9.0}  raw sendmsg/recvmsg {:>9.0}  {:.3}x",
                    format!(
                        "{} (CPUs {}, {})",
                        c.placement.describe(),
                        c.cpus.0,
                        c.cpus.1
                    ),
                    c.channel_per_s.median,
                    c.raw_per_s.median,
                    c.ratio
                );
            }
        }
        s
    }

    /// The verdict lines of the relay and fd-passing rows: the targets, met or not,
    /// and the `--mode auto` answer.
    pub fn relay_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let met = |ok: bool| if ok { "met" } else { "MISSED" };
        for (transport, placement) in self.relay_keys() {
            let Some((r, sizes)) = self.splice_vs_copy(transport, &[placement]) else {
                continue;
            };
            let cpu = r.cpu.map_or("?".to_string(), |c| format!("{c:.2}x"));
            let mut line = format!(
                "relay {t}->{t} on {}: splice moves {:.2}x the copy relay's GB/s at {cpu} its \
                 relay CPU per GB (medians over {sizes} writes)",
                placement.describe(),
                r.speed,
                t = transport.name(),
            );
            match (transport, placement) {
                (Transport::Unix, Placement::SameCpu) => {
                    let _ = write!(line, "; target >= 1.4x: {}", met(r.speed >= 1.4));
                }
                (Transport::Tcp, _) => {
                    let ok = r.speed >= 0.9 && r.cpu.is_some_and(|c| c <= 0.75);
                    let _ = write!(
                        line,
                        "; target CPU/GB <= 0.75x at >= 0.9x the GB/s: {}",
                        met(ok)
                    );
                }
                _ => {}
            }
            out.push(line);
            let rtt = |path| {
                self.relay
                    .iter()
                    .find(|c| (c.transport, c.placement, c.path) == (transport, placement, path))
                    .and_then(|c| c.rtt_us.as_ref())
                    .map(|l| l.median)
            };
            if let Some(direct) = rtt(RelayPath::Direct) {
                let through: Vec<String> = [RelayPath::Copy, RelayPath::Splice]
                    .into_iter()
                    .filter_map(|p| {
                        let us = rtt(p)?;
                        Some(format!(
                            "{} {us:.1} µs ({:.2}x, {})",
                            p.name(),
                            us / direct,
                            met(us <= 2.0 * direct)
                        ))
                    })
                    .collect();
                if !through.is_empty() {
                    out.push(format!(
                        "1-byte round trip {t}->{t} on {}: direct {direct:.1} µs; through the \
                         relay {} (target <= direct + one more round trip, 2.00x)",
                        placement.describe(),
                        through.join(", "),
                        t = transport.name(),
                    ));
                }
            }
        }
        if let Some(auto) = &self.relay_auto {
            out.push(format!(
                "procwire relay --mode auto on this machine: unix {}, tcp {} ({})",
                auto.unix.name(),
                auto.tcp.name(),
                auto.why
            ));
        }
        for c in &self.fd_pass {
            out.push(format!(
                "fd passing on {}: pass::Channel {:.0} round trips/s, raw sendmsg/recvmsg {:.0}: \
                 {:.3}x (target >= 0.95x: {})",
                c.placement.describe(),
                c.channel_per_s.median,
                c.raw_per_s.median,
                c.ratio,
                met(c.ratio >= 0.95)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::sample;
    use super::*;

    #[test]
    fn json_carries_the_contract_s_names() {
        let v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        let cells = v["relay"].as_array().unwrap();
        assert_eq!(cells.len(), 2 * 2 * 3 * 2);
        for c in cells {
            for key in [
                "transport",
                "placement",
                "cpus",
                "path",
                "chunk",
                "gb_s",
                "relay_cpu_s_per_gb",
                "rtt_us",
            ] {
                assert!(c.get(key).is_some(), "missing {key} in {c}");
            }
            assert_eq!(c["cpus"].as_array().unwrap().len(), 3);
        }
        let direct = &cells[0];
        assert_eq!(
            (&direct["transport"], &direct["path"], &direct["placement"]),
            (&"unix".into(), &"direct".into(), &"same_cpu".into())
        );
        assert!(direct["relay_cpu_s_per_gb"].is_null());
        assert_eq!(direct["cpus"], serde_json::json!([0, null, 0]));
        assert_eq!(cells[2]["path"], "copy");
        assert_eq!(cells[2]["relay_cpu_s_per_gb"], 1.0);
        assert!(cells[2]["gb_s"]["median"].is_f64());
        assert!(cells[2]["rtt_us"]["median"].is_f64());
        assert_eq!(v["relay_auto"]["unix"], "splice");
        assert_eq!(v["relay_auto"]["tcp"], "splice");
        assert!(v["relay_auto"]["why"].as_str().unwrap().contains("0.95x"));
        let fd = &v["fd_pass"][1];
        for key in ["placement", "cpus", "channel_per_s", "raw_per_s", "ratio"] {
            assert!(fd.get(key).is_some(), "fd_pass.{key}");
        }
        assert_eq!(fd["placement"], "cross_cpu");
        assert_eq!(fd["ratio"], 0.96);
    }

    #[test]
    fn the_table_has_a_block_per_transport_and_placement() {
        let t = sample().table();
        assert!(
            t.contains("\nRelay, sender -> relay -> receiver: GB/s median of 3"),
            "{t}"
        );
        assert!(
            t.contains("(sender CPU 0, relay CPU 1, receiver CPU 0)"),
            "{t}"
        );
        assert_eq!(t.matches("\n  splice ").count(), 4, "{t}");
        assert!(t.contains("1.60 (0.50)"), "{t}");
        assert!(
            t.contains("Channel     96000  raw sendmsg/recvmsg    100000  0.960x"),
            "{t}"
        );
    }

    #[test]
    fn verdict_lines_weigh_the_targets() {
        let r = sample();
        let lines = r.verdict_lines();
        assert!(
            lines.contains("\nRelay and descriptor passing, against the targets:\n"),
            "{lines}"
        );
        // TCP splice at 0.95x the GB/s and 0.70x the CPU: auto splices, and the target is met.
        assert!(
            lines.contains(
                "relay tcp->tcp on same CPU: splice moves 0.95x the copy relay's GB/s at 0.70x"
            ),
            "{lines}"
        );
        assert!(lines.contains("0.9x the GB/s: met"), "{lines}");
        assert!(lines.contains("splice 19.0 µs (1.90x, met)"), "{lines}");
        assert!(
            lines.contains("procwire relay --mode auto on this machine: unix splice, tcp splice")
        );
        assert!(lines.contains("0.960x (target >= 0.95x: met)"), "{lines}");
        // Splice that is slower and no cheaper is no auto choice.
        let mut slow = sample();
        for c in &mut slow.relay {
            if c.transport == Transport::Tcp && c.path == RelayPath::Splice {
                c.relay_cpu_s_per_gb = Some(0.95);
            }
        }
        assert_eq!(slow.relay_auto().unwrap().tcp, RelayPath::Copy);
        slow.relay.retain(|c| c.transport == Transport::Unix);
        assert!(
            slow.relay_auto().is_none(),
            "one transport alone decides nothing"
        );
    }
}
