//! The child holds fds 0, 1 and 2 and nothing else of ours, with the blocking flags asked for.

use std::io::{Read, Write};

use procwire::child::{Command, StderrTo, Topology};
use procwire::stderr::Settings;

use crate::support::expected_child_fds;

/// `O_NONBLOCK` of the child's descriptor `fd`, from `/proc/<pid>/fdinfo` (octal flags).
fn child_nonblocking(pid: u32, fd: i32) -> bool {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    flags & 0o4000 != 0
}

/// Spawns cat, waits for one echoed byte (so the exec has closed the close-on-exec
/// descriptors), and returns its descriptors and its stdin/stdout non-blocking flags.
fn look(cmd: &mut Command) -> (Vec<i32>, bool, bool) {
    let mut child = cmd.spawn().unwrap();
    child.write_all(b"x").unwrap();
    let mut one = [0u8];
    child.read_exact(&mut one).unwrap();
    let pid = child.id();
    let fds = procwire::fd::open_fds_of(pid).unwrap();
    let flags = (child_nonblocking(pid, 0), child_nonblocking(pid, 1));
    assert!(child.wait().unwrap().success());
    (fds, flags.0, flags.1)
}

#[test]
fn the_child_sees_only_0_1_2_on_every_topology_and_stderr_mode() {
    // Make some descriptors of our own first, which the child must not get.
    let _pair = procwire::wire::pair().unwrap();
    let _pipe = procwire::wire::pipe().unwrap();
    let expected = expected_child_fds();
    for topology in Topology::ALL {
        for (name, stderr) in [
            (
                "capture",
                StderrTo::Capture(Settings::new().sink(std::io::sink())),
            ),
            ("inherit", StderrTo::Inherit),
            ("null", StderrTo::Null),
        ] {
            let (fds, stdin_nb, stdout_nb) =
                look(Command::new("cat").topology(topology).stderr(stderr));
            assert_eq!(fds, expected, "{topology}, stderr {name}");
            assert!(
                !stdin_nb && !stdout_nb,
                "{topology}: the child's ends are blocking"
            );
        }
    }
}

#[test]
fn the_childs_stdout_can_be_left_non_blocking_where_it_has_its_own_descriptor() {
    for topology in [Topology::Pipes, Topology::SocketPairs] {
        let (_, stdin_nb, stdout_nb) = look(
            Command::new("cat")
                .topology(topology)
                .stderr(StderrTo::Null)
                .child_stdout_nonblocking(true),
        );
        assert!(!stdin_nb, "{topology}: stdin stays blocking");
        assert!(stdout_nb, "{topology}: stdout is non-blocking as asked");
    }
    let e = Command::new("cat")
        .topology(Topology::SocketPair)
        .child_stdout_nonblocking(true)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("share O_NONBLOCK"), "{e}");
}

#[test]
fn our_ends_are_close_on_exec() {
    for topology in Topology::ALL {
        let child = Command::new("cat")
            .topology(topology)
            .stderr(StderrTo::Null)
            .spawn()
            .unwrap();
        let (reader, writer, handle) = child.split();
        crate::support::assert_cloexec(&reader);
        // The writer is a descriptor too (AsFd), of the topology's kind.
        crate::support::assert_cloexec(&writer);
        let mode = rustix::fs::fstat(&writer).unwrap().st_mode;
        let socket = rustix::fs::FileType::from_raw_mode(mode) == rustix::fs::FileType::Socket;
        assert_eq!(socket, topology != Topology::Pipes, "{topology}");
        drop(writer);
        drop(reader);
        assert!(handle.wait().unwrap().success());
    }
}
