//! A bounded pool of the relay's pipes, shared by relays (HAProxy and Go's `net` keep one too):
//! making a pipe is two descriptors and a `fcntl`, and the pages a user's pipes may hold are
//! limited (`fs.pipe-user-pages-soft`), so pipes are reused and their number is capped.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};

use crate::sys;

/// The capacity a pool asks for each pipe by default: 256 KiB.
pub const DEFAULT_PIPE_SIZE: usize = 256 << 10;

/// The pipes a pool holds at most by default (in use and idle): 64.
pub const DEFAULT_MAX_PIPES: usize = 64;

/// A pipe the slots of a default pipe hold one page each: fewer granted means the kernel gave
/// the pipe less than a page per slot of a default pipe (a user over
/// `fs.pipe-user-pages-soft` gets two pages), and splicing through it would cost more calls
/// than a copy through a large buffer.
const DEFAULT_SLOTS: usize = 16;

/// Makes one pipe: the seam for tests. [`Kernel`] is the real one.
pub trait MakePipe: Send + Sync + fmt::Debug {
    /// A non-blocking, close-on-exec pipe with `ask` bytes of capacity asked for: `(read end,
    /// write end, granted bytes)`.
    fn make(&self, ask: usize) -> io::Result<(OwnedFd, OwnedFd, usize)>;
}

/// The kernel's pipes: [pipe2(2)] with `O_NONBLOCK | O_CLOEXEC`, `F_SETPIPE_SZ` to ask for
/// the capacity and `F_GETPIPE_SZ` to read back the grant ([fcntl(2)]).
///
/// [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
/// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernel;

impl MakePipe for Kernel {
    fn make(&self, ask: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
        sys::pipe::sized(ask)
    }
}

/// One pipe of a pool: its two ends and its granted size.
#[derive(Debug)]
pub struct Pipe {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
    pub(crate) size: usize,
}

impl Pipe {
    /// The capacity the kernel granted (`F_GETPIPE_SZ`).
    pub fn size(&self) -> usize {
        self.size
    }
}

/// Why a pool gave no pipe (the direction then copies and says so).
#[derive(Debug)]
#[non_exhaustive]
pub enum NoPipe {
    /// All the pool's pipes are in use.
    Exhausted {
        /// The pool's cap.
        max: usize,
    },
    /// The new pipe's granted size collapsed below a page per slot of a default pipe
    /// (`fs.pipe-user-pages-soft`); it was closed.
    Collapsed {
        /// The bytes granted.
        granted: usize,
    },
    /// Making the pipe failed (`EMFILE`, `ENFILE`, ...).
    Failed(io::Error),
}

impl fmt::Display for NoPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoPipe::Exhausted { max } => write!(f, "the pipe pool is exhausted ({max} in use)"),
            NoPipe::Collapsed { granted } => write!(
                f,
                "the kernel granted a pipe only {granted} bytes (fs.pipe-user-pages-soft \
                 reached?)"
            ),
            NoPipe::Failed(e) => write!(f, "no pipe could be made: {e}"),
        }
    }
}

#[derive(Debug)]
struct Inner {
    idle: Vec<Pipe>,
    /// Pipes made and not closed: idle ones and those in use.
    live: usize,
}

/// A bounded pool of empty pipes, shared (clone it) by relays. Pipes come back only when
/// empty; one that still holds bytes is closed instead.
#[derive(Clone, Debug)]
pub struct PipePool {
    inner: Arc<Mutex<Inner>>,
    maker: Arc<dyn MakePipe>,
    ask: usize,
    max: usize,
}

impl Default for PipePool {
    /// [`DEFAULT_PIPE_SIZE`], [`DEFAULT_MAX_PIPES`], [`Kernel`] pipes.
    fn default() -> PipePool {
        PipePool::new(DEFAULT_PIPE_SIZE, DEFAULT_MAX_PIPES)
    }
}

impl PipePool {
    /// A pool of at most `max` kernel pipes of `ask` bytes asked each.
    pub fn new(ask: usize, max: usize) -> PipePool {
        PipePool::with_maker(ask, max, Kernel)
    }

