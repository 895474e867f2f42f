//! Unit tests of `child`'s sans-IO cores and small pieces: the close policy and the watchdog
//! against a scripted process and a fake clock (no process, thread or sleep), the error
//! payloads, and the command's validation.

use std::io;
use std::time::Duration;

use super::Watchdog;
use super::state::Fired;

mod policy;
mod scripted;
mod watchdog;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn timed_out_messages_name_the_watchdog_and_the_time() {
    let e = Fired {
        watchdog: Watchdog::Connect,
        after: ms(1500),
    }
    .error();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let t = super::TimedOut::of(&e).expect("the TimedOut payload");
    assert_eq!(t.watchdog(), Watchdog::Connect);
    assert!(t.exit().is_none());
    let msg = e.to_string();
    assert!(
        msg.contains("connect watchdog") && msg.contains("1.5s"),
        "{msg}"
    );
    let stall = Fired {
        watchdog: Watchdog::Stall,
        after: Duration::from_secs(30),
    }
    .error()
    .to_string();
    assert!(
        stall.contains("stall watchdog") && stall.contains("30s"),
        "{stall}"
    );
}

#[test]
fn topology_names_round_trip() {
    for t in super::Topology::ALL {
        assert_eq!(t.name().parse::<super::Topology>().unwrap(), t);
    }
    let e = io::Error::from("duplex".parse::<super::Topology>().unwrap_err());
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("socketpairs"));
}

#[test]
fn an_empty_argv_is_refused() {
    let e = super::Command::from_argv(Vec::<String>::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}
