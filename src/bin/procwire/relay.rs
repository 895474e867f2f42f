//! `procwire relay`: a TCP / Unix stream forwarder on [`procwire::relay::tokio`], each
//! connection spliced through pipes from one shared pool (or copied), with correct half-close,
//! byte counts that survive errors, and a graceful stop.
//!
//! One tokio runtime; one task per connection (connect to `--to`, then relay both ways); the
//! accept loop stops on SIGTERM or SIGINT and the live connections get `--grace` to finish (a
//! second signal cuts them off at once). Exit status: 0 after a graceful stop (or a good
//! `--once`), 1 for a bind/listen failure (or a failed `--once`), 2 for a usage error.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::ToSocketAddrs;
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use procwire::relay::tokio::{Progress, Relay};
use procwire::relay::{DEFAULT_MAX_PIPES, Mode, Options, PipePool, Report};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

use crate::units::{format_duration, format_size, parse_duration, parse_size};
use crate::{CmdResult, Status};

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Splice where both ends allow it, else copy (with --tune: what the bench measured)
    Auto,
    /// Splice or fail: a connection that cannot get a pipe, or a pair the kernel refuses, is
    /// an error
    Splice,
    /// Always copy through a buffer
    Copy,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
ADDR:  HOST:PORT | [IPV6]:PORT | unix:/path/to/socket | unix:@abstract-name

Exit status: 0 after a graceful stop (SIGTERM/SIGINT) or a good --once; 1 when listening fails \
or the --once connection failed; 2 for a usage error.

Example: procwire relay --listen 127.0.0.1:8080 --to unix:/run/app.sock --stats")]
pub struct Args {
    /// Where to accept connections
    #[arg(long, value_name = "ADDR", value_parser = Addr::parse)]
    listen: Addr,
    /// Where to relay each connection to
    #[arg(long, value_name = "ADDR", value_parser = Addr::parse)]
    to: Addr,
    /// auto: splice where both ends allow, else copy; splice: splice or fail; copy: always copy
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    /// Pipe capacity asked for the splice path (the granted size is logged)
    #[arg(long, value_name = "SIZE", default_value = "256K", value_parser = size)]
    pipe_size: usize,
    /// Copy-path buffer per direction
    #[arg(long, value_name = "SIZE", default_value = "256K", value_parser = size)]
    buffer: usize,
    /// Refuse (close at once) connections beyond N live ones
    #[arg(long, value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Give up connecting to --to after this
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    connect_timeout: Duration,
    /// Close a connection after no byte moved either way for this long (default: never)
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    idle_timeout: Option<Duration>,
    /// On SIGTERM/SIGINT, stop accepting and let live connections finish for this long
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    grace: Duration,
    /// Relay one connection, then exit (0, or 1 if it failed)
    #[arg(long)]
    once: bool,
    /// One line per closed connection on stderr, and totals on exit
    #[arg(long)]
    stats: bool,
    /// Replace a stale Unix socket at the --listen path (one nothing accepts on)
    #[arg(long)]
    unlink: bool,
    /// With --mode auto, take the path `procwire bench --json` measured best (its relay_auto)
    #[arg(long, value_name = "FILE")]
    tune: Option<PathBuf>,
}

/// The longest duration any option takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s, MAX_DURATION)
}

/// A buffer or pipe size: 1 byte to 1 GiB.
fn size(s: &str) -> Result<usize, String> {
    let v = parse_size(s)?;
    if v == 0 || v > 1 << 30 {
        return Err(format!("{s:?}: give 1 byte to 1G"));
    }
    Ok(v as usize)
}

/// A `--listen` or `--to` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    /// `HOST:PORT` or `[IPV6]:PORT`, resolved when used.
    Tcp(String),
    /// `unix:/path`.
    Unix(PathBuf),
    /// `unix:@name`: Linux's abstract namespace.
    Abstract(Vec<u8>),
}

