//! `procwire probe [--json]`: the machine facts of [`procwire::probe`], as a listing or JSON.

use std::io::Write;

use procwire::probe::{Probe, SpliceCheck};

use crate::{CmdResult, writing_stdout};

/// The `--help` text that documents the JSON output. Every key `--json` prints is listed here;
/// the tests check both ways.
const JSON_KEYS: &str = "\
JSON OUTPUT (--json):
  One object, pretty-printed (2-space indent) and followed by a newline, with these keys in
  this order. A fact that could not be read is null; the command still succeeds.

  kernel_release         string   kernel release, as `uname -r` prints it
  cpu_model              string   CPU model: `model name` (else `Hardware`, `cpu model`) in
                                  /proc/cpuinfo
  cpus_online            integer  CPUs online, from /sys/devices/system/cpu/online
  available_parallelism  integer  threads this process may run at once (CPU affinity and
                                  cgroup quota applied)
  cpuinfo_processors     integer  `processor` entries in /proc/cpuinfo
  page_size              integer  bytes per memory page (never null)
  pipe_max_size          integer  bytes: /proc/sys/fs/pipe-max-size, the largest pipe an
                                  unprivileged process may ask for
  pipe_default_size      integer  bytes: F_GETPIPE_SZ of a fresh pipe
  pipe_user_pages_soft   integer  pages: /proc/sys/fs/pipe-user-pages-soft (0 = no limit)
  pipe_user_pages_hard   integer  pages: /proc/sys/fs/pipe-user-pages-hard (0 = no limit)
  rmem_default           integer  bytes: /proc/sys/net/core/rmem_default
  rmem_max               integer  bytes: /proc/sys/net/core/rmem_max
  wmem_default           integer  bytes: /proc/sys/net/core/wmem_default
  wmem_max               integer  bytes: /proc/sys/net/core/wmem_max
  socketpair_sndbuf      integer  bytes: SO_SNDBUF of a fresh AF_UNIX socketpair end
  socketpair_rcvbuf      integer  bytes: SO_RCVBUF of a fresh AF_UNIX socketpair end
  nofile_soft            integer  descriptors: soft RLIMIT_NOFILE (null = unlimited)
  nofile_hard            integer  descriptors: hard RLIMIT_NOFILE (null = unlimited)
  splice_socket_to_pipe  object   splice(2) from a socketpair end into a pipe:
    .works               boolean    true when test bytes arrived intact
    .error               string     why not: the failed step and its error (null if works)
  splice_pipe_to_socket  object   splice(2) from a pipe into a socketpair end:
    .works               boolean    true when test bytes arrived intact
    .error               string     why not: the failed step and its error (null if works)";

/// The options of `procwire probe` (its help text is on [`Command::Probe`](crate::Command)).
#[derive(Debug, clap::Args)]
#[command(after_long_help = JSON_KEYS)]
pub struct Args {
    /// Print one JSON object instead of the listing (its keys: see `procwire probe --help`)
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, out: &mut dyn Write) -> CmdResult {
    let probe = procwire::probe::collect();
    let text = if args.json {
        serde_json::to_string_pretty(&probe)? + "\n"
    } else {
        listing(&probe)
    };
    out.write_all(text.as_bytes()).map_err(writing_stdout)?;
    Ok(())
}

/// The aligned `label: value` listing, one fact a line.
fn listing(p: &Probe) -> String {
    let rows = rows(p);
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$} {value}\n", format!("{label}:")))
        .collect()
}

fn rows(p: &Probe) -> Vec<(&'static str, String)> {
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| UNKNOWN.to_owned());
    let count = |v: Option<usize>| v.map_or_else(|| UNKNOWN.to_owned(), |n| n.to_string());
    let bytes = |v: Option<usize>| v.map_or_else(|| UNKNOWN.to_owned(), bytes);
    let pages = |v: Option<usize>| match v {
        None => UNKNOWN.to_owned(),
        Some(0) => "0 (no limit)".to_owned(),
        Some(n) => match n.checked_mul(p.page_size) {
            Some(total) => format!("{n} pages ({})", human(total)),
            None => format!("{n} pages"),
        },
    };
    let limit = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    vec![
        ("kernel release", text(&p.kernel_release)),
        ("cpu model", text(&p.cpu_model)),
        ("cpus online", count(p.cpus_online)),
        ("available parallelism", count(p.available_parallelism)),
        ("cpuinfo processors", count(p.cpuinfo_processors)),
        ("page size", bytes(Some(p.page_size))),
        ("pipe-max-size", bytes(p.pipe_max_size)),
        ("fresh pipe size (F_GETPIPE_SZ)", bytes(p.pipe_default_size)),
        ("pipe-user-pages-soft", pages(p.pipe_user_pages_soft)),
        ("pipe-user-pages-hard", pages(p.pipe_user_pages_hard)),
        ("net.core.rmem_default", bytes(p.rmem_default)),
        ("net.core.rmem_max", bytes(p.rmem_max)),
        ("net.core.wmem_default", bytes(p.wmem_default)),
        ("net.core.wmem_max", bytes(p.wmem_max)),
        ("socketpair SO_SNDBUF", bytes(p.socketpair_sndbuf)),
        ("socketpair SO_RCVBUF", bytes(p.socketpair_rcvbuf)),
        ("RLIMIT_NOFILE soft", limit(p.nofile_soft)),
        ("RLIMIT_NOFILE hard", limit(p.nofile_hard)),
        ("splice socket -> pipe", splice(&p.splice_socket_to_pipe)),
        ("splice pipe -> socket", splice(&p.splice_pipe_to_socket)),
    ]
}

