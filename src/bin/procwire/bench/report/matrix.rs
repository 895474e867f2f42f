//! The decision matrix of the reference audit, answered from a result file: one row per
//! dimension with its figures and where they came from, then one line per workload naming the
//! winning primitive and buffer size.
//!
//! Everything here reads the result as JSON ([`serde_json::Value`], field names of the
//! `--json` schema and of the shared contract), not the in-memory [`Report`](super::Report):
//! the same code renders a run that just ended, a file given to `--compare`, and files with
//! row families this build does not produce (`relay`, `fd_pass`, `file_edge`). A family the
//! file lacks gives "not measured in this run (what to run)", never a blank.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::bench::checks::Checks;
use crate::bench::plan::human_bytes;

/// The matrix: dimensions, then workloads. Also the JSON's `matrix` section (with the checks).
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub dimensions: Vec<Dimension>,
    pub workloads: Vec<Workload>,
}

/// One dimension of the audit.
#[derive(Clone, Debug, Serialize)]
pub struct Dimension {
    pub name: &'static str,
    /// What the audit says about it, in short.
    pub audit: &'static str,
    pub figures: Vec<Figure>,
    /// Where the figures come from.
    pub source: String,
}

/// One figure of a dimension; `value` is what `--compare` divides.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: Option<f64>,
    pub text: String,
}

/// The verdict for one workload.
#[derive(Clone, Debug, Serialize)]
pub struct Workload {
    pub workload: &'static str,
    pub winner: Option<String>,
    pub runner_up: Option<String>,
    /// The winner's figure (GB/s, µs, round trips/s: see `text`).
    pub value: Option<f64>,
    /// The winner over the runner-up (above 1: the winner is better by that much).
    pub ratio: Option<f64>,
    /// Whether the audit's conclusion holds here; `None` when not measured.
    pub audit_holds: Option<bool>,
    pub text: String,
}

/// The schemas `--compare` and the matrix read.
pub const KNOWN_SCHEMAS: [&str; 2] = ["procwire-bench/2", "procwire-bench/3"];

fn med(v: &Value) -> Option<f64> {
    v.get("median")?.as_f64()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("?")
}

fn absent(label: &str, what_to_run: &str) -> Figure {
    Figure {
        label: label.to_string(),
        value: None,
        text: format!("{label}: not measured in this run ({what_to_run})"),
    }
}

/// The placement the workload lines use: different CPUs when measured, where both ends run
/// in parallel, else one CPU.
fn placement(v: &Value) -> &'static str {
    let has = |p: &str| {
        arr(v, "throughput")
            .iter()
            .chain(arr(v, "latency"))
            .any(|c| s(c, "placement") == p)
    };
    if has("cross_cpu") || !has("same_cpu") {
        "cross_cpu"
    } else {
        "same_cpu"
    }
}

fn describe(placement: &str) -> &'static str {
    if placement == "same_cpu" {
        "same CPU"
    } else {
        "different CPUs"
    }
}

const RUN_BENCH: &str = "run `procwire bench` without --kinds";

/// The matrix of a result file.
pub fn matrix_of(v: &Value) -> Matrix {
    let checks: Option<Checks> = v
        .get("matrix")
        .and_then(|m| m.get("checks"))
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    Matrix {
        dimensions: dimensions(v, checks.as_ref()),
        workloads: workloads(v, checks.as_ref()),
    }
}

