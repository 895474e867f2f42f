//! The give-up rule for our stdout after a watchdog killed the program, sans IO: the caller
//! samples how many bytes our stdout has taken and the time, and asks whether to wait on.
//!
//! Why a rule at all: a write to our stdout may sleep in the kernel without limit (a blocking
//! socket or a stopped tty whose reader no longer reads; `splice(2)` and `write(2)` into them
//! cannot be woken by the watchdog, unlike our waits on the program's wire). Once the program
//! is dead there is nothing left to stall on but that reader, so exec gives it the same time
//! the watchdog gave the program: as long as it keeps taking bytes exec keeps delivering what
//! it holds; once it has taken none for that long, exec gives the rest up and exits.
//!
//! Caveat: bytes count as taken when a write or splice to our stdout returns, so a reader that
//! takes one write's bytes (up to the bridge's pipe or buffer) more slowly than the limit
//! looks idle, and the count given up includes what of the last write it did take.

use std::time::{Duration, Instant};

/// What to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Wait at most this long for the output to finish, then ask again.
    Wait(Duration),
    /// Our stdout took no byte for the whole limit: give up.
    GiveUp,
}

/// Progress of our stdout since the kill, against a limit.
#[derive(Debug)]
pub(crate) struct StdoutGrace {
    limit: Duration,
    /// The delivered count last seen, and since when it has not changed.
    seen: u64,
    since: Instant,
}

impl StdoutGrace {
    /// Starts counting at `now`, when `delivered` bytes had reached our stdout.
    pub(crate) fn new(limit: Duration, now: Instant, delivered: u64) -> StdoutGrace {
        StdoutGrace {
            limit,
            seen: delivered,
            since: now,
        }
    }

    /// The verdict at `now`, our stdout having taken `delivered` bytes in all. Any progress
    /// since the last call restarts the count (from `now`: never earlier than the progress).
    pub(crate) fn check(&mut self, now: Instant, delivered: u64) -> Verdict {
        if delivered != self.seen {
            self.seen = delivered;
            self.since = now;
        }
        let idle = now.saturating_duration_since(self.since);
        match self.limit.checked_sub(idle) {
            Some(left) if !left.is_zero() => Verdict::Wait(left),
            _ => Verdict::GiveUp,
        }
    }

    /// How long our stdout had taken nothing when the last check gave up.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_stdout_that_takes_nothing_is_given_up_after_the_limit() {
        let t0 = Instant::now();
        let mut g = StdoutGrace::new(2 * S, t0, 100);
        assert_eq!(g.check(t0, 100), Verdict::Wait(2 * S));
        assert_eq!(g.check(t0 + S, 100), Verdict::Wait(S));
        assert_eq!(g.check(t0 + 2 * S, 100), Verdict::GiveUp);
        // And stays given up.
        assert_eq!(g.check(t0 + 3 * S, 100), Verdict::GiveUp);
    }

    #[test]
    fn every_byte_taken_restarts_the_count() {
        let t0 = Instant::now();
        let mut g = StdoutGrace::new(2 * S, t0, 0);
        // A slow reader: one chunk every 1.5 s never reaches the 2 s limit.
        for i in 1..10u32 {
            let now = t0 + S * 3 / 2 * i;
            assert_eq!(
                g.check(now, u64::from(i) * 4096),
                Verdict::Wait(2 * S),
                "{i}"
            );
        }
        let last = t0 + S * 3 / 2 * 9;
        assert_eq!(g.check(last + S, 9 * 4096), Verdict::Wait(S));
        assert_eq!(g.check(last + 2 * S, 9 * 4096), Verdict::GiveUp);
    }

    #[test]
    fn a_clock_that_goes_back_never_gives_up_early() {
        let t0 = Instant::now() + 10 * S;
        let mut g = StdoutGrace::new(S, t0, 0);
        assert_eq!(g.check(t0 - S, 0), Verdict::Wait(S));
    }
}
