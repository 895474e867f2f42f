//! The wire between the two programs: what their fd 0 and 1 are, round trips, and EOF when
//! either one exits.

use crate::support::procs::{eventually, gone, stop};
use crate::{WIRES, code};

/// Program A of the round trip: checks that its fd 0 and 1 are what `--wire` promises (one
/// socket for both, or two distinct pipes), then sends 200 numbered lines and checks each
/// reply, then exits (0 only if everything matched).
const PINGER: &str = r#"
import os, stat, sys
kind = sys.argv[1]
s0, s1 = os.fstat(0), os.fstat(1)
if kind == "socketpair":
    ok = stat.S_ISSOCK(s0.st_mode) and (s0.st_dev, s0.st_ino) == (s1.st_dev, s1.st_ino)
else:
    ok = stat.S_ISFIFO(s0.st_mode) and stat.S_ISFIFO(s1.st_mode) and s0.st_ino != s1.st_ino
if not ok:
    sys.stderr.write("A: fd 0/1 are not one %s end\n" % kind)
    sys.exit(1)
for i in range(200):
    sys.stdout.write("ping %d\n" % i)
    sys.stdout.flush()
    got = sys.stdin.readline()
    if got != "pong %d\n" % i:
        sys.stderr.write("A: wanted pong %d, got %r\n" % (i, got))
        sys.exit(1)
sys.stderr.write("A-ok\n")
"#;

#[test]
fn round_trip_on_both_wires() {
    for wire in WIRES {
        let (c, err) = code(&[
            "--wire",
            wire,
            "--",
            "python3",
            "-c",
            PINGER,
            wire,
            "--",
            "sh",
            "-c",
            r#"while read l; do echo "pong ${l#ping }"; done; echo B-eof >&2"#,
        ]);
        assert_eq!(c, 0, "{wire}: {err}");
        // A finished its checks, and B then read EOF (A's exit half-closed the wire).
        assert!(
            err.contains("A-ok\n") && err.contains("B-eof\n"),
            "{wire}: {err}"
        );
    }
}

/// Program A of the bulk test: sends 8 MiB from a thread while reading the echo, then
/// half-closes its own output (shutdown on the socket, close on the pipe) and checks that the
/// echo is complete and exact.
const BULK: &str = r#"
import os, socket, stat, sys, threading
data = bytes((i * 7 + i // 251) % 256 for i in range(1 << 16)) * 128
def send():
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
    if stat.S_ISSOCK(os.fstat(1).st_mode):
        socket.socket(fileno=os.dup(1)).shutdown(socket.SHUT_WR)
    else:
        os.close(1)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    got += chunk
t.join()
if got != data:
    sys.stderr.write("A: echo differs (%d of %d bytes)\n" % (len(got), len(data)))
    sys.exit(1)
sys.stderr.write("A-bulk-ok\n")
"#;

#[test]
fn bulk_echo_with_a_half_close_from_the_program() {
    for wire in WIRES {
        let (c, err) = code(&["--wire", wire, "--", "python3", "-c", BULK, "--", "cat"]);
        assert_eq!(c, 0, "{wire}: {err}");
        assert!(err.contains("A-bulk-ok"), "{wire}: {err}");
    }
}

/// Whichever program exits first, the other reads what it sent, then EOF, and finishes.
#[test]
fn when_one_program_exits_the_other_reads_eof() {
    let listener =
        |me: &str| format!(r#"read l; echo "{me} read $l" >&2; cat; echo {me}-saw-eof >&2"#);
    for wire in WIRES {
        for (a, b, listening) in [
            ("echo hello".to_owned(), listener("B"), "B"),
            (listener("A"), "echo hello".to_owned(), "A"),
        ] {
            let (c, err) = code(&["--wire", wire, "--", "sh", "-c", &a, "--", "sh", "-c", &b]);
            assert_eq!(c, 0, "{wire}: {err}");
            let want = format!("{listening} read hello\n{listening}-saw-eof\n");
            assert_eq!(err, want, "{wire}: {listening} listening");
        }
    }
}

/// After one program has exited, the other's writes fail as in a shell pipeline whose reader
/// is gone: it dies of SIGPIPE (141), on both wires alike.
#[test]
fn writing_to_an_exited_program_is_a_broken_pipe_on_both_wires() {
    for wire in WIRES {
        let (c, err) = code(&[
            "--wire",
            wire,
            "--",
            "true",
            "--",
            "sh",
            "-c",
            "cat; echo late",
        ]);
        assert_eq!(c, 128 + 13, "{wire}: {err}");
        assert!(
            err.contains("B (sh, pid ") && err.contains("signal 13"),
            "{wire}: {err}"
        );
    }
}

/// A program that writes without end to a peer that has exited is stopped, not left blocked
/// on a full wire (on a socketpair our copy of the exited end would otherwise keep it open):
/// `yes` dies of SIGPIPE, or, when its write was already asleep on a full socket, gets EPIPE
/// and exits 1. Either way procwire finishes and names B.
#[test]
fn a_writer_to_an_exited_program_is_not_left_blocked() {
    for wire in WIRES {
        let (c, err) = code(&["--wire", wire, "--", "true", "--", "yes"]);
        assert!(c == 128 + 13 || c == 1, "{wire}: {c}: {err}");
        assert!(
            err.contains("procwire connect: B (yes, pid "),
            "{wire}: {err}"
        );
    }
}

/// On a socketpair, EOF arrives when A exits even though a descendant of A still holds A's
/// end: procwire shuts that end down rather than waiting for every holder to close it.
#[test]
fn eof_arrives_on_a_socketpair_despite_a_descendant_holding_the_end() {
    let (c, err) = code(&[
        "--wire",
        "socketpair",
        "--",
        "sh",
        "-c",
        "sleep 1000 2>/dev/null & echo $! >&2; echo hi",
        "--",
        "sh",
        "-c",
        "cat >/dev/null; echo B-saw-eof >&2",
    ]);
    let descendant: u32 = err
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("A's first line is its sleep's pid: {err}"));
    stop(descendant);
    assert!(eventually(|| gone(descendant)));
    assert_eq!(c, 0, "{err}");
    assert!(err.ends_with("B-saw-eof\n"), "{err}");
}