fn dimensions(v: &Value, checks: Option<&Checks>) -> Vec<Dimension> {
    let check_src = "check run by procwire bench (matrix.checks)";
    let no_checks = |label: &str| vec![absent(label, RUN_BENCH)];
    let mut out = Vec::new();

    out.push(Dimension {
        name: "default buffer; bytes queued before a write blocks",
        audit: "pipes 64 KiB, socketpair about 212 KiB; no stall seen on either",
        figures: checks.map_or_else(
            || no_checks("queue"),
            |c| {
                c.queue
                    .iter()
                    .map(|q| match (q.send_buffer, q.queued, &q.error) {
                        (Some(b), Some(n), _) => Figure {
                            label: q.kind.clone(),
                            value: Some(n as f64),
                            text: format!(
                                "{}: buffer {}, {} queued",
                                q.kind,
                                human_bytes(b),
                                human_bytes(n as usize)
                            ),
                        },
                        (_, _, e) => Figure {
                            label: q.kind.clone(),
                            value: None,
                            text: format!("{}: {}", q.kind, e.as_deref().unwrap_or("no figure")),
                        },
                    })
                    .collect()
            },
        ),
        source: format!("{check_src}: non-blocking 4 KiB writes until EAGAIN"),
    });

    out.push(Dimension {
        name: "largest buffer grant",
        audit: "F_SETPIPE_SZ up to pipe-max-size (1 MiB), SO_*BUF up to wmem/rmem_max",
        figures: checks.map_or_else(
            || no_checks("grant"),
            |c| {
                c.largest_grant
                    .iter()
                    .map(|g| Figure {
                        label: g.kind.clone(),
                        value: g.send.map(|n| n as f64),
                        text: match (g.send, &g.error) {
                            (Some(n), _) => format!(
                                "{}: {} granted of {} asked ({})",
                                g.kind,
                                human_bytes(n),
                                human_bytes(g.asked),
                                g.limit
                            ),
                            (None, e) => {
                                format!("{}: {}", g.kind, e.as_deref().unwrap_or("no figure"))
                            }
                        },
                    })
                    .collect()
            },
        ),
        source: format!("{check_src}: a 1 GiB request, read back"),
    });

    let mut anc: Vec<Figure> = checks.map_or_else(
        || no_checks("sendmsg"),
        |c| {
            c.ancillary
                .iter()
                .map(|a| Figure {
                    label: format!("sendmsg on {}", a.on),
                    value: None,
                    text: format!(
                        "{}: {}",
                        a.on,
                        if a.ok {
                            a.detail.clone()
                        } else {
                            format!("not possible, {}", a.detail)
                        }
                    ),
                })
                .collect()
        },
    );
    let fd_pass = arr(v, "fd_pass");
    if fd_pass.is_empty() {
        anc.push(absent(
            "fd passing round trips/s",
            "the fd_pass rows of `procwire bench`; this file has none",
        ));
    }
    for r in fd_pass {
        let (ch, raw) = (med(&r["channel_per_s"]), med(&r["raw_per_s"]));
        anc.push(Figure {
            label: format!("fd passing, {}", s(r, "placement")),
            value: ch,
            text: format!(
                "fd passing on a socketpair, {}: {} round trips/s through procwire, {} raw",
                describe(s(r, "placement")),
                ch.map_or("?".into(), |x| format!("{x:.0}")),
                raw.map_or("?".into(), |x| format!("{x:.0}")),
            ),
        });
    }
    out.push(Dimension {
        name: "ancillary data (SCM_RIGHTS)",
        audit: "pipes: not supported; socketpair: supported (no consumer)",
        figures: anc,
        source: format!("{check_src}: a real sendmsg; fd_pass rows"),
    });

    let uring = v.get("uring").filter(|u| !u.is_null());
    let mut uf = Vec::new();
    match uring {
        None => uf.push(absent(
            "io_uring",
            "run `procwire bench` with io_uring rows (--kinds uring or none)",
        )),
        Some(u) if u["available"] == Value::Bool(false) => uf.push(Figure {
            label: "io_uring".into(),
            value: None,
            text: format!("io_uring: {}", s(u, "error")),
        }),
        Some(u) => {
            for r in arr(u, "rows") {
                let label = format!(
                    "{} on {}, {}",
                    s(r, "ops"),
                    s(r, "kind"),
                    describe(s(r, "placement"))
                );
                let text = match r.get("error").and_then(Value::as_str) {
                    Some(e) => format!("{label}: {e}"),
                    None => format!(
                        "{label}: {:.2} GB/s against {:.2} with read/write ({:.2}x); round \
                         trip {:.1} µs against {:.1}",
                        med(&r["uring_gb_s"]).unwrap_or(f64::NAN),
                        med(&r["plain_gb_s"]).unwrap_or(f64::NAN),
                        r["ratio"].as_f64().unwrap_or(f64::NAN),
                        med(&r["uring_us"]).unwrap_or(f64::NAN),
                        med(&r["plain_us"]).unwrap_or(f64::NAN),
                    ),
                };
                uf.push(Figure {
                    label,
                    value: r["ratio"].as_f64(),
                    text,
                });
            }
            uf.push(Figure {
                label: "SEND_ZC".into(),
                value: None,
                text: s(u, "send_zc").to_string(),
            });
        }
    }
    out.push(Dimension {
        name: "io_uring opcodes",
        audit: "pipes READ/WRITE, socketpair also RECV/SEND/SEND_ZC; parity for bulk I/O",
        figures: uf,
        source: "the uring rows: io_uring / plain read-write on the same descriptors, \
                 interleaved blocks"
            .into(),
    });

    let edges = arr(v, "file_edge");
    let mut ef = Vec::new();
    if edges.is_empty() {
        ef.push(absent(
            "file edge",
            "the file_edge rows of `procwire bench`; this file has none",
        ));
    }
    for e in edges {
        let label = format!(
            "{} {} {} at {}",
            s(e, "direction"),
            s(e, "kind"),
            s(e, "method"),
            e["chunk"]
                .as_u64()
                .map_or("?".into(), |c| human_bytes(c as usize))
        );
        let g = e.get("gb_s").and_then(med);
        ef.push(Figure {
            text: match (g, e.get("error").and_then(Value::as_str)) {
                (Some(g), _) => format!("{label}: {g:.2} GB/s"),
                (None, Some(err)) => format!("{label}: refused, {err}"),
                (None, None) => format!("{label}: no figure"),
            },
            label,
            value: g,
        });
    }
    out.push(Dimension {
        name: "splice eligibility",
        audit: "a pipe end splices directly; a socketpair needs an intermediate pipe (decisive)",
        figures: ef,
        source: "the file_edge rows: sendfile into a socketpair, splice into a pipe, copy".into(),
    });

    out.push(Dimension {
        name: "half-close",
        audit: "pipes: by drop only; socketpair: shutdown(SHUT_WR)",
        figures: checks.map_or_else(
            || no_checks("half-close"),
            |c| {
                c.half_close
                    .iter()
                    .map(|h| Figure {
                        label: h.kind.clone(),
                        value: Some(f64::from(u8::from(h.eof && h.other_direction))),
                        text: match &h.error {
                            Some(e) => format!("{}: {e}", h.kind),
                            None => format!(
                                "{}: peer {} EOF, the other direction {}",
                                h.kind,
                                if h.eof { "read" } else { "did not read" },
                                if h.other_direction {
                                    "still carries bytes"
                                } else {
                                    "was lost"
                                }
                            ),
                        },
                    })
                    .collect()
            },
        ),
        source: format!(
            "{check_src}: shutdown_write (pipes: close the write pipe), read, write back"
        ),
    });

    out.push(Dimension {
        name: "connect-timeout strategy",
        audit: "pipes: a watchdog kills the child; socketpair: a poll(2) timeout possible",
        figures: checks.map_or_else(
            || no_checks("watchdog"),
            |c| {
                let w = &c.connect_watchdog;
                vec![Figure {
                    label: "watchdog lateness".into(),
                    value: w.late_ms,
                    text: match (w.late_ms, &w.error) {
                        (Some(ms), _) => format!(
                            "the connect watchdog ({:.0} ms) ended a blocked read {ms:.1} ms \
                             after its deadline (median of {}), on any topology",
                            w.timeout_ms, w.tries
                        ),
                        (None, e) => e.clone().unwrap_or_else(|| "no figure".into()),
                    },
                }]
            },
        ),
        source: format!("{check_src}: `sleep 30` as a child with a 50 ms connect timeout"),
    });

    let mut rf: Vec<Figure> = checks.map_or_else(
        || no_checks("remote shell"),
        |c| {
            c.remote_shell
                .iter()
                .map(|a| Figure {
                    label: a.on.clone(),
                    value: None,
                    text: format!(
                        "{}: {}{}",
                        a.on,
                        match (a.ok, a.skipped) {
                            (true, _) => "works, ",
                            (false, true) => "not tried, ",
                            (false, false) => "FAILED, ",
                        },
                        a.detail
                    ),
                })
                .collect()
        },
    );
    match v.get("spawn").filter(|x| !x.is_null()) {
        Some(sp) => rf.push(Figure {
            label: "spawn + round trip".into(),
            value: sp["ratio"].as_f64(),
            text: format!(
                "spawn, 1-byte round trip, reap: procwire child (socketpair) {:.0} µs, std \
                 (3 pipes) {:.0} µs, {:.2}x",
                med(&sp["procwire_us"]).unwrap_or(f64::NAN),
                med(&sp["std_us"]).unwrap_or(f64::NAN),
                sp["ratio"].as_f64().unwrap_or(f64::NAN)
            ),
        }),
        None => rf.push(absent(
            "spawn + round trip",
            "the spawn row: `procwire bench` without --kinds, or --kinds spawn",
        )),
    }
    out.push(Dimension {
        name: "remote-shell compatibility",
        audit: "identical: both dup2 onto fd 0/1",
        figures: rf,
        source: format!("{check_src}: a local sh child per topology; the spawn row"),
    });
    out
}

