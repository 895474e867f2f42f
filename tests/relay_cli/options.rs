//! Each option does what it says: --max-connections, --idle-timeout, --connect-timeout,
//! --once, SIGTERM with --grace, --unlink, --mode splice without pipes, --tune, and usage
//! errors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::bounded::BOUND;
use crate::{Conn, PROCWIRE, Relay, Target, exchange, exchange_server, field, sock_path};

/// Waits for the relay to close `c` with no byte sent to it, not before `at_least` after
/// `since` (a timer never fires early; the hang-guard is the only upper bound); returns the
/// connection's `--stats` line.
#[track_caller]
fn closed_by_relay(relay: &mut Relay, c: &Conn, since: Instant, at_least: Duration) -> String {
    let (got, _) = c.read_to_end_bounded();
    assert!(got.is_empty());
    assert!(since.elapsed() >= at_least, "{:?}", since.elapsed());
    relay.wait_line("the close", |l| l.contains(" closed "))
}

#[test]
fn max_connections_refuses_beyond_the_cap_and_frees_the_slot_on_close() {
    let to = Target::tcp().echo();
    let mut relay = Relay::local(&to, &["--max-connections", "2", "--stats"]);
    let a = relay.connect();
    a.round_trip();
    let b = relay.connect();
    b.round_trip();
    // The third is accepted by the kernel and closed by the relay at once.
    let c = relay.connect();
    let _ = c.file().write_all(b"x");
    let (got, _) = c.read_to_end_bounded();
    assert!(got.is_empty());
    relay.wait_line("the refusal", |l| {
        l.contains("refused") && l.contains("live=2")
    });
    drop(a);
    relay.wait_line("a's close", |l| l.contains(" closed "));
    let d = relay.connect();
    d.round_trip();
    drop((b, d));
    relay.term();
    let (st, log) = relay.wait();
    assert!(st.success(), "{log}");
    assert!(log.contains("refused=1"), "{log}");
}

#[test]
fn idle_timeout_closes_a_quiet_connection_and_says_so() {
    let to = Target::unix().echo();
    let mut relay = Relay::local(&to, &["--idle-timeout", "300ms", "--stats"]);
    let c = relay.connect();
    // The idle timer starts at the relay's last move, which is before the echo reaches us:
    // the lower bound counts from before the round trip, not after it.
    let before = Instant::now();
    c.round_trip();
    let l = closed_by_relay(&mut relay, &c, before, Duration::from_millis(300));
    assert!(field(&l, "error").contains("idle timeout"), "{l}");
    assert_eq!(field(&l, "to_target"), "1");
    assert_eq!(field(&l, "from_target"), "1");
}

#[test]
fn connect_timeout_gives_up_on_a_target_whose_backlog_is_full() {
    // A listener with a backlog of 0 that never accepts: one connection fills its queue and
    // the kernel drops the next SYNs, so a connect waits.
    let fd = rustix::net::socket_with(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    rustix::net::bind(&fd, &any).unwrap();
    rustix::net::listen(&fd, 0).unwrap();
    let addr = rustix::net::getsockname(&fd).unwrap();
    let addr = std::net::SocketAddr::try_from(addr).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..2 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            fillers.push(s);
        }
    }
    assert!(!fillers.is_empty());
    let to = addr.to_string();
    let mut relay = Relay::local(&to, &["--connect-timeout", "300ms", "--stats"]);
    let t = Instant::now();
    let c = relay.connect();
    let l = closed_by_relay(&mut relay, &c, t, Duration::from_millis(300));
    assert!(field(&l, "error").contains("no answer within 300ms"), "{l}");
    drop(fd);
}

