//! The decision matrix: which rows, chunk sizes and placements are measured, and in what order.
//!
//! Pure logic, no I/O: a [`Plan`] expands into an interleaved schedule of [`Task`]s, so every
//! repeat of every cell runs once before any cell runs again. (procwire's loop and the raw loop
//! of a cell are interleaved inside each run: see `measure`.) A new row (a relay mode, a child spawn,
//! the in-memory model) is one more [`Subject`] variant and one entry in [`default_rows`].

use std::time::Duration;

use procwire::wire::Kind;
use serde::Serialize;

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "subject", rename_all = "snake_case")]
pub enum Subject {
    /// A wire pair of `kind`; `capacity` asked per direction (None: the kernel's default).
    Wire { kind: Kind, capacity: Option<usize> },
    /// procwire's in-memory socketpair (`model::MemStream`) between two threads of this
    /// process; its "raw" figure is a kernel socketpair between the same two threads.
    Model { capacity: usize },
}

/// What a row is, for the report: a wire kind or the model. Serialised as its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Wire(Kind),
    Model,
}

impl RowKind {
    /// `pipes`, `socketpair`, `loopback` or `model`.
    pub fn name(self) -> &'static str {
        match self {
            RowKind::Wire(kind) => kind.name(),
            RowKind::Model => "model",
        }
    }

    /// Whether this is the in-memory model (which has no raw loop and is no wire choice).
    pub fn is_model(self) -> bool {
        self == RowKind::Model
    }
}

impl Serialize for RowKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Subject {
    /// The row's kind.
    pub fn kind(&self) -> RowKind {
        match *self {
            Subject::Wire { kind, .. } => RowKind::Wire(kind),
            Subject::Model { .. } => RowKind::Model,
        }
    }

    /// `pipes`, `socketpair`, `loopback` or `model`.
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }

    /// The capacity asked for, if any.
    pub fn capacity(&self) -> Option<usize> {
        match *self {
            Subject::Wire { capacity, .. } => capacity,
            Subject::Model { capacity } => Some(capacity),
        }
    }
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Short label for tables, charts and verdicts, e.g. `pipes 1 MiB`.
    pub label: String,
    #[serde(flatten)]
    pub subject: Subject,
}

impl Row {
    pub fn wire(kind: Kind, capacity: Option<usize>) -> Row {
        let label = match capacity {
            None => format!("{kind} default"),
            Some(c) => format!("{kind} {}", human_bytes(c)),
        };
        Row {
            label,
            subject: Subject::Wire { kind, capacity },
        }
    }

    pub fn model() -> Row {
        Row {
            label: "model, threads".to_string(),
            subject: Subject::Model {
                capacity: procwire::model::DEFAULT_CAPACITY,
            },
        }
    }
}

/// The rows `procwire bench` measures by default: the questions of the reference audits, and
/// the in-memory model.
pub fn default_rows() -> Vec<Row> {
    vec![
        Row::wire(Kind::Pipes, None),
        Row::wire(Kind::Pipes, Some(1 << 20)),
        Row::wire(Kind::SocketPair, None),
        Row::wire(Kind::SocketPair, Some(4 << 20)),
        Row::wire(Kind::Loopback, None),
        Row::model(),
    ]
}

/// The chunk sizes of the throughput columns.
pub const DEFAULT_CHUNKS: [usize; 4] = [4 << 10, 64 << 10, 256 << 10, 1 << 20];

/// The sockets a relay row moves bytes between: sender -> relay -> receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// AF_UNIX stream socketpairs (procwire's `socketpair` wire) on both hops.
    Unix,
    /// TCP over loopback (procwire's `loopback` wire) on both hops.
    Tcp,
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Unix, Transport::Tcp];

    /// The wire kind of both hops.
    pub fn kind(self) -> Kind {
        match self {
            Transport::Unix => Kind::SocketPair,
            Transport::Tcp => Kind::Loopback,
        }
    }

    /// `unix` or `tcp`, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
        }
    }
}

