//! The child's SIGPIPE disposition is the one asked for.
//!
//! The child starts writing only after our reader is gone (it waits for one byte on stdin
//! first), so its first write meets a closed wire. (A writer already blocked on a full socket
//! when the reader closes gets `ECONNRESET` instead, with no signal: that is Linux's AF_UNIX
//! behaviour for a socket closed with unread data, whatever the disposition.)

use std::io::{Read, Write};

use procwire::child::{Command, Sigpipe, StderrTo, Topology};

fn yes_after_reader_gone(topology: Topology, sigpipe: Sigpipe) -> procwire::child::Exit {
    let child = Command::from_argv(["sh", "-c", "head -c1 >/dev/null; exec yes"])
        .unwrap()
        .topology(topology)
        .stderr(StderrTo::Null)
        .sigpipe(sigpipe)
        .spawn()
        .unwrap();
    let (reader, mut writer, handle) = child.split();
    drop(reader);
    writer.write_all(b"go").unwrap();
    drop(writer);
    handle.wait().unwrap()
}

#[test]
fn default_sigpipe_kills_a_writer_whose_reader_left() {
    for topology in Topology::ALL {
        let exit = yes_after_reader_gone(topology, Sigpipe::Default);
        assert_eq!(exit.signal(), Some(13), "{topology}: {exit}");
    }
}

#[test]
fn ignored_sigpipe_turns_it_into_an_epipe_error() {
    for topology in Topology::ALL {
        let exit = yes_after_reader_gone(topology, Sigpipe::Ignore);
        // GNU yes reports the write error and exits 1.
        assert_eq!(
            (exit.signal(), exit.code()),
            (None, Some(1)),
            "{topology}: {exit}"
        );
    }
}

#[test]
fn a_reader_that_stays_sees_every_byte_the_child_wrote() {
    let mut child = Command::from_argv(["head", "-c", "100000", "/dev/zero"])
        .unwrap()
        .stderr(StderrTo::Null)
        .sigpipe(Sigpipe::Ignore)
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    child.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 100_000);
    assert!(child.wait().unwrap().success());
}