impl Addr {
    fn parse(s: &str) -> Result<Addr, String> {
        if let Some(rest) = s.strip_prefix("unix:") {
            return match rest.strip_prefix('@') {
                Some("") => Err(format!("{s:?}: an abstract socket needs a name after '@'")),
                Some(name) => Ok(Addr::Abstract(name.as_bytes().to_vec())),
                None if rest.is_empty() => Err(format!("{s:?}: give a path after 'unix:'")),
                None => Ok(Addr::Unix(PathBuf::from(rest))),
            };
        }
        let bad = || {
            format!(
                "{s:?} is not an address; give HOST:PORT, [IPV6]:PORT, unix:/path or \
                 unix:@name"
            )
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        port.parse::<u16>().map_err(|_| {
            format!("{s:?}: {port:?} is not a port (0 to 65535); give HOST:PORT or [IPV6]:PORT")
        })?;
        let v6 = host.starts_with('[');
        if host.is_empty()
            || v6 != host.ends_with(']')
            || (!v6 && host.contains(':'))
            || host == "[]"
        {
            return Err(bad());
        }
        Ok(Addr::Tcp(s.to_owned()))
    }

    fn is_tcp(&self) -> bool {
        matches!(self, Addr::Tcp(_))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(s) => f.write_str(s),
            Addr::Unix(p) => write!(f, "unix:{}", p.display()),
            Addr::Abstract(n) => write!(f, "unix:@{}", String::from_utf8_lossy(n)),
        }
    }
}

/// The listening socket.
enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl Listener {
    /// Binds and listens; a failure is status 1, naming the address and the OS error.
    fn bind(addr: &Addr, unlink: bool) -> Result<(Listener, String), Status> {
        let fail = |e: io::Error| Status::new(1, format!("cannot listen on {addr}: {e}"));
        match addr {
            Addr::Tcp(s) => {
                let addrs: Vec<_> = s.to_socket_addrs().map_err(fail)?.collect();
                let l = std::net::TcpListener::bind(&addrs[..]).map_err(fail)?;
                l.set_nonblocking(true).map_err(fail)?;
                let local = l.local_addr().map_err(fail)?.to_string();
                Ok((
                    Listener::Tcp(tokio::net::TcpListener::from_std(l).map_err(fail)?),
                    local,
                ))
            }
            Addr::Unix(path) => {
                replace_stale(addr, path, unlink)?;
                let l = std::os::unix::net::UnixListener::bind(path).map_err(fail)?;
                l.set_nonblocking(true).map_err(fail)?;
                let l = tokio::net::UnixListener::from_std(l).map_err(fail)?;
                Ok((Listener::Unix(l), addr.to_string()))
            }
            Addr::Abstract(name) => {
                let sa = std::os::unix::net::SocketAddr::from_abstract_name(name).map_err(fail)?;
                let l = std::os::unix::net::UnixListener::bind_addr(&sa).map_err(fail)?;
                l.set_nonblocking(true).map_err(fail)?;
                let l = tokio::net::UnixListener::from_std(l).map_err(fail)?;
                Ok((Listener::Unix(l), addr.to_string()))
            }
        }
    }

    /// The next connection and its peer's name.
    async fn accept(&self) -> io::Result<(OwnedFd, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((s.into_std()?.into(), peer.to_string()))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((s.into_std()?.into(), "unix".to_owned()))
            }
        }
    }
}

/// A path that exists at `--listen unix:PATH`: a stale socket (connecting is refused) is
/// removed with `--unlink`; anything else is an error.
fn replace_stale(addr: &Addr, path: &Path, unlink: bool) -> Result<(), Status> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(Status::new(
            1,
            format!(
                "cannot listen on {addr}: the path exists and is not a socket; remove it or pick another path"
            ),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(Status::new(
            1,
            format!("cannot listen on {addr}: another process is listening on it"),
        )),
        Err(_) if unlink => std::fs::remove_file(path).map_err(|e| {
            Status::new(
                1,
                format!("cannot listen on {addr}: removing the stale socket: {e}"),
            )
        }),
        Err(e) => Err(Status::new(
            1,
            format!(
                "cannot listen on {addr}: a stale socket is in the way (connecting to it: {e}); \
                 pass --unlink to replace it"
            ),
        )),
    }
}

