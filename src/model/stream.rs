//! [`MemStream`]: two ends over one mutex, each direction a bounded `VecDeque`, and per
//! direction one condition variable for its blocked readers and one for its blocked writers
//! (plus, with the `tokio` feature, one task waker for each).
//!
//! # Wake-ups (what makes the model as fast as a kernel socketpair between threads)
//!
//! - Sleepers are woken **after** the mutex is released ([`Wake`]): a thread woken while the
//!   waker still holds the lock runs (on one CPU, preempting the waker), finds the mutex taken,
//!   and sleeps again on the mutex, costing two more context switches per hand-over.
//! - Readers and writers of a direction wait on separate condition variables, so a change wakes
//!   only the side it concerns, and only when someone waits (a `notify` is a `futex(2)` call
//!   even with no waiter).
//! - A blocked writer is woken when at most half the capacity is in use, not on every read: the
//!   kernel's `sock_writeable` threshold (`sk_wmem_alloc < sk_sndbuf / 2`). A reader taking 4 KiB
//!   at a time from a full 208 KiB buffer wakes the writer once, not 26 times.
//!
//! # Copies
//!
//! Bytes are copied in pieces of at most [`COPY_PIECE`] (2 KiB). A plain `copy_from_slice`
//! of 64 KiB is one `memcpy`, which glibc runs as `rep movsb`; on an AMD Zen 3 (where this was
//! measured) that instruction runs at ~2 GB/s instead of ~40 GB/s when the destination sits 16
//! bytes past the source modulo the page. With chunks that are multiples of 4 KiB the ring and
//! the caller's buffer keep one relative offset for the whole stream, so the model ran at
//! 0.3-0.5x a kernel socketpair or at 2x it depending on where the allocator happened to put
//! the buffers: the "slow at 64 KiB and above" that looked like a wake-up or a locking problem.
//! The model row of `procwire bench` measures the model against a kernel socketpair between the
//! same two threads.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{DEFAULT_CAPACITY, Fault, Readiness};

/// One end of an in-memory socketpair, with the API of [`std::os::unix::net::UnixStream`].
///
/// `Read` and `Write` are implemented for `MemStream` and `&MemStream`, vectored forms included,
/// so one end can be shared by threads (it is `Send + Sync`) or cloned with
/// [`try_clone`](MemStream::try_clone). See the [module docs](super) for the semantics.
///
/// ```
/// use std::io::{Read, Write};
/// use procwire::model::MemStream;
///
/// let (a, b) = MemStream::pair()?;
/// let reader = std::thread::spawn(move || {
///     let mut got = String::new();
///     (&b).read_to_string(&mut got).map(|_| got)
/// });
/// (&a).write_all(b"over the wire")?;
/// drop(a); // the reader sees EOF
/// assert_eq!(reader.join().unwrap()?, "over the wire");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MemStream {
    pub(super) shared: Arc<Shared>,
    /// Which end this is: 0 or 1. Bytes this end writes go to `queues[side]`.
    pub(super) side: usize,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// `data[d]` is signalled when direction `d` (bytes written by end `d`) gets bytes or
    /// closes: the readers of end `1 - d` wait on it.
    data: [Condvar; 2],
    /// `room[d]` is signalled when direction `d` drains to the low-water mark or closes: the
    /// writers of end `d` wait on it.
    room: [Condvar; 2],
}

/// Which of a direction's sleepers a change concerns.
#[derive(Clone, Copy)]
pub(super) enum Side {
    /// Readers of the direction (waiting for bytes or EOF).
    Readers = 0,
    /// Writers into the direction (waiting for room).
    Writers = 1,
}

pub(super) struct State {
    pub(super) capacity: usize,
    /// `queues[d]`: bytes written by end `d`, not yet read by end `1 - d`.
    pub(super) queues: [VecDeque<u8>; 2],
    pub(super) ends: [EndState; 2],
    /// `waiting[d][side]`: threads blocked on direction `d` (see [`Side`]), so the hot path
    /// signals only when someone waits.
    waiting: [[usize; 2]; 2],
    /// `wakers[d][side]`: the task waiting on direction `d`, for the `tokio` forms.
    #[cfg(feature = "tokio")]
    pub(super) wakers: [[Option<std::task::Waker>; 2]; 2],
}

