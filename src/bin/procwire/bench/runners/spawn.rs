//! The spawn row: start `cat`, send it one byte, read it back, close its input and reap it:
//! procwire's child (one socketpair, stderr captured on the side channel by a drain thread)
//! beside `std::process::Command` with three pipes (stderr read to its end after the wait, so
//! both capture it). The two alternate spawn by spawn (ABBA) within one run, unpinned, so the
//! machine's state weighs on both alike.

use std::io::{self, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use procwire::child::{Command, Topology};
use procwire::stderr::Settings;

use crate::bench::plan::Mode;
use crate::bench::schedule::block_mode;

/// Microseconds per spawn + round trip + exit, one entry per spawn.
#[derive(Clone, Debug, Default)]
pub struct Spawns {
    pub procwire_us: Vec<f64>,
    pub std_us: Vec<f64>,
}

const PROGRAM: &str = "cat";

fn procwire_once() -> io::Result<()> {
    let mut child = Command::new(PROGRAM)
        .topology(Topology::SocketPair)
        .stderr(Settings::new().sink(io::sink()))
        .spawn()?;
    child.write_all(b"x")?;
    let mut one = [0u8];
    child.read_exact(&mut one)?;
    let exit = child.wait()?;
    check(exit.success(), "procwire's")
}

fn std_once() -> io::Result<()> {
    let mut child = std::process::Command::new(PROGRAM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io::Error::other("std did not give the piped stdio"));
    };
    stdin.write_all(b"x")?;
    let mut one = [0u8];
    stdout.read_exact(&mut one)?;
    drop(stdin);
    let status = child.wait()?;
    let mut err = Vec::new();
    stderr.read_to_end(&mut err)?;
    check(status.success(), "std's")
}

fn check(ok: bool, whose: &str) -> io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{PROGRAM} failed under {whose} spawn"
        )))
    }
}

/// Alternates the two for `time` (at least 4 of each), after one untimed spawn of each.
pub fn run(time: Duration) -> io::Result<Spawns> {
    let hint = |e: io::Error| io::Error::new(e.kind(), format!("spawning {PROGRAM}: {e}"));
    procwire_once().map_err(hint)?;
    std_once().map_err(hint)?;
    let mut out = Spawns::default();
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < time || i < 8 {
        let t = Instant::now();
        match block_mode(i) {
            Mode::Procwire => {
                procwire_once().map_err(hint)?;
                out.procwire_us.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Mode::Raw => {
                std_once().map_err(hint)?;
                out.std_us.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        i += 1;
    }
    Ok(out)
}
