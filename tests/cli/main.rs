//! The `procwire` binary, run for real: exit statuses, output shapes, help text.

use std::process::{Command, Output};

use serde_json::Value;

fn procwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_procwire"))
        .args(args)
        .output()
        .expect("run the procwire binary")
}

fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> &str {
    std::str::from_utf8(&out.stderr).expect("stderr is UTF-8")
}

fn file_number(path: &str) -> Option<u64> {
    Some(std::fs::read_to_string(path).ok()?.trim().parse().unwrap())
}

/// The keys `probe --json` prints, with the JSON type each has when known.
const KEYS: &[(&str, &str)] = &[
    ("kernel_release", "string"),
    ("cpu_model", "string"),
    ("cpus_online", "integer"),
    ("available_parallelism", "integer"),
    ("cpuinfo_processors", "integer"),
    ("page_size", "integer"),
    ("pipe_max_size", "integer"),
    ("pipe_default_size", "integer"),
    ("pipe_user_pages_soft", "integer"),
    ("pipe_user_pages_hard", "integer"),
    ("rmem_default", "integer"),
    ("rmem_max", "integer"),
    ("wmem_default", "integer"),
    ("wmem_max", "integer"),
    ("socketpair_sndbuf", "integer"),
    ("socketpair_rcvbuf", "integer"),
    ("nofile_soft", "integer"),
    ("nofile_hard", "integer"),
    ("splice_socket_to_pipe", "object"),
    ("splice_pipe_to_socket", "object"),
];

