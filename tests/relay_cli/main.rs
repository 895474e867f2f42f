//! `procwire relay` run for real: a relay process between real clients and real targets (our
//! threads, and `socat`), over TCP and Unix stream sockets. Every wait is bounded by a generous
//! hang-guard; no test assumes a timing the kernel does not promise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

#[path = "../support/mod.rs"]
mod support;

use support::bounded::BOUND;
use support::{read_stream, write_stream};

mod faults;
mod library;
mod options;
mod transfer;

pub const PROCWIRE: &str = env!("CARGO_BIN_EXE_procwire");

/// A fresh path for a Unix socket under the temp dir.
pub fn sock_path(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "procwire-relay-cli-{}-{what}-{}.sock",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

/// A running `procwire relay`, its stderr collected line by line.
pub struct Relay {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    rx: mpsc::Receiver<String>,
    /// The address it listens on, as its start line says (a real port for `:0`).
    pub listen: String,
}

impl Relay {
    /// Starts `procwire relay ARGS` and waits for its start line.
    pub fn start(args: &[&str]) -> Relay {
        let mut r = Relay::spawn(args);
        let line = r.wait_line("the start line", |l| l.contains("listening on "));
        let rest = line.split("listening on ").nth(1).unwrap();
        r.listen = rest.split(',').next().unwrap().to_owned();
        r
    }

    /// Starts one listening on a free port of 127.0.0.1 and relaying to `to`, with `extra`.
    pub fn local(to: &str, extra: &[&str]) -> Relay {
        let mut args = vec!["--listen", "127.0.0.1:0", "--to", to];
        args.extend(extra);
        Relay::start(&args)
    }

    /// Starts it without waiting for anything.
    pub fn spawn(args: &[&str]) -> Relay {
        let mut child = Command::new(PROCWIRE)
            .arg("relay")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run procwire relay");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Relay {
            child,
            lines,
            rx,
            listen: String::new(),
        }
    }

    /// The next stderr line that `pred` accepts (earlier ones are skipped, and stay in
    /// [`Relay::log`]); panics after [`BOUND`].
    #[track_caller]
    pub fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + BOUND;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("{what}: no such line on stderr; so far:\n{}", self.log()),
            }
        }
    }

    /// Everything it printed on stderr so far.
    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIGTERM`.
    pub fn term(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }

    /// Waits (bounded) for it to exit; returns the status and all of stderr.
    #[track_caller]
    pub fn wait(mut self) -> (ExitStatus, String) {
        let end = Instant::now() + BOUND * 3;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // The reader thread sees EOF now; give it a moment to push the last lines.
                let t = Instant::now();
                while t.elapsed() < BOUND && self.rx.recv_timeout(BOUND).is_ok() {}
                return (st, self.log());
            }
            assert!(
                Instant::now() < end,
                "the relay did not exit:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connects a client to it.
    pub fn connect(&self) -> Conn {
        Conn::connect(&self.listen)
    }

    /// The `closed` lines printed so far.
    pub fn closed_lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(" closed "))
            .cloned()
            .collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field `key=value` of a `--stats` line.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!(" {key}=");
    let at = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    let rest = &line[at + pat.len()..];
    if key == "error" {
        return rest;
    }
    rest.split(' ').next().unwrap()
}

/// A stream connection, TCP or Unix.
pub struct Conn(pub OwnedFd);

impl Conn {
    /// Connects to `addr` in the relay's syntax (`HOST:PORT`, `unix:/path`, `unix:@name`).
    pub fn connect(addr: &str) -> Conn {
        Conn::try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
    }

    pub fn try_connect(addr: &str) -> std::io::Result<Conn> {
        use std::os::linux::net::SocketAddrExt;
        let fd: OwnedFd = if let Some(name) = addr.strip_prefix("unix:@") {
            let sa = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            UnixStream::connect_addr(&sa)?.into()
        } else if let Some(p) = addr.strip_prefix("unix:") {
            UnixStream::connect(p)?.into()
        } else {
            TcpStream::connect(addr)?.into()
        };
        Ok(Conn(fd))
    }

    pub fn file(&self) -> std::fs::File {
        std::fs::File::from(self.0.try_clone().unwrap())
    }

    pub fn shut_write(&self) {
        rustix::net::shutdown(&self.0, rustix::net::Shutdown::Write).unwrap();
    }

    /// Closes with a reset (`SO_LINGER` 0).
    pub fn reset(self) {
        rustix::net::sockopt::set_socket_linger(&self.0, Some(Duration::ZERO)).unwrap();
    }

    /// Reads until EOF or an error, with a hang-guard; returns the bytes and whether it ended
    /// in EOF (not an error).
    #[track_caller]
    pub fn read_to_end_bounded(&self) -> (Vec<u8>, bool) {
        rustix::net::sockopt::set_socket_timeout(
            &self.0,
            rustix::net::sockopt::Timeout::Recv,
            Some(BOUND),
        )
        .unwrap();
        let mut got = Vec::new();
        let r = self.file().read_to_end(&mut got);
        if let Err(e) = &r {
            assert_ne!(
                e.kind(),
                std::io::ErrorKind::WouldBlock,
                "nothing ended the connection within {BOUND:?}"
            );
        }
        (got, r.is_ok())
    }

    /// Sends one byte and waits for it to come back (through an echoing target).
    #[track_caller]
    pub fn round_trip(&self) {
        let mut f = self.file();
        f.write_all(b"x").unwrap();
        rustix::net::sockopt::set_socket_timeout(
            &self.0,
            rustix::net::sockopt::Timeout::Recv,
            Some(BOUND),
        )
        .unwrap();
        let mut b = [0u8];
        f.read_exact(&mut b).expect("the echo through the relay");
        assert_eq!(&b, b"x");
    }
}

/// A target listener: TCP on 127.0.0.1, a Unix path, or an abstract name.
pub enum Target {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
    Abstract(UnixListener, String),
}

impl Target {
    pub fn tcp() -> Target {
        Target::Tcp(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn unix() -> Target {
        let p = sock_path("target");
        Target::Unix(UnixListener::bind(&p).unwrap(), p)
    }

    pub fn abstract_() -> Target {
        use std::os::linux::net::SocketAddrExt;
        let name = format!(
            "procwire-relay-cli-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ fastrand::u64(..) as u128
        );
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        Target::Abstract(UnixListener::bind_addr(&sa).unwrap(), name)
    }

    /// Its address in the relay's syntax.
    pub fn addr(&self) -> String {
        match self {
            Target::Tcp(l) => l.local_addr().unwrap().to_string(),
            Target::Unix(_, p) => format!("unix:{}", p.display()),
            Target::Abstract(_, n) => format!("unix:@{n}"),
        }
    }

    pub fn accept(&self) -> Conn {
        let fd: OwnedFd = match self {
            Target::Tcp(l) => l.accept().unwrap().0.into(),
            Target::Unix(l, _) | Target::Abstract(l, _) => l.accept().unwrap().0.into(),
        };
        Conn(fd)
    }

    /// Serves every connection on a thread of its own with `f`, for ever (the thread ends
    /// with the test process).
    pub fn serve(self, f: impl Fn(Conn) + Send + Sync + 'static) -> String {
        let addr = self.addr();
        let f = Arc::new(f);
        thread::spawn(move || {
            loop {
                let c = self.accept();
                let f = f.clone();
                thread::spawn(move || f(c));
            }
        });
        addr
    }

    /// An echo server.
    pub fn echo(self) -> String {
        self.serve(|c| {
            let mut r = c.file();
            let mut w = c.file();
            let _ = std::io::copy(&mut r, &mut w);
            let _ = rustix::net::shutdown(&c.0, rustix::net::Shutdown::Write);
        })
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Target::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The exchange protocol of the byte-exact tests: the client sends a 16-byte header (seed,
/// bytes wanted back), then `up` bytes of `Stream(seed)`, then shuts its write side; the
/// target answers with `down` bytes of `Stream(seed + 1)` while it reads, shuts its write side,
/// and reports what arrived.
pub fn exchange_server(results: mpsc::Sender<(u64, usize)>) -> impl Fn(Conn) + Send + Sync {
    let results = Mutex::new(results);
    move |c: Conn| {
        let mut r = c.file();
        let mut head = [0u8; 16];
        if r.read_exact(&mut head).is_err() {
            return;
        }
        let seed = u64::from_le_bytes(head[..8].try_into().unwrap());
        let down = u64::from_le_bytes(head[8..].try_into().unwrap()) as usize;
        let mut w = c.file();
        let fd = c.0.try_clone().unwrap();
        let writer = thread::spawn(move || {
            write_stream(&mut w, seed + 1, down, 65536 + 17);
            rustix::net::shutdown(&fd, rustix::net::Shutdown::Write).unwrap();
        });
        let got = read_stream(&mut r, seed, "the bytes at the target");
        writer.join().unwrap();
        let _ = results.lock().unwrap().send((seed, got));
    }
}

/// A client of [`exchange_server`]: sends `up`, receives and checks `down`.
#[track_caller]
pub fn exchange(addr: &str, seed: u64, up: usize, down: usize) {
    exchange_after(addr, &[], seed, up, down);
}

/// [`exchange`], with `prefix` sent first (for a target that serves several protocols).
#[track_caller]
pub fn exchange_after(addr: &str, prefix: &[u8], seed: u64, up: usize, down: usize) {
    let c = Conn::connect(addr);
    let mut w = c.file();
    let fd = c.0.try_clone().unwrap();
    let prefix = prefix.to_vec();
    let writer = thread::spawn(move || {
        w.write_all(&prefix).unwrap();
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&seed.to_le_bytes());
        head[8..].copy_from_slice(&(down as u64).to_le_bytes());
        w.write_all(&head).unwrap();
        write_stream(&mut w, seed, up, 100_000 + 3);
        rustix::net::shutdown(&fd, rustix::net::Shutdown::Write).unwrap();
    });
    let got = read_stream(&mut c.file(), seed + 1, "the bytes back at the client");
    writer.join().unwrap();
    assert_eq!(got, down, "bytes back at the client");
}

/// Descriptors of process `pid`: (pipes, everything else).
pub fn fd_counts(pid: u32) -> (usize, usize) {
    let mut pipes = 0;
    let mut other = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let Ok(e) = e else { continue };
        match std::fs::read_link(e.path()) {
            Ok(l) if l.to_string_lossy().starts_with("pipe:") => pipes += 1,
            Ok(_) => other += 1,
            Err(_) => {}
        }
    }
    (pipes, other)
}
