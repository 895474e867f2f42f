//! `tokio::io::AsyncRead`/`AsyncWrite` for [`MemStream`] (feature `tokio`); the rules are in
//! the docs of the `AsyncRead` impl.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::MemStream;
use super::stream::{COPY_PIECE, Side, State, Wake, broken_pipe, put, reset_error};

/// Registers the task for direction `d`'s `side`; returns a displaced other task to wake.
fn park(st: &mut State, d: usize, side: Side, waker: &Waker) -> Option<Waker> {
    let slot = &mut st.wakers[d][side as usize];
    match slot {
        Some(w) if w.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

impl MemStream {
    /// `Pending`, with the task registered for the change it waits for, or woken at once when
    /// `ready` says the call could go on (an injected `WouldBlock`).
    fn pending<T>(
        &self,
        mut st: std::sync::MutexGuard<'_, State>,
        d: usize,
        side: Side,
        ready: bool,
        cx: &mut Context<'_>,
    ) -> Poll<T> {
        if ready {
            drop(st);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let displaced = park(&mut st, d, side, cx.waker());
        drop(st);
        if let Some(w) = displaced {
            w.wake();
        }
        Poll::Pending
    }

    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (me, from) = (self.side, 1 - self.side);
        let mut st = self.lock();
        let limit = match st.ends[me].read_faults.next_limit(buf.remaining()) {
            Ok(limit) => limit,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let end = &st.ends[me];
                let ready = !st.queues[from].is_empty() || end.reset || end.read_shut;
                return self.pending(st, from, Side::Readers, ready, cx);
            }
            Err(e) => return Poll::Ready(Err(e)),
        };
        let q = &mut st.queues[from];
        if !q.is_empty() {
            let k = limit.min(q.len());
            let (front, back) = q.as_slices();
            let from_front = k.min(front.len());
            put_pieces(buf, &front[..from_front]);
            put_pieces(buf, &back[..k - from_front]);
            q.drain(..k);
            let mut w = Wake::default();
            if k > 0 {
                st.room_made(from, &mut w);
            }
            drop(st);
            w.run(&self.shared);
            return Poll::Ready(Ok(()));
        }
        let end = &mut st.ends[me];
        if end.reset {
            end.reset = false;
            return Poll::Ready(Err(reset_error()));
        }
        if end.read_shut {
            return Poll::Ready(Ok(()));
        }
        self.pending(st, from, Side::Readers, false, cx)
    }

    fn poll_send(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let me = self.side;
        let mut st = self.lock();
        let limit = match st.ends[me].write_faults.next_limit(want) {
            Ok(limit) => limit,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let ready = st.ends[me].write_shut || st.queues[me].len() < st.capacity;
                return self.pending(st, me, Side::Writers, ready, cx);
            }
            Err(e) => return Poll::Ready(Err(e)),
        };
        if st.ends[me].write_shut {
            return Poll::Ready(Err(broken_pipe()));
        }
        if limit == 0 {
            return Poll::Ready(Ok(0));
        }
        let space = st.capacity - st.queues[me].len();
        if space == 0 {
            return self.pending(st, me, Side::Writers, false, cx);
        }
        let n = put(&mut st.queues[me], bufs, 0, space.min(limit));
        let mut w = Wake::default();
        st.data_added(me, &mut w);
        drop(st);
        w.run(&self.shared);
        Poll::Ready(Ok(n))
    }
}

/// `tokio::io::AsyncRead`/`AsyncWrite` for [`MemStream`] (feature `tokio`): the model as a
/// drop-in replacement for `tokio::io::duplex` with Linux's socketpair semantics and faults.
///
/// The async calls follow the rules of a non-blocking end (the [module docs](crate::model)), with
/// `Pending` where the sync call would return `WouldBlock`, and the task woken when that changes:
///
/// - a pending read is woken by bytes, the peer's `shutdown(Write)`, this end's
///   `shutdown(Read)` or the peer's drop (with the pending `ConnectionReset` if it left unread
///   bytes behind); `tokio::io::simplex` leaves such a reader asleep (tokio#6914);
/// - a pending write is woken by room (at most half the capacity in use, the kernel's
///   threshold), the peer's `shutdown(Read)`, this end's `shutdown(Write)` or the peer's drop;
/// - an injected [`Fault::WouldBlock`](super::Fault::WouldBlock) is `Pending`: the task is woken
///   again at once if the call could go on (a kernel end that said `EAGAIN` spuriously and is
///   still ready), else by the change that lets it go on; never a busy loop inside the poll.
///   Injected errors are returned as they are (`Interrupted` too: tokio's helpers such as
///   `read_exact` do not retry it, exactly as they would not for a kernel end), and
///   [`Fault::Short`](super::Fault::Short) caps the call's count.
///
/// Non-blocking mode and the timeouts apply to the blocking `Read`/`Write` forms only: an async
/// call never blocks the thread. Use `tokio::time::timeout` for a bound.
///
/// One task waker is kept per direction and side; a second task polling the same direction of
/// the same end (through a clone) displaces the first, which is woken to poll again, so no
/// wake-up is lost.
///
/// # Cancel safety
///
/// As for a kernel stream: a `read`, `write` or `shutdown` future dropped before completion
/// moved nothing; `read_exact`/`write_all` lose what they moved before the cancellation.
///
/// A read returns what is buffered (up to the buffer and any injected `Short` fault);
/// `Pending` on an empty open end.
impl AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_recv(cx, buf)
    }
}

/// Writes what fits (up to any injected `Short` fault); `Pending` on a full direction, woken by
/// room, a shutdown or the peer's drop. `poll_shutdown` is [`MemStream::shutdown`]`(Write)`.
/// The rules, faults and cancel safety are those of the `AsyncRead` impl.
impl AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

/// `buf.put_slice(src)` in pieces of at most [`COPY_PIECE`] bytes, as the blocking reads copy
/// (see "Copies" in the `stream` module docs: one large `memcpy` can hit `rep movsb` at its slow
/// offsets).
fn put_pieces(buf: &mut ReadBuf<'_>, src: &[u8]) {
    for piece in src.chunks(COPY_PIECE) {
        buf.put_slice(piece);
    }
}