fn probe_json() -> serde_json::Map<String, Value> {
    let out = procwire(&["probe", "--json"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    match serde_json::from_str(stdout(&out)).expect("probe --json prints JSON") {
        Value::Object(map) => map,
        other => panic!("expected an object, got {other}"),
    }
}

#[test]
fn probe_lists_every_fact() {
    let out = procwire(&["probe"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = stdout(&out);
    let labels = [
        "kernel release",
        "cpu model",
        "cpus online",
        "available parallelism",
        "cpuinfo processors",
        "page size",
        "pipe-max-size",
        "fresh pipe size (F_GETPIPE_SZ)",
        "pipe-user-pages-soft",
        "pipe-user-pages-hard",
        "net.core.rmem_default",
        "net.core.rmem_max",
        "net.core.wmem_default",
        "net.core.wmem_max",
        "socketpair SO_SNDBUF",
        "socketpair SO_RCVBUF",
        "RLIMIT_NOFILE soft",
        "RLIMIT_NOFILE hard",
        "splice socket -> pipe",
        "splice pipe -> socket",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), labels.len(), "{text}");
    for (line, label) in lines.iter().zip(labels) {
        let value = line
            .strip_prefix(label)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or_else(|| panic!("expected {label:?} first in {line:?}"));
        assert!(!value.trim().is_empty(), "{line:?}");
    }
    // Values start in one column.
    let column = |line: &str| line.len() - line.split_once(": ").unwrap().1.trim_start().len();
    assert!(
        lines.iter().all(|l| column(l) == column(lines[0])),
        "{text}"
    );

    let pipe_max = file_number("/proc/sys/fs/pipe-max-size").unwrap();
    let line = lines
        .iter()
        .find(|l| l.starts_with("pipe-max-size:"))
        .unwrap();
    assert!(line.contains(&format!(" {pipe_max} (")), "{line}");
    assert!(text.contains("splice socket -> pipe:"), "{text}");
    assert_eq!(text.matches(" works\n").count(), 2, "{text}");
}

#[test]
fn probe_json_has_every_documented_key_with_a_sane_type() {
    let json = probe_json();
    let keys: Vec<&str> = json.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);

    for (key, kind) in KEYS {
        let value = &json[*key];
        let ok = match *kind {
            "string" => value.is_null() || value.as_str().is_some_and(|s| !s.is_empty()),
            "integer" => value.is_null() || value.is_u64(),
            "object" => {
                value["works"].is_boolean()
                    && (value["error"].is_null() || value["error"].is_string())
                    && value.as_object().unwrap().len() == 2
            }
            _ => unreachable!(),
        };
        assert!(ok, "{key}: {value}");
    }
}

#[test]
fn probe_json_agrees_with_this_machine() {
    let json = probe_json();
    assert!(json["kernel_release"].is_string());
    assert_eq!(
        json["pipe_max_size"].as_u64(),
        file_number("/proc/sys/fs/pipe-max-size")
    );
    for (key, path) in [
        ("pipe_user_pages_soft", "/proc/sys/fs/pipe-user-pages-soft"),
        ("pipe_user_pages_hard", "/proc/sys/fs/pipe-user-pages-hard"),
        ("rmem_default", "/proc/sys/net/core/rmem_default"),
        ("rmem_max", "/proc/sys/net/core/rmem_max"),
        ("wmem_default", "/proc/sys/net/core/wmem_default"),
        ("wmem_max", "/proc/sys/net/core/wmem_max"),
    ] {
        assert_eq!(json[key].as_u64(), file_number(path), "{key}");
    }
    let page = json["page_size"].as_u64().unwrap();
    let pipe = json["pipe_default_size"].as_u64().unwrap();
    assert!(pipe >= page && pipe % page == 0, "{pipe} {page}");
    for key in [
        "cpus_online",
        "available_parallelism",
        "cpuinfo_processors",
        "socketpair_sndbuf",
        "socketpair_rcvbuf",
    ] {
        assert!(json[key].as_u64().is_some_and(|n| n > 0), "{key}");
    }
    for key in ["splice_socket_to_pipe", "splice_pipe_to_socket"] {
        assert_eq!(
            json[key]["works"],
            Value::Bool(true),
            "{key}: {}",
            json[key]
        );
        assert!(json[key]["error"].is_null(), "{key}: {}", json[key]);
    }
}

#[test]
fn help_documents_every_json_key() {
    let out = procwire(&["probe", "--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = stdout(&out);
    for (key, kind) in KEYS {
        let line = help
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("{key} is not documented in:\n{help}"));
        assert!(line.contains(kind), "{line}");
    }
    for nested in [".works", ".error"] {
        assert_eq!(help.matches(&format!("    {nested} ")).count(), 2, "{help}");
    }
    assert!(help.contains("null"), "{help}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = procwire(&["probe", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("--no-such-flag"), "{err}");
    assert!(err.contains("Usage: procwire probe"), "{err}");
}

#[test]
fn missing_or_unknown_subcommand_is_a_usage_error() {
    for args in [&[][..], &["no-such-command"][..]] {
        let out = procwire(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(stderr(&out).contains("Usage: procwire"), "{}", stderr(&out));
    }
}

#[test]
fn top_level_help_names_probe() {
    let out = procwire(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("probe"), "{}", stdout(&out));
}

/// A failed write is an error message and status 1, not a panic.
#[test]
fn unwritable_stdout_is_reported_not_a_panic() {
    // /dev/full is part of every Linux system this project supports; its absence is a failure.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    for args in [&["probe"][..], &["probe", "--json"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_procwire"))
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(err.starts_with("procwire: writing to stdout: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A real `bench` run, as small as the options allow: structure, not timings.
#[test]
fn bench_writes_a_table_json_with_every_cell_and_an_svg() {
    let dir = std::env::temp_dir().join(format!("procwire-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("b.json"), dir.join("b.svg"));
    let out = procwire(&[
        "bench",
        "--kinds",
        "pipes,socketpair,model",
        "--chunks",
        "4K,64K",
        "--repeats",
        "2",
        "--duration",
        "0.005",
        "--json",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for row in [
        "pipes default",
        "pipes 1 MiB",
        "socketpair default",
        "socketpair 4 MiB",
    ] {
        assert!(text.contains(row), "{row} missing from:\n{text}");
    }
    assert!(text.contains("- at 64 KiB, same CPU,"), "{text}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "procwire-bench/3");
    let placements = v["settings"]["cpus"].as_array().unwrap().len().min(2);
    let cells = v["throughput"].as_array().unwrap();
    assert_eq!(cells.len(), 5 * 2 * placements);
    for c in cells {
        assert_eq!(c["repeats"], 2);
        assert_eq!(c["procwire_gb_s"]["samples"].as_array().unwrap().len(), 2);
        assert!(c["procwire_gb_s"]["median"].as_f64().unwrap() > 0.0);
        assert!(c["raw_gb_s"]["median"].as_f64().unwrap() > 0.0);
        assert!(c["capacity_granted"]["send"].as_u64().unwrap() > 0);
    }
    assert_eq!(v["latency"].as_array().unwrap().len(), 5 * placements);
    assert!(
        text.contains("the in-memory model between two threads on same CPU moves"),
        "{text}"
    );
    assert_eq!(v["memcpy"].as_array().unwrap().len(), 2);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("socketpair 4 MiB"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_refuses_an_unwritable_output_path_before_measuring() {
    let started = std::time::Instant::now();
    let out = procwire(&["bench", "--json", "/nonexistent-dir/out.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot write /nonexistent-dir/out.json"),
        "{}",
        stderr(&out)
    );
    // A run that measured would take a minute or more; this only tells the two apart.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn bench_rejects_bad_sizes_with_a_usage_error() {
    for args in [
        &["bench", "--chunks", "0"][..],
        &["bench", "--bytes", "12Q"],
        &["bench", "--kinds", "fifo"],
    ] {
        let out = procwire(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

/// The smallest real bench run: one row family, one chunk size, one CPU, one repeat.
const TINY: &[&str] = &[
    "bench",
    "--quick",
    "--chunks",
    "64K",
    "--placement",
    "same",
    "--repeats",
    "1",
    "--duration",
    "20ms",
];

fn tiny(extra: &[&str]) -> Output {
    let mut args = TINY.to_vec();
    args.extend_from_slice(extra);
    procwire(&args)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("procwire-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ctrl-C in the middle of a run leaves `--json` and `--svg` files as they were, and the
/// reader child exits without a word.
#[test]
fn an_interrupted_bench_keeps_the_old_output_files_and_its_peer_is_quiet() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = scratch("interrupt");
    let (json, svg) = (dir.join("k.json"), dir.join("k.svg"));
    std::fs::write(&json, "{\"old\":1}\n").unwrap();
    std::fs::write(&svg, "<svg old/>\n").unwrap();
    // A default run takes a minute or more: the signal lands long before its end.
    let mut child = Command::new(env!("CARGO_BIN_EXE_procwire"))
        .args(["bench", "--kinds", "socketpair", "--json"])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("socketpair 4 MiB on same CPU") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // Wait until a wire row is being measured (a peer is running); the limit is a hang guard.
    let _ = rx.recv_timeout(std::time::Duration::from_secs(120));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(!status.success(), "{err}");
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "{\"old\":1}\n");
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), "<svg old/>\n");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no stray file");
    assert!(!err.contains("procwire: "), "the peer spoke up:\n{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The relay and fd-passing rows run end to end (real relay processes, real descriptor
/// passing) and fill their JSON sections; the figures themselves are not judged here.
#[test]
fn bench_relay_and_fd_pass_rows_fill_their_json_sections() {
    let dir = scratch("relayrows");
    let json = dir.join("r.json");
    let out = procwire(&[
        "bench",
        "--kinds",
        "relay,fd_pass",
        "--chunks",
        "64K",
        "--repeats",
        "1",
        "--duration",
        "5ms",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let placements = v["settings"]["cpus"].as_array().unwrap().len().min(2);
    let relay = v["relay"].as_array().unwrap();
    // Two transports, three paths, one chunk, on each placement.
    assert_eq!(relay.len(), 2 * 3 * placements, "{relay:#?}");
    for c in relay {
        assert!(c["gb_s"]["median"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["rtt_us"]["median"].as_f64().unwrap() > 0.0, "{c}");
        assert_eq!(
            c["relay_cpu_s_per_gb"].is_null(),
            c["path"] == "direct",
            "{c}"
        );
    }
    for t in ["unix", "tcp"] {
        let path = v["relay_auto"][t].as_str().unwrap();
        assert!(path == "splice" || path == "copy", "{path}");
    }
    let fd = v["fd_pass"].as_array().unwrap();
    assert_eq!(fd.len(), placements);
    assert!(fd[0]["channel_per_s"]["median"].as_f64().unwrap() > 0.0);
    assert!(v["throughput"].as_array().unwrap().is_empty());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("Relay, sender -> relay -> receiver"),
        "{table}"
    );
    assert!(
        table.contains("procwire relay --mode auto on this machine"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_refuses_a_chart_of_nothing_before_measuring() {
    let dir = scratch("nochart");
    let svg = dir.join("f.svg");
    let out = procwire(&["bench", "--kinds", "spawn", "--svg", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("--kinds spawn measures none"),
        "{}",
        stderr(&out)
    );
    assert!(!svg.exists(), "an empty chart was left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn durations_out_of_range_are_usage_errors_that_say_why() {
    for (value, says) in [
        ("1e10", "too long: at most 24h"),
        ("0.000001", "too short: at least 1ms"),
        ("-5", "a duration cannot be negative; give 1ms to 24h"),
        ("soon", "not a duration"),
    ] {
        for flag in ["--connect-timeout", "--stall-timeout"] {
            let out = procwire(&["exec", flag, value, "--", "true"]);
            assert_eq!(out.status.code(), Some(2), "{flag} {value}: {out:?}");
            let err = stderr(&out);
            assert!(err.contains(says), "{flag} {value}: {err}");
            assert!(!err.contains("-- -5"), "{err}");
        }
    }
    let out = procwire(&["bench", "--duration", "11m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("too long: at most 10m"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn durations_take_units() {
    for value in ["500ms", "20s", "2m", "1.5"] {
        let out = procwire(&[
            "exec",
            "--connect-timeout",
            value,
            "--stall-timeout",
            value,
            "--",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(0), "{value}: {}", stderr(&out));
    }
}

#[test]
fn sizes_take_kb_kib_and_name_a_bad_suffix_whole() {
    let out = procwire(&["bench", "--bytes", "12XB"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown suffix \"XB\""),
        "{}",
        stderr(&out)
    );
    let out = procwire(&[
        "bench",
        "--quick",
        "--kinds",
        "pipes",
        "--chunks",
        "64KB,16KiB",
        "--placement",
        "same",
        "--repeats",
        "1",
        "--bytes",
        "1MiB",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("16 KiB"), "{}", stdout(&out));
}

/// Sizes read one way: `3.8 MiB`, never `3939840 B`; progress is one line per row off a
/// terminal.
#[test]
fn tiny_run_prints_sizes_in_units_and_progress_lines() {
    let out = tiny(&["--kinds", "pipes,socketpair,loopback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for word in text.split_whitespace().collect::<Vec<_>>().windows(2) {
        assert!(
            !(word[1] == "B" && word[0].parse::<u64>().is_ok_and(|n| n >= 1024)),
            "{word:?} in:\n{text}"
        );
    }
    let err = stderr(&out);
    assert!(err.starts_with("procwire bench: "), "{err}");
    assert!(
        err.contains("] repeat 1/1: loopback default on same CPU\n"),
        "{err}"
    );
    assert_eq!(err.matches("pipes 1 MiB on same CPU").count(), 1, "{err}");
    assert!(text.contains("\nVerdict, per workload:\n"), "{text}");
    assert!(
        text.contains("  bulk transfer (64 KiB writes) between two processes on same CPU: use "),
        "{text}"
    );
}

#[test]
fn one_cpu_says_why_different_cpus_are_missing() {
    let dir = scratch("onecpu");
    let json = dir.join("b.json");
    let mut args = vec!["-c", "0", env!("CARGO_BIN_EXE_procwire")];
    args.extend(
        TINY.iter()
            .filter(|a| !matches!(**a, "--placement" | "same")),
    );
    args.extend(["--kinds", "pipes", "--json", json.to_str().unwrap()]);
    let out = Command::new("taskset").args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("\nDifferent CPUs: not measured: this process may run on CPU 0 only"),
        "{text}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["settings"]["omitted"][0]["placement"], "cross_cpu");
    assert!(
        v["settings"]["omitted"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("CPU 0 only")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stdout that fails when the table is printed (a closed `| head`, a full disk) does not lose
/// the measurements: `--json` is written before the table.
#[test]
fn a_failing_stdout_still_gets_the_json_written() {
    let dir = scratch("full-stdout");
    let json = dir.join("k.json");
    let mut args = TINY.to_vec();
    args.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_procwire"))
        .args(&args)
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("writing to stdout"),
        "{}",
        stderr(&out)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "procwire-bench/3");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The names of the matrix's dimensions, in the order `--matrix` prints them.
const DIMENSIONS: [&str; 8] = [
    "default buffer; bytes queued before a write blocks",
    "largest buffer grant",
    "ancillary data (SCM_RIGHTS)",
    "io_uring opcodes",
    "splice eligibility",
    "half-close",
    "connect-timeout strategy",
    "remote-shell compatibility",
];

/// `--quick --matrix` on one placement and chunk size: every dimension and workload of the
/// matrix has a figure or says why not, in the text and in the JSON; `--compare` reads the
/// file back.
#[test]
fn quick_matrix_fills_every_row_or_says_why_not() {
    let dir = scratch("matrix");
    let json = dir.join("m.json");
    let out = procwire(&[
        "bench",
        "--quick",
        "--matrix",
        "--placement",
        "same",
        "--chunks",
        "64K",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("throughput GB/s"),
        "--matrix prints no table: {text}"
    );
    let mut at = 0;
    for name in DIMENSIONS {
        let found = text[at..]
            .find(&format!("\n{name} (audit: "))
            .unwrap_or_else(|| panic!("{name} missing or out of order in:\n{text}"));
        at += found + 1;
        // The dimension's block: its figures, then where they came from.
        let block: Vec<&str> = text[at..]
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(block.len() >= 2, "{name}: {block:?}");
        assert!(
            block.last().unwrap().starts_with("  [from: "),
            "{name}: {block:?}"
        );
        for line in &block {
            assert!(
                line.trim_end().len() > 4 && !line.contains("NaN"),
                "{name}: {line:?}"
            );
        }
    }
    let workloads = text
        .split("\nWorkloads:\n")
        .nth(1)
        .expect("a workloads section");
    let lines: Vec<&str> = workloads.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "{workloads}");
    for line in &lines {
        assert!(
            line.contains("; audit (") || line.contains(": not measured in this run ("),
            "{line}"
        );
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let m = &v["matrix"];
    assert_eq!(m["dimensions"].as_array().unwrap().len(), 8);
    assert_eq!(m["workloads"].as_array().unwrap().len(), 5);
    for key in [
        "queue",
        "largest_grant",
        "ancillary",
        "half_close",
        "connect_watchdog",
        "remote_shell",
    ] {
        assert!(!m["checks"][key].is_null(), "matrix.checks.{key}");
    }
    let uring = &v["uring"];
    let rows = uring["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{uring}");
    for r in rows {
        assert!(
            r["uring_gb_s"]["median"].as_f64().is_some() || r["error"].is_string(),
            "{r}"
        );
    }
    let cmp = procwire(&[
        "bench",
        "--compare",
        json.to_str().unwrap(),
        json.to_str().unwrap(),
    ]);
    assert!(cmp.status.success(), "{}", stderr(&cmp));
    assert!(stdout(&cmp).contains("B/A 1.00x"), "{}", stdout(&cmp));
    let missing = dir.join("missing.json");
    let cmp = procwire(&[
        "bench",
        "--compare",
        json.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(cmp.status.code(), Some(1));
    assert!(stderr(&cmp).contains("cannot read"), "{}", stderr(&cmp));
    let _ = std::fs::remove_dir_all(&dir);
}