/// The sleepers a change must wake, collected under the lock and woken by [`Wake::run`] after
/// it is released.
#[must_use = "a Wake does nothing until run after the lock is released"]
#[derive(Default)]
pub(super) struct Wake {
    threads: [[bool; 2]; 2],
    #[cfg(feature = "tokio")]
    tasks: [[Option<std::task::Waker>; 2]; 2],
}

impl State {
    /// Marks the sleepers of direction `d`'s `side` for waking.
    pub(super) fn wake(&mut self, d: usize, side: Side, w: &mut Wake) {
        let s = side as usize;
        if self.waiting[d][s] > 0 {
            w.threads[d][s] = true;
        }
        #[cfg(feature = "tokio")]
        if let Some(task) = self.wakers[d][s].take() {
            w.tasks[d][s] = Some(task);
        }
    }

    /// Bytes were added to direction `d`: its readers may go on.
    pub(super) fn data_added(&mut self, d: usize, w: &mut Wake) {
        self.wake(d, Side::Readers, w);
    }

    /// Bytes were taken from direction `d`: its writers go on once at most half of it is in
    /// use (see the module docs).
    pub(super) fn room_made(&mut self, d: usize, w: &mut Wake) {
        if self.queues[d].len() <= self.capacity / 2 {
            self.wake(d, Side::Writers, w);
        }
    }

    /// An end closed or shut down: every sleeper of both directions looks again.
    pub(super) fn wake_all(&mut self, w: &mut Wake) {
        for d in 0..2 {
            self.wake(d, Side::Readers, w);
            self.wake(d, Side::Writers, w);
        }
    }
}

impl Wake {
    /// Whether there is nobody to wake.
    pub(super) fn is_empty(&self) -> bool {
        let threads = self.threads.iter().flatten().any(|&t| t);
        #[cfg(feature = "tokio")]
        let threads = threads || self.tasks.iter().flatten().any(Option::is_some);
        !threads
    }

    /// Wakes what was marked; call it after dropping the lock.
    pub(super) fn run(self, shared: &Shared) {
        for d in 0..2 {
            if self.threads[d][Side::Readers as usize] {
                shared.data[d].notify_all();
            }
            if self.threads[d][Side::Writers as usize] {
                shared.room[d].notify_all();
            }
        }
        #[cfg(feature = "tokio")]
        for task in self.tasks.into_iter().flatten().flatten() {
            task.wake();
        }
    }
}

#[derive(Default)]
pub(super) struct EndState {
    /// Live `MemStream` handles of this end (the first plus its clones).
    pub(super) handles: usize,
    pub(super) nonblocking: bool,
    /// Linux's `RCV_SHUTDOWN`: reads return EOF once the buffer is drained.
    pub(super) read_shut: bool,
    /// Linux's `SEND_SHUTDOWN`: writes fail with `EPIPE`.
    pub(super) write_shut: bool,
    /// Linux's `sk_err = ECONNRESET`: the peer was dropped with unread bytes.
    pub(super) reset: bool,
    /// `SO_RCVTIMEO` / `SO_SNDTIMEO`: how long a blocking call may wait; `None` for ever.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    pub(super) read_faults: Faults,
    pub(super) write_faults: Faults,
}

/// The faults one direction of an end takes: the queued ones first, then the repeating one.
#[derive(Default)]
pub(super) struct Faults {
    queued: VecDeque<Fault>,
    forever: Option<Fault>,
}

impl Faults {
    /// How many of `want` bytes the next call may move, or the error it must return.
    pub(super) fn next_limit(&mut self, want: usize) -> io::Result<usize> {
        match self.queued.pop_front().or(self.forever) {
            None | Some(Fault::Pass) => Ok(want),
            Some(Fault::Short(n)) => Ok(want.min(n.max(1))),
            Some(fault) => Err(fault_error(fault)),
        }
    }