/// A candidate of a workload line: what it is, its figure.
struct Candidate {
    name: String,
    /// Groups candidates of one primitive: the runner-up is the best of another group.
    group: String,
    kind: String,
    value: f64,
}

fn pick(mut c: Vec<Candidate>, higher_better: bool) -> Option<(Candidate, Option<Candidate>)> {
    c.sort_by(|a, b| {
        if higher_better {
            b.value.total_cmp(&a.value)
        } else {
            a.value.total_cmp(&b.value)
        }
    });
    let mut it = c.into_iter();
    let first = it.next()?;
    let second = it.find(|x| x.group != first.group);
    Some((first, second))
}

fn workloads(v: &Value, checks: Option<&Checks>) -> Vec<Workload> {
    let p = placement(v);
    let on = describe(p);
    let mut out = Vec::new();
    let not = |workload: &'static str, what: &str| Workload {
        workload,
        winner: None,
        runner_up: None,
        value: None,
        ratio: None,
        audit_holds: None,
        text: format!("{workload}: not measured in this run ({what})"),
    };
    let uring_rows: Vec<&Value> = v
        .get("uring")
        .map(|u| arr(u, "rows"))
        .unwrap_or_default()
        .iter()
        .filter(|r| s(r, "placement") == p && r["error"].is_null())
        .collect();

    // Bulk transfer: writes of 64 KiB and more.
    let mut bulk: Vec<Candidate> = arr(v, "throughput")
        .iter()
        .filter(|c| s(c, "placement") == p && s(c, "kind") != "model")
        .filter(|c| c["chunk"].as_u64().unwrap_or(0) >= 64 << 10)
        .filter_map(|c| {
            Some(Candidate {
                name: format!(
                    "{} with {} writes",
                    s(c, "row"),
                    human_bytes(c["chunk"].as_u64()? as usize)
                ),
                group: s(c, "row").to_string(),
                kind: s(c, "kind").to_string(),
                value: med(&c["procwire_gb_s"])?,
            })
        })
        .collect();
    for r in &uring_rows {
        if let Some(g) = med(&r["uring_gb_s"]) {
            bulk.push(Candidate {
                name: format!(
                    "io_uring {} on {} default with {} entries",
                    s(r, "ops"),
                    s(r, "kind"),
                    human_bytes(super::super::runners::uring::CHUNK)
                ),
                group: format!("uring {} {}", s(r, "ops"), s(r, "kind")),
                kind: s(r, "kind").to_string(),
                value: g,
            });
        }
    }
    out.push(
        line(
            "bulk transfer",
            on,
            bulk,
            true,
            "GB/s",
            "keep pipes: bulk I/O at parity",
            |w, pipes| pipes.is_some_and(|p| w.value / p <= 1.10),
        )
        .unwrap_or_else(|| not("bulk transfer", RUN_BENCH)),
    );

    // Interactive: 1-byte round trips.
    let mut rtt: Vec<Candidate> = arr(v, "latency")
        .iter()
        .filter(|c| s(c, "placement") == p && s(c, "kind") != "model")
        .filter_map(|c| {
            Some(Candidate {
                name: s(c, "row").to_string(),
                group: s(c, "row").to_string(),
                kind: s(c, "kind").to_string(),
                value: med(&c["procwire_us"])?,
            })
        })
        .collect();
    for r in &uring_rows {
        if let Some(us) = med(&r["uring_us"]) {
            rtt.push(Candidate {
                name: format!("io_uring {} on {} default", s(r, "ops"), s(r, "kind")),
                group: format!("uring {} {}", s(r, "ops"), s(r, "kind")),
                kind: s(r, "kind").to_string(),
                value: us,
            });
        }
    }
    out.push(
        line(
            "interactive round trips",
            on,
            rtt,
            false,
            "µs",
            "keep pipes: no difference that matters",
            |w, pipes| pipes.is_some_and(|p| p / w.value <= 1.10),
        )
        .unwrap_or_else(|| not("interactive round trips", RUN_BENCH)),
    );

    // Relaying.
    // Only the relay's own paths compete: `direct` (no relay) is the ceiling they are measured
    // against, not a way to relay.
    let relay: Vec<Candidate> = arr(v, "relay")
        .iter()
        .filter(|c| s(c, "placement") == p && s(c, "path") != "direct")
        .filter_map(|c| {
            Some(Candidate {
                name: format!(
                    "{} relay by {} with {} chunks",
                    s(c, "transport"),
                    s(c, "path"),
                    human_bytes(c["chunk"].as_u64()? as usize)
                ),
                group: format!("{} {}", s(c, "transport"), s(c, "path")),
                kind: s(c, "path").to_string(),
                value: med(&c["gb_s"])?,
            })
        })
        .collect();
    out.push(
        line(
            "relaying",
            on,
            relay,
            true,
            "GB/s",
            "splice through pipes is the zero-copy path that decides it",
            |w, _| w.kind == "splice",
        )
        .unwrap_or_else(|| {
            not(
                "relaying",
                "the relay rows of `procwire bench`; this file has none",
            )
        }),
    );

    // fd passing.
    let pipes_refusal = checks
        .and_then(|c| c.ancillary.iter().find(|a| a.on == "pipes"))
        .map_or("not tried".to_string(), |a| a.detail.clone());
    let fd = arr(v, "fd_pass")
        .iter()
        .find(|r| s(r, "placement") == p)
        .or_else(|| arr(v, "fd_pass").first());
    out.push(match fd.and_then(|r| Some((med(&r["channel_per_s"])?, med(&r["raw_per_s"])?))) {
        Some((ch, raw)) => {
            let (w, r, ratio) = if ch >= raw {
                ("procwire's pass channel", "raw sendmsg/recvmsg", ch / raw)
            } else {
                ("raw sendmsg/recvmsg", "procwire's pass channel", raw / ch)
            };
            Workload {
                workload: "fd passing",
                winner: Some(format!("socketpair, {w}")),
                runner_up: Some(r.to_string()),
                value: Some(ch.max(raw)),
                ratio: Some(ratio),
                audit_holds: Some(true),
                text: format!(
                    "fd passing: socketpair only ({:.0} round trips/s by {w}, {ratio:.2}x {r}); \
                     pipes cannot ({pipes_refusal}); audit (supported on socketpairs only): \
                     holds",
                    ch.max(raw)
                ),
            }
        }
        None => not(
            "fd passing",
            &format!(
                "the fd_pass rows of `procwire bench`; pipes cannot: {pipes_refusal}"
            ),
        ),
    });

    // An rsync-like remote shell: spawn, round trip, reap.
    out.push(match v.get("spawn").filter(|x| !x.is_null()) {
        Some(sp) => {
            let (ours, std) = (
                med(&sp["procwire_us"]).unwrap_or(f64::NAN),
                med(&sp["std_us"]).unwrap_or(f64::NAN),
            );
            let (w, r, ratio) = if ours <= std {
                (
                    "procwire child on a socketpair",
                    "std with 3 pipes",
                    std / ours,
                )
            } else {
                (
                    "std with 3 pipes",
                    "procwire child on a socketpair",
                    ours / std,
                )
            };
            let holds = ratio <= 1.10;
            Workload {
                workload: "rsync-like remote shell",
                winner: Some(w.to_string()),
                runner_up: Some(r.to_string()),
                value: Some(ours.min(std)),
                ratio: Some(ratio),
                audit_holds: Some(holds),
                text: format!(
                    "rsync-like remote shell: {w}, {ratio:.2}x faster than {r} to spawn, \
                     exchange a byte and reap ({:.0} µs); audit (identical): {}",
                    ours.min(std),
                    if holds { "holds" } else { "does not hold here" }
                ),
            }
        }
        None => not(
            "rsync-like remote shell",
            "the spawn row: `procwire bench` without --kinds, or --kinds spawn",
        ),
    });
    out
}