/// How a relay row's bytes get from the sender to the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayPath {
    /// One socket from sender to receiver, no relay: the ceiling.
    Direct,
    /// Through `procwire::relay::relay()` with `Mode::Copy`.
    Copy,
    /// Through `procwire::relay::relay()` with `Mode::Splice`.
    Splice,
}

impl RelayPath {
    pub const ALL: [RelayPath; 3] = [RelayPath::Direct, RelayPath::Copy, RelayPath::Splice];

    /// `direct`, `copy` or `splice`, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            RelayPath::Direct => "direct",
            RelayPath::Copy => "copy",
            RelayPath::Splice => "splice",
        }
    }

    /// The three paths starting at the `n`th (mod 3): each repeat and chunk runs them in
    /// another order, so none always runs first or last.
    pub fn rotated(n: usize) -> [RelayPath; 3] {
        let a = RelayPath::ALL;
        [a[n % 3], a[(n + 1) % 3], a[(n + 2) % 3]]
    }
}

/// The CPUs of a relay row: (sender, relay or `None` when direct, receiver).
pub type RelayCpus = (usize, Option<usize>, usize);

/// The relay and fd-passing rows: a lighter schedule than the wire rows (three processes per
/// run, three paths per cell).
#[derive(Clone, Debug, PartialEq)]
pub struct RelayPlan {
    /// Empty: no relay rows.
    pub transports: Vec<Transport>,
    pub chunks: Vec<usize>,
    /// Repeats of every relay and fd-passing cell (the first this many of the plan's).
    pub repeats: usize,
    /// Per relay throughput run.
    pub budget: Budget,
    /// Per relay round-trip run.
    pub latency_time: Duration,
    /// Per fd-passing run; `None` leaves the fd-passing rows out.
    pub fd_pass_time: Option<Duration>,
}

impl RelayPlan {
    /// Neither relay nor fd-passing rows.
    #[cfg(test)]
    pub fn none() -> RelayPlan {
        RelayPlan {
            transports: Vec::new(),
            chunks: Vec::new(),
            repeats: 0,
            budget: Budget::Time(Duration::ZERO),
            latency_time: Duration::ZERO,
            fd_pass_time: None,
        }
    }
}

/// The chunk sizes of the relay rows by default: a small write and the bulk sizes.
pub const RELAY_CHUNKS: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];

/// Where the two processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Both pinned to the same CPU: every transfer is a context switch.
    #[value(name = "same")]
    SameCpu,
    /// Pinned to two different CPUs: the ends run in parallel, caches are not shared.
    #[value(name = "cross")]
    CrossCpu,
}

impl Placement {
    /// The CPUs (writer, reader) for this placement, chosen from the CPUs we may run on.
    pub fn cpus(self, allowed: &[usize]) -> Option<(usize, usize)> {
        match (self, allowed) {
            (_, []) => None,
            (Placement::SameCpu, [a, ..]) => Some((*a, *a)),
            (Placement::CrossCpu, [a, b, ..]) => Some((*a, *b)),
            (Placement::CrossCpu, [_]) => None,
        }
    }

    /// The CPUs of a relay row: all on one CPU; on two, sender and receiver on the first and
    /// the relay alone on the second, so both hops cross CPUs (direct: sender on the first,
    /// receiver on the second, as the wire rows).
    pub fn relay_cpus(self, allowed: &[usize], path: RelayPath) -> Option<RelayCpus> {
        let (a, b) = self.cpus(allowed)?;
        Some(match path {
            RelayPath::Direct => (a, None, b),
            RelayPath::Copy | RelayPath::Splice => (a, Some(b), a),
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Placement::SameCpu => "same CPU",
            Placement::CrossCpu => "different CPUs",
        }
    }
}

/// The placements possible with these CPUs.
pub fn placements(allowed: &[usize]) -> Vec<Placement> {
    [Placement::SameCpu, Placement::CrossCpu]
        .into_iter()
        .filter(|p| p.cpus(allowed).is_some())
        .collect()
}

/// Which implementation of the loop runs (and the index of its figures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// procwire's types: `End`/halves and their `Read`/`Write`.
    Procwire,
    /// Plain `read(2)`/`write(2)` on the same descriptors: the ceiling.
    Raw,
}

