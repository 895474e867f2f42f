//! One capacity API: the grant is what the kernel reads back; pipe requests are clamped.

use std::os::fd::BorrowedFd;

use procwire::wire::{Builder, Capacity, End, Kind, pipe_max_size};
use rustix::net::sockopt;

/// The kernel's own read-back for an end, without procwire in between.
fn kernel(end: &End) -> Capacity {
    let (r, w): (BorrowedFd<'_>, BorrowedFd<'_>) =
        (end.read_fd().unwrap(), end.write_fd().unwrap());
    if end.kind().is_socket() {
        Capacity {
            send: sockopt::socket_send_buffer_size(w).unwrap(),
            recv: sockopt::socket_recv_buffer_size(r).unwrap(),
        }
    } else {
        Capacity {
            send: rustix::pipe::fcntl_getpipe_size(w).unwrap(),
            recv: rustix::pipe::fcntl_getpipe_size(r).unwrap(),
        }
    }
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
                assert_eq!(granted, kernel(end), "{kind} asked {ask}");
                assert!(granted.send > 0 && granted.recv > 0);
            }
            // set_capacity returns the same read-back.
            assert_eq!(a.set_capacity(ask).unwrap(), kernel(a), "{kind}");
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
    assert_eq!(
        granted,
        Capacity {
            send: max,
            recv: max
        }
    );
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
        let (a, _b) = Builder::new()
            .kind(kind)
            .capacity(ask)
            .build()
            .unwrap()
            .into_ends();
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
