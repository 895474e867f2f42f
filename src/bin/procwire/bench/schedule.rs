//! The block schedule: how one run interleaves procwire's loop with the raw loop, and how its
//! block timings become figures.
//!
//! Within one run, blocks of procwire's loop alternate with blocks of the raw loop on the same
//! descriptors, on both sides, in ABBA BAAB order: both loops meet the same scheduler state,
//! caches and neighbours, so their ratio stays steady even where the absolute figures of a
//! 2-core machine swing from one run to the next. Everything here is pure except the clock read
//! around each block.

use std::io;
use std::time::{Duration, Instant};

use super::plan::{Budget, Mode};

/// How many timed blocks a throughput run has (a multiple of 8: whole ABBA BAAB groups).
pub const TIMED_BLOCKS: u64 = 64;
/// Untimed blocks before them, in the same alternation: whatever the kernel still does for the
/// previous run (reaping its child, freeing its buffers) lands here, not on the first timed
/// block, which would always be procwire's.
pub const SETTLE_BLOCKS: u64 = 8;
/// Round trips per latency block.
pub const ROUND_TRIPS_PER_BLOCK: u64 = 64;

/// The loop that moves block `i`: procwire, raw, raw, procwire, then raw, procwire, procwire,
/// raw (ABBA BAAB), and again. Within every eight blocks each loop holds each position once on
/// average, so neither a drift during the run nor the first and last blocks favour one.
/// Writer and reader follow the same sequence.
pub fn block_mode(i: u64) -> Mode {
    let abba = matches!(i % 4, 0 | 3);
    let flipped = (i / 4) % 2 == 1;
    if abba != flipped {
        Mode::Procwire
    } else {
        Mode::Raw
    }
}

/// `n` rounded up to a whole number of `chunk`s, at least one.
pub fn round_up(n: u64, chunk: usize) -> u64 {
    let c = chunk as u64;
    n.max(1).div_ceil(c) * c
}

/// The size of each timed block: the run's budget (bytes, or time at the warm-up's rate of
/// `warm_bytes` in `warm_secs`) over [`TIMED_BLOCKS`], in whole chunks.
pub fn block_size(budget: Budget, warm_bytes: u64, warm_secs: f64, chunk: usize) -> u64 {
    let timed = match budget {
        Budget::Time(t) => (warm_bytes as f64 / warm_secs * t.as_secs_f64()) as u64,
        Budget::Bytes(b) => b,
    };
    round_up(timed / TIMED_BLOCKS, chunk)
}

/// What the timed blocks of one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocks {
    /// Seconds spent in timed blocks, per mode (index by `Mode as usize`).
    pub secs: [f64; 2],
    /// Procwire's rate over raw's in each of the run's adjacent block pairs; the cell's ratio is
    /// the median over all pairs of all its runs.
    ///
    /// The schedule (ABBA BAAB) pairs every procwire block with a raw block moved right before
    /// or after it, with the same bytes on the same descriptors. A burst of host steal time or
    /// an interrupt storm lands on one or two blocks; in the totals (`secs`) it tilts the whole
    /// run towards whichever mode it hit, while the median over the pairs sets it aside. Both
    /// modes are treated alike, so a real per-call overhead shows in every pair and in this
    /// median too.
    pub pairs: Vec<f64>,
}

impl Blocks {
    /// (procwire, raw) GB/s (1e9 B/s) of a run whose timed blocks were `block` bytes each.
    pub fn rates(&self, block: u64) -> (f64, f64) {
        let per_mode = (block * TIMED_BLOCKS / 2) as f64;
        let gb_s = |mode: Mode| per_mode / self.secs[mode as usize] / 1e9;
        (gb_s(Mode::Procwire), gb_s(Mode::Raw))
    }
}

/// Runs the settling and timed blocks, `write(mode)` moving one block.
pub fn timed_blocks(mut write: impl FnMut(Mode) -> io::Result<()>) -> io::Result<Blocks> {
    let mut secs = [0f64; 2];
    let mut times = Vec::with_capacity(TIMED_BLOCKS as usize);
    for i in 0..SETTLE_BLOCKS + TIMED_BLOCKS {
        let mode = block_mode(i);
        let t = Instant::now();
        write(mode)?;
        if i >= SETTLE_BLOCKS {
            let took = t.elapsed().as_secs_f64();
            secs[mode as usize] += took;
            times.push((mode, took));
        }
    }
    Ok(Blocks {
        secs,
        pairs: pair_ratios(&times),
    })
}

/// Procwire's rate over raw's (raw's time over procwire's) in each consecutive pair of
/// equal-sized blocks `(mode, seconds)` that holds one block of each.
pub fn pair_ratios(times: &[(Mode, f64)]) -> Vec<f64> {
    times
        .chunks_exact(2)
        .filter_map(|pair| match pair {
            [(Mode::Procwire, p), (Mode::Raw, r)] | [(Mode::Raw, r), (Mode::Procwire, p)] => {
                Some(r / p)
            }
            _ => None,
        })
        .collect()
}

