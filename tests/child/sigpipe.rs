//! The child's SIGPIPE disposition is the one asked for.
//!
//! In the first tests the child starts writing only after our reader is gone (it waits for one
//! byte on stdin first), so its first write meets a closed wire: `SIGPIPE` on every topology.
//! A writer already blocked in write(2) when the reader leaves sees the same on a pipe, and
//! `EPIPE` without the signal on a socket (Linux fails the sleeping `AF_UNIX` write without
//! raising it); never `ECONNRESET`, which the kernel would report had our end closed with
//! unread bytes.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use procwire::child::{Command, Exit, Sigpipe, StderrTo, Topology};
use procwire::stderr::Settings;

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

/// Waits (hang-guarded) until `pid` sleeps. For `yes`, which only ever sleeps in write(2) on a
/// full wire, that means it is blocked there.
fn wait_until_asleep(pid: u32) {
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // The state follows the parenthesised command name.
        let state = stat.rsplit_once(") ").unwrap().1.chars().next().unwrap();
        if state == 'S' {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "yes never blocked: state {state}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `yes` fills the wire and blocks in write(2); then our reader goes away. `armed`: with a
/// stall watchdog, whose thread holds duplicates of our read end (shut down with it all the
/// same).
fn blocked_yes_after_reader_gone(topology: Topology, sigpipe: Sigpipe, armed: bool) -> Exit {
    let mut cmd = Command::new("yes");
    cmd.topology(topology)
        .stderr(Settings::new().sink(std::io::sink()))
        .sigpipe(sigpipe);
    if armed {
        cmd.stall_timeout(Duration::from_secs(60));
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (mut reader, writer, handle) = child.split();
    reader.read_exact(&mut [0u8; 4]).unwrap();
    wait_until_asleep(pid);
    drop(reader);
    drop(writer);
    handle.wait().unwrap()
}

/// Issue 11, defect 8: on sockets a writer blocked when the reader left got `ECONNRESET`
/// ("Connection reset by peer"), because our end closed with unread bytes. Now every topology
/// gives `EPIPE`: on a pipe the blocked write raises `SIGPIPE` (death under the default
/// disposition); on a socket the blocked write fails with `EPIPE` and no signal, whatever the
/// disposition.
#[test]
fn a_writer_blocked_when_the_reader_leaves_gets_epipe_on_every_topology() {
    for topology in Topology::ALL {
        for (sigpipe, armed) in [
            (Sigpipe::Default, false),
            (Sigpipe::Ignore, false),
            (Sigpipe::Default, true),
            (Sigpipe::Ignore, true),
        ] {
            let exit = blocked_yes_after_reader_gone(topology, sigpipe, armed);
            let said = String::from_utf8_lossy(exit.stderr_tail()).into_owned();
            let what = format!("{topology}, {sigpipe:?}, watchdog {armed}: {exit}, {said:?}");
            assert!(!said.contains("reset"), "{what}");
            match (topology, sigpipe) {
                (Topology::Pipes, Sigpipe::Default) => {
                    assert_eq!(exit.signal(), Some(13), "{what}")
                }
                _ => {
                    assert_eq!((exit.signal(), exit.code()), (None, Some(1)), "{what}");
                    assert!(said.contains("Broken pipe"), "{what}");
                }
            }
        }
    }
}
