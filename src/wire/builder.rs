//! The fallback policy and per-end options: which kinds to try, in which order, and how.

use std::fmt;
use std::io;
use std::time::Duration;

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::pipe::PipeFlags;

use super::half::{ReadHalf, WriteHalf};
use super::{End, Kind, capacity, loopback};

/// Options for a new wire: the kinds to try in order, per-end blocking mode, capacity.
///
/// ```
/// use procwire::wire::{Builder, Kind};
///
/// // rsync's wire to its ssh child: our end non-blocking, the child's end blocking.
/// let pair = Builder::new()
///     .kinds([Kind::SocketPair, Kind::Pipes])
///     .nonblocking(true, false)
///     .capacity(256 * 1024)
///     .build()?;
/// for refused in pair.refusals() {
///     eprintln!("fell back: {refused}");
/// }
/// let (ours, theirs) = pair.into_ends();
/// # let _ = (ours, theirs);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    kinds: Vec<Kind>,
    nonblocking: [bool; 2],
    capacity: Option<usize>,
    loopback_timeout: Duration,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: try socketpair, then pipes, then loopback; both ends blocking; the kernel's
    /// default capacity; a 5 s loopback handshake bound.
    pub fn new() -> Builder {
        Builder {
            kinds: Kind::ALL.to_vec(),
            nonblocking: [false, false],
            capacity: None,
            loopback_timeout: Duration::from_secs(5),
        }
    }

    /// The kinds to try, in order. The first one the kernel grants is used; each refusal is
    /// kept in [`Pair::refusals`].
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = Kind>) -> Builder {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// Only this kind: no fallback.
    pub fn kind(self, kind: Kind) -> Builder {
        self.kinds([kind])
    }

    /// `O_NONBLOCK` for end `a` and end `b` (for [`pipe`](Self::pipe): the read and the write end).
    pub fn nonblocking(mut self, a: bool, b: bool) -> Builder {
        self.nonblocking = [a, b];
        self
    }

    /// Asks for `bytes` of buffering per direction (see [`End::set_capacity`]); the grant is
    /// whatever the kernel reads back, and a refusal of a larger size is not an error. Each
    /// end's [`End::capacity`] then tells the grant and the payload it holds.
    ///
    /// 0 is refused when the wire is made ([`build`](Self::build), [`pipe`](Self::pipe) return
    /// `InvalidInput`): to keep the kernel's default, do not call this.
    pub fn capacity(mut self, bytes: usize) -> Builder {
        self.capacity = Some(bytes);
        self
    }

    /// How long the loopback shim waits for its own connection to be accepted.
    pub fn loopback_timeout(mut self, timeout: Duration) -> Builder {
        self.loopback_timeout = timeout;
        self
    }

    /// Makes the pair, falling back along the policy.
    ///
    /// # Errors
    ///
    /// When every kind is refused, a [`PairError`] (inside the `io::Error`, whose kind is the
    /// last refusal's; [`PairError::of`] finds it) lists each kind with its reason. Nothing is
    /// leaked on any path: every descriptor is owned from the moment the kernel returns it.
    /// An empty kind list and a capacity of 0 are `InvalidInput` before any kind is tried.
    pub fn build(&self) -> io::Result<Pair> {
        self.build_with(&mut Os)
    }

    pub(crate) fn build_with(&self, maker: &mut dyn Maker) -> io::Result<Pair> {
        self.check()?;
        let mut refusals = Vec::new();
        for &kind in &self.kinds {
            match maker.make(kind, self) {
                Ok((a, b)) => return Ok(Pair { a, b, refusals }),
                Err(error) => refusals.push(Refusal { kind, error }),
            }
        }
        if refusals.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the wire policy lists no kinds: give Builder::kinds at least one",
            ));
        }
        let kind = refusals
            .last()
            .map_or(io::ErrorKind::Other, |r| r.error.kind());
        Err(io::Error::new(kind, PairError { refusals }))
    }

    /// Makes a one-way pipe with these options ([pipe2(2)] with `O_CLOEXEC`): the
    /// `nonblocking` flags apply to the read and the write end, the capacity to the pipe. The
    /// kind list is not used.
    ///
    /// [pipe2(2)]: https://man7.org/linux/man-pages/man2/pipe2.2.html
    pub fn pipe(&self) -> io::Result<(ReadHalf, WriteHalf)> {
        self.check()?;
        let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
            .map_err(|e| crate::sys::hint(e.into(), "pipe2(O_CLOEXEC)"))?;
        crate::fd::set_nonblocking(&r, self.nonblocking[0])?;
        crate::fd::set_nonblocking(&w, self.nonblocking[1])?;
        let (r, w) = (
            ReadHalf::new(Kind::Pipes, r, None),
            WriteHalf::new(Kind::Pipes, w, None),
        );
        if let Some(bytes) = self.capacity {
            w.set_capacity(bytes)?;
            // One pipe: the read end was asked the same.
            r.note_asked(bytes);
        }
        Ok((r, w))
    }
}

