//! [`MemStream`]: two ends over one mutex, each direction a bounded `VecDeque`, one condition
//! variable per direction for the threads that wait on it.

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
    shared: Arc<Shared>,
    /// Which end this is: 0 or 1. Bytes this end writes go to `queues[side]`.
    side: usize,
}

struct Shared {
    state: Mutex<State>,
    /// `changed[d]` is signalled when direction `d` (bytes written by end `d`) gets bytes, loses
    /// bytes, or closes. Readers of end `1 - d` and writers of end `d` wait on it.
    changed: [Condvar; 2],
}

struct State {
    capacity: usize,
    /// `queues[d]`: bytes written by end `d`, not yet read by end `1 - d`.
    queues: [VecDeque<u8>; 2],
    ends: [EndState; 2],
    /// Threads waiting on `changed[d]`, so the hot path only signals when someone waits.
    waiting: [usize; 2],
}

#[derive(Default)]
struct EndState {
    /// Live `MemStream` handles of this end (the first plus its clones).
    handles: usize,
    nonblocking: bool,
    /// Linux's `RCV_SHUTDOWN`: reads return EOF once the buffer is drained.
    read_shut: bool,
    /// Linux's `SEND_SHUTDOWN`: writes fail with `EPIPE`.
    write_shut: bool,
    /// Linux's `sk_err = ECONNRESET`: the peer was dropped with unread bytes.
    reset: bool,
    /// `SO_RCVTIMEO` / `SO_SNDTIMEO`: how long a blocking call may wait; `None` for ever.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    read_faults: Faults,
    write_faults: Faults,
}

/// The faults one direction of an end takes: the queued ones first, then the repeating one.
#[derive(Default)]
struct Faults {
    queued: VecDeque<Fault>,
    forever: Option<Fault>,
}

impl Faults {
    /// How many of `want` bytes the next call may move, or the error it must return.
    fn next_limit(&mut self, want: usize) -> io::Result<usize> {
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
                waiting: [0, 0],
            }),
            changed: [Condvar::new(), Condvar::new()],
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
        self.shared.wake(&st, 0);
        self.shared.wake(&st, 1);
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// How many threads wait to read from this end (`reads`) or to write to it.
    #[cfg(test)]
    pub(super) fn waiting(&self, reads: bool) -> usize {
        let d = if reads { 1 - self.side } else { self.side };
        self.lock().waiting[d]
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
                if n > 0 {
                    self.shared.wake(&st, from);
                }
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
            st = match self.shared.wait(st, from, deadline) {
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
                self.shared.wake(&st, me);
                if written == limit || nonblocking {
                    return Ok(written);
                }
                // Linux's timeout bounds each wait for room (sock_alloc_send_pskb), not the call.
                deadline = self::deadline(timeout);
            } else if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            st = match self.shared.wait(st, me, deadline) {
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
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the state is half-updated, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a change of direction `d`; `None` once `deadline` has passed (checked before
    /// waiting, so a caller loops: re-check the state, then wait again).
    fn wait<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        d: usize,
        deadline: Option<Instant>,
    ) -> Option<MutexGuard<'a, State>> {
        st.waiting[d] += 1;
        let mut st = match deadline {
            None => self.changed[d]
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.checked_duration_since(Instant::now());
                let Some(left) = left.filter(|l| !l.is_zero()) else {
                    st.waiting[d] -= 1;
                    return None;
                };
                self.changed[d]
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        st.waiting[d] -= 1;
        Some(st)
    }

    fn wake(&self, st: &State, d: usize) {
        if st.waiting[d] > 0 {
            self.changed[d].notify_all();
        }
    }
}

/// Moves up to `limit` bytes from the front of `q` into `bufs`, in order.
fn take(q: &mut VecDeque<u8>, bufs: &mut [IoSliceMut<'_>], limit: usize) -> usize {
    let mut n = 0;
    for buf in bufs {
        let k = buf.len().min(limit - n).min(q.len());
        let (front, back) = q.as_slices();
        let from_front = k.min(front.len());
        buf[..from_front].copy_from_slice(&front[..from_front]);
        buf[from_front..k].copy_from_slice(&back[..k - from_front]);
        q.drain(..k);
        n += k;
        if n == limit || q.is_empty() {
            break;
        }
    }
    n
}

/// Appends up to `max` bytes of `bufs` to `q`, skipping the first `skip` bytes of `bufs`.
fn put(q: &mut VecDeque<u8>, bufs: &[IoSlice<'_>], mut skip: usize, max: usize) -> usize {
    let mut n = 0;
    for buf in bufs {
        if skip >= buf.len() {
            skip -= buf.len();
            continue;
        }
        let part = &buf[skip..];
        skip = 0;
        let k = part.len().min(max - n);
        q.extend(&part[..k]);
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

fn broken_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "MemStream write: this end shut down its write side, or the peer shut down its read \
         side or was dropped",
    )
}

fn reset_error() -> io::Error {
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
        self.shared.wake(&st, 0);
        self.shared.wake(&st, 1);
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
