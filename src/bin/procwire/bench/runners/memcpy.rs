//! The copy ceiling: single-core `memcpy` bandwidth between two buffers, which no wire that
//! copies through the kernel can beat.

use std::time::{Duration, Instant};

/// A page, the unit the buffers are aligned to.
const PAGE: usize = 4096;

/// `memcpy` GB/s between two `chunk`-sized, page-aligned buffers on the calling (pinned)
/// thread, for `time`.
///
/// The buffers are placed at the same offset in their pages on purpose. glibc copies anything
/// above its `x86_rep_movsb_threshold` (2-8 KiB) with `rep movsb`, whose speed on some CPUs
/// depends on where the source and destination sit relative to each other: on an AMD Zen 3 it
/// drops from ~40 GB/s to ~2 GB/s when the destination is 16 bytes past the source modulo the
/// page. Two fresh `Vec`s land wherever the allocator puts them, so a ceiling measured on them
/// moved by 8x between repeats of one run; aligned, it is the copy's best case, which is what a
/// ceiling is. (`procwire::model` copies in 2 KiB pieces for the same reason.)
pub fn run(chunk: usize, time: Duration) -> f64 {
    let mut src = vec![0x5au8; chunk + PAGE];
    let mut dst = vec![0u8; chunk + PAGE];
    let src = aligned(&mut src, chunk);
    let dst = aligned(&mut dst, chunk);
    let check_every = ((1usize << 20) / chunk).max(1);
    let start = Instant::now();
    let mut copied = 0u64;
    while start.elapsed() < time {
        for _ in 0..check_every {
            dst.copy_from_slice(std::hint::black_box(&*src));
            std::hint::black_box(&mut *dst);
        }
        copied += (check_every * chunk) as u64;
    }
    copied as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// The `chunk` bytes of `buf` (which has `PAGE` spare bytes) that start on a page boundary.
fn aligned(buf: &mut [u8], chunk: usize) -> &mut [u8] {
    let skip = buf.as_ptr().align_offset(PAGE);
    &mut buf[skip..skip + chunk]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffers_start_on_a_page_boundary_and_hold_the_chunk() {
        for chunk in [1, 4096, 65536 + 17] {
            let mut buf = vec![0u8; chunk + PAGE];
            let a = aligned(&mut buf, chunk);
            assert_eq!(a.len(), chunk);
            assert_eq!(a.as_ptr() as usize % PAGE, 0);
        }
    }
}