#[test]
fn once_relays_one_connection_then_exits_0_or_1() {
    let (tx, _rx) = std::sync::mpsc::channel();
    let to = Target::tcp().serve(exchange_server(tx));
    let relay = Relay::local(&to, &["--once"]);
    exchange(&relay.listen.clone(), 9, 1 << 20, 1 << 20);
    let (st, log) = relay.wait();
    assert_eq!(st.code(), Some(0), "{log}");

    // A target that refuses: the one connection fails, status 1.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = gone.local_addr().unwrap().to_string();
    drop(gone);
    let relay = Relay::local(&to, &["--once"]);
    let c = relay.connect();
    let _ = c.read_to_end_bounded();
    let (st, log) = relay.wait();
    assert_eq!(st.code(), Some(1), "{log}");
    assert!(log.contains("--once connection failed"), "{log}");
}

#[test]
fn sigterm_stops_accepting_and_lets_live_connections_finish_within_the_grace() {
    let (tx, rx) = std::sync::mpsc::channel();
    let to = Target::tcp().serve(exchange_server(tx));
    let mut relay = Relay::local(&to, &["--grace", "60s", "--stats"]);
    // A live connection, mid-way: its header and some bytes sent, not finished.
    let c = relay.connect();
    let mut w = c.file();
    let mut head = [0u8; 16];
    head[..8].copy_from_slice(&77u64.to_le_bytes());
    head[8..].copy_from_slice(&1000u64.to_le_bytes());
    w.write_all(&head).unwrap();
    let mut s = crate::support::Stream::new(77);
    let mut first = vec![0u8; 5000];
    s.fill(&mut first);
    w.write_all(&first).unwrap();
    // The whole answer is back: the relay has accepted it and reached the target.
    let mut answer = vec![0u8; 1000];
    c.file().read_exact(&mut answer).unwrap();
    assert_eq!(crate::support::Stream::new(78).check(&answer), Ok(()));
    relay.term();
    relay.wait_line("the stop", |l| l.contains("stopping; 1 live"));
    // No new connection is accepted.
    let t = Instant::now();
    while Conn::try_connect(&relay.listen).is_ok() {
        assert!(t.elapsed() < BOUND, "still accepting after SIGTERM");
        thread::sleep(Duration::from_millis(10));
    }
    // The live one finishes, byte-exact, and the relay exits 0 without waiting the grace out.
    let mut rest = vec![0u8; 7000];
    s.fill(&mut rest);
    w.write_all(&rest).unwrap();
    c.shut_write();
    let (more, eof) = c.read_to_end_bounded();
    assert!(more.is_empty() && eof);
    assert_eq!(rx.recv_timeout(BOUND).unwrap(), (77, 12000));
    let (st, log) = relay.wait();
    assert!(st.success(), "{log}");
    assert!(log.contains("to_target=12016 from_target=1000"), "{log}");

    // A connection that does not finish is cut off at the end of the grace.
    let to = Target::unix().echo();
    let relay = Relay::local(&to, &["--grace", "200ms", "--stats"]);
    let c = relay.connect();
    c.round_trip();
    relay.term();
    let (got, _) = c.read_to_end_bounded();
    assert!(got.is_empty());
    let (st, log) = relay.wait();
    assert!(st.success(), "{log}");
    assert!(
        log.contains("error=cut off at the end of the grace period"),
        "{log}"
    );
    assert!(log.contains("to_target=1 from_target=1"), "{log}");
}

#[test]
fn a_stale_unix_socket_is_replaced_only_with_unlink() {
    let path = sock_path("stale");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let listen = format!("unix:{}", path.display());
    let to = Target::tcp().echo();
    let out = Command::new(PROCWIRE)
        .args(["relay", "--listen", &listen, "--to", &to])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&listen) && err.contains("--unlink"), "{err}");
    let relay = Relay::start(&["--listen", &listen, "--to", &to, "--unlink"]);
    relay.connect().round_trip();
    // A live listener is never replaced, --unlink or not.
    let out = Command::new(PROCWIRE)
        .args(["relay", "--listen", &listen, "--to", &to, "--unlink"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("another process is listening"), "{err}");
    relay.term();
    let (st, _) = relay.wait();
    assert!(st.success());
    assert!(!path.exists(), "the relay removes its socket when it stops");
}