const UNKNOWN: &str = "unknown";

fn splice(check: &SpliceCheck) -> String {
    match (check.works, &check.error) {
        (true, _) => "works".to_owned(),
        (false, Some(error)) => format!("fails: {error}"),
        (false, None) => "fails".to_owned(),
    }
}

/// `1048576 (1 MiB)`: the exact count, then a binary-prefixed size.
fn bytes(n: usize) -> String {
    format!("{n} ({})", human(n))
}

fn human(n: usize) -> String {
    crate::units::format_size(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1024), "1 KiB");
        assert_eq!(human(4096), "4 KiB");
        assert_eq!(human(212_992), "208 KiB");
        assert_eq!(human(1_048_576), "1 MiB");
        assert_eq!(human(1_572_864), "1.5 MiB");
        assert_eq!(human(4_194_304), "4 MiB");
        assert_eq!(human(1_500_000), "1.4 MiB");
        // Just under a unit rounds up into it rather than printing 1024.0 of the smaller one.
        assert_eq!(human(1_048_575), "1 MiB");
        assert_eq!(bytes(1_048_576), "1048576 (1 MiB)");
    }

    fn blank() -> Probe {
        let fails = SpliceCheck {
            works: false,
            error: Some("splice(socket -> pipe): Invalid argument (os error 22)".into()),
        };
        Probe {
            kernel_release: None,
            cpu_model: None,
            cpus_online: None,
            available_parallelism: None,
            cpuinfo_processors: None,
            page_size: 4096,
            pipe_max_size: None,
            pipe_default_size: None,
            pipe_user_pages_soft: None,
            pipe_user_pages_hard: None,
            rmem_default: None,
            rmem_max: None,
            wmem_default: None,
            wmem_max: None,
            socketpair_sndbuf: None,
            socketpair_rcvbuf: None,
            nofile_soft: None,
            nofile_hard: Some(4096),
            splice_socket_to_pipe: fails.clone(),
            splice_pipe_to_socket: fails,
        }
    }

    #[test]
    fn unknown_facts_read_unknown_and_the_listing_is_aligned() {
        let text = listing(&blank());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), rows(&blank()).len());
        assert!(lines[0].starts_with("kernel release:") && lines[0].ends_with(" unknown"));
        let column = |line: &str| {
            line.find(':').unwrap()
                + line[line.find(':').unwrap()..]
                    .find(|c: char| c != ':' && c != ' ')
                    .unwrap()
        };
        assert!(
            lines.iter().all(|l| column(l) == column(lines[0])),
            "{text}"
        );
        assert!(text.contains("RLIMIT_NOFILE soft:"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("RLIMIT_NOFILE soft:") && l.ends_with(" unlimited"))
        );
        assert!(
            text.contains("fails: splice(socket -> pipe): Invalid argument"),
            "{text}"
        );
    }

    #[test]
    fn pipe_user_pages_show_bytes_and_no_limit() {
        let p = Probe {
            pipe_user_pages_soft: Some(16384),
            pipe_user_pages_hard: Some(0),
            ..blank()
        };
        let text = listing(&p);
        assert!(text.contains("16384 pages (64 MiB)"), "{text}");
        assert!(text.contains("0 (no limit)"), "{text}");
    }

    /// Every key `--json` prints is documented in `--help`, and every documented key exists.
    #[test]
    fn json_keys_match_the_help_text() {
        let value = serde_json::to_value(procwire::probe::collect()).unwrap();
        let mut printed = Vec::new();
        for (key, v) in value.as_object().unwrap() {
            printed.push(key.clone());
            if let Some(inner) = v.as_object() {
                printed.extend(inner.keys().map(|k| format!(".{k}")));
            }
        }
        // Key lines are indented two spaces, nested keys four and a dot; the rest continue a
        // description. serde_json sorts object keys, so compare sorted lists.
        let mut documented: Vec<String> = JSON_KEYS
            .lines()
            .skip_while(|l| !l.trim().is_empty())
            .filter(|l| {
                l.strip_prefix("  ")
                    .is_some_and(|rest| !rest.starts_with(' ') || rest.starts_with("  ."))
            })
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        printed.sort();
        documented.sort();
        assert_eq!(printed, documented);
    }
}
