//! `Writer::splice_from` and `Reader::splice_to`: zero-copy in and out of a child, counted by the
//! watchdogs, and never stalling the process at the other end of a pipe.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use procwire::child::{Command, StderrTo, Topology};

/// Regression: a blocking splice from a socket into a pipe holds the pipe's lock while it waits
/// for socket data, so `cat` reading the other end of that pipe sleeps on the lock and cannot
/// echo what was already spliced. A ping-pong through `cat` then deadlocks on the first round.
/// (`procwire exec --wire pipes` under rsync hung exactly so.)
#[test]
fn splicing_from_a_socket_into_the_childs_pipe_never_stalls_its_reader() {
    let child = Command::new("cat")
        .topology(Topology::Pipes)
        .stderr(StderrTo::Null)
        .spawn()
        .unwrap();
    let (mut reader, mut writer, handle) = child.split();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let pump = std::thread::spawn(move || {
        let mut total = 0;
        loop {
            match writer.splice_from(&theirs, 1 << 16) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("splice_from: {e}"),
            }
        }
    });
    let (done, finished) = mpsc::channel();
    let pinger = std::thread::spawn(move || {
        let mut buf = [0u8; 5];
        for round in 0..200u32 {
            ours.write_all(&round.to_le_bytes()).unwrap();
            ours.write_all(b"!").unwrap();
            reader.read_exact(&mut buf).unwrap();
            assert_eq!(&buf[..4], &round.to_le_bytes());
        }
        ours.shutdown(std::net::Shutdown::Write).unwrap();
        done.send(()).unwrap();
        reader
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the ping-pong through cat deadlocked");
    let reader = pinger.join().unwrap();
    assert_eq!(pump.join().unwrap(), 200 * 5);
    drop(reader);
    assert!(handle.wait().unwrap().success());
}

#[test]
fn splice_moves_a_stream_both_ways_on_every_topology() {
    for topology in Topology::ALL {
        let child = Command::new("cat")
            .topology(topology)
            .stderr(StderrTo::Null)
            .stall_timeout(Duration::from_secs(5))
            .spawn()
            .unwrap();
        let (mut reader, mut writer, handle) = child.split();
        // In: a pipe we write; out: a pipe we read. splice_to writes into a pipe on every
        // topology; splice_from needs the child's input to be a pipe and refuses sockets
        // (a splice into a socket can block holding the source pipe's lock), before any byte
        // moved, so the caller copies instead.
        let (src_r, mut src_w) = procwire::wire::pipe().unwrap();
        let (mut dst_r, dst_w) = procwire::wire::pipe().unwrap();
        const TOTAL: usize = 8 << 20;
        let feeder =
            std::thread::spawn(move || crate::support::write_stream(&mut src_w, 3, TOTAL, 70_001));
        let pump_in = std::thread::spawn(move || {
            match writer.splice_from(&src_r, 1 << 20) {
                Ok(n) => {
                    assert_eq!(topology, Topology::Pipes);
                    if n > 0 {
                        while writer.splice_from(&src_r, 1 << 20).unwrap() > 0 {}
                    }
                }
                Err(e) => {
                    assert_ne!(topology, Topology::Pipes, "{e}");
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
                    std::io::copy(&mut &src_r, &mut writer).unwrap();
                }
            }
            writer.close().unwrap();
        });
        let pump_out = std::thread::spawn(
            move || {
                while reader.splice_to(&dst_w, 1 << 20).unwrap() > 0 {}
            },
        );
        let got = crate::support::read_stream(&mut dst_r, 3, topology.name());
        feeder.join().unwrap();
        pump_in.join().unwrap();
        pump_out.join().unwrap();
        assert_eq!(got, TOTAL, "{topology}");
        // The stall watchdog counted the spliced bytes as progress: it never fired.
        assert!(handle.wait().unwrap().success(), "{topology}");
    }
}
