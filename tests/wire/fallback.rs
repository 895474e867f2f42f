//! The fallback policy against a kernel that really refuses a kind.

use std::io::{ErrorKind, Read, Write};

use procwire::wire::{Builder, Kind};

use crate::support::{HELPER_OK, assert_helper_ok, in_helper, rerun_under};

#[test]
fn loopback_refused_in_a_namespace_without_lo_falls_back_to_socketpair() {
    if !in_helper() {
        // A fresh network namespace has its loopback interface down: TCP to 127.0.0.1 fails.
        let out = rerun_under(
            &["unshare", "--net"],
            "fallback::loopback_refused_in_a_namespace_without_lo_falls_back_to_socketpair",
            &[],
        );
        assert_helper_ok(&out);
        return;
    }
    let pair = Builder::new()
        .kinds([Kind::Loopback, Kind::SocketPair])
        .build()
        .unwrap();
    assert_eq!(pair.kind(), Kind::SocketPair);
    let refusal = &pair.refusals()[0];
    assert_eq!(refusal.kind, Kind::Loopback);
    assert_eq!(
        refusal.error.kind(),
        ErrorKind::NetworkUnreachable,
        "{}",
        refusal.error
    );
    assert!(
        refusal.error.to_string().contains("127.0.0.1"),
        "{}",
        refusal.error
    );
    let (mut a, mut b) = pair.into_ends();
    a.write_all(b"fell back").unwrap();
    drop(a);
    let mut got = String::new();
    b.read_to_string(&mut got).unwrap();
    assert_eq!(got, "fell back");

    // Loopback alone: the error says which kind failed and why.
    let err = Builder::new().kind(Kind::Loopback).build().unwrap_err();
    assert!(err.to_string().contains("loopback refused"), "{err}");
    println!("{HELPER_OK}");
}