    /// The same with pipes made by `maker`.
    pub fn with_maker(ask: usize, max: usize, maker: impl MakePipe + 'static) -> PipePool {
        PipePool {
            inner: Arc::new(Mutex::new(Inner {
                idle: Vec::new(),
                live: 0,
            })),
            maker: Arc::new(maker),
            ask,
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty pipe: an idle one, or a new one if fewer than the cap are live.
    ///
    /// # Errors
    ///
    /// [`NoPipe`]: the pool is exhausted, the new pipe's grant collapsed (below
    /// `16 × page size`), or making it failed.
    pub fn take(&self) -> Result<Pipe, NoPipe> {
        {
            let mut inner = self.lock();
            if let Some(pipe) = inner.idle.pop() {
                return Ok(pipe);
            }
            if inner.live >= self.max {
                return Err(NoPipe::Exhausted { max: self.max });
            }
            inner.live += 1;
        }
        let made = self.maker.make(self.ask);
        let release = || self.lock().live -= 1;
        match made {
            Ok((read, write, size)) if size >= DEFAULT_SLOTS * rustix::param::page_size() => {
                Ok(Pipe { read, write, size })
            }
            Ok((_, _, granted)) => {
                release();
                Err(NoPipe::Collapsed { granted })
            }
            Err(e) => {
                release();
                Err(NoPipe::Failed(e))
            }
        }
    }

    /// Gives `pipe` back. `pending` is the bytes it still holds: a pipe that is not empty is
    /// closed, never reused (its bytes belong to a stream that ended).
    pub fn give(&self, pipe: Pipe, pending: usize) {
        let mut inner = self.lock();
        if pending == 0 {
            inner.idle.push(pipe);
        } else {
            inner.live -= 1;
            drop(pipe);
        }
    }

    /// Pipes idle in the pool now.
    pub fn idle(&self) -> usize {
        self.lock().idle.len()
    }

    /// Pipes made and not closed (idle and in use).
    pub fn live(&self) -> usize {
        self.lock().live
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Real pipes that report the grant it is told to.
    #[derive(Debug)]
    struct Granting(AtomicUsize);

    impl MakePipe for Granting {
        fn make(&self, ask: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
            let (r, w, _) = Kernel.make(ask)?;
            Ok((r, w, self.0.load(Ordering::Relaxed)))
        }
    }

    #[test]
    fn a_pool_is_bounded_reuses_empty_pipes_and_closes_full_ones() {
        let pool = PipePool::with_maker(1 << 20, 2, Granting(AtomicUsize::new(1 << 20)));
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert!(matches!(pool.take(), Err(NoPipe::Exhausted { max: 2 })));
        pool.give(a, 0);
        assert_eq!((pool.idle(), pool.live()), (1, 2));
        let a = pool.take().unwrap();
        // Not empty: closed, and its slot freed.
        pool.give(b, 5);
        assert_eq!((pool.idle(), pool.live()), (0, 1));
        let c = pool.take().unwrap();
        assert!(matches!(pool.take(), Err(NoPipe::Exhausted { .. })));
        pool.give(a, 0);
        pool.give(c, 0);
        assert_eq!((pool.idle(), pool.live()), (2, 2));
    }

    #[test]
    fn a_collapsed_grant_or_a_failure_gives_no_pipe_and_no_slot() {
        let page = rustix::param::page_size();
        let pool = PipePool::with_maker(1 << 20, 1, Granting(AtomicUsize::new(2 * page)));
        let e = pool.take().unwrap_err();
        assert!(matches!(e, NoPipe::Collapsed { granted } if granted == 2 * page));
        assert!(e.to_string().contains("pipe-user-pages-soft"), "{e}");
        assert_eq!(pool.live(), 0);

        #[derive(Debug)]
        struct Failing;
        impl MakePipe for Failing {
            fn make(&self, _: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
                Err(rustix::io::Errno::MFILE.into())
            }
        }
        let pool = PipePool::with_maker(1 << 20, 1, Failing);
        assert!(matches!(pool.take(), Err(NoPipe::Failed(_))));
        assert_eq!(pool.live(), 0);
    }
}
