//! `relay::relay` on real sockets (127.0.0.1 and Unix stream sockets): byte-exact both ways in
//! each mode and pairing, half-close in both directions (also against a real `socat`), no
//! SIGPIPE, and abrupt resets that neither stall, panic nor leak a descriptor.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use procwire::relay::{End, Mode, NoPipe, Options, Path, PipePool, Report, Why, relay};
use rustix::net::{Shutdown, sockopt};

use crate::support::bounded;
use crate::support::{HELPER_OK, in_own_process, read_stream, write_stream};

#[derive(Clone, Copy, Debug)]
enum Net {
    Tcp,
    Unix,
}

enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    fn connect(&self) -> File {
        let fd: OwnedFd = match self {
            Addr::Tcp(a) => TcpStream::connect(a).unwrap().into(),
            Addr::Unix(p) => UnixStream::connect(p).unwrap().into(),
        };
        File::from(fd)
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    fn new(net: Net) -> Listener {
        static N: AtomicUsize = AtomicUsize::new(0);
        match net {
            Net::Tcp => Listener::Tcp(TcpListener::bind("127.0.0.1:0").unwrap()),
            Net::Unix => {
                let path = std::env::temp_dir().join(format!(
                    "procwire-relay-{}-{}.sock",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                let _ = std::fs::remove_file(&path);
                Listener::Unix(UnixListener::bind(&path).unwrap(), path)
            }
        }
    }

    fn addr(&self) -> Addr {
        match self {
            Listener::Tcp(l) => Addr::Tcp(l.local_addr().unwrap()),
            Listener::Unix(_, p) => Addr::Unix(p.clone()),
        }
    }

    fn accept(&self) -> File {
        let fd: OwnedFd = match self {
            Listener::Tcp(l) => l.accept().unwrap().0.into(),
            Listener::Unix(l, _) => l.accept().unwrap().0.into(),
        };
        File::from(fd)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A relay thread: accepts one connection on `front`, connects to `back`, relays.
fn relay_one(front: Listener, back: Addr, options: Options) -> bounded::Bounded<Report> {
    bounded::spawn(move || {
        let a = front.accept();
        let b = back.connect();
        relay(&a, &b, &options)
    })
}

fn shut_write(f: &File) {
    rustix::net::shutdown(f, Shutdown::Write).unwrap();
}

/// Sends `send` bytes of stream `seed_out` (then shuts the write side) while reading stream
/// `seed_in` to EOF; returns the bytes received.
fn both_ways(conn: File, send: usize, seed_out: u64, seed_in: u64, what: &str) -> usize {
    let mut w = conn.try_clone().unwrap();
    let writer = thread::spawn(move || {
        write_stream(&mut w, seed_out, send, 65_537);
        shut_write(&w);
    });
    let mut r = conn;
    let got = read_stream(&mut r, seed_in, what);
    writer.join().unwrap();
    got
}

fn assert_clean(report: &Report, up: usize, down: usize) {
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.a_to_b().bytes(), up as u64, "{report}");
    assert_eq!(report.b_to_a().bytes(), down as u64, "{report}");
    for o in [report.a_to_b(), report.b_to_a()] {
        assert!(matches!(o.end(), End::Eof), "{report}");
    }
}

/// Client -> relay -> server, `up` bytes one way and `down` the other, at the same time.
fn exchange(front: Net, back: Net, options: &Options, up: usize, down: usize) -> Report {
    let (fl, bl) = (Listener::new(front), Listener::new(back));
    let (faddr, baddr) = (fl.addr(), bl.addr());
    let relayed = relay_one(fl, baddr, options.clone());
    let server = bounded::spawn(move || both_ways(bl.accept(), down, 2, 1, "server got"));
    let client = bounded::spawn(move || both_ways(faddr.connect(), up, 1, 2, "client got"));
    assert_eq!(client.join("client"), down);
    assert_eq!(server.join("server"), up);
    relayed.join("relay")
}

fn mode(m: Mode) -> Options {
    let mut o = Options::new();
    o.mode(m);
    o
}

#[test]
fn byte_exact_both_ways_in_each_mode_and_pairing() {
    let seed = fastrand::u64(..);
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    for (front, back) in [
        (Net::Tcp, Net::Tcp),
        (Net::Unix, Net::Unix),
        (Net::Tcp, Net::Unix),
    ] {
        for (m, path) in [(Mode::Splice, Path::Splice), (Mode::Copy, Path::Copy)] {
            let mut sizes = vec![
                (0, 0),
                (1, 0),
                (0, 1),
                (rng.usize(..1 << 20), rng.usize(..1 << 20)),
            ];
            sizes.push((rng.usize(..64 << 20), rng.usize(..64 << 20)));
            for (up, down) in sizes {
                let what = format!("{front:?}->{back:?} {m:?} up {up} down {down}");
                println!("{what}");
                let r = exchange(front, back, &mode(m), up, down);
                assert_clean(&r, up, down);
                assert_eq!(
                    (r.a_to_b().path(), r.b_to_a().path()),
                    (path, path),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn a_client_that_shuts_its_write_side_still_gets_the_whole_response() {
    for m in [Mode::Auto, Mode::Copy] {
        let (fl, bl) = (Listener::new(Net::Tcp), Listener::new(Net::Tcp));
        let (faddr, baddr) = (fl.addr(), bl.addr());
        let relayed = relay_one(fl, baddr, mode(m));
        // The server answers only after the request's EOF, then closes outright.
        let server = bounded::spawn(move || {
            let mut c = bl.accept();
            let got = read_stream(&mut c, 1, "request");
            write_stream(&mut c, 2, 5 << 20, 100_000);
            got
        });
        let client = bounded::spawn(move || {
            let mut c = faddr.connect();
            write_stream(&mut c, 1, 300_000, 4096);
            shut_write(&c);
            read_stream(&mut c, 2, "response")
        });
        assert_eq!(client.join("client"), 5 << 20);
        assert_eq!(server.join("server"), 300_000);
        assert_clean(&relayed.join("relay"), 300_000, 5 << 20);
    }
}

#[test]
fn a_server_that_closes_after_sending_has_every_byte_delivered() {
    // The server sends and closes at once, without reading: the relay reaches EOF with bytes
    // still in its pipe, and must deliver them before shutting the client's side.
    let (fl, bl) = (Listener::new(Net::Unix), Listener::new(Net::Tcp));
    let (faddr, baddr) = (fl.addr(), bl.addr());
    let relayed = relay_one(fl, baddr, Options::new());
    let server = bounded::spawn(move || {
        let mut c = bl.accept();
        write_stream(&mut c, 3, 7 << 20, 1 << 20);
    });
    let client = bounded::spawn(move || {
        let mut c = faddr.connect();
        let got = read_stream(&mut c, 3, "from a closing server");
        // Our side is still open after the server's EOF: the relay goes on until we shut.
        shut_write(&c);
        got
    });
    server.join("server");
    assert_eq!(client.join("client"), 7 << 20);
    let r = relayed.join("relay");
    assert_clean(&r, 0, 7 << 20);
    assert_eq!(r.b_to_a().path(), Path::Splice, "{r}");
}

#[test]
fn socat_as_the_client_sees_our_half_close() {
    let (fl, bl) = (Listener::new(Net::Tcp), Listener::new(Net::Unix));
    let Addr::Tcp(front) = fl.addr() else {
        unreachable!()
    };
    let baddr = bl.addr();
    let relayed = relay_one(fl, baddr, Options::new());
    let (up, down) = (3 << 20, 9 << 20);
    let server = bounded::spawn(move || {
        let mut c = bl.accept();
        let got = read_stream(&mut c, 4, "request from socat");
        write_stream(&mut c, 5, down, 65_536);
        got
    });
    // -t: how long socat waits for the other direction after one ended; generous, so a slow
    // machine cannot truncate the response (it is a hang guard, not a timing).
    let mut socat = Command::new("socat")
        .args(["-t", "60", "-", &format!("TCP:{front}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("socat (apt-get install socat)");
    let mut stdin = socat.stdin.take().unwrap();
    let mut stdout = socat.stdout.take().unwrap();
    let feeder = thread::spawn(move || write_stream(&mut stdin, 4, up, 8192));
    let reader = bounded::spawn(move || read_stream(&mut stdout, 5, "socat's output"));
    feeder.join().unwrap();
    assert_eq!(reader.join("socat's output"), down);
    assert!(socat.wait().unwrap().success());
    assert_eq!(server.join("server"), up);
    assert_clean(&relayed.join("relay"), up, down);
}

#[test]
fn an_exhausted_pool_or_a_refused_mode_is_observable() {
    let pool = PipePool::new(64 << 10, 1);
    let held = pool.take().unwrap();
    let mut o = Options::new();
    o.pool(pool.clone());
    // One pipe left for nobody: both directions copy, and say why.
    let r = exchange(Net::Tcp, Net::Tcp, &o, 100_000, 200_000);
    assert_clean(&r, 100_000, 200_000);
    for f in [r.a_to_b(), r.b_to_a()] {
        assert_eq!(f.path(), Path::Copy, "{r}");
        assert!(
            matches!(f.why(), Why::NoPipe(NoPipe::Exhausted { max: 1 })),
            "{r}"
        );
    }
    // Given back empty, it is reused: one direction splices.
    pool.give(held, 0);
    let r = exchange(Net::Unix, Net::Unix, &o, 100_000, 200_000);
    assert_clean(&r, 100_000, 200_000);
    let paths = [r.a_to_b().path(), r.b_to_a().path()];
    assert!(
        paths.contains(&Path::Splice) && paths.contains(&Path::Copy),
        "{r}"
    );
    assert_eq!((pool.live(), pool.idle()), (1, 1));
    // Mode splice without a pipe: an error, before any byte.
    let held = pool.take().unwrap();
    o.mode(Mode::Splice);
    let (fl, bl) = (Listener::new(Net::Tcp), Listener::new(Net::Tcp));
    let (faddr, baddr) = (fl.addr(), bl.addr());
    let relayed = relay_one(fl, baddr, o.clone());
    let _client = faddr.connect();
    let _server = bl.accept();
    let r = relayed.join("relay");
    let e = r.error().expect("no pipe for mode splice");
    assert!(e.to_string().contains("mode splice"), "{e}");
    assert_eq!(r.a_to_b().bytes() + r.b_to_a().bytes(), 0);
    pool.give(held, 0);
}

#[test]
fn a_gone_peer_is_broken_pipe_never_sigpipe() {
    if !in_own_process("duplex::a_gone_peer_is_broken_pipe_never_sigpipe") {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of SIGPIPE in this single-test helper before
    // any other thread runs; a SIGPIPE raised from now on kills the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    for (m, path) in [(Mode::Splice, Path::Splice), (Mode::Copy, Path::Copy)] {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, b_peer) = UnixStream::pair().unwrap();
        a_peer.write_all(&[7u8; 100_000]).unwrap();
        drop(b_peer);
        let r = bounded::spawn(move || relay(&a, &b, &mode(m))).join("relay to a gone peer");
        let e = r.error().expect("the peer is gone");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{r}");
        assert_eq!(r.a_to_b().path(), path, "{r}");
        assert_eq!(
            r.a_to_b().error().unwrap().kind(),
            io::ErrorKind::BrokenPipe
        );
        // Over TCP: the first sends after the peer's close may still be accepted (its RST
        // comes back after them), so the client keeps writing until the relay gives up.
        let (fl, bl) = (Listener::new(Net::Tcp), Listener::new(Net::Tcp));
        let c = fl.addr().connect();
        let a = fl.accept();
        let b = bl.addr().connect();
        drop(bl.accept());
        // send(MSG_NOSIGNAL): this test's own writes must not raise SIGPIPE either.
        let writer = bounded::spawn(move || {
            while rustix::net::send(&c, &[1u8; 65_536], rustix::net::SendFlags::NOSIGNAL).is_ok() {}
        });
        let r = bounded::spawn(move || relay(&a, &b, &mode(m))).join("relay to a gone TCP peer");
        writer.join("the client, once the relay closed");
        let e = r.error().expect("the peer is gone");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{r}"
        );
    }
    // Still alive: no SIGPIPE was delivered, and none is left pending.
    println!("{HELPER_OK}");
}

fn reset(f: File) {
    sockopt::set_socket_linger(&f, Some(Duration::ZERO)).unwrap();
    drop(f);
}

#[test]
fn abrupt_resets_neither_stall_nor_panic_nor_leak() {
    if !in_own_process("duplex::abrupt_resets_neither_stall_nor_panic_nor_leak") {
        return;
    }
    let seed = fastrand::u64(..);
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = procwire::fd::open_fds().unwrap().len();
    let pool = PipePool::new(64 << 10, 16);
    let mut clean = 0;
    for _batch in 0..10 {
        let mut conns = Vec::new();
        for i in 0..20 {
            // 0: clean; 1: the client resets; 2: the server resets.
            let kind = i % 3;
            let (up, down) = (rng.usize(8..200_000), rng.usize(..32_000));
            let stop_at = rng.usize(..=down.max(1));
            let (fl, bl) = (Listener::new(Net::Tcp), Listener::new(Net::Tcp));
            let (faddr, baddr) = (fl.addr(), bl.addr());
            let mut o = Options::new();
            o.pool(pool.clone());
            if i % 2 == 1 {
                o.mode(Mode::Copy);
            }
            let relayed = relay_one(fl, baddr, o);
            let server = bounded::spawn(move || {
                let mut c = bl.accept();
                // Fits the socket buffers: never blocks.
                let _ = c.write_all(&vec![2u8; down]);
                let mut buf = vec![0u8; 65_536];
                let mut got = 0;
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                    if kind == 2 && got >= stop_at {
                        reset(c);
                        return got;
                    }
                }
                got
            });
            let client = bounded::spawn(move || {
                let mut c = faddr.connect();
                let _ = c.write_all(&vec![1u8; up]);
                if kind == 1 {
                    reset(c);
                    return 0;
                }
                let _ = rustix::net::shutdown(&c, Shutdown::Write);
                let mut got = Vec::new();
                let _ = c.read_to_end(&mut got);
                got.len()
            });
            conns.push((kind, up, down, relayed, server, client));
        }
        for (kind, up, down, relayed, server, client) in conns {
            let got_down = client.join("client");
            let got_up = server.join("server");
            let r = relayed.join("relay under resets");
            if kind == 0 {
                assert_eq!((got_up, got_down), (up, down));
                assert_clean(&r, up, down);
                clean += 1;
            } else {
                assert!(r.a_to_b().bytes() <= up as u64, "{r}");
                assert!(r.b_to_a().bytes() <= down as u64, "{r}");
            }
        }
    }
    assert!(clean > 0);
    drop(pool);
    assert_eq!(
        procwire::fd::open_fds().unwrap().len(),
        start,
        "descriptors leaked"
    );
    println!("{HELPER_OK}");
}