    fn clear(&mut self) {
        self.queued.clear();
        self.forever = None;
    }
}

impl MemStream {
    /// Makes a connected pair with [`DEFAULT_CAPACITY`] payload bytes per direction, both ends
    /// blocking: the model of [socketpair(2)] with `AF_UNIX, SOCK_STREAM`.
    ///
    /// Never fails; the `io::Result` matches [`UnixStream::pair`](std::os::unix::net::UnixStream::pair).
    ///
    /// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
    pub fn pair() -> io::Result<(MemStream, MemStream)> {
        MemStream::pair_with_capacity(DEFAULT_CAPACITY)
    }

    /// Makes a connected pair whose directions each hold at most `bytes` payload bytes.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a capacity of 0, which could carry nothing.
    pub fn pair_with_capacity(bytes: usize) -> io::Result<(MemStream, MemStream)> {
        if bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a MemStream pair needs a capacity of at least 1 byte per direction",
            ));
        }
        let end = || EndState {
            handles: 1,
            ..EndState::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                capacity: bytes,
                queues: [VecDeque::new(), VecDeque::new()],
                ends: [end(), end()],
                waiting: [[0; 2]; 2],
                #[cfg(feature = "tokio")]
                wakers: Default::default(),
            }),
            data: [Condvar::new(), Condvar::new()],
            room: [Condvar::new(), Condvar::new()],
        });
        let a = MemStream {
            shared: Arc::clone(&shared),
            side: 0,
        };
        Ok((a, MemStream { shared, side: 1 }))
    }

    /// Another handle to this same end, like [`UnixStream::try_clone`](std::os::unix::net::UnixStream::try_clone)
    /// (a `dup(2)`): both read from and write to the same buffers, share the non-blocking flag
    /// and the injected faults, and the end is closed only when the last handle is dropped.
    ///
    /// Never fails; the `io::Result` matches `UnixStream`.
    pub fn try_clone(&self) -> io::Result<MemStream> {
        self.lock().ends[self.side].handles += 1;
        Ok(MemStream {
            shared: Arc::clone(&self.shared),
            side: self.side,
        })
    }

    /// Sets or clears non-blocking mode for this end and its clones (`O_NONBLOCK`).
    ///
    /// A call already blocked keeps waiting; the flag applies to later calls. Never fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.lock().ends[self.side].nonblocking = nonblocking;
        Ok(())
    }

    /// Sets how long a blocking read on this end (and its clones) may wait for bytes, like
    /// [`UnixStream::set_read_timeout`](std::os::unix::net::UnixStream::set_read_timeout)
    /// (`SO_RCVTIMEO`, [socket(7)]); `None`, the default, waits for ever.
    ///
    /// A read that finds nothing, EOF or error within `timeout` of its start fails with
    /// `ErrorKind::WouldBlock`, as Linux's read does with `EAGAIN`. Give a test's reads a timeout
    /// and a lost wake-up or a deadlock fails the test instead of hanging it. A call already
    /// blocked keeps the timeout it started with; a non-blocking end never waits at all.
    ///
    /// Unlike the kernel, which keeps the timeout in scheduler ticks (a 1 µs timeout reads back
    /// as 4 ms with `HZ=250`), the model waits and reports exactly `timeout`. A timeout too large
    /// to add to [`Instant::now`] waits for ever, as the kernel's does.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as `UnixStream` (use `None` to wait for ever,
    /// or [`set_nonblocking`](MemStream::set_nonblocking) not to wait).
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout, "set_read_timeout")?;
        self.lock().ends[self.side].read_timeout = timeout;
        Ok(())
    }

    /// Sets how long a blocking write on this end (and its clones) may wait for room, like
    /// [`UnixStream::set_write_timeout`](std::os::unix::net::UnixStream::set_write_timeout)
    /// (`SO_SNDTIMEO`, [socket(7)]); `None`, the default, waits for ever.
    ///
    /// A write that waits `timeout` without room appearing returns the count it already moved,
    /// or fails with `ErrorKind::WouldBlock` if it moved nothing, as Linux's
    /// `unix_stream_sendmsg` does (`EAGAIN`). As there, the wait starts again whenever the
    /// write makes progress: a peer that keeps reading keeps a long write going. The other
    /// rules are [`set_read_timeout`](MemStream::set_read_timeout)'s.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as `UnixStream`.
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout, "set_write_timeout")?;
        self.lock().ends[self.side].write_timeout = timeout;
        Ok(())
    }

    /// The read timeout set by [`set_read_timeout`](MemStream::set_read_timeout), like
    /// [`UnixStream::read_timeout`](std::os::unix::net::UnixStream::read_timeout). Never fails.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.lock().ends[self.side].read_timeout)
    }

    /// The write timeout set by [`set_write_timeout`](MemStream::set_write_timeout), like
    /// [`UnixStream::write_timeout`](std::os::unix::net::UnixStream::write_timeout). Never fails.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.lock().ends[self.side].write_timeout)
    }

    /// Shuts down the read side, the write side, or both, as [shutdown(2)] does on a Linux
    /// `AF_UNIX` stream socket.
    ///
    /// - `Write`: the peer reads what is buffered, then EOF; writes here fail with `BrokenPipe`.
    /// - `Read`: the peer's writes fail with `BrokenPipe`; bytes already buffered here can still
    ///   be read, then reads return EOF.
    ///
    /// Threads blocked on either end are woken to see the change. Shutting down twice, or after
    /// the peer is gone, is harmless. Never fails.
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let (me, peer) = (self.side, 1 - self.side);
        let mut st = self.lock();
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            st.ends[me].read_shut = true;
            st.ends[peer].write_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            st.ends[me].write_shut = true;
            st.ends[peer].read_shut = true;
        }
        let mut w = Wake::default();
        st.wake_all(&mut w);
        drop(st);
        w.run(&self.shared);
        Ok(())
    }

    /// What a read or a write on this end would do now (see [`Readiness`]).
    pub fn readiness(&self) -> Readiness {
        let st = self.lock();
        let end = &st.ends[self.side];
        Readiness {
            readable: !st.queues[1 - self.side].is_empty() || end.read_shut || end.reset,
            writable: end.write_shut || st.queues[self.side].len() < st.capacity,
            read_closed: end.read_shut,
            write_closed: end.write_shut,
            error: end.reset,
        }
    }

    /// Takes the pending error, if any, like [`UnixStream::take_error`](std::os::unix::net::UnixStream::take_error)
    /// (`SO_ERROR`): `ConnectionReset` after the peer was dropped with unread bytes.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut st = self.lock();
        let reset = std::mem::take(&mut st.ends[self.side].reset);
        Ok(reset.then(reset_error))
    }

    /// The capacity of each direction, in payload bytes.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// Bytes buffered for this end to read (what `ioctl(SIOCINQ)` reports on a socket).
    pub fn queued_in(&self) -> usize {
        self.lock().queues[1 - self.side].len()
    }

    /// Bytes this end wrote that the peer has not read yet (`ioctl(SIOCOUTQ)`).
    pub fn queued_out(&self) -> usize {
        self.lock().queues[self.side].len()
    }

    /// Queues faults for the next read calls on this end (and its clones), one per call, after
    /// any already queued. See [`Fault`].
    ///
    /// The faults are collected before this returns, so `faults` must be finite: for a fault
    /// on every call use [`inject_reads_forever`](MemStream::inject_reads_forever).
    pub fn inject_reads(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().ends[self.side]
            .read_faults
            .queued
            .extend(faults);
    }

    /// Queues faults for the next write calls on this end (and its clones), one per call, after
    /// any already queued. See [`Fault`] and [`inject_reads`](MemStream::inject_reads).
    pub fn inject_writes(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().ends[self.side]
            .write_faults
            .queued
            .extend(faults);
    }

    /// Makes every read call on this end (and its clones) take `fault`, once the faults queued
    /// by [`inject_reads`](MemStream::inject_reads) are spent, until
    /// [`clear_faults`](MemStream::clear_faults); a second call replaces the fault.
    ///
    /// `Fault::Short(1)` forever is the slowest legal kernel; an error forever is a stream that
    /// has gone bad. Note that `read_exact`/`write_all` retry `Interrupted`, so with
    /// `Fault::Interrupted` forever they never return.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use procwire::model::{Fault, MemStream};
    ///
    /// let (mut a, mut b) = MemStream::pair()?;
    /// b.inject_reads_forever(Fault::Short(1));
    /// a.write_all(b"abc")?;
    /// let mut one = [0; 8];
    /// assert_eq!(b.read(&mut one)?, 1); // every read moves at most one byte
    /// assert_eq!(b.read(&mut one)?, 1);
    /// b.clear_faults();
    /// assert_eq!(b.read(&mut one)?, 1); // the last byte left
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inject_reads_forever(&self, fault: Fault) {
        self.lock().ends[self.side].read_faults.forever = Some(fault);
    }

    /// Makes every write call on this end (and its clones) take `fault`, once the queued faults
    /// are spent, until [`clear_faults`](MemStream::clear_faults). See
    /// [`inject_reads_forever`](MemStream::inject_reads_forever).
    pub fn inject_writes_forever(&self, fault: Fault) {
        self.lock().ends[self.side].write_faults.forever = Some(fault);
    }

    /// Drops the faults still queued for this end's reads and writes, and the repeating ones.
    pub fn clear_faults(&self) {
        let mut st = self.lock();
        st.ends[self.side].read_faults.clear();
        st.ends[self.side].write_faults.clear();
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// How many threads wait to read from this end (`reads`) or to write to it.
    #[cfg(test)]
    pub(super) fn waiting(&self, reads: bool) -> usize {
        let st = self.lock();
        if reads {
            st.waiting[1 - self.side][Side::Readers as usize]
        } else {
            st.waiting[self.side][Side::Writers as usize]
        }
    }

    /// The read path shared by `read` and `read_vectored`.
    fn recv(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let (me, from) = (self.side, 1 - self.side);
        let mut st = self.lock();
        let limit = st.ends[me].read_faults.next_limit(want)?;
        let nonblocking = st.ends[me].nonblocking;
        let timeout = st.ends[me].read_timeout;
        let deadline = deadline(timeout);
        loop {
            if !st.queues[from].is_empty() {
                let n = take(&mut st.queues[from], bufs, limit);
                let mut w = Wake::default();
                if n > 0 {
                    st.room_made(from, &mut w);
                }
                drop(st);
                w.run(&self.shared);
                return Ok(n);
            }
            let end = &mut st.ends[me];
            if end.reset {
                end.reset = false;
                return Err(reset_error());
            }
            if end.read_shut {
                return Ok(0);
            }
            if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            st = match self.shared.wait(st, from, Side::Readers, deadline) {
                Some(st) => st,
                None => return Err(timed_out("read", "bytes to read", timeout)),
            };
        }
    }

    /// The write path shared by `write` and `write_vectored`.
    fn send(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let me = self.side;
        let mut st = self.lock();
        let limit = st.ends[me].write_faults.next_limit(want)?;
        if st.ends[me].write_shut {
            return Err(broken_pipe());
        }
        if limit == 0 {
            return Ok(0);
        }
        let nonblocking = st.ends[me].nonblocking;
        let timeout = st.ends[me].write_timeout;
        let mut deadline = deadline(timeout);
        let mut written = 0;
        loop {
            let space = st.capacity - st.queues[me].len();
            if space > 0 {
                let n = put(
                    &mut st.queues[me],
                    bufs,
                    written,
                    space.min(limit - written),
                );
                written += n;
                // Linux's timeout bounds each wait for room (sock_alloc_send_pskb), not the call.
                deadline = self::deadline(timeout);
                let mut w = Wake::default();
                st.data_added(me, &mut w);
                if written == limit || nonblocking {
                    drop(st);
                    w.run(&self.shared);
                    return Ok(written);
                }
                if !w.is_empty() {
                    // Wake the reader unlocked, then take the lock back to wait for room.
                    drop(st);
                    w.run(&self.shared);
                    st = self.lock();
                    let end = &mut st.ends[me];
                    if end.write_shut {
                        // The peer went or shut its read side meanwhile: as for a writer woken
                        // by that below, what was queued counts and a pending reset is spent.
                        end.reset = false;
                        return Ok(written);
                    }
                    continue;
                }
            } else if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            st = match self.shared.wait(st, me, Side::Writers, deadline) {
                Some(st) => st,
                None if written > 0 => return Ok(written),
                None => return Err(timed_out("write", "room to write", timeout)),
            };
            let end = &mut st.ends[me];
            if end.write_shut {
                // Linux's waiting writer takes a pending error first (sock_error() in
                // sock_alloc_send_pskb), then sees SEND_SHUTDOWN; it returns what it already
                // queued, if anything, and the error is spent either way.
                let err = if std::mem::take(&mut end.reset) {
                    reset_error()
                } else {
                    broken_pipe()
                };
                return if written > 0 { Ok(written) } else { Err(err) };
            }
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the state is half-updated, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a change of direction `d` that concerns `side`; `None` once `deadline` has
    /// passed (checked before waiting, so a caller loops: re-check the state, then wait again).
    fn wait<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        d: usize,
        side: Side,
        deadline: Option<Instant>,
    ) -> Option<MutexGuard<'a, State>> {
        let s = side as usize;
        let cv = match side {
            Side::Readers => &self.data[d],
            Side::Writers => &self.room[d],
        };
        st.waiting[d][s] += 1;
        let mut st = match deadline {
            None => cv.wait(st).unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.checked_duration_since(Instant::now());
                let Some(left) = left.filter(|l| !l.is_zero()) else {
                    st.waiting[d][s] -= 1;
                    return None;
                };
                cv.wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        st.waiting[d][s] -= 1;
        Some(st)
    }
}

/// The most bytes the model hands to one `memcpy` call.
///
/// glibc (2.36 here) copies anything above `glibc.cpu.x86_rep_movsb_threshold` (2,112 bytes on
/// this AMD Zen 3, 2-8 KiB elsewhere) with `rep movsb`, and on Zen 3 that instruction falls from
/// ~40 GB/s to ~2 GB/s when the destination sits 16 bytes past the source modulo the page
/// (measured with 64 KiB copies, the source at page offset 0 or 16 and the destination at 12
/// offsets from 0 to 4080: only destination = source + 16 was slow). The model's ring and the
/// caller's buffer keep one relative offset for a whole stream when chunks are multiples of
/// 4 KiB, so one unlucky allocation made the model 5x slower for a whole run. Copies of at most
/// 2 KiB take glibc's vector loop, whose speed does not depend on the offsets; the cost is one
/// call per 2 KiB, within the noise of a copy that size.
pub(super) const COPY_PIECE: usize = 2048;

/// `dst.copy_from_slice(src)` in pieces of at most [`COPY_PIECE`] bytes.
#[inline]
pub(super) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
        d.copy_from_slice(s);
    }
}

