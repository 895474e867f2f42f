//! A report with made-up figures, for the renderers' tests.

use procwire::wire::Capacity;

use super::*;
use crate::bench::plan::{Placement, RelayPath, Transport, default_rows};
use crate::bench::stats::Summary;

pub(crate) fn summary(v: f64) -> Summary {
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
            let (kind, capacity) = (row.subject.kind(), row.subject.capacity());
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
                    ratio_iqr: (0.98, 0.995),
                    ratio_clear: true,
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
                ratio_iqr: (0.99, 1.01),
                ratio_clear: false,
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
            omitted: Vec::new(),
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
        findings: Vec::new(),
        verdicts: Vec::new(),
        uring: None,
        matrix: None,
        relay: Vec::new(),
        relay_auto: None,
        fd_pass: Vec::new(),
    };
    r.findings = r.findings();
    r.verdicts = r.verdicts();
    r.relay = relay_cells();
    r.relay_auto = r.relay_auto();
    r.fd_pass = [Placement::SameCpu, Placement::CrossCpu]
        .into_iter()
        .map(|placement| FdPassCell {
            placement,
            cpus: if placement == Placement::SameCpu {
                (0, 0)
            } else {
                (0, 1)
            },
            channel_per_s: summary(96_000.0),
            raw_per_s: summary(100_000.0),
            ratio: 0.96,
        })
        .collect();
    r
}

/// Relay cells: direct 4 GB/s; copy 1 GB/s at 1 CPU s/GB; splice 1.6x copy at 0.5 s/GB over
/// unix and 0.95x at 0.7 s/GB over TCP; round trips 10, 25 and 19 µs.
fn relay_cells() -> Vec<RelayCell> {
    let mut v = Vec::new();
    for transport in Transport::ALL {
        for placement in [Placement::SameCpu, Placement::CrossCpu] {
            for path in RelayPath::ALL {
                let (gb, cpu, us) = match (transport, path) {
                    (_, RelayPath::Direct) => (4.0, None, 10.0),
                    (_, RelayPath::Copy) => (1.0, Some(1.0), 25.0),
                    (Transport::Unix, RelayPath::Splice) => (1.6, Some(0.5), 19.0),
                    (Transport::Tcp, RelayPath::Splice) => (0.95, Some(0.7), 19.0),
                };
                for chunk in [64 << 10, 1 << 20] {
                    v.push(RelayCell {
                        transport,
                        placement,
                        cpus: placement.relay_cpus(&[0, 1], path).unwrap(),
                        path,
                        chunk,
                        gb_s: summary(gb),
                        relay_cpu_s_per_gb: cpu,
                        rtt_us: Some(Latency {
                            median: us,
                            p99: us * 2.0,
                            round_trips: 640,
                            repeat_medians: summary(us),
                        }),
                    });
                }
            }
        }
    }
    v
}
