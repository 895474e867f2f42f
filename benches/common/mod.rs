//! The loop both criterion benches time: one writer, one reader thread.

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

/// Moves `iters` chunks of `chunk` bytes from `w` to `r` on two threads and returns the time
/// from the first write until the reader has every byte. The reader is started (and waiting)
/// before the clock runs.
pub fn two_threads<W: Write, R: Read + Send>(
    w: &mut W,
    r: &mut R,
    chunk: usize,
    iters: u64,
) -> Duration {
    let data = vec![0x5au8; chunk];
    let total = iters as usize * chunk;
    thread::scope(|s| {
        let (go, ready) = std::sync::mpsc::channel();
        let reader = s.spawn(move || {
            let mut buf = vec![0u8; chunk];
            let mut left = total;
            go.send(()).unwrap();
            while left > 0 {
                let n = r.read(&mut buf[..chunk.min(left)]).unwrap();
                assert!(n > 0, "unexpected EOF");
                left -= n;
            }
        });
        ready.recv().unwrap();
        let start = Instant::now();
        for _ in 0..iters {
            w.write_all(&data).unwrap();
        }
        reader.join().unwrap();
        start.elapsed()
    })
}