/// Moves up to `limit` bytes from the front of `q` into `bufs`, in order.
pub(super) fn take(q: &mut VecDeque<u8>, bufs: &mut [IoSliceMut<'_>], limit: usize) -> usize {
    let mut n = 0;
    for buf in bufs {
        let k = buf.len().min(limit - n).min(q.len());
        let (front, back) = q.as_slices();
        let from_front = k.min(front.len());
        copy(&mut buf[..from_front], &front[..from_front]);
        copy(&mut buf[from_front..k], &back[..k - from_front]);
        q.drain(..k);
        n += k;
        if n == limit || q.is_empty() {
            break;
        }
    }
    n
}

/// Appends up to `max` bytes of `bufs` to `q`, skipping the first `skip` bytes of `bufs`.
pub(super) fn put(
    q: &mut VecDeque<u8>,
    bufs: &[IoSlice<'_>],
    mut skip: usize,
    max: usize,
) -> usize {
    let mut n = 0;
    for buf in bufs {
        if skip >= buf.len() {
            skip -= buf.len();
            continue;
        }
        let part = &buf[skip..];
        skip = 0;
        let k = part.len().min(max - n);
        for piece in part[..k].chunks(COPY_PIECE) {
            q.extend(piece);
        }
        n += k;
        if n == max {
            break;
        }
    }
    n
}

/// When a blocking call that starts now with `timeout` must give up; `None` for ever (no
/// timeout, or one too large to represent).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

fn check_timeout(timeout: Option<Duration>, call: &str) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "MemStream::{call}: a zero Duration is not a timeout (as for UnixStream); use \
                 None to wait for ever or set_nonblocking(true) not to wait"
            ),
        ));
    }
    Ok(())
}

