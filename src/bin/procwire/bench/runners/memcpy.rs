//! The copy ceiling: single-core `memcpy` bandwidth between two buffers, which no wire that
//! copies through the kernel can beat.

use std::time::{Duration, Instant};

/// `memcpy` GB/s between two `chunk`-sized buffers on the calling (pinned) thread, for `time`.
pub fn run(chunk: usize, time: Duration) -> f64 {
    let src = vec![0x5au8; chunk];
    let mut dst = vec![0u8; chunk];
    let check_every = ((1usize << 20) / chunk).max(1);
    let start = Instant::now();
    let mut copied = 0u64;
    while start.elapsed() < time {
        for _ in 0..check_every {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
        copied += (check_every * chunk) as u64;
    }
    copied as f64 / start.elapsed().as_secs_f64() / 1e9
}