/// One latency run's outcome: round trips in µs, per loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundTrips {
    pub procwire_us: Vec<f64>,
    pub raw_us: Vec<f64>,
}

/// Round trips in blocks of [`ROUND_TRIPS_PER_BLOCK`] for about `time`, whole groups of eight
/// only (so both loops make as many), `round_trip(mode)` making one; each timed in µs.
pub fn ping_pong(
    time: Duration,
    mut round_trip: impl FnMut(Mode) -> io::Result<()>,
) -> io::Result<RoundTrips> {
    let mut rtts = [Vec::with_capacity(1 << 16), Vec::with_capacity(1 << 16)];
    let start = Instant::now();
    let mut block = 0u64;
    while block % 8 != 0 || (start.elapsed() < time && block < 100_000) {
        let mode = block_mode(block);
        for _ in 0..ROUND_TRIPS_PER_BLOCK {
            let t0 = Instant::now();
            round_trip(mode)?;
            rtts[mode as usize].push(t0.elapsed().as_secs_f64() * 1e6);
        }
        block += 1;
    }
    let [procwire_us, raw_us] = rtts;
    Ok(RoundTrips {
        procwire_us,
        raw_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median of [`pair_ratios`].
    fn pair_ratio(times: &[(Mode, f64)]) -> f64 {
        super::super::stats::percentile(&pair_ratios(times), 50.0)
    }

    #[test]
    fn blocks_alternate_abba_baab() {
        let modes: Vec<Mode> = (0..8).map(block_mode).collect();
        use Mode::{Procwire as P, Raw as R};
        assert_eq!(modes, [P, R, R, P, R, P, P, R]);
        // Whole groups of eight: both loops move the same number of blocks.
        assert_eq!(TIMED_BLOCKS % 8, 0);
        let procwire = (0..TIMED_BLOCKS).filter(|&i| block_mode(i) == P).count();
        assert_eq!(procwire as u64 * 2, TIMED_BLOCKS);
    }

    #[test]
    fn timed_pairs_each_hold_one_block_of_each_loop() {
        // The pairs pair_ratio forms from the timed blocks (after the settling ones).
        assert_eq!(SETTLE_BLOCKS % 2, 0);
        for i in (SETTLE_BLOCKS..SETTLE_BLOCKS + TIMED_BLOCKS).step_by(2) {
            assert_ne!(block_mode(i), block_mode(i + 1), "pair at block {i}");
        }
    }

    #[test]
    fn pair_ratio_sets_a_disturbed_block_aside() {
        use Mode::{Procwire as P, Raw as R};
        // procwire 10% slower in every pair: 1/1.1.
        let even: Vec<(Mode, f64)> = (0..TIMED_BLOCKS)
            .map(|i| match block_mode(i) {
                P => (P, 1.1),
                R => (R, 1.0),
            })
            .collect();
        assert!((pair_ratio(&even) - 1.0 / 1.1).abs() < 1e-12);
        // The same with one raw block hit by a 40x stall: the totals would call procwire
        // faster (16 x 1.1 against 15 + 40), the pair median does not.
        let mut hit = even.clone();
        let at = hit.iter().position(|b| b.0 == R).unwrap();
        hit[at].1 = 40.0;
        assert!((pair_ratio(&hit) - 1.0 / 1.1).abs() < 1e-12);
        // Pairs of one loop only (never produced by the schedule) are ignored.
        assert!((pair_ratio(&[(P, 1.0), (P, 1.0), (R, 2.0), (P, 1.0)]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn blocks_are_whole_chunks() {
        assert_eq!(round_up(1, 4096), 4096);
        assert_eq!(round_up(4096, 4096), 4096);
        assert_eq!(round_up(4097, 4096), 8192);
        assert_eq!(round_up(0, 64), 64);
    }

    #[test]
    fn blocks_are_sized_from_the_budget() {
        // 1 GB/s in the warm-up, 64 ms budget: 1 MB per block, rounded up to 4 KiB chunks.
        let b = block_size(
            Budget::Time(Duration::from_millis(64)),
            1_000_000,
            0.001,
            4096,
        );
        assert_eq!(b, round_up(1_000_000, 4096));
        assert_eq!(block_size(Budget::Bytes(64 << 20), 1, 1.0, 4096), 1 << 20);
    }

    #[test]
    fn rates_divide_each_mode_s_bytes_by_its_time() {
        let blocks = Blocks {
            secs: [0.032, 0.016],
            pairs: Vec::new(),
        };
        // 32 blocks of 1 MB per mode: 32 MB in 32 ms is 1 GB/s, in 16 ms 2 GB/s.
        let (p, r) = blocks.rates(1_000_000);
        assert!(
            (p - 1.0).abs() < 1e-12 && (r - 2.0).abs() < 1e-12,
            "{p} {r}"
        );
    }
}