/// How much each run moves: for a time, or a fixed number of bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Time(Duration),
    Bytes(u64),
}

/// One measurement to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task {
    Throughput {
        row: usize,
        chunk: usize,
        placement: Placement,
        repeat: usize,
    },
    Latency {
        row: usize,
        placement: Placement,
        repeat: usize,
    },
    Memcpy {
        chunk: usize,
        repeat: usize,
    },
    /// Child spawns, procwire's and std's alternating (see `spawn`).
    Spawn {
        repeat: usize,
    },
    /// Every file-edge cell once (see `runners::file_edge`).
    FileEdge {
        repeat: usize,
    },
    /// One relay throughput run (see `runners::relay`).
    Relay {
        transport: Transport,
        path: RelayPath,
        chunk: usize,
        placement: Placement,
        repeat: usize,
    },
    /// 1-byte round trips through a relay, or direct.
    RelayLatency {
        transport: Transport,
        path: RelayPath,
        placement: Placement,
        repeat: usize,
    },
    /// Descriptor-passing round trips, `pass::Channel` and the raw loop alternating.
    FdPass {
        placement: Placement,
        repeat: usize,
    },
}

/// Everything one `procwire bench` run measures.
#[derive(Clone, Debug)]
pub struct Plan {
    pub rows: Vec<Row>,
    pub chunks: Vec<usize>,
    pub placements: Vec<Placement>,
    pub repeats: usize,
    /// Per throughput run.
    pub budget: Budget,
    /// Per latency run.
    pub latency_time: Duration,
    /// Per memcpy run.
    pub memcpy_time: Duration,
    /// Per spawn run; `None` leaves the spawn row out.
    pub spawn_time: Option<Duration>,
    /// Per file-edge run (all its cells); `None` leaves the file edges out.
    pub file_edge_time: Option<Duration>,
    /// Placements left out although not deselected, and why.
    pub omitted: Vec<Omitted>,
    /// The relay and fd-passing rows.
    pub relay: RelayPlan,
    /// The io_uring rows, run after the schedule (`runners::uring`); `None` leaves them out.
    pub uring: Option<UringPlan>,
}

/// The io_uring rows' budgets: every row on every placement, `repeats` times, outside the
/// [schedule](Plan::schedule) (`runners::uring::run_all` loops over them itself).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UringPlan {
    pub repeats: usize,
    /// Rows per placement (`runners::uring::ROWS`).
    pub rows: usize,
    /// Per throughput run.
    pub run: Duration,
    /// Per round-trip run.
    pub latency: Duration,
}

/// The families of measurements a run is made of, each with its share of
/// [`Plan::forecast`]. A family's runs come from the [schedule](Plan::schedule)
/// ([`Task::family`]) or run after it ([`Family::Uring`], [`Family::Checks`]);
/// [`Plan::families`] lists those a plan runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The memcpy ceiling.
    Memcpy,
    /// Child spawns.
    Spawn,
    /// `send_file`/`recv_file`.
    FileEdge,
    /// The wire and model rows: throughput and round trips.
    Wire,
    /// The relay rows: throughput and round trips.
    Relay,
    /// Descriptor passing.
    FdPass,
    /// The io_uring rows.
    Uring,
    /// The decision matrix's checks (`checks::run`), after everything else.
    Checks,
}