/// Connects to `--to` within `timeout`.
async fn connect(to: &Addr, timeout: Duration) -> io::Result<OwnedFd> {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "connecting to {to}: no answer within {} (--connect-timeout)",
                format_duration(timeout)
            ),
        )
    };
    let named = |e: io::Error| io::Error::new(e.kind(), format!("connecting to {to}: {e}"));
    match to {
        Addr::Tcp(s) => {
            match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(s)).await {
                Ok(r) => Ok(r.map_err(named)?.into_std().map_err(named)?.into()),
                Err(_) => Err(timed_out()),
            }
        }
        Addr::Unix(_) | Addr::Abstract(_) => {
            let sa = match to {
                Addr::Unix(p) => rustix::net::SocketAddrUnix::new(p.as_path()),
                Addr::Abstract(n) => rustix::net::SocketAddrUnix::new_abstract_name(n),
                Addr::Tcp(_) => unreachable!("matched above"),
            }
            .map_err(|e| named(e.into()))?;
            // A full backlog is EAGAIN (AF_UNIX has no connect in progress): try again until
            // the deadline.
            let mut pause = Duration::from_millis(1);
            loop {
                let fd = rustix::net::socket_with(
                    rustix::net::AddressFamily::UNIX,
                    rustix::net::SocketType::STREAM,
                    rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
                    None,
                )
                .map_err(|e| named(e.into()))?;
                match rustix::net::connect(&fd, &sa) {
                    Ok(()) => return Ok(fd),
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(named(e.into())),
                }
                if tokio::time::Instant::now() + pause >= deadline {
                    tokio::time::sleep_until(deadline).await;
                    return Err(timed_out());
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// The `relay_auto` section of a `procwire bench --json` file: the path `auto` takes for
/// `transport` ("tcp" or "unix"), and why.
fn tuned(file: &Path, transport: &str) -> Result<(Mode, String), Status> {
    let fail = |what: String| Status::new(1, format!("--tune {}: {what}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not JSON ({e}); give a `procwire bench --json` file"
        ))
    })?;
    let schema = v["schema"].as_str().unwrap_or("none");
    if !matches!(schema, "procwire-bench/2" | "procwire-bench/3") {
        return Err(fail(format!(
            "schema {schema:?} is not a procwire bench result (procwire-bench/2 or /3)"
        )));
    }
    let auto = &v["relay_auto"];
    if !auto.is_object() {
        return Err(fail(
            "no relay_auto section (the relay bench family did not run); rerun `procwire \
             bench --json` with the relay rows"
                .to_owned(),
        ));
    }
    let mode = match auto[transport].as_str() {
        Some("splice") => Mode::Auto,
        Some("copy") => Mode::Copy,
        other => {
            return Err(fail(format!(
                "relay_auto.{transport} is {other:?}, not \"splice\" or \"copy\""
            )));
        }
    };
    Ok((mode, auto["why"].as_str().unwrap_or("").to_owned()))
}

/// Failed connections to `--to` shown one by one in each window of [`Shown::WINDOW`]; the
/// rest are counted and summed up in one line per window.
const SHOWN_PER_WINDOW: u32 = 5;

/// The rate limit on the failed-connect lines: a storm of failures (a target down under a
/// busy listener) prints at most [`SHOWN_PER_WINDOW`] lines plus one count a second. Sans-IO:
/// it says what to print, the caller prints and says when.
#[derive(Debug)]
struct Shown {
    /// The current window started here.
    since: Instant,
    /// Lines printed in it.
    shown: u32,
    /// Failures not printed in it.
    hidden: u64,
}

impl Shown {
    const WINDOW: Duration = Duration::from_secs(1);

    fn new(now: Instant) -> Shown {
        Shown {
            since: now,
            shown: 0,
            hidden: 0,
        }
    }

    /// Ends the window if it is over: the failures it hid, to print as one count (0: none).
    fn tick(&mut self, now: Instant) -> u64 {
        if now.saturating_duration_since(self.since) < Shown::WINDOW {
            return 0;
        }
        self.since = now;
        self.shown = 0;
        std::mem::take(&mut self.hidden)
    }

    /// One more failure at `now`: the count of the window that just ended, if any, and
    /// whether this failure gets a line of its own.
    fn failed(&mut self, now: Instant) -> (u64, bool) {
        let ended = self.tick(now);
        if self.shown < SHOWN_PER_WINDOW {
            self.shown += 1;
            (ended, true)
        } else {
            self.hidden += 1;
            (ended, false)
        }
    }

    /// What is still hidden (at exit).
    fn rest(&mut self) -> u64 {
        std::mem::take(&mut self.hidden)
    }
}

/// The line for `n` failures that were not shown one by one.
fn hidden_line(n: u64, to: &Addr) -> String {
    format!(
        "procwire relay: {n} more connection(s) could not reach {to} (at most \
         {SHOWN_PER_WINDOW} shown a second; --stats has one line per connection)"
    )
}

/// The line for a failed connect to `--to`: what failed, where, what to try.
fn connect_failed_line(peer: &str, to: &Addr, e: &io::Error) -> String {
    let hint = match e.kind() {
        io::ErrorKind::TimedOut => "is reachable, or raise --connect-timeout",
        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
            "is up and listening, or fix --to"
        }
        io::ErrorKind::PermissionDenied => "lets us connect (permissions), or fix --to",
        _ => "is up, or fix --to",
    };
    format!("procwire relay: dropped the connection from {peer}: {e}; check that {to} {hint}")
}