impl Builder {
    /// Refuses options no kind can honour, before anything is made.
    fn check(&self) -> io::Result<()> {
        self.capacity.map_or(Ok(()), capacity::check)
    }
}

/// The seam between the fallback policy and the kernel: makes one pair of one kind.
pub(crate) trait Maker {
    fn make(&mut self, kind: Kind, options: &Builder) -> io::Result<(End, End)>;
}

/// The real kernel.
pub(crate) struct Os;

impl Maker for Os {
    fn make(&mut self, kind: Kind, options: &Builder) -> io::Result<(End, End)> {
        let (a, b) = match kind {
            Kind::SocketPair => {
                let (a, b) = rustix::net::socketpair(
                    AddressFamily::UNIX,
                    SocketType::STREAM,
                    SocketFlags::CLOEXEC,
                    None,
                )
                .map_err(|e| crate::sys::hint(e.into(), "socketpair(AF_UNIX, SOCK_STREAM)"))?;
                (End::socket(kind, a), End::socket(kind, b))
            }
            Kind::Pipes => {
                let pipe = || {
                    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
                        .map_err(|e| crate::sys::hint(e.into(), "pipe2(O_CLOEXEC)"))
                };
                let (b_reads, a_writes) = pipe()?;
                let (a_reads, b_writes) = pipe()?;
                (End::pipes(a_reads, a_writes), End::pipes(b_reads, b_writes))
            }
            Kind::Loopback => {
                let made = loopback::pair(options.loopback_timeout, &mut |_| {})?;
                (
                    End::socket(kind, made.connecting),
                    End::socket(kind, made.accepted),
                )
            }
        };
        a.set_nonblocking(options.nonblocking[0])?;
        b.set_nonblocking(options.nonblocking[1])?;
        if let Some(bytes) = options.capacity {
            a.set_capacity(bytes)?;
            // Pipes are shared: a's two pipes are b's two pipes, asked the same.
            if kind.is_socket() {
                b.set_capacity(bytes)?;
            } else {
                b.asked.set(bytes);
            }
        }
        Ok((a, b))
    }
}

/// A connected pair of ends and how it was obtained.
#[derive(Debug)]
pub struct Pair {
    pub(super) a: End,
    pub(super) b: End,
    pub(super) refusals: Vec<Refusal>,
}

impl Pair {
    /// The kind the kernel granted.
    pub fn kind(&self) -> Kind {
        self.a.kind()
    }

    /// The kinds tried before this one, each with the kernel's reason; empty when the first
    /// kind of the policy was granted.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// Both ends, borrowed.
    pub fn ends(&self) -> (&End, &End) {
        (&self.a, &self.b)
    }

    /// Both ends: `a` and `b`, as [`Builder::nonblocking`] names them.
    pub fn into_ends(self) -> (End, End) {
        (self.a, self.b)
    }
}

/// One kind the kernel refused, and why.
#[derive(Debug)]
pub struct Refusal {
    /// The kind that was tried.
    pub kind: Kind,
    /// What the attempt returned.
    pub error: io::Error,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {}", self.kind, self.error)
    }
}

/// Every kind of the policy was refused; the reasons in order.
#[derive(Debug)]
pub struct PairError {
    /// One entry per kind tried.
    pub refusals: Vec<Refusal>,
}

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not make a wire pair of any allowed kind")?;
        for r in &self.refusals {
            write!(f, "; {r}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PairError {}

impl PairError {
    /// The `PairError` inside `e`, if `e` is the error of a [`Builder::build`] whose every
    /// kind was refused.
    ///
    /// ```
    /// use procwire::wire::{Builder, PairError};
    ///
    /// if let Err(e) = Builder::new().build() {
    ///     match PairError::of(&e) {
    ///         Some(all) => eprintln!("{} kinds refused", all.refusals.len()),
    ///         None => eprintln!("{e}"),
    ///     }
    /// }
    /// ```
    pub fn of(e: &io::Error) -> Option<&PairError> {
        crate::payload(e)
    }
}