#[test]
fn listening_failures_are_status_1_naming_the_address_and_the_os_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(PROCWIRE)
        .args(["relay", "--listen", &addr, "--to", "127.0.0.1:1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&addr) && err.contains("os error"), "{err}");
}

#[test]
fn splice_mode_without_a_pipe_is_a_clear_error() {
    // RLIMIT_NOFILE of 4 leaves no room for a pipe's two descriptors beside stdio.
    let out = Command::new("prlimit")
        .args(["--nofile=4:4", PROCWIRE, "relay", "--listen", "127.0.0.1:0"])
        .args(["--to", "127.0.0.1:1", "--mode", "splice"])
        .output()
        .expect("run prlimit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--mode splice: no pipe") && err.contains("--mode auto or copy"),
        "{err}"
    );
}

#[test]
fn tune_takes_auto_s_path_from_a_bench_file_or_says_what_is_missing() {
    let dir = std::env::temp_dir();
    let file = dir.join(format!(
        "procwire-relay-cli-{}-tune.json",
        std::process::id()
    ));
    let to = Target::tcp().echo();
    let run = |body: &str| {
        std::fs::write(&file, body).unwrap();
        Command::new(PROCWIRE)
            .args(["relay", "--listen", "127.0.0.1:0", "--to", &to, "--tune"])
            .arg(&file)
            .output()
            .unwrap()
    };
    for (body, says) in [
        (r#"{"schema": "procwire-bench/2"}"#, "no relay_auto"),
        (
            r#"{"schema": "other/1", "relay_auto": {}}"#,
            "not a procwire bench result",
        ),
        ("[1,", "not JSON"),
        (
            r#"{"schema": "procwire-bench/3", "relay_auto": {"unix": "copy", "tcp": "fast"}}"#,
            "relay_auto.tcp",
        ),
    ] {
        let out = run(body);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&file.display().to_string()) && err.contains(says),
            "{err}"
        );
    }
    std::fs::write(
        &file,
        r#"{"schema": "procwire-bench/3", "relay_auto":
            {"unix": "splice", "tcp": "copy", "why": "copy won 1.2x"}}"#,
    )
    .unwrap();
    let file_arg = file.display().to_string();
    let mut relay = Relay::local(&to, &["--tune", &file_arg, "--stats"]);
    assert!(
        relay.log().contains("auto -> copy for tcp"),
        "{}",
        relay.log()
    );
    let c = relay.connect();
    c.round_trip();
    drop(c);
    let l = relay.wait_line("the close", |l| l.contains(" closed "));
    assert_eq!(field(&l, "path"), "copy/copy", "{l}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn bad_arguments_are_usage_errors_with_status_2() {
    let whole: [&[&str]; 4] = [
        &[],
        &["--listen", "127.0.0.1:0"],
        &["--listen", "nowhere", "--to", "127.0.0.1:1"],
        &["--listen", "127.0.0.1:0", "--to", "unix:"],
    ];
    // Each after a good --listen and --to.
    let options: [&[&str]; 7] = [
        &["--mode", "fast"],
        &["--pipe-size", "0"],
        &["--buffer", "1X"],
        &["--max-connections", "0"],
        &["--idle-timeout", "-1s"],
        &["--grace", "soon"],
        &["--connect-timeout", "0"],
    ];
    let good = ["--listen", "127.0.0.1:0", "--to", "h:1"];
    let cases = whole.iter().map(|a| a.to_vec()).chain(
        options
            .iter()
            .map(|o| good.iter().chain(o.iter()).copied().collect()),
    );
    for args in cases {
        let out = Command::new(PROCWIRE)
            .arg("relay")
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.is_empty(),
            "{args:?}: {err}"
        );
    }
}
