//! Unit tests of the policy through the `Maker` seam, and of the loopback shim's accept filter.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::builder::{Maker, Os};
use super::*;

/// Refuses the listed kinds with the given errno, and asks the real kernel for the rest.
struct Refusing {
    refuse: Vec<(Kind, rustix::io::Errno)>,
    tried: Vec<Kind>,
}

impl Maker for Refusing {
    fn make(&mut self, kind: Kind, options: &Builder) -> io::Result<(End, End)> {
        self.tried.push(kind);
        match self.refuse.iter().find(|(k, _)| *k == kind) {
            Some((_, errno)) => Err((*errno).into()),
            None => Os.make(kind, options),
        }
    }
}

fn refusing(refuse: &[(Kind, rustix::io::Errno)]) -> Refusing {
    Refusing {
        refuse: refuse.to_vec(),
        tried: Vec::new(),
    }
}

#[test]
fn first_kind_granted_means_no_refusals() {
    let mut m = refusing(&[]);
    let pair = Builder::new().build_with(&mut m).unwrap();
    assert_eq!(pair.kind(), Kind::SocketPair);
    assert!(pair.refusals().is_empty());
    assert_eq!(m.tried, [Kind::SocketPair]);
}

#[test]
fn refused_socketpair_falls_back_to_pipes_and_says_why() {
    let mut m = refusing(&[(Kind::SocketPair, rustix::io::Errno::AFNOSUPPORT)]);
    let pair = Builder::new().build_with(&mut m).unwrap();
    assert_eq!(pair.kind(), Kind::Pipes);
    let (a, b) = pair.ends();
    assert_eq!((a.kind(), b.kind()), (Kind::Pipes, Kind::Pipes));
    assert_eq!(pair.refusals().len(), 1);
    assert_eq!(pair.refusals()[0].kind, Kind::SocketPair);
    assert_eq!(
        pair.refusals()[0].error.raw_os_error(),
        Some(rustix::io::Errno::AFNOSUPPORT.raw_os_error())
    );
    assert_eq!(m.tried, [Kind::SocketPair, Kind::Pipes]);
}

#[test]
fn two_refusals_fall_through_to_loopback_that_works() {
    let mut m = refusing(&[
        (Kind::SocketPair, rustix::io::Errno::AFNOSUPPORT),
        (Kind::Pipes, rustix::io::Errno::MFILE),
    ]);
    let (mut a, mut b) = Builder::new().build_with(&mut m).unwrap().into_ends();
    assert_eq!(a.kind(), Kind::Loopback);
    a.write_all(b"x").unwrap();
    let mut one = [0u8];
    b.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"x");
}

#[test]
fn all_refused_lists_every_reason_in_order() {
    let mut m = refusing(&[
        (Kind::Pipes, rustix::io::Errno::MFILE),
        (Kind::Loopback, rustix::io::Errno::NETUNREACH),
    ]);
    let err = Builder::new()
        .kinds([Kind::Pipes, Kind::Loopback])
        .build_with(&mut m)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NetworkUnreachable);
    let inner = PairError::of(&err).unwrap();
    let kinds: Vec<Kind> = inner.refusals.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [Kind::Pipes, Kind::Loopback]);
    let text = err.to_string();
    assert!(text.starts_with("could not make a wire pair"), "{text}");
    assert!(text.find("pipes refused").unwrap() < text.find("loopback refused").unwrap());
}

#[test]
fn empty_policy_is_invalid_input() {
    let err = Builder::new().kinds([]).build().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn kind_names_round_trip() {
    for k in Kind::ALL {
        assert_eq!(k.name().parse::<Kind>().unwrap(), k);
    }
    let err = "fifo".parse::<Kind>().unwrap_err();
    assert!(err.to_string().contains("socketpair, pipes or loopback"));
}

#[test]
fn loopback_rejects_foreign_connections_queued_ahead_of_ours() {
    let mut foreign = Vec::new();
    let made = loopback::pair(Duration::from_secs(5), &mut |addr| {
        // These complete their handshakes before ours and sit first in the accept queue.
        for _ in 0..8 {
            foreign.push(TcpStream::connect(addr).unwrap());
        }
    })
    .unwrap();
    assert_eq!(made.rejected, 8);
    let (mut a, mut b) = (
        TcpStream::from(made.connecting),
        TcpStream::from(made.accepted),
    );
    assert_eq!(a.local_addr().unwrap(), b.peer_addr().unwrap());
    assert_eq!(b.local_addr().unwrap(), a.peer_addr().unwrap());
    a.write_all(b"ours").unwrap();
    let mut got = [0u8; 4];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ours");
    // Each foreign connection was closed by the shim: it reads EOF (or a reset), never data.
    for mut f in foreign {
        f.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        match f.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("foreign connection was not closed: {other:?}"),
        }
    }
}

