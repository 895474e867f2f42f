//! One capacity API: the grant is what the kernel reads back; pipe requests are clamped.

use std::os::fd::BorrowedFd;

use procwire::wire::{Builder, Capacity, End, Kind, pipe_max_size};
use rustix::net::sockopt;

/// The kernel's own read-back for an end (send, recv), without procwire in between.
fn kernel(end: &End) -> (usize, usize) {
    let (r, w): (BorrowedFd<'_>, BorrowedFd<'_>) =
        (end.read_fd().unwrap(), end.write_fd().unwrap());
    if end.kind().is_socket() {
        (
            sockopt::socket_send_buffer_size(w).unwrap(),
            sockopt::socket_recv_buffer_size(r).unwrap(),
        )
    } else {
        (
            rustix::pipe::fcntl_getpipe_size(w).unwrap(),
            rustix::pipe::fcntl_getpipe_size(r).unwrap(),
        )
    }
}

/// The kernel's figures of a grant, as [`kernel`] reads them.
fn figures(c: Capacity) -> (usize, usize) {
    (c.send, c.recv)
}

/// A pair of `kind` with end `a` non-blocking as asked and `ask` bytes of capacity, if any.
fn pair(kind: Kind, ask: Option<usize>, nonblocking: bool) -> (End, End) {
    let mut builder = Builder::new().kind(kind).nonblocking(nonblocking, false);
    if let Some(ask) = ask {
        builder = builder.capacity(ask);
    }
    builder.build().unwrap().into_ends()
}

fn sysctl(name: &str) -> usize {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn grants_equal_the_kernels_read_back_on_every_kind() {
    for kind in Kind::ALL {
        for ask in [4096, 64 << 10, 1 << 20] {
            let pair = Builder::new().kind(kind).capacity(ask).build().unwrap();
            assert_eq!(pair.kind(), kind);
            let (a, b) = pair.ends();
            for end in [a, b] {
                assert_eq!(end.kind(), kind);
                let granted = end.capacity().unwrap();
                assert_eq!(figures(granted), kernel(end), "{kind} asked {ask}");
                assert!(granted.send > 0 && granted.recv > 0);
            }
            // set_capacity returns the same read-back.
            assert_eq!(figures(a.set_capacity(ask).unwrap()), kernel(a), "{kind}");
        }
    }
}

#[test]
fn pipe_grants_follow_the_request_up_to_pipe_max_size() {
    let max = pipe_max_size().unwrap();
    assert_eq!(max, sysctl("fs/pipe-max-size"));
    let (a, _b) = Builder::new()
        .kind(Kind::Pipes)
        .build()
        .unwrap()
        .into_ends();
    assert_eq!(a.set_capacity(256 << 10).unwrap().send, 256 << 10);
    // Far above the maximum: clamped, not an error (even for root, who could go beyond).
    let granted = a.set_capacity(1 << 30).unwrap();
    assert_eq!(figures(granted), (max, max));
    let (r, w) = Builder::new().capacity(usize::MAX).pipe().unwrap();
    assert_eq!(w.capacity().unwrap().send, max);
    assert_eq!(r.capacity().unwrap().recv, max);
}

#[test]
fn socket_grants_are_the_kernels_doubled_and_clamped_values() {
    let wmem_max = sysctl("net/core/wmem_max");
    let rmem_max = sysctl("net/core/rmem_max");
    let ask = 4 << 20;
    for kind in [Kind::SocketPair, Kind::Loopback] {
        let (a, _b) = pair(kind, Some(ask), false);
        let got = a.capacity().unwrap();
        assert_eq!(got.send, 2 * ask.min(wmem_max), "{kind} SO_SNDBUF");
        assert_eq!(got.recv, 2 * ask.min(rmem_max), "{kind} SO_RCVBUF");
    }
}

#[test]
fn halves_report_their_own_direction() {
    let (a, _b) = Builder::new()
        .kind(Kind::Pipes)
        .build()
        .unwrap()
        .into_ends();
    let (r, w) = a.split().unwrap();
    assert_eq!(w.set_capacity(128 << 10).unwrap().send, 128 << 10);
    assert_eq!(w.capacity().unwrap().recv, 0);
    assert_eq!(r.set_capacity(512 << 10).unwrap().recv, 512 << 10);
    assert_eq!(r.capacity().unwrap().send, 0);
}

#[test]
fn what_was_asked_is_kept_by_the_end_its_clones_and_halves() {
    for kind in Kind::ALL {
        let (a, _b) = pair(kind, None, false);
        assert_eq!(a.capacity().unwrap().asked, None, "{kind}: the default");
        let granted = a.set_capacity(100_000).unwrap();
        assert_eq!(granted.asked, Some(100_000), "{kind}");
        assert_eq!(a.capacity().unwrap().asked, Some(100_000), "{kind}");
        // Shown in the Display too, in the units probe uses.
        assert!(
            granted.to_string().ends_with(", asked 97.7 KiB"),
            "{granted}"
        );

        let (a, b) = pair(kind, Some(64 << 10), false);
        for end in [&a, &b] {
            assert_eq!(end.capacity().unwrap().asked, Some(64 << 10), "{kind}");
        }
        let c = a.try_clone().unwrap();
        assert_eq!(c.capacity().unwrap().asked, Some(64 << 10), "{kind}: clone");
        let (r, w) = b.split().unwrap();
        assert_eq!(
            r.capacity().unwrap().asked,
            Some(64 << 10),
            "{kind}: read half"
        );
        assert_eq!(w.set_capacity(4096).unwrap().asked, Some(4096), "{kind}");
        assert_eq!(
            w.capacity().unwrap().asked,
            Some(4096),
            "{kind}: write half"
        );
    }
    let (r, w) = Builder::new().capacity(32 << 10).pipe().unwrap();
    assert_eq!(r.capacity().unwrap().asked, Some(32 << 10));
    assert_eq!(w.capacity().unwrap().asked, Some(32 << 10));
}

#[test]
fn socket_figures_are_doubled_and_the_payload_is_what_compares_across_kinds() {
    let ask = 128 << 10;
    for kind in Kind::ALL {
        let (a, _b) = pair(kind, Some(ask), false);
        let got = a.capacity().unwrap();
        let text = got.to_string();
        if kind.is_socket() {
            // Linux reports twice the request.
            assert_eq!(got.send, 2 * ask.min(sysctl("net/core/wmem_max")), "{kind}");
        }
        if kind == Kind::SocketPair {
            // AF_UNIX charges bookkeeping to SO_SNDBUF: less payload than the figure.
            assert!(got.send_payload < got.send, "{kind}: {got:?}");
            assert!(text.contains("payload about"), "{text}");
        } else if kind == Kind::Loopback {
            // TCP: the writer's send queue plus the reader's receive queue, 7/16 of each.
            assert_eq!(
                got.send_payload,
                got.send * 7 / 16 + got.recv * 7 / 16,
                "{got:?}"
            );
        } else {
            assert_eq!((got.send_payload, got.recv_payload), (ask, ask));
            assert_eq!(text, "send 128 KiB, recv 128 KiB, asked 128 KiB");
        }
    }
}

#[test]
fn a_capacity_of_zero_is_refused_and_shrinks_nothing() {
    let invalid = |r: std::io::Result<Capacity>, what: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{what}: {e}");
        assert!(
            e.to_string().contains("do not set a capacity"),
            "{what}: {e}"
        );
    };
    for kind in Kind::ALL {
        let e = Builder::new().kind(kind).capacity(0).build().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{kind}: {e}");
        // Refused up front, not as a refusal of every kind in turn.
        assert!(procwire::wire::PairError::of(&e).is_none(), "{e}");
        let (a, b) = Builder::new().kind(kind).build().unwrap().into_ends();
        let before = a.capacity().unwrap();
        invalid(a.set_capacity(0), "End::set_capacity");
        assert_eq!(
            a.capacity().unwrap(),
            before,
            "{kind}: set_capacity(0) changed it"
        );
        let (r, w) = b.split().unwrap();
        invalid(r.set_capacity(0), "ReadHalf::set_capacity");
        invalid(w.set_capacity(0), "WriteHalf::set_capacity");
    }
    let e = Builder::new().capacity(0).pipe().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
}