fn timed_out(call: &str, what: &str, timeout: Option<Duration>) -> io::Error {
    let t = timeout.unwrap_or_default();
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "MemStream {call}: no {what} within the {call} timeout of {t:?}; is the peer \
             stuck, or the test deadlocked? (set_{call}_timeout)"
        ),
    )
}

fn fault_error(fault: Fault) -> io::Error {
    let (kind, what) = match fault {
        Fault::WouldBlock => (io::ErrorKind::WouldBlock, "WouldBlock"),
        Fault::Interrupted => (io::ErrorKind::Interrupted, "Interrupted"),
        _ => (io::ErrorKind::ConnectionReset, "ConnectionReset"),
    };
    io::Error::new(kind, format!("{what} injected by a MemStream fault"))
}

pub(super) fn broken_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "MemStream write: this end shut down its write side, or the peer shut down its read \
         side or was dropped",
    )
}

pub(super) fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "MemStream read: the peer was dropped with unread bytes, which were discarded",
    )
}

impl Drop for MemStream {
    /// Closes the end when this is its last handle: the peer reads what is buffered for it,
    /// then EOF (or first `ConnectionReset` if this end leaves unread bytes behind), and its
    /// writes fail with `BrokenPipe`. Blocked threads on the peer are woken.
    fn drop(&mut self) {
        let (me, peer) = (self.side, 1 - self.side);
        let mut st = self.lock();
        st.ends[me].handles -= 1;
        if st.ends[me].handles > 0 {
            return;
        }
        let unread = !st.queues[peer].is_empty();
        st.queues[peer] = VecDeque::new();
        let end = &mut st.ends[me];
        end.read_shut = true;
        end.write_shut = true;
        end.read_faults.clear();
        end.write_faults.clear();
        let other = &mut st.ends[peer];
        other.read_shut = true;
        other.write_shut = true;
        if unread && other.handles > 0 {
            other.reset = true;
        }
        let mut w = Wake::default();
        st.wake_all(&mut w);
        drop(st);
        w.run(&self.shared);
    }
}

impl fmt::Debug for MemStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.readiness();
        f.debug_struct("MemStream")
            .field("side", &self.side)
            .field("queued_in", &self.queued_in())
            .field("queued_out", &self.queued_out())
            .field("readiness", &r)
            .finish()
    }
}

impl Read for &MemStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(&mut [IoSliceMut::new(buf)])
    }

    #[inline]
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.recv(bufs)
    }
}

impl Read for MemStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    #[inline]
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for &MemStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(&[IoSlice::new(buf)])
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.send(bufs)
    }

    /// Nothing to flush: written bytes are readable at once.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for MemStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    /// Nothing to flush: written bytes are readable at once.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
