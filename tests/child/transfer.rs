//! Bytes through `cat` on every topology, both ways at once, and half-close making it exit.

use std::io::{Read, Write};

use procwire::child::{Command, StderrTo, Topology};

use crate::support::{read_stream, write_stream};

const TOTAL: usize = 32 << 20;

fn echo_through_cat(topology: Topology) {
    let child = Command::new("cat")
        .topology(topology)
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let (mut reader, mut writer, handle) = child.split();
    let feeder = std::thread::spawn(move || {
        write_stream(&mut writer, 7, TOTAL, 100_003);
        // The half-close: cat sees EOF after the bytes, flushes and exits.
        writer.close().unwrap();
        writer
    });
    let got = read_stream(&mut reader, 7, topology.name());
    assert_eq!(got, TOTAL, "{topology}: all bytes came back");
    let writer = feeder.join().unwrap();
    assert!(writer.is_closed());
    let exit = handle.wait().unwrap();
    assert!(exit.success(), "{topology}: cat exited {exit}");
}

#[test]
fn cat_echoes_32_mib_on_pipes() {
    echo_through_cat(Topology::Pipes);
}

#[test]
fn cat_echoes_32_mib_on_socketpairs() {
    echo_through_cat(Topology::SocketPairs);
}

#[test]
fn cat_echoes_32_mib_on_one_socketpair() {
    echo_through_cat(Topology::SocketPair);
}

#[test]
fn half_close_alone_makes_cat_exit_on_every_topology() {
    for topology in Topology::ALL {
        let mut child = Command::new("cat")
            .topology(topology)
            .stderr(StderrTo::Null)
            .spawn()
            .unwrap();
        child.write_all(b"last words").unwrap();
        child.close_input().unwrap();
        child.close_input().unwrap(); // idempotent
        let e = child.write(b"more").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{topology}");
        let mut out = Vec::new();
        child.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"last words", "{topology}");
        // cat has exited by itself: the reap must not need a signal.
        let (reader, _writer, mut handle) = child.split();
        drop(reader);
        let mut status = None;
        assert!(
            crate::eventually(|| {
                status = handle.try_wait().unwrap();
                status.is_some()
            }),
            "{topology}: cat did not exit after the half-close"
        );
        let status = status.unwrap();
        assert!(status.success(), "{topology}: {status}");
        assert!(handle.wait().unwrap().success());
    }
}

#[test]
fn unsplit_child_wait_closes_input_first() {
    let mut child = Command::new("cat").stderr(StderrTo::Null).spawn().unwrap();
    child.write_all(b"x").unwrap();
    let mut one = [0u8];
    child.read_exact(&mut one).unwrap();
    // cat would wait forever on stdin; Child::wait closes it.
    let (exit, took) = crate::timed(|| child.wait().unwrap());
    assert!(exit.success());
    // A hang-guard: a cat left waiting on its input would not exit by itself.
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let exit_of = |script: &str| {
        Command::from_argv(["sh", "-c", script])
            .unwrap()
            .stderr(StderrTo::Null)
            .spawn()
            .unwrap()
            .wait()
            .unwrap()
    };
    let exit = exit_of("exit 3");
    assert_eq!(
        (exit.code(), exit.signal(), exit.shell_code()),
        (Some(3), None, 3)
    );
    let exit = exit_of("kill -USR1 $$");
    assert_eq!(
        (exit.code(), exit.signal(), exit.shell_code()),
        (None, Some(10), 138)
    );
    assert_eq!(exit.to_string(), "killed by signal 10");
}

#[test]
fn a_missing_program_is_not_found_and_says_which() {
    let e = Command::new("procwire-no-such-program-here")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(
        msg.contains("procwire-no-such-program-here") && msg.contains("PATH"),
        "{msg}"
    );
}

#[test]
fn a_non_executable_file_is_permission_denied() {
    let dir = std::env::temp_dir().join(format!("procwire-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script");
    std::fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let e = Command::new(&file).spawn().unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("chmod"), "{e}");
}