/// One workload line from its candidates; `holds(winner, best pipes figure)`.
fn line(
    workload: &'static str,
    on: &str,
    candidates: Vec<Candidate>,
    higher_better: bool,
    unit: &str,
    audit: &str,
    holds: impl Fn(&Candidate, Option<f64>) -> bool,
) -> Option<Workload> {
    let best_pipes = candidates
        .iter()
        .filter(|c| c.kind == "pipes")
        .map(|c| c.value)
        .reduce(|a, b| if higher_better { a.max(b) } else { a.min(b) });
    let (w, r) = pick(candidates, higher_better)?;
    let ratio = r.as_ref().map(|r| {
        if higher_better {
            w.value / r.value
        } else {
            r.value / w.value
        }
    });
    let ok = holds(&w, best_pipes);
    let value = Some(w.value);
    let mut text = format!("{workload} ({on}): {} at {:.2} {unit}", w.name, w.value);
    if let (Some(r), Some(x)) = (&r, ratio) {
        let _ = write!(
            text,
            ", {x:.2}x the runner-up {} ({:.2} {unit})",
            r.name, r.value
        );
    }
    if let Some(p) = best_pipes.filter(|_| w.kind != "pipes") {
        let _ = write!(text, "; best pipes {p:.2} {unit}");
    }
    let _ = write!(
        text,
        "; audit ({audit}): {}",
        if ok { "holds" } else { "does not hold here" }
    );
    Some(Workload {
        workload,
        winner: Some(w.name),
        runner_up: r.map(|r| r.name),
        value,
        ratio,
        audit_holds: Some(ok),
        text,
    })
}

