//! Descriptor exhaustion: with RLIMIT_NOFILE lowered in a helper process, creation falls back
//! or fails with a clear error, and not one descriptor leaks.

use std::io::{Read, Write};

use procwire::wire::{Builder, Kind};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::support::{HELPER_OK, in_own_process};

/// Lowers the soft RLIMIT_NOFILE so that exactly `free` descriptor numbers stay available.
fn leave_free(free: usize) {
    let open = procwire::fd::open_fds().unwrap();
    let mut limit = 0u64;
    let mut left = free;
    loop {
        if !open.contains(&(limit as i32)) {
            if left == 0 {
                break;
            }
            left -= 1;
        }
        limit += 1;
    }
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: hard,
        },
    )
    .unwrap();
}

fn restore() {
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: hard,
            maximum: hard,
        },
    )
    .unwrap();
}

#[test]
fn fd_exhaustion_falls_back_or_fails_clearly_without_leaks() {
    if !in_own_process("exhaustion::fd_exhaustion_falls_back_or_fails_clearly_without_leaks") {
        return;
    }
    let before = procwire::fd::open_fds().unwrap();

    // Three free: the second pipe2 fails, its first pipe is closed, a socketpair fits.
    leave_free(3);
    let pair = Builder::new()
        .kinds([Kind::Pipes, Kind::SocketPair])
        .build()
        .unwrap();
    assert_eq!(pair.kind(), Kind::SocketPair);
    let refusal = &pair.refusals()[0];
    assert_eq!(refusal.kind, Kind::Pipes);
    assert!(
        refusal.error.to_string().contains("RLIMIT_NOFILE"),
        "{}",
        refusal.error
    );
    drop(pair);
    restore();
    assert_eq!(
        procwire::fd::open_fds().unwrap(),
        before,
        "leak after pipes fallback"
    );

    // Two free: the loopback shim gets its listener and client but cannot accept.
    leave_free(2);
    let pair = Builder::new()
        .kinds([Kind::Loopback, Kind::SocketPair])
        .build()
        .unwrap();
    assert_eq!(pair.kind(), Kind::SocketPair);
    assert_eq!(pair.refusals()[0].kind, Kind::Loopback);
    drop(pair);
    restore();
    assert_eq!(
        procwire::fd::open_fds().unwrap(),
        before,
        "leak after loopback fallback"
    );

    // One free: every kind is refused; the error names each and says what to do.
    leave_free(1);
    let err = Builder::new().build().unwrap_err();
    restore();
    let text = err.to_string();
    for part in [
        "socketpair refused",
        "pipes refused",
        "loopback refused",
        "RLIMIT_NOFILE",
    ] {
        assert!(text.contains(part), "missing {part:?} in: {text}");
    }
    assert_eq!(
        procwire::fd::open_fds().unwrap(),
        before,
        "leak after total refusal"
    );

    // A one-way pipe and a split need descriptors too: clear errors, no leaks.
    leave_free(1);
    let err = procwire::wire::pipe().unwrap_err();
    assert!(err.to_string().contains("pipe2"), "{err}");
    restore();
    leave_free(2);
    let (a, b) = Builder::new()
        .kind(Kind::SocketPair)
        .build()
        .unwrap()
        .into_ends();
    let err = a.split().unwrap_err();
    assert!(err.to_string().contains("RLIMIT_NOFILE"), "{err}");
    // The end comes back whole and still works.
    let mut a = err.into_inner();
    restore();
    a.write_all(b"kept").unwrap();
    drop(a);
    let mut got = String::new();
    (&b).read_to_string(&mut got).unwrap();
    assert_eq!(got, "kept");
    drop(b);
    assert_eq!(
        procwire::fd::open_fds().unwrap(),
        before,
        "leak after failed split"
    );
    println!("{HELPER_OK}");
}

#[test]
fn try_clone_at_the_descriptor_limit_fails_clearly_without_leaks() {
    if !in_own_process("exhaustion::try_clone_at_the_descriptor_limit_fails_clearly_without_leaks")
    {
        return;
    }
    for kind in Kind::ALL {
        let (a, mut b) = Builder::new().kind(kind).build().unwrap().into_ends();
        let before = procwire::fd::open_fds().unwrap();
        // One free number: a pipes end gets its first duplicate, not its second, and must give
        // the first back; a socket end needs only one.
        leave_free(1);
        let cloned = a.try_clone();
        restore();
        match (kind, cloned) {
            (Kind::Pipes, Err(e)) => {
                let text = e.to_string();
                assert!(text.contains("F_DUPFD_CLOEXEC"), "{text}");
                assert!(text.contains("RLIMIT_NOFILE"), "{text}");
                assert_eq!(procwire::fd::open_fds().unwrap(), before, "leak");
            }
            (Kind::Pipes, Ok(c)) => panic!("two duplicates in one free slot: {c:?}"),
            (_, Ok(c)) => drop(c),
            (_, Err(e)) => panic!("{kind}: one duplicate in one free slot failed: {e}"),
        }
        leave_free(0);
        let err = a.try_clone().unwrap_err();
        restore();
        assert!(err.to_string().contains("RLIMIT_NOFILE"), "{kind}: {err}");
        assert_eq!(procwire::fd::open_fds().unwrap(), before, "{kind}: leak");
        // The end is untouched and still works.
        (&a).write_all(b"ok").unwrap();
        drop(a);
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "ok", "{kind}");
    }
    println!("{HELPER_OK}");
}