/// Waits (at most 5 s) until the accept queue of the listener at `addr` holds more than
/// `BACKLOG` connections, from when on Linux drops every SYN to it (`tcp_conn_request`:
/// `sk_acceptq_is_full`). For a listening socket `/proc/net/tcp`'s `rx_queue` is the queue's
/// length. Watching it replaces a fixed sleep, which a loaded machine can outrun.
fn wait_until_the_accept_queue_overflows(addr: std::net::SocketAddr) {
    let local = format!("0100007F:{:04X}", addr.port());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let queued = table.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl, local, remote, st (0A = LISTEN), tx_queue:rx_queue, ...
            if f.get(1) != Some(&local.as_str()) || f.get(3) != Some(&"0A") {
                return None;
            }
            let (_, rx) = f.get(4)?.split_once(':')?;
            i64::from_str_radix(rx, 16).ok()
        });
        if queued.is_some_and(|n| n > i64::from(loopback::BACKLOG)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the accept queue of {addr} never overflowed: {queued:?} queued"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn loopback_times_out_with_a_clear_error_when_ours_never_arrives() {
    // Fill the listener's accept queue with foreign connections before ours: the kernel then
    // drops our SYN, whose retransmit comes a second later, well after the 300 ms bound.
    let mut foreign = Vec::new();
    let flood = 4 * loopback::BACKLOG as usize;
    let err = loopback::pair(Duration::from_millis(300), &mut |addr| {
        for _ in 0..flood {
            let s = rustix::net::socket_with(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::STREAM,
                rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
                None,
            )
            .unwrap();
            let _ = rustix::net::connect(&s, &addr);
            foreign.push(s);
        }
        wait_until_the_accept_queue_overflows(addr);
    })
    .err()
    .expect("the handshake cannot succeed while the queue is flooded");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    let text = err.to_string();
    assert!(text.contains("Builder::loopback_timeout"), "{text}");
    assert!(!text.contains(" 0 foreign"), "{text}");
}

#[test]
fn racing_foreign_connections_are_never_accepted() {
    use std::sync::mpsc;

    // Another thread learns each listening port the moment it exists (as a local attacker
    // watching /proc/net/tcp would, only faster) and connects to it, racing ours. For every
    // other pair we wait until its connection is in (so it surely comes first); for the rest
    // the two race freely.
    let (ports, seen) = mpsc::channel::<(std::net::SocketAddr, bool)>();
    let (acks, acked) = mpsc::channel::<()>();
    let racer = std::thread::spawn(move || {
        let mut held = Vec::new();
        for (addr, ack) in seen {
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                let _ = s.write_all(b"FOREIGN!");
                held.push(s);
            }
            if ack {
                let _ = acks.send(());
            }
        }
    });
    let mut rng = fastrand::Rng::with_seed(7);
    let mut rejected = 0;
    for i in 0..400u32 {
        let made = loopback::pair(Duration::from_secs(5), &mut |addr| {
            ports.send((addr, i % 2 == 0)).unwrap();
            if i % 2 == 0 {
                acked.recv_timeout(Duration::from_secs(5)).unwrap();
            }
        })
        .unwrap();
        rejected += made.rejected;
        let (mut a, mut b) = (
            TcpStream::from(made.connecting),
            TcpStream::from(made.accepted),
        );
        assert_eq!(a.local_addr().unwrap(), b.peer_addr().unwrap());
        let (na, nb) = (rng.u64(..).to_le_bytes(), rng.u64(..).to_le_bytes());
        a.write_all(&na).unwrap();
        b.write_all(&nb).unwrap();
        let (mut ga, mut gb) = ([0u8; 8], [0u8; 8]);
        b.read_exact(&mut ga).unwrap();
        a.read_exact(&mut gb).unwrap();
        assert_eq!((ga, gb), (na, nb), "pair {i} is not connected to itself");
    }
    drop(ports);
    racer.join().unwrap();
    // At least every waited-for foreign connection was queued ahead of ours and turned away.
    assert!(
        rejected >= 200,
        "only {rejected} foreign connections were turned away"
    );
}