/// Dimensions of the audit that are no property of a machine, and so are not measured.
pub const NOT_MEASURED: &str = "Not properties of a machine, so not measured: descriptors per \
end (pipes 2, sockets 1), stderr separation (procwire's child keeps stderr on its own channel \
on every topology), code complexity, upstream parity, cross-platform consistency.";

impl Matrix {
    /// The text of `--matrix` and of the default report's matrix section.
    pub fn render(&self) -> String {
        let mut out = String::from("\nThe audit's decision matrix, answered on this machine:\n");
        for d in &self.dimensions {
            let _ = writeln!(out, "\n{} (audit: {})", d.name, d.audit);
            for f in &d.figures {
                let _ = writeln!(out, "  {}", f.text);
            }
            let _ = writeln!(out, "  [from: {}]", d.source);
        }
        let _ = writeln!(out, "\n{NOT_MEASURED}\n\nWorkloads:");
        for w in &self.workloads {
            let _ = writeln!(out, "  {}", w.text);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A recorded `procwire bench --quick --json` of this build: no relay, fd_pass or
    /// file_edge rows.
    pub(crate) const RECORDED: &str = include_str!("fixtures/quick.json");
    /// The same run with the other helpers' sections filled per the shared contract (made-up
    /// figures) and schema 3.
    pub(crate) const ALL_SECTIONS: &str = include_str!("fixtures/all-sections.json");

    pub(crate) fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn every_cell_is_filled(m: &Matrix) {
        assert_eq!(m.dimensions.len(), 8, "{m:#?}");
        for d in &m.dimensions {
            assert!(!d.figures.is_empty(), "{}", d.name);
            for f in &d.figures {
                assert!(f.text.len() > f.label.len() + 2, "{}: {f:?}", d.name);
                assert!(!f.text.contains("NaN"), "{}: {f:?}", d.name);
            }
        }
        assert_eq!(m.workloads.len(), 5);
        for w in &m.workloads {
            assert!(
                w.winner.is_some() || w.text.contains("not measured in this run ("),
                "{w:?}"
            );
        }
    }

    #[test]
    fn a_run_without_the_other_families_says_what_to_run() {
        let m = matrix_of(&parse(RECORDED));
        every_cell_is_filled(&m);
        let text = m.render();
        for family in ["fd_pass rows", "file_edge rows", "relay rows"] {
            assert!(
                text.contains(&format!("not measured in this run (the {family}")),
                "{family}: {text}"
            );
        }
        let w = |name: &str| m.workloads.iter().find(|w| w.workload == name).unwrap();
        assert!(w("bulk transfer").winner.is_some());
        assert!(w("interactive round trips").ratio.unwrap() >= 1.0);
        assert!(w("rsync-like remote shell").audit_holds.is_some());
        assert!(w("fd passing").text.contains("ENOTSOCK"), "{text}");
        assert!(text.contains("IORING_OP_SEND_ZC: not meaningful on loopback"));
        assert!(text.contains("pipes: not possible, sendmsg with SCM_RIGHTS: ENOTSOCK"));
    }

    #[test]
    fn the_other_helpers_sections_fill_their_rows() {
        let m = matrix_of(&parse(ALL_SECTIONS));
        every_cell_is_filled(&m);
        let text = m.render();
        assert!(!text.contains("not measured in this run"), "{text}");
        let relay = m
            .workloads
            .iter()
            .find(|w| w.workload == "relaying")
            .unwrap();
        // The fixture's unix splice relay at 2.4 GB/s beats its copy at 1.6 GB/s.
        assert_eq!(
            relay.winner.as_deref(),
            Some("unix relay by splice with 256 KiB chunks")
        );
        assert!((relay.ratio.unwrap() - 1.5).abs() < 1e-9, "{relay:?}");
        assert_eq!(relay.audit_holds, Some(true));
        let fd = m
            .workloads
            .iter()
            .find(|w| w.workload == "fd passing")
            .unwrap();
        assert!(fd.text.contains("socketpair only"), "{fd:?}");
        assert!(
            text.contains("file->wire socketpair sendfile at 64 KiB: 3.10 GB/s"),
            "{text}"
        );
        assert!(
            text.contains("wire->file pipes splice at 64 KiB: refused, EINVAL"),
            "{text}"
        );
    }

    #[test]
    fn io_uring_refused_is_said_with_its_errno() {
        let mut v = parse(RECORDED);
        v["uring"] = serde_json::json!({
            "available": false,
            "error": "io_uring unavailable: Operation not permitted (os error 1) \
                      (/proc/sys/kernel/io_uring_disabled is 2)",
            "rows": []
        });
        let m = matrix_of(&v);
        let d = m
            .dimensions
            .iter()
            .find(|d| d.name == "io_uring opcodes")
            .unwrap();
        assert_eq!(d.figures.len(), 1);
        assert!(
            d.figures[0].text.contains("io_uring_disabled is 2"),
            "{d:?}"
        );
        every_cell_is_filled(&m);
    }

    #[test]
    fn a_file_with_nothing_but_a_schema_explains_every_row() {
        let m = matrix_of(&serde_json::json!({"schema": "procwire-bench/2"}));
        every_cell_is_filled(&m);
        assert!(m.workloads.iter().all(|w| w.winner.is_none()));
    }
}
