//! The model row: procwire's in-memory socketpair between this thread and a second one, with a
//! kernel socketpair between the same two threads as its "raw" figure, in interleaved blocks.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use procwire::model::MemStream;
use procwire::wire::Capacity;

use super::Throughput;
use crate::bench::affinity::pin;
use crate::bench::plan::{Budget, Mode};
use crate::bench::protocol::warm_bytes;
use crate::bench::schedule::{
    ROUND_TRIPS_PER_BLOCK, RoundTrips, SETTLE_BLOCKS, TIMED_BLOCKS, block_mode, block_size,
    ping_pong, timed_blocks,
};

fn read_exactly(mut r: impl Read, buf: &mut [u8], mut n: u64) -> io::Result<()> {
    while n > 0 {
        let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        match r.read(&mut buf[..want])? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            k => n -= k as u64,
        }
    }
    Ok(())
}

fn write_chunks(mut w: impl Write, buf: &[u8], total: u64) -> io::Result<()> {
    for _ in 0..total / buf.len() as u64 {
        w.write_all(buf)?;
    }
    Ok(())
}

/// The calling thread (already pinned) writes; a thread pinned to `r_cpu` reads.
pub fn throughput(
    capacity: usize,
    chunk: usize,
    r_cpu: usize,
    budget: Budget,
) -> io::Result<Throughput> {
    let (ma, mb) = MemStream::pair_with_capacity(capacity)?;
    let (ka, kb) = UnixStream::pair()?;
    let warm = warm_bytes(2 * capacity as u64, chunk);
    let (tell, told) = mpsc::channel::<u64>();
    // The reader's word that it has read a block to its last byte, as a sink's ACK is
    // (`bench::protocol`): the same channel for both loops, so it weighs on both alike.
    let (ack, acked) = mpsc::channel::<()>();
    let await_ack = || {
        acked
            .recv()
            .map_err(|_| io::Error::other("the model's reader quit"))
    };
    thread::scope(|s| {
        let reader = s.spawn(move || -> io::Result<()> {
            pin(r_cpu)?;
            let mut buf = vec![0u8; chunk];
            let ack = || ack.send(()).map_err(io::Error::other);
            read_exactly(&mb, &mut buf, warm)?;
            ack()?;
            read_exactly(&kb, &mut buf, warm)?;
            ack()?;
            let block = told.recv().map_err(io::Error::other)?;
            for i in 0..SETTLE_BLOCKS + TIMED_BLOCKS {
                match block_mode(i) {
                    Mode::Procwire => read_exactly(&mb, &mut buf, block)?,
                    Mode::Raw => read_exactly(&kb, &mut buf, block)?,
                }
                ack()?;
            }
            Ok(())
        });
        let buf = vec![0xa5u8; chunk];
        let t = Instant::now();
        write_chunks(&ma, &buf, warm)?;
        await_ack()?;
        let warm_secs = t.elapsed().as_secs_f64();
        write_chunks(&ka, &buf, warm)?;
        await_ack()?;
        let block = block_size(budget, warm, warm_secs, chunk);
        tell.send(block).map_err(io::Error::other)?;
        let blocks = timed_blocks(|mode| {
            match mode {
                Mode::Procwire => write_chunks(&ma, &buf, block)?,
                Mode::Raw => write_chunks(&ka, &buf, block)?,
            }
            await_ack()
        })?;
        reader
            .join()
            .map_err(|_| io::Error::other("the model's reader thread panicked"))??;
        let (procwire_gb_s, raw_gb_s) = blocks.rates(block);
        Ok(Throughput {
            procwire_gb_s,
            raw_gb_s,
            pairs: blocks.pairs,
            // The model counts payload bytes only: its capacity is its payload.
            granted: Capacity {
                send: capacity,
                recv: capacity,
                asked: Some(capacity),
                send_payload: capacity,
                recv_payload: capacity,
            },
        })
    })
}

/// 1-byte round trips from the calling thread to an echo thread pinned to `r_cpu`, in
/// blocks alternating the model and the kernel socketpair.
pub fn latency(capacity: usize, r_cpu: usize, time: Duration) -> io::Result<RoundTrips> {
    let (ma, mb) = MemStream::pair_with_capacity(capacity)?;
    let (ka, kb) = UnixStream::pair()?;
    thread::scope(|s| {
        let echo = s.spawn(move || -> io::Result<()> {
            pin(r_cpu)?;
            let mut byte = [0u8];
            for block in 0u64.. {
                for _ in 0..ROUND_TRIPS_PER_BLOCK {
                    let got = match block_mode(block) {
                        Mode::Procwire => (&mb).read(&mut byte)?,
                        Mode::Raw => (&kb).read(&mut byte)?,
                    };
                    if got == 0 {
                        return Ok(());
                    }
                    match block_mode(block) {
                        Mode::Procwire => (&mb).write_all(&byte)?,
                        Mode::Raw => (&kb).write_all(&byte)?,
                    }
                }
            }
            Ok(())
        });
        let mut byte = [0u8];
        let rtts = ping_pong(time, |mode| match mode {
            Mode::Procwire => {
                (&ma).write_all(&byte)?;
                (&ma).read_exact(&mut byte)
            }
            Mode::Raw => {
                (&ka).write_all(&byte)?;
                (&ka).read_exact(&mut byte)
            }
        })?;
        // The echo thread reads EOF from whichever stream comes next.
        drop((ma, ka));
        echo.join()
            .map_err(|_| io::Error::other("the model's echo thread panicked"))??;
        Ok(rtts)
    })
}