/// The checks' share of the forecast: a few dozen small probes and three local shells (under
/// 0.4 s together, measured on a loaded 2-vCPU VM), plus one rsync over ssh only when an sshd
/// listens on 127.0.0.1 (bounded at 20 s; refused at once without keys for it). The forecast
/// cannot know which, and takes the common case.
const CHECKS_FORECAST: Duration = Duration::from_millis(500);

/// A placement the run could not measure, and why (in the table and the JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Omitted {
    pub placement: Placement,
    pub reason: String,
}

/// The placements `allowed` CPUs leave out of `wanted` (all, or the one `--placement` asked).
pub fn omitted(allowed: &[usize], wanted: Option<Placement>) -> Vec<Omitted> {
    [Placement::SameCpu, Placement::CrossCpu]
        .into_iter()
        .filter(|&p| wanted.is_none_or(|w| w == p) && p.cpus(allowed).is_none())
        .map(|placement| Omitted {
            placement,
            reason: match allowed {
                [] => "no CPU is available to pin to".to_string(),
                [only] => format!(
                    "this process may run on CPU {only} only (its affinity, e.g. taskset, or a \
                     cpuset); {} needs two CPUs",
                    placement.describe()
                ),
                _ => unreachable!("two CPUs allow every placement"),
            },
        })
        .collect()
}

impl Task {
    /// The family this task's run belongs to.
    pub fn family(&self) -> Family {
        match self {
            Task::Throughput { .. } | Task::Latency { .. } => Family::Wire,
            Task::Memcpy { .. } => Family::Memcpy,
            Task::Spawn { .. } => Family::Spawn,
            Task::FileEdge { .. } => Family::FileEdge,
            Task::Relay { .. } | Task::RelayLatency { .. } => Family::Relay,
            Task::FdPass { .. } => Family::FdPass,
        }
    }

    /// What a progress line says while this task runs: the same for every task of one row in
    /// one repeat, so a line per row is printed.
    pub fn describe(&self, plan: &Plan) -> String {
        let of = |repeat: usize| format!("repeat {}/{}", repeat + 1, plan.repeats);
        match *self {
            Task::Throughput {
                row,
                placement,
                repeat,
                ..
            }
            | Task::Latency {
                row,
                placement,
                repeat,
            } => format!(
                "{}: {} on {}",
                of(repeat),
                plan.rows[row].label,
                placement.describe()
            ),
            Task::Memcpy { repeat, .. } => format!("{}: memcpy", of(repeat)),
            Task::Spawn { repeat } => format!("{}: spawn", of(repeat)),
            Task::FileEdge { repeat } => format!("{}: file edges", of(repeat)),
            Task::Relay {
                transport,
                placement,
                repeat,
                ..
            }
            | Task::RelayLatency {
                transport,
                placement,
                repeat,
                ..
            } => format!(
                "{}: relay {} on {}",
                of(repeat),
                transport.name(),
                placement.describe()
            ),
            Task::FdPass { placement, repeat } => {
                format!("{}: fd passing on {}", of(repeat), placement.describe())
            }
        }
    }
}

impl Plan {
    /// The interleaved schedule: repeat by repeat, every cell once.
    pub fn schedule(&self) -> Vec<Task> {
        let mut tasks = Vec::new();
        for repeat in 0..self.repeats {
            for &chunk in &self.chunks {
                tasks.push(Task::Memcpy { chunk, repeat });
            }
            if self.spawn_time.is_some() {
                tasks.push(Task::Spawn { repeat });
            }
            if self.file_edge_time.is_some() {
                tasks.push(Task::FileEdge { repeat });
            }
            for &placement in &self.placements {
                for row in 0..self.rows.len() {
                    for &chunk in &self.chunks {
                        tasks.push(Task::Throughput {
                            row,
                            chunk,
                            placement,
                            repeat,
                        });
                    }
                    tasks.push(Task::Latency {
                        row,
                        placement,
                        repeat,
                    });
                }
                self.relay_tasks(placement, repeat, &mut tasks);
            }
        }
        tasks
    }

