//! The protocol between `procwire bench` (the writer, "parent") and its `procwire bench-peer`
//! child ("peer"), written down once; both sides call these functions.
//!
//! 1. **Start.** The parent makes a fresh pair (creation is not timed) and starts the peer with
//!    its end as stdin and stdout, and `--role`, `--kind`, `--cpu`, and for a sink `--chunk`
//!    and `--warm` (see [`sink_args`], [`echo_args`]).
//! 2. **Ready.** The peer pins itself to its CPU and writes one byte, [`READY`]; the parent
//!    waits for it ([`await_ready`]) before any clock starts, so neither `execve(2)` nor the
//!    dynamic loader is measured.
//!
//! A **sink** (throughput):
//!
//! 3. **Warm-up.** The parent writes `--warm` bytes with procwire's loop; the peer reads them
//!    with procwire's loop and answers [`ACK`]. It fills both directions' buffers several times
//!    over ([`warm_bytes`]) and its time, up to the `ACK`, gives the rate that sizes the blocks.
//! 4. **Block size.** The parent sends the block size as 8 bytes, little-endian
//!    ([`send_u64`]).
//! 5. **Blocks.** [`SETTLE_BLOCKS`] then [`TIMED_BLOCKS`] blocks of that size; both sides move
//!    block `i` with the loop of [`block_mode`]`(i)`, the peer with reads of at most `--chunk`
//!    bytes. When the peer has read a block's last byte it answers [`ACK`], and the parent's
//!    clock for that block stops when the `ACK` arrives ([`await_ack`]): a block is timed from
//!    its first byte written to its last byte read, and the next one starts on an empty
//!    buffer. (Stopping the clock when the last `write(2)` returned, as the bench once did,
//!    timed only the copy into the socket buffer for blocks shorter than the buffer, and left
//!    up to the whole buffer for the next block to pay: see `docs/bench.md`.)
//! 6. **End.** The parent shuts its writing side down (`shutdown(2)`, or closing the pipe); the
//!    peer reads EOF at a block boundary (EOF inside a block is an error).
//! 7. **Total.** The peer writes the bytes it read, warm-up and header included, as 8 bytes
//!    little-endian; the parent checks them against what it sent ([`check_total`]).
//!
//! An **echo** (latency):
//!
//! 3. **Round trips.** The parent writes one byte, the peer writes it back; round trip `n`
//!    uses the loop of [`block_mode`]`(n / ROUND_TRIPS_PER_BLOCK)` on both sides.
//! 4. **End.** The parent shuts its writing side down; the peer reads EOF and exits 0.

use std::io::{self, Read, Write};

#[cfg(doc)]
use super::schedule::{ROUND_TRIPS_PER_BLOCK, block_mode};
use super::schedule::{SETTLE_BLOCKS, TIMED_BLOCKS, round_up};

/// The byte a peer sends once it is pinned and about to read.
pub const READY: u8 = 1;
/// The byte a sink sends when it has read the warm-up, and each block, to its last byte.
pub const ACK: u8 = 2;

/// Step 2, peer side.
pub fn send_ready(mut w: impl Write) -> io::Result<()> {
    w.write_all(&[READY])
}

/// Step 2, parent side: waits for [`READY`].
pub fn await_ready(r: impl Read) -> io::Result<()> {
    expect(r, READY, "its ready byte")
}

/// Steps 3 and 5, peer side.
pub fn send_ack(mut w: impl Write) -> io::Result<()> {
    w.write_all(&[ACK])
}

/// Steps 3 and 5, parent side: waits for [`ACK`].
pub fn await_ack(r: impl Read) -> io::Result<()> {
    expect(r, ACK, "the end of a block")
}

fn expect(mut r: impl Read, want: u8, what: &str) -> io::Result<()> {
    let mut byte = [0u8];
    r.read_exact(&mut byte)?;
    if byte[0] != want {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the bench peer sent {:#04x} instead of {what}", byte[0]),
        ));
    }
    Ok(())
}

/// The warm-up of step 3 for a wire that buffers `buffered` bytes in both directions
/// together: at least 4 MiB and four times the buffers, in whole chunks.
pub fn warm_bytes(buffered: u64, chunk: usize) -> u64 {
    round_up((4u64 << 20).max(4 * buffered), chunk)
}

/// The peer's arguments for a sink (step 1).
pub fn sink_args(chunk: usize, warm: u64) -> Vec<String> {
    [
        "--role",
        "sink",
        "--chunk",
        &chunk.to_string(),
        "--warm",
        &warm.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The peer's arguments for an echo (step 1).
pub fn echo_args() -> Vec<String> {
    ["--role", "echo"].map(str::to_owned).to_vec()
}

/// Steps 4 and 7: one 8-byte little-endian number.
pub fn send_u64(mut w: impl Write, n: u64) -> io::Result<()> {
    w.write_all(&n.to_le_bytes())
}

/// Steps 4 and 7, reading side.
pub fn recv_u64(mut r: impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    r.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// What a sink must count (step 7): the warm-up, the 8-byte header and every block.
pub fn sink_total(warm: u64, block: u64) -> u64 {
    warm + 8 + block * (SETTLE_BLOCKS + TIMED_BLOCKS)
}

/// Step 7, parent side: reads the peer's count and compares it with [`sink_total`].
pub fn check_total(r: impl Read, warm: u64, block: u64) -> io::Result<()> {
    let counted = recv_u64(r)?;
    let sent = sink_total(warm, block);
    if counted != sent {
        return Err(io::Error::other(format!(
            "the bench peer counted {counted} bytes, {sent} were sent"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ready_and_acks_round_trip() {
        let mut buf = Vec::new();
        send_ready(&mut buf).unwrap();
        send_u64(&mut buf, 0x0102_0304_0506_0708).unwrap();
        send_ack(&mut buf).unwrap();
        let mut r = &buf[..];
        await_ready(&mut r).unwrap();
        assert_eq!(recv_u64(&mut r).unwrap(), 0x0102_0304_0506_0708);
        await_ack(&mut r).unwrap();
        assert!(await_ready(&[ACK][..]).is_err(), "an ACK is not READY");
        assert!(await_ack(&[READY][..]).is_err(), "READY is not an ACK");
        assert!(await_ack(&[][..]).is_err());
    }

    #[test]
    fn totals_count_warm_up_header_and_blocks() {
        let total = sink_total(100, 10);
        let mut buf = Vec::new();
        send_u64(&mut buf, total).unwrap();
        check_total(&buf[..], 100, 10).unwrap();
        let err = check_total(&buf[..], 100, 11).unwrap_err();
        assert!(err.to_string().contains("counted"), "{err}");
        assert_eq!(warm_bytes(0, 4096), 4 << 20);
        assert_eq!(warm_bytes(8 << 20, 4096), 32 << 20);
    }
}
