//! Byte-exact transfers both ways through the relay, per pairing and mode, with the counts
//! it reports; half-close in both directions, also with `socat` as the peer.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use crate::support::bounded::BOUND;
use crate::support::{Stream, read_stream};
use crate::{Conn, Relay, Target, exchange, exchange_server, field, sock_path};

/// Runs `sizes` exchanges (up, down) through one relay from `listen` to `target` in `mode`,
/// concurrently; checks every byte both ways and that each `--stats` line's counts are what
/// was sent.
fn through(listen: &str, target: Target, mode: &str, sizes: &[(usize, usize)]) {
    let (tx, rx) = mpsc::channel();
    let to = target.serve(exchange_server(tx));
    let mut relay = Relay::start(&["--listen", listen, "--to", &to, "--mode", mode, "--stats"]);
    let clients: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(up, down))| {
            let addr = relay.listen.clone();
            let seed = fastrand::u64(..) & !0xff | i as u64;
            (
                seed,
                up,
                down,
                thread::spawn(move || exchange(&addr, seed, up, down)),
            )
        })
        .collect();
    let mut want = Vec::new();
    for (seed, up, down, t) in clients {
        t.join().unwrap();
        want.push((seed, up, down));
    }
    for _ in sizes {
        let (seed, got) = rx.recv_timeout(BOUND).expect("the target's report");
        let &(_, up, _) = want.iter().find(|w| w.0 == seed).unwrap();
        assert_eq!(got, up, "bytes at the target, {mode} {listen} -> {to}");
    }
    let mut lines = Vec::new();
    for _ in sizes {
        lines.push(relay.wait_line("a stats line", |l| l.contains(" closed ")));
    }
    let want_path = if mode == "copy" {
        "copy/copy"
    } else {
        "splice/splice"
    };
    for l in &lines {
        assert_eq!(field(l, "error"), "none", "{l}");
        assert_eq!(field(l, "path"), want_path, "{l}");
        let (up, down): (usize, usize) = (
            field(l, "to_target").parse().unwrap(),
            field(l, "from_target").parse().unwrap(),
        );
        assert!(
            want.iter().any(|&(_, u, d)| u + 16 == up && d == down),
            "{l}: no exchange sent {up} and got {down}: {want:?}"
        );
    }
    relay.term();
    let (st, log) = relay.wait();
    assert!(st.success(), "{st}: {log}");
    let total: usize = want.iter().map(|w| w.1 + 16).sum();
    assert!(
        log.contains(&format!("to_target={total} from_target=")),
        "{log}"
    );
}

fn sizes(n: usize, max: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|_| (fastrand::usize(..=max), fastrand::usize(..=max)))
        .collect()
}

#[test]
fn byte_exact_both_ways_tcp_to_tcp_in_every_mode() {
    for mode in ["auto", "splice", "copy"] {
        through("127.0.0.1:0", Target::tcp(), mode, &sizes(4, 6 << 20));
    }
}

#[test]
fn byte_exact_both_ways_unix_to_unix_in_every_mode() {
    for mode in ["auto", "splice", "copy"] {
        let listen = format!("unix:{}", sock_path("listen").display());
        through(&listen, Target::unix(), mode, &sizes(4, 6 << 20));
    }
}

#[test]
fn byte_exact_both_ways_tcp_to_unix_and_abstract_in_every_mode() {
    for mode in ["auto", "splice", "copy"] {
        through("127.0.0.1:0", Target::unix(), mode, &sizes(3, 6 << 20));
    }
    let listen = format!("unix:@procwire-relay-cli-{}-listen", std::process::id());
    through(&listen, Target::abstract_(), "auto", &sizes(2, 1 << 20));
}

#[test]
fn byte_exact_256_mib_one_way_and_a_reply() {
    through(
        "127.0.0.1:0",
        Target::tcp(),
        "auto",
        &[(256 << 20, 3 << 20), (fastrand::usize(..8 << 20), 0)],
    );
}

#[test]
fn a_client_that_shuts_its_write_side_gets_the_whole_response() {
    // The target waits for the request's EOF, then answers with a lot and closes at once.
    let answer = 8 << 20;
    let to = Target::unix().serve(move |c| {
        let got = read_stream(&mut c.file(), 5, "the request");
        assert_eq!(got, 100_000);
        crate::support::write_stream(&mut c.file(), 6, answer, 1 << 20);
        drop(c);
    });
    let relay = Relay::local(&to, &[]);
    for _ in 0..3 {
        let c = relay.connect();
        crate::support::write_stream(&mut c.file(), 5, 100_000, 4096);
        c.shut_write();
        assert_eq!(read_stream(&mut c.file(), 6, "the response"), answer);
    }
}

#[test]
fn half_close_with_socat_as_client_and_as_server() {
    let dir = std::env::temp_dir();
    let req = dir.join(format!("procwire-relay-cli-{}.req", std::process::id()));
    let mut bytes = vec![0u8; 3 << 20];
    Stream::new(11).fill(&mut bytes);
    std::fs::write(&req, &bytes).unwrap();

    // socat as the client: sends the file, shuts its write side at EOF, keeps reading.
    let to = Target::tcp().serve(|c| {
        let mut got = Vec::new();
        c.file().read_to_end(&mut got).unwrap();
        // The answer comes after the request's EOF: the length, then the request reversed.
        let mut w = c.file();
        w.write_all(format!("{}\n", got.len()).as_bytes()).unwrap();
        got.reverse();
        w.write_all(&got).unwrap();
    });
    let relay = Relay::local(&to, &["--mode", "auto"]);
    let out = Command::new("socat")
        .args(["-t", "30", "-b", "65536", "STDIO"])
        .arg(format!("TCP:{}", relay.listen))
        .stdin(std::fs::File::open(&req).unwrap())
        .stderr(Stdio::inherit())
        .output()
        .expect("run socat");
    assert!(out.status.success(), "{:?}", out);
    let mut want = format!("{}\n", bytes.len()).into_bytes();
    want.extend(bytes.iter().rev());
    assert!(out.stdout == want, "socat got {} bytes", out.stdout.len());

    // socat as the server: sends the file and closes; every byte arrives.
    let path = sock_path("socat");
    let mut socat = Command::new("socat")
        .arg("-u")
        .arg(format!("OPEN:{},rdonly", req.display()))
        .arg(format!("UNIX-LISTEN:{}", path.display()))
        .spawn()
        .expect("run socat");
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < BOUND, "socat never listened");
        thread::sleep(std::time::Duration::from_millis(5));
    }
    let to = format!("unix:{}", path.display());
    let relay = Relay::local(&to, &[]);
    let c: Conn = relay.connect();
    let (got, eof) = c.read_to_end_bounded();
    assert!(eof);
    assert!(got == bytes, "{} of {} bytes", got.len(), bytes.len());
    socat.wait().unwrap();
    let _ = std::fs::remove_file(&req);
}