/// A live connection, for `--stats` if it is cut off.
struct Live {
    peer: String,
    progress: Progress,
    start: Instant,
}

/// What `--stats` adds up.
#[derive(Default)]
struct Totals {
    connections: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    to_target: AtomicU64,
    from_target: AtomicU64,
}

/// The per-connection settings every task shares.
struct Shared {
    to: Addr,
    options: Options,
    connect_timeout: Duration,
    idle: Option<Duration>,
    stats: bool,
    /// Connections accepted and not yet closed (what `--max-connections` bounds).
    active: AtomicU64,
    live: Mutex<HashMap<u64, Live>>,
    totals: Totals,
    /// The rate limit on failed-connect lines.
    shown: Mutex<Shown>,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connect to `--to` failed: one stderr line, with or without `--stats`, within the
    /// rate limit (the lines a window hid are counted at its end).
    fn connect_failed(&self, peer: &str, e: &io::Error) {
        let (ended, show) = self.shown().failed(Instant::now());
        if ended > 0 {
            eprintln!("{}", hidden_line(ended, &self.to));
        }
        if show {
            eprintln!("{}", connect_failed_line(peer, &self.to, e));
        }
    }

    /// Prints the count of the hidden failures of a window that is over (`at_exit`: of the
    /// current one too).
    fn flush_hidden(&self, at_exit: bool) {
        let n = {
            let mut shown = self.shown();
            if at_exit {
                shown.rest()
            } else {
                shown.tick(Instant::now())
            }
        };
        if n > 0 {
            eprintln!("{}", hidden_line(n, &self.to));
        }
    }

    /// Counts a closed connection, and prints its `--stats` line.
    fn closed(&self, peer: &str, up: u64, down: u64, paths: &str, took: Duration, error: &str) {
        // The slot is free before the line says so.
        self.active.fetch_sub(1, Ordering::Relaxed);
        let t = &self.totals;
        t.connections.fetch_add(1, Ordering::Relaxed);
        t.to_target.fetch_add(up, Ordering::Relaxed);
        t.from_target.fetch_add(down, Ordering::Relaxed);
        if error != "none" {
            t.failed.fetch_add(1, Ordering::Relaxed);
        }
        if self.stats {
            eprintln!(
                "procwire relay: closed peer={peer} to_target={up} from_target={down} \
                 path={paths} duration={} error={error}",
                format_duration(took)
            );
        }
    }

    /// One connection: connect to `--to`, relay, account. Returns whether it went well.
    async fn serve(self: Arc<Shared>, id: u64, client: OwnedFd, peer: String) -> bool {
        let start = Instant::now();
        let target = match connect(&self.to, self.connect_timeout).await {
            Ok(t) => t,
            Err(e) => {
                // Said (or counted) before the client sees its connection close.
                self.connect_failed(&peer, &e);
                drop(client);
                self.closed(&peer, 0, 0, "none", start.elapsed(), &e.to_string());
                return false;
            }
        };
        let progress = Progress::new();
        self.live().insert(
            id,
            Live {
                peer: peer.clone(),
                progress: progress.clone(),
                start,
            },
        );
        let mut relay = Relay::new(self.options.clone());
        relay.idle_timeout(self.idle).progress(progress);
        let report: Report = relay.run(client, target).await;
        self.live().remove(&id);
        let (up, down) = (report.a_to_b(), report.b_to_a());
        let paths = format!("{}/{}", up.path(), down.path());
        let error = report
            .error()
            .map_or("none".to_owned(), ToString::to_string);
        self.closed(
            &peer,
            up.bytes(),
            down.bytes(),
            &paths,
            start.elapsed(),
            &error,
        );
        report.error().is_none()
    }
}

pub fn run(args: &Args, _out: &mut dyn Write) -> CmdResult {
    // Before the runtime: a --mode splice without pipes fails here, whatever the runtime needs.
    let (options, banner) = setup(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| io::Error::new(e.kind(), format!("starting the tokio runtime: {e}")))?;
    runtime.block_on(serve(args, options, banner))
}