    /// The relay and fd-passing tasks of one placement and repeat: the three paths of a cell
    /// back to back, in an order that rotates with the repeat and the chunk.
    fn relay_tasks(&self, placement: Placement, repeat: usize, tasks: &mut Vec<Task>) {
        if repeat >= self.relay.repeats {
            return;
        }
        for &transport in &self.relay.transports {
            for (i, &chunk) in self.relay.chunks.iter().enumerate() {
                for path in RelayPath::rotated(repeat + i) {
                    tasks.push(Task::Relay {
                        transport,
                        path,
                        chunk,
                        placement,
                        repeat,
                    });
                }
            }
            for path in RelayPath::rotated(repeat) {
                tasks.push(Task::RelayLatency {
                    transport,
                    path,
                    placement,
                    repeat,
                });
            }
        }
        if self.relay.fd_pass_time.is_some() {
            tasks.push(Task::FdPass { placement, repeat });
        }
    }

    /// The families this plan runs: those of its scheduled tasks, then the io_uring rows if
    /// planned and the checks (always).
    pub fn families(&self) -> Vec<Family> {
        let mut families: Vec<Family> = self.schedule().iter().map(Task::family).collect();
        families.extend(self.uring.map(|_| Family::Uring));
        families.push(Family::Checks);
        families.sort();
        families.dedup();
        families
    }

    /// The io_uring runs (one throughput and one round-trip run each) after the schedule.
    pub fn uring_runs(&self) -> usize {
        self.uring
            .map_or(0, |u| u.repeats * u.rows * self.placements.len())
    }

    /// A rough forecast of the run's length, for the progress bar's first estimate: the sum
    /// of every family's share ([`forecast_of`](Self::forecast_of)).
    pub fn forecast(&self) -> Duration {
        self.families()
            .into_iter()
            .map(|f| self.forecast_of(f))
            .sum()
    }

    /// `family`'s share of [`forecast`](Self::forecast) (zero when the plan leaves it out).
    pub fn forecast_of(&self, family: Family) -> Duration {
        let repeats = self.repeats as u32;
        match family {
            Family::Wire => {
                // The timed part, a quarter more of untimed settling blocks, the warm-up and
                // the child's start.
                let per_run = match self.budget {
                    Budget::Time(t) => t + t / 4,
                    Budget::Bytes(b) => Duration::from_secs_f64(b as f64 / 2e9),
                } + Duration::from_millis(25);
                let lat = (self.rows.len() * self.placements.len()) as u32 * repeats;
                per_run * lat * self.chunks.len() as u32 + self.latency_time * lat
            }
            Family::Memcpy => self.memcpy_time * (self.chunks.len() as u32 * repeats),
            Family::Spawn => self.spawn_time.unwrap_or_default() * repeats,
            // Each file-edge run also tries each of its 18 cells once, untimed (4 MiB each).
            Family::FileEdge => self.file_edge_time.map_or(Duration::ZERO, |t| {
                (t + Duration::from_millis(50)) * repeats
            }),
            Family::Relay => self.relay_forecast(),
            Family::FdPass => {
                let r = &self.relay;
                r.fd_pass_time.map_or(Duration::ZERO, |t| {
                    let runs = self.placements.len() * r.repeats.min(self.repeats);
                    (t + Duration::from_millis(10)) * runs as u32
                })
            }
            // A thread of this process on the other end, not a child: little to start. The
            // settling blocks add an eighth, the warm-up about as much.
            Family::Uring => self.uring.map_or(Duration::ZERO, |u| {
                let per = u.run + u.run / 4 + u.latency + Duration::from_millis(10);
                per * self.uring_runs() as u32
            }),
            Family::Checks => CHECKS_FORECAST,
        }
    }

