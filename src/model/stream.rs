//! [`MemStream`]: two ends over one mutex, each direction a bounded `VecDeque`, one condition
//! variable per direction for the threads that wait on it.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

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
    read_faults: VecDeque<Fault>,
    write_faults: VecDeque<Fault>,
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
    pub fn inject_reads(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().ends[self.side].read_faults.extend(faults);
    }

    /// Queues faults for the next write calls on this end (and its clones), one per call, after
    /// any already queued. See [`Fault`].
    pub fn inject_writes(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().ends[self.side].write_faults.extend(faults);
    }

    /// Drops the faults still queued for this end's reads and writes.
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
        let limit = match st.ends[me].read_faults.pop_front() {
            None | Some(Fault::Pass) => want,
            Some(Fault::Short(n)) => want.min(n.max(1)),
            Some(fault) => return Err(fault_error(fault)),
        };
        let nonblocking = st.ends[me].nonblocking;
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
            st = self.shared.wait(st, from);
        }
    }

    /// The write path shared by `write` and `write_vectored`.
    fn send(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let me = self.side;
        let mut st = self.lock();
        let limit = match st.ends[me].write_faults.pop_front() {
            None | Some(Fault::Pass) => want,
            Some(Fault::Short(n)) => want.min(n.max(1)),
            Some(fault) => return Err(fault_error(fault)),
        };
        if st.ends[me].write_shut {
            return Err(broken_pipe());
        }
        if limit == 0 {
            return Ok(0);
        }
        let nonblocking = st.ends[me].nonblocking;
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
            } else if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            st = self.shared.wait(st, me);
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

    fn wait<'a>(&self, mut st: MutexGuard<'a, State>, d: usize) -> MutexGuard<'a, State> {
        st.waiting[d] += 1;
        let mut st = self.changed[d]
            .wait(st)
            .unwrap_or_else(PoisonError::into_inner);
        st.waiting[d] -= 1;
        st
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
