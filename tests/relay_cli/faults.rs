//! Abrupt resets at random points, many at once, through one relay: no stall, no panic, no
//! descriptor leak, and the connections around them still byte-exact.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Instant;

use crate::support::bounded::BOUND;
use crate::support::write_stream;
use crate::{Conn, Relay, Target, exchange_after, exchange_server, fd_counts, field};

/// What a connection of the storm does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The client resets after sending `at` bytes (and reading whatever came).
    ClientReset { at: usize },
    /// The target resets after reading `at` bytes (while it was sending).
    TargetReset { at: usize },
}

#[test]
fn a_thousand_resets_in_batches_neither_stall_panic_nor_leak() {
    // The storm's target: the first byte says who resets (0: the client, 1: the target,
    // which reads `at` bytes, a u32 after the tag, while it sends, then resets) or that this
    // is a clean exchange (2) checked byte for byte.
    let (tx, rx) = mpsc::channel();
    let clean = exchange_server(tx);
    let storm = Target::tcp().serve(move |c| {
        let mut r = c.file();
        let mut head = [0u8; 5];
        if r.read_exact(&mut head[..1]).is_err() {
            return;
        }
        if head[0] == 2 {
            return clean(c);
        }
        if r.read_exact(&mut head[1..]).is_err() {
            return;
        }
        let at = u32::from_le_bytes(head[1..].try_into().unwrap()) as usize;
        let mut w = c.file();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        // Up to 1 MiB back, cut short when a reset is due.
        let sender = thread::spawn(move || {
            let chunk = vec![0x5a; 16 << 10];
            for _ in 0..64 {
                if stopped.load(Ordering::Relaxed) || w.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let mut buf = vec![0u8; 64 << 10];
        let mut seen = 0;
        while head[0] == 0 || seen < at {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
        }
        // The sender ends (the client reads everything, or the relay closed); then the last
        // descriptors close, with a reset when asked.
        stop.store(true, Ordering::Relaxed);
        let _ = sender.join();
        drop(r);
        if head[0] == 1 {
            c.reset();
        }
    });
    let mut relay = Relay::local(&storm, &["--stats"]);
    let idle = fd_counts(relay.pid());

    const BATCHES: usize = 20;
    const PER_BATCH: usize = 50;
    const CLEAN: usize = 3;
    let mut done = 0;
    for batch in 0..BATCHES {
        let mut threads = Vec::new();
        for _ in 0..PER_BATCH {
            let kind = if fastrand::bool() {
                Kind::ClientReset {
                    at: fastrand::usize(..1 << 20),
                }
            } else {
                Kind::TargetReset {
                    at: fastrand::usize(..1 << 20),
                }
            };
            let addr = relay.listen.clone();
            threads.push(thread::spawn(move || {
                let c = Conn::connect(&addr);
                let (tag, at) = match kind {
                    Kind::ClientReset { at } => (0u8, at),
                    Kind::TargetReset { at } => (1u8, at),
                };
                let mut head = vec![tag];
                head.extend((at as u32).to_le_bytes());
                // A client that resets reads nothing and holds one descriptor (a reset needs
                // the last close); one that waits for the target's reset reads on a thread.
                let reader = (tag == 1).then(|| {
                    let mut r = c.file();
                    thread::spawn(move || {
                        let mut buf = vec![0u8; 64 << 10];
                        while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
                    })
                });
                let mut w = std::fs::File::from(c.0);
                let chunk = vec![0xa5u8; 32 << 10];
                // A target that resets does so after `at` bytes, while more are coming.
                let total = if tag == 1 { at + (256 << 10) } else { at };
                let mut sent = 0;
                let mut ok = w.write_all(&head).is_ok();
                while ok && sent < total {
                    let n = chunk.len().min(total - sent);
                    ok = w.write_all(&chunk[..n]).is_ok();
                    sent += n;
                }
                match reader {
                    None => Conn(w.into()).reset(),
                    Some(r) => {
                        let _ = r.join();
                    }
                }
            }));
        }
        // A few clean exchanges through the same relay, amid the resets.
        let cleans: Vec<_> = (0..CLEAN)
            .map(|k| {
                let addr = relay.listen.clone();
                let seed = (batch * 8 + k) as u64 * 2;
                thread::spawn(move || {
                    exchange_after(
                        &addr,
                        &[2],
                        seed,
                        fastrand::usize(..1 << 20),
                        fastrand::usize(..1 << 20),
                    )
                })
            })
            .collect();
        let start = Instant::now();
        for t in threads {
            t.join().unwrap();
        }
        for t in cleans {
            t.join().unwrap();
        }
        assert!(start.elapsed() < BOUND * 3, "batch {batch} stalled");
        done += PER_BATCH + CLEAN;
        // Every connection of the batch is closed by the relay (a stats line each).
        while relay.closed_lines().len() < done {
            relay.wait_line("a closed line", |l| l.contains(" closed "));
        }
    }
    for _ in 0..BATCHES * CLEAN {
        let (_, _) = rx.recv_timeout(BOUND).expect("a clean exchange's report");
    }
    let log = relay.log();
    let errors = |none: bool| {
        log.lines()
            .filter(|l| l.contains(" closed ") && (field(l, "error") == "none") == none)
            .count()
    };
    // Every reset ended its connection with an error; the clean ones (and, rarely, a client
    // reset that came after every byte was through) without.
    assert!(errors(false) >= BATCHES * PER_BATCH * 9 / 10, "{log}");
    assert!(errors(true) >= BATCHES * CLEAN, "{log}");
    // The relay's sockets are back to their idle count; pipes stay only in the pool.
    let t = Instant::now();
    loop {
        let now = fd_counts(relay.pid());
        // The idle count holds the one pool pipe the start line's probe made (and stderr).
        if now.1 == idle.1 && now.0 <= idle.0 + 2 * (procwire::relay::DEFAULT_MAX_PIPES - 1) {
            break;
        }
        assert!(
            t.elapsed() < BOUND,
            "descriptors (pipes, others): idle {idle:?}, now {now:?}"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
    // Still serving, and no panic.
    let probe = relay.connect();
    write_stream(&mut probe.file(), 1, 10, 10);
    drop(probe);
    // Counted, not the next line on the channel: the batches above counted their lines without
    // taking each from the channel, so the next one there may be a batch's, and a SIGTERM sent
    // on it could come before the relay has even accepted the probe.
    while relay.closed_lines().len() < done + 1 {
        relay.wait_line("the last connection's line", |l| l.contains(" closed "));
    }
    relay.term();
    let (st, log) = relay.wait();
    assert!(st.success(), "{st}");
    assert!(!log.contains("panicked"), "{log}");
    let all = BATCHES * (PER_BATCH + CLEAN) + 1;
    let closed = log.lines().filter(|l| l.contains(" closed ")).count();
    assert_eq!(closed, all, "{log}");
    assert!(log.contains(&format!("connections={all}")), "{log}");
}

#[test]
fn a_failed_connect_to_the_target_is_one_clear_line_and_a_storm_is_rate_limited() {
    // A Unix socket bound but not listening: every connect to it is refused at once.
    let path = crate::sock_path("refusing");
    let refusing = rustix::net::socket_with(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    rustix::net::bind(
        &refusing,
        &rustix::net::SocketAddrUnix::new(path.as_path()).unwrap(),
    )
    .unwrap();
    let to = format!("unix:{}", path.display());
    // No --stats: the failure is still said.
    let mut relay = Relay::local(&to, &[]);
    let failed = |l: &str| l.contains("dropped the connection from");
    let counted = |l: &str| l.contains("more connection(s) could not reach");
    let c = relay.connect();
    let (got, _) = c.read_to_end_bounded();
    assert!(got.is_empty());
    let l = relay.wait_line("the failed connect", failed);
    for part in [to.as_str(), "refused", "fix --to", "127.0.0.1:"] {
        assert!(l.contains(part), "{part:?} not in {l}");
    }
    // A storm: every failure is either a line of its own or in a count, and the lines of
    // their own are at most 5 per window of a second that the storm overlapped.
    let storm = 150;
    let t = Instant::now();
    for _ in 0..storm {
        let c = relay.connect();
        // Closed by the relay once it has said (or counted) the failure.
        let (got, _) = c.read_to_end_bounded();
        assert!(got.is_empty());
    }
    let secs = t.elapsed().as_secs();
    relay.term();
    let (st, log) = relay.wait();
    assert!(st.success(), "{log}");
    let lines = log.lines().filter(|l| failed(l)).count();
    let hidden: usize = log
        .lines()
        .filter(|l| counted(l))
        .map(|l| {
            let n = l.split("procwire relay: ").nth(1).unwrap();
            n.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(lines + hidden, storm + 1, "{log}");
    let windows = secs as usize + 2;
    assert!(
        lines <= 5 * windows,
        "{lines} lines over {windows} windows:\n{log}"
    );
    assert!(!log.contains(" closed peer="), "no --stats lines: {log}");
    drop(refusing);
    let _ = std::fs::remove_file(&path);
}
