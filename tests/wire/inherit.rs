//! Descriptor discipline: close-on-exec from birth, per-end blocking mode as asked, and a real
//! child spawned after the wires were made inherits none of them.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::Stdio;

use procwire::wire::{Builder, End, Kind};

use crate::support::{
    assert_cloexec, assert_nonblocking, child_fds_after_exec, expected_child_fds,
};

fn fds(end: &End) -> Vec<std::os::fd::BorrowedFd<'_>> {
    let mut v = vec![end.read_fd().unwrap()];
    if end.kind() == Kind::Pipes {
        v.push(end.write_fd().unwrap());
    }
    v
}

#[test]
fn every_fd_is_cloexec_and_nonblocking_only_where_asked() {
    for kind in Kind::ALL {
        for (nb_a, nb_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let pair = Builder::new()
                .kind(kind)
                .nonblocking(nb_a, nb_b)
                .build()
                .unwrap();
            let (a, b) = pair.ends();
            for fd in fds(a) {
                assert_cloexec(fd);
                assert_nonblocking(fd, nb_a);
            }
            for fd in fds(b) {
                assert_cloexec(fd);
                assert_nonblocking(fd, nb_b);
            }
        }
    }
    for (nb_r, nb_w) in [(false, true), (true, false)] {
        let (r, w) = Builder::new().nonblocking(nb_r, nb_w).pipe().unwrap();
        assert_cloexec(&r);
        assert_cloexec(&w);
        assert_nonblocking(&r, nb_r);
        assert_nonblocking(&w, nb_w);
    }
}

#[test]
fn split_halves_are_cloexec_too() {
    for kind in Kind::ALL {
        let (a, _b) = Builder::new().kind(kind).build().unwrap().into_ends();
        let (r, w) = a.split().unwrap();
        assert_cloexec(r.as_fd());
        assert_cloexec(w.as_fd());
    }
}

#[test]
fn a_child_spawned_after_making_wires_sees_only_its_stdio() {
    // Wires of every kind, split and unsplit, alive while the child is spawned.
    let (mut halves, mut ends) = (Vec::new(), Vec::new());
    for kind in Kind::ALL {
        let (a, b) = Builder::new()
            .kind(kind)
            .nonblocking(true, false)
            .build()
            .unwrap()
            .into_ends();
        halves.push(a.split().unwrap());
        ends.push(b);
    }
    let (pr, pw) = procwire::wire::pipe().unwrap();
    let expected = expected_child_fds();
    let seen = child_fds_after_exec(None, || {});
    drop((halves, ends, pr, pw));
    assert_eq!(seen, expected);
}

#[test]
fn a_wire_end_given_to_a_child_is_all_it_gets() {
    // The converse: the end we hand over arrives as its stdin; nothing else does.
    let (ours, theirs) = Builder::new().build().unwrap().into_ends();
    let (_other_a, _other_b) = procwire::wire::pair().unwrap();
    let stdin = Stdio::try_from(theirs).unwrap();
    let expected = expected_child_fds();
    let seen = child_fds_after_exec(Some(stdin), || (&ours).write_all(b"x").unwrap());
    assert_eq!(seen, expected);
}