/// The relay's options (mode after --tune, the shared pipe pool), and what the start line says
/// of them (the granted pipe size).
fn setup(args: &Args) -> Result<(Options, String), Status> {
    let transport = if args.listen.is_tcp() || args.to.is_tcp() {
        "tcp"
    } else {
        "unix"
    };
    let (mode, mode_note) = match (args.mode, &args.tune) {
        (ModeArg::Auto, Some(file)) => {
            let (mode, why) = tuned(file, transport)?;
            let path = if mode == Mode::Copy { "copy" } else { "splice" };
            (
                mode,
                format!(
                    "auto -> {path} for {transport} (from {}: {why})",
                    file.display()
                ),
            )
        }
        (ModeArg::Auto, None) => (Mode::Auto, "auto (splice where both ends allow)".to_owned()),
        (ModeArg::Splice, _) => (Mode::Splice, "splice".to_owned()),
        (ModeArg::Copy, _) => (Mode::Copy, "copy".to_owned()),
    };
    let pool = PipePool::new(args.pipe_size, DEFAULT_MAX_PIPES);
    let pipes = if mode == Mode::Copy {
        format!("copy buffer {}", format_size(args.buffer as u64))
    } else {
        match pool.take() {
            Ok(p) => {
                let granted = p.size();
                pool.give(p, 0);
                format!(
                    "pipe size asked {}, granted {} (pool of {DEFAULT_MAX_PIPES}), copy buffer {}",
                    format_size(args.pipe_size as u64),
                    format_size(granted as u64),
                    format_size(args.buffer as u64)
                )
            }
            Err(no) if mode == Mode::Splice => {
                return Err(Status::new(
                    1,
                    format!(
                        "--mode splice: no pipe to splice through ({no}); use --mode auto or copy"
                    ),
                ));
            }
            Err(no) => format!("no pipe ({no}): connections copy"),
        }
    };
    let mut options = Options::new();
    options
        .mode(mode)
        .buffer(args.buffer)
        .pipe_size(args.pipe_size)
        .pool(pool);

    Ok((options, format!("mode {mode_note}; {pipes}")))
}