    /// The relay rows' share of [`Plan::forecast`]: three processes to start per relayed run.
    fn relay_forecast(&self) -> Duration {
        let r = &self.relay;
        let per_run = match r.budget {
            Budget::Time(t) => t + t / 8,
            Budget::Bytes(b) => Duration::from_secs_f64(b as f64 / 1e9),
        } + Duration::from_millis(30);
        let repeats = r.repeats.min(self.repeats);
        let cells = (r.transports.len() * self.placements.len() * repeats * 3) as u32;
        per_run * cells * r.chunks.len() as u32
            + (r.latency_time + Duration::from_millis(20)) * cells
    }
}

/// `4 KiB`, `1 MiB`, `3.8 MiB`: [`crate::units::format_size`], as everywhere.
pub fn human_bytes(n: usize) -> String {
    crate::units::format_size(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(repeats: usize, placements: Vec<Placement>) -> Plan {
        Plan {
            rows: default_rows(),
            chunks: DEFAULT_CHUNKS.to_vec(),
            placements,
            repeats,
            budget: Budget::Time(Duration::from_millis(10)),
            latency_time: Duration::from_millis(10),
            memcpy_time: Duration::from_millis(10),
            spawn_time: Some(Duration::from_millis(10)),
            file_edge_time: Some(Duration::from_millis(10)),
            omitted: Vec::new(),
            relay: RelayPlan::none(),
            uring: None,
        }
    }

    #[test]
    fn default_rows_cover_the_audit_questions() {
        let labels: Vec<String> = default_rows().into_iter().map(|r| r.label).collect();
        assert_eq!(
            labels,
            [
                "pipes default",
                "pipes 1 MiB",
                "socketpair default",
                "socketpair 4 MiB",
                "loopback default",
                "model, threads"
            ]
        );
    }

    #[test]
    fn schedule_holds_every_cell_and_repeat_exactly_once() {
        let p = plan(3, vec![Placement::SameCpu, Placement::CrossCpu]);
        let tasks = p.schedule();
        let tp = tasks
            .iter()
            .filter(|t| matches!(t, Task::Throughput { .. }))
            .count();
        assert_eq!(tp, 6 * 4 * 2 * 3);
        let lat = tasks
            .iter()
            .filter(|t| matches!(t, Task::Latency { .. }))
            .count();
        assert_eq!(lat, 6 * 2 * 3);
        let mem = tasks
            .iter()
            .filter(|t| matches!(t, Task::Memcpy { .. }))
            .count();
        assert_eq!(mem, 4 * 3);
        let spawns = tasks
            .iter()
            .filter(|t| matches!(t, Task::Spawn { .. }))
            .count();
        assert_eq!(spawns, 3, "one spawn run per repeat");
        let edges = tasks
            .iter()
            .filter(|t| matches!(t, Task::FileEdge { .. }))
            .count();
        assert_eq!(edges, 3, "one file-edge run per repeat");
        let without = Plan {
            spawn_time: None,
            ..p.clone()
        };
        assert!(
            !without
                .schedule()
                .iter()
                .any(|t| matches!(t, Task::Spawn { .. }))
        );
        let mut seen = std::collections::HashSet::new();
        for t in &tasks {
            assert!(seen.insert(format!("{t:?}")), "duplicate {t:?}");
        }
    }

    #[test]
    fn repeats_are_interleaved() {
        let p = plan(2, vec![Placement::SameCpu]);
        let tasks = p.schedule();
        // All of repeat 0 comes before any of repeat 1.
        let rep = |t: &Task| match *t {
            Task::Throughput { repeat, .. }
            | Task::Latency { repeat, .. }
            | Task::Memcpy { repeat, .. }
            | Task::Spawn { repeat }
            | Task::FileEdge { repeat }
            | Task::Relay { repeat, .. }
            | Task::RelayLatency { repeat, .. }
            | Task::FdPass { repeat, .. } => repeat,
        };
        let first_1 = tasks.iter().position(|t| rep(t) == 1).unwrap();
        assert!(first_1 > 0);
        assert!(tasks[..first_1].iter().all(|t| rep(t) == 0));
        assert!(tasks[first_1..].iter().all(|t| rep(t) == 1));
        assert_eq!(tasks.len(), 2 * first_1);
    }

    #[test]
    fn placements_follow_the_cpus_we_may_use() {
        assert_eq!(placements(&[0]), [Placement::SameCpu]);
        assert_eq!(
            placements(&[2, 5]),
            [Placement::SameCpu, Placement::CrossCpu]
        );
        assert_eq!(Placement::CrossCpu.cpus(&[2, 5]), Some((2, 5)));
        assert_eq!(Placement::SameCpu.cpus(&[2, 5]), Some((2, 2)));
        assert!(placements(&[]).is_empty());
    }

    #[test]
    fn a_single_cpu_says_why_different_cpus_are_left_out() {
        assert!(omitted(&[0, 1], None).is_empty());
        assert!(omitted(&[3], Some(Placement::SameCpu)).is_empty());
        let o = omitted(&[3], None);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].placement, Placement::CrossCpu);
        assert!(o[0].reason.contains("CPU 3 only"), "{}", o[0].reason);
        assert!(
            o[0].reason.contains("different CPUs needs two CPUs"),
            "{}",
            o[0].reason
        );
    }

    #[test]
    fn a_row_s_tasks_share_one_progress_line() {
        let p = plan(2, vec![Placement::SameCpu]);
        let lines: Vec<String> = p.schedule().iter().map(|t| t.describe(&p)).collect();
        let mut distinct = lines.clone();
        distinct.dedup();
        // Per repeat: memcpy, spawn, file edges, and one per row.
        assert_eq!(distinct.len(), 2 * (3 + 6), "{distinct:#?}");
        assert!(distinct.contains(&"repeat 2/2: pipes 1 MiB on same CPU".to_string()));
    }

    #[test]
    fn human_bytes_is_exact() {
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(212992), "208 KiB");
        assert_eq!(human_bytes(1000), "1000 B");
        assert_eq!(human_bytes(3_939_840), "3.8 MiB");
    }

    #[test]
    fn forecast_grows_with_repeats() {
        let a = plan(1, vec![Placement::SameCpu]).forecast();
        let b = plan(3, vec![Placement::SameCpu]).forecast();
        assert!(b > a * 2);
    }

    /// A plan with every family in it.
    fn everything() -> Plan {
        Plan {
            relay: RelayPlan {
                transports: Transport::ALL.to_vec(),
                chunks: vec![64 << 10],
                repeats: 2,
                budget: Budget::Time(Duration::from_millis(10)),
                latency_time: Duration::from_millis(10),
                fd_pass_time: Some(Duration::from_millis(10)),
            },
            uring: Some(UringPlan {
                repeats: 2,
                rows: 4,
                run: Duration::from_millis(10),
                latency: Duration::from_millis(10),
            }),
            ..plan(3, vec![Placement::SameCpu, Placement::CrossCpu])
        }
    }

    #[test]
    fn the_forecast_covers_every_family_the_plan_runs() {
        let p = everything();
        let families = p.families();
        // Every family is in this plan: a new one is added here, which makes the checks below
        // cover it.
        for f in &families {
            match f {
                Family::Memcpy
                | Family::Spawn
                | Family::FileEdge
                | Family::Wire
                | Family::Relay
                | Family::FdPass
                | Family::Uring
                | Family::Checks => {}
            }
        }
        assert_eq!(families.len(), 8, "{families:?}");
        // Each scheduled task's family is among them, and each has a share of the forecast.
        for task in p.schedule() {
            assert!(families.contains(&task.family()), "{task:?}");
        }
        for &f in &families {
            assert!(
                p.forecast_of(f) > Duration::ZERO,
                "{f:?} is missing from the forecast"
            );
        }
        let sum: Duration = families.iter().map(|&f| p.forecast_of(f)).sum();
        assert_eq!(p.forecast(), sum);
        // A family left out is neither listed nor forecast.
        let bare = Plan {
            spawn_time: None,
            file_edge_time: None,
            uring: None,
            relay: RelayPlan::none(),
            ..p.clone()
        };
        assert_eq!(
            bare.families(),
            [Family::Memcpy, Family::Wire, Family::Checks]
        );
        for f in [
            Family::Spawn,
            Family::FileEdge,
            Family::Relay,
            Family::FdPass,
            Family::Uring,
        ] {
            assert_eq!(bare.forecast_of(f), Duration::ZERO, "{f:?}");
        }
        assert!(bare.forecast() < p.forecast());
        // The io_uring runs: every row on every placement at each of its repeats.
        assert_eq!(p.uring_runs(), 2 * 4 * 2);
        assert_eq!(bare.uring_runs(), 0);
    }

    #[test]
    fn relay_tasks_rotate_their_paths_and_stop_at_their_repeats() {
        let both = vec![Placement::SameCpu, Placement::CrossCpu];
        let p = Plan {
            relay: RelayPlan {
                transports: Transport::ALL.to_vec(),
                chunks: vec![4 << 10, 1 << 20],
                repeats: 2,
                budget: Budget::Time(Duration::from_millis(10)),
                latency_time: Duration::from_millis(10),
                fd_pass_time: Some(Duration::from_millis(10)),
            },
            ..plan(3, both.clone())
        };
        let tasks = p.schedule();
        let relay: Vec<(usize, RelayPath)> = tasks
            .iter()
            .filter_map(|t| match *t {
                Task::Relay { repeat, path, .. } => Some((repeat, path)),
                _ => None,
            })
            .collect();
        assert_eq!(relay.len(), 2 * 2 * 3 * 2 * 2);
        assert!(relay.iter().all(|&(repeat, _)| repeat < 2), "{relay:?}");
        // Each cell's three paths back to back, the first rotating with repeat and chunk.
        let firsts: Vec<RelayPath> = relay.iter().step_by(3).map(|r| r.1).take(2).collect();
        assert_eq!(firsts, [RelayPath::Direct, RelayPath::Copy]);
        let count = |f: fn(&Task) -> bool| tasks.iter().filter(|t| f(t)).count();
        assert_eq!(
            count(|t| matches!(t, Task::RelayLatency { .. })),
            2 * 3 * 2 * 2
        );
        assert_eq!(count(|t| matches!(t, Task::FdPass { .. })), 2 * 2);
        assert!(p.forecast() > plan(3, both).forecast());
        let lines: Vec<String> = tasks.iter().map(|t| t.describe(&p)).collect();
        assert!(lines.contains(&"repeat 2/3: relay tcp on different CPUs".to_string()));
        assert!(lines.contains(&"repeat 1/3: fd passing on same CPU".to_string()));
        assert_eq!(
            RelayPath::rotated(4),
            [RelayPath::Copy, RelayPath::Splice, RelayPath::Direct]
        );
    }

    #[test]
    fn a_relay_gets_a_cpu_of_its_own_when_there_are_two() {
        let cross = Placement::CrossCpu;
        assert_eq!(
            cross.relay_cpus(&[2, 5], RelayPath::Copy),
            Some((2, Some(5), 2))
        );
        assert_eq!(
            cross.relay_cpus(&[2, 5], RelayPath::Direct),
            Some((2, None, 5))
        );
        let same = Placement::SameCpu.relay_cpus(&[2, 5], RelayPath::Splice);
        assert_eq!(same, Some((2, Some(2), 2)));
        assert_eq!(cross.relay_cpus(&[2], RelayPath::Splice), None);
        assert_eq!(Transport::Tcp.kind(), Kind::Loopback);
    }
}