/// Writes `chunk`-byte pieces into the non-blocking `end` until the kernel queues no more
/// without a reader, and returns the payload bytes queued. Stops at the first `EAGAIN` once
/// `enough` bytes are in; below that, waits (up to a hang-guard bound) for the kernel to make
/// room, since TCP moves bytes to the receiver's queue asynchronously.
fn fill(end: &End, chunk: usize, enough: usize) -> usize {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use std::io::{ErrorKind, Write};

    let buf = vec![0x5a; chunk];
    let mut queued = 0;
    loop {
        match (&*end).write(&buf) {
            Ok(n) => queued += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if queued >= enough {
                    return queued;
                }
                let mut fds = [PollFd::from_borrowed_fd(
                    end.write_fd().unwrap(),
                    PollFlags::OUT,
                )];
                let bound = Timespec {
                    tv_sec: 20,
                    tv_nsec: 0,
                };
                if poll(&mut fds, Some(&bound)).unwrap() == 0 {
                    return queued;
                }
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

#[test]
fn the_payload_estimate_is_a_floor_of_what_a_writer_queues() {
    // With writes of 4 KiB or more, which the estimate is documented for. Run with
    // `--nocapture` to see the measured figures.
    for kind in Kind::ALL {
        for ask in [None, Some(16 << 10), Some(256 << 10), Some(1 << 20)] {
            for chunk in [4 << 10, 64 << 10] {
                let (a, _b) = pair(kind, ask, true);
                let c = a.capacity().unwrap();
                let queued = fill(&a, chunk, c.send_payload);
                eprintln!(
                    "{:<10} asked {:>8} writes {:>6}: SO_SNDBUF/pipe {:>8} SO_RCVBUF/pipe \
                     {:>8} estimate {:>8} queued {:>8} ({:.2} of the kernel's send figure)",
                    kind.name(),
                    ask.map_or("default".to_owned(), |a| a.to_string()),
                    chunk,
                    c.send,
                    c.recv,
                    c.send_payload,
                    queued,
                    queued as f64 / c.send as f64,
                );
                assert!(
                    queued >= c.send_payload,
                    "{kind} asked {ask:?}, {chunk}-byte writes: queued {queued} < estimate {c:?}"
                );
                if kind == Kind::Pipes {
                    assert_eq!(queued, c.send, "a pipe holds exactly its size");
                }
            }
        }
    }
}