async fn serve(args: &Args, options: Options, banner: String) -> CmdResult {
    let signals = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| io::Error::new(e.kind(), format!("handling {name}: {e}")))
    };
    let mut term = signals(SignalKind::terminate(), "SIGTERM")?;
    let mut int = signals(SignalKind::interrupt(), "SIGINT")?;
    let (listener, local) = Listener::bind(&args.listen, args.unlink)?;
    let _cleanup = RemoveOnDrop(match &args.listen {
        Addr::Unix(p) => Some(p.clone()),
        _ => None,
    });
    eprintln!(
        "procwire relay: listening on {local}, relaying to {}; {banner}",
        args.to
    );

    let shared = Arc::new(Shared {
        to: args.to.clone(),
        options,
        connect_timeout: args.connect_timeout,
        idle: args.idle_timeout,
        stats: args.stats,
        active: AtomicU64::new(0),
        live: Mutex::new(HashMap::new()),
        totals: Totals::default(),
        shown: Mutex::new(Shown::new(Instant::now())),
    });
    // Ends the failed-connect lines' windows: a hidden count is printed within a second of
    // its window's end even if no failure follows.
    let mut windows = tokio::time::interval(Shown::WINDOW);
    windows.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    let max = u64::from(args.max_connections);
    let mut listener = Some(listener);
    let mut once_result = None;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = windows.tick() => shared.flush_hidden(false),
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if args.once {
                    once_result = Some(done.unwrap_or(false));
                    break;
                }
            }
            accepted = accept(listener.as_ref()) => {
                let (client, peer) = match accepted {
                    Ok(c) => c,
                    // EMFILE, ECONNABORTED...: this one is lost, the listener goes on.
                    Err(e) => {
                        eprintln!("procwire relay: accept on {local}: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let active = shared.active.load(Ordering::Relaxed);
                if active >= max {
                    drop(client);
                    shared.totals.refused.fetch_add(1, Ordering::Relaxed);
                    if args.stats {
                        eprintln!(
                            "procwire relay: refused peer={peer} live={active} \
                             (--max-connections {max})"
                        );
                    }
                    continue;
                }
                if args.once {
                    // One connection: nothing more is queued behind it.
                    listener = None;
                }
                next_id += 1;
                shared.active.fetch_add(1, Ordering::Relaxed);
                tasks.spawn(shared.clone().serve(next_id, client, peer));
            }
        }
    }
    drop(listener);
    if once_result.is_none() && !tasks.is_empty() {
        if args.stats {
            eprintln!(
                "procwire relay: stopping; {} live connection(s) get {}",
                tasks.len(),
                format_duration(args.grace)
            );
        }
        let grace = tokio::time::sleep(args.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                done = tasks.join_next() => match done {
                    Some(r) => if args.once { once_result = Some(r.unwrap_or(false)) },
                    None => break,
                },
                _ = &mut grace => break,
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        tasks.shutdown().await;
        let cut: Vec<Live> = shared.live().drain().map(|(_, l)| l).collect();
        for l in cut {
            shared.closed(
                &l.peer,
                l.progress.a_to_b(),
                l.progress.b_to_a(),
                "-",
                l.start.elapsed(),
                "cut off at the end of the grace period",
            );
        }
    }
    shared.flush_hidden(true);
    if args.stats {
        let t = &shared.totals;
        eprintln!(
            "procwire relay: total connections={} failed={} refused={} to_target={} \
             from_target={}",
            t.connections.load(Ordering::Relaxed),
            t.failed.load(Ordering::Relaxed),
            t.refused.load(Ordering::Relaxed),
            t.to_target.load(Ordering::Relaxed),
            t.from_target.load(Ordering::Relaxed),
        );
    }
    match once_result {
        Some(false) => Err(Status::new(1, "the --once connection failed".to_owned()).into()),
        _ => Ok(()),
    }
}

/// The next connection on `listener`, or never when there is none any more.
async fn accept(listener: Option<&Listener>) -> io::Result<(OwnedFd, String)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Removes the Unix socket we listened on when we stop.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_connects_show_a_few_lines_a_second_and_count_the_rest() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut s = Shown::new(t0);
        // A storm: the first few get a line each, the rest are counted.
        for i in 0..SHOWN_PER_WINDOW {
            assert_eq!(s.failed(at(u64::from(i))), (0, true));
        }
        for i in 0..100 {
            assert_eq!(s.failed(at(10 + i)), (0, false));
        }
        // Nothing to say before the window is over.
        assert_eq!(s.tick(at(999)), 0);
        // Its end reports the count once; the next window shows lines again.
        assert_eq!(s.tick(at(1000)), 100);
        assert_eq!(s.tick(at(1500)), 0);
        assert_eq!(s.failed(at(1600)), (0, true));
        // A failure that comes after a window with hidden ones brings its count along.
        for i in 1..SHOWN_PER_WINDOW {
            assert_eq!(s.failed(at(1600 + u64::from(i))), (0, true));
        }
        assert_eq!(s.failed(at(1700)), (0, false));
        assert_eq!(s.failed(at(2700)), (1, true));
        // At exit, the window's hidden ones.
        for _ in 0..SHOWN_PER_WINDOW {
            s.failed(at(2800));
        }
        assert_eq!(s.rest(), 1);
        assert_eq!(s.rest(), 0);
    }

    #[test]
    fn a_failed_connect_line_says_what_where_and_what_to_try() {
        let to = Addr::Tcp("127.0.0.1:9".into());
        let e = io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connecting to 127.0.0.1:9: Connection refused (os error 111)",
        );
        let l = connect_failed_line("127.0.0.1:5555", &to, &e);
        for part in [
            "127.0.0.1:5555",
            "connecting to 127.0.0.1:9",
            "refused",
            "fix --to",
        ] {
            assert!(l.contains(part), "{part}: {l}");
        }
        let e = io::Error::new(io::ErrorKind::TimedOut, "no answer");
        assert!(connect_failed_line("p", &to, &e).contains("--connect-timeout"));
        assert!(hidden_line(7, &to).contains("7 more"));
    }

    #[test]
    fn addresses_parse_in_every_form_and_bad_ones_say_why() {
        assert_eq!(
            Addr::parse("127.0.0.1:80"),
            Ok(Addr::Tcp("127.0.0.1:80".into()))
        );
        assert_eq!(Addr::parse("[::1]:0"), Ok(Addr::Tcp("[::1]:0".into())));
        assert_eq!(
            Addr::parse("localhost:8080"),
            Ok(Addr::Tcp("localhost:8080".into()))
        );
        assert_eq!(
            Addr::parse("unix:/run/x.sock"),
            Ok(Addr::Unix("/run/x.sock".into()))
        );
        assert_eq!(
            Addr::parse("unix:@name"),
            Ok(Addr::Abstract(b"name".to_vec()))
        );
        for bad in [
            "",
            "80",
            ":80",
            "::1:80",
            "[::1]",
            "host:http",
            "host:70000",
            "unix:",
            "unix:@",
            "[]:1",
        ] {
            let e = Addr::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
