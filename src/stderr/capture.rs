//! The sans-IO core: bytes in, forwarding output and lines out, a bounded tail kept.
//!
//! [`Capture`] owns no thread and no descriptor. Whoever reads the child's stderr (the
//! [`Drain`](super::Drain) thread, a test, a future async task) hands it each chunk with
//! [`feed`](Capture::feed) and writes what it appends to `out`. Everything it keeps is bounded:
//! the tail ring by [`Config::tail`], the carried-over part of an unfinished line by
//! [`Config::max_line`], so memory is `O(tail + max_line)` however much is fed.

use std::fmt;
use std::sync::mpsc::SyncSender;

/// The default size of the tail ring: the last 64 KiB of the stream.
pub const DEFAULT_TAIL: usize = 64 * 1024;

/// The default longest line: longer lines are cut into pieces of 8 KiB.
pub const DEFAULT_MAX_LINE: usize = 8 * 1024;

/// What [`Capture::feed`] forwards of the child's stderr.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Forward {
    /// Every byte unchanged and at once: prompts without a newline, partial lines, invalid
    /// UTF-8 and terminal escape sequences reach the sink as the child wrote them.
    #[default]
    Raw,
    /// Whole lines only, each written as `prefix + line + '\n'`. A line longer than
    /// [`Config::max_line`] is written in pieces of that size, each prefixed and newline
    /// terminated; a last line without a newline is written by [`Capture::finish`].
    ///
    /// A line ended by `"\r\n"` (ssh sends these while its terminal is in raw mode) is
    /// written without the `'\r'`, which would otherwise end up in a log as `^M`. A `'\r'`
    /// anywhere else (a progress meter redrawing its line, a last line that ends in one) is
    /// kept. Subscribers still get the bytes exactly ([`Line`]).
    Lines {
        /// Written before every line (e.g. `b"[host] "`); may be empty.
        prefix: Vec<u8>,
    },
    /// Nothing: the stream is only tailed, counted and offered to the subscriber.
    Quiet,
}

/// One line of the child's stderr, as a [`Subscriber`] receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The line's bytes without the `'\n'`. A `'\r'` before the `'\n'` is kept: the bytes are
    /// exactly what the child wrote.
    pub bytes: Vec<u8>,
    /// `true` when the line was cut at [`Config::max_line`] bytes and more of the same line
    /// follows in the next `Line`; `false` for the last (or only) piece of a line.
    pub partial: bool,
}

/// Receives the lines of a [`Capture`] without ever blocking it.
///
/// The capture runs on the thread that reads the child's stderr; a subscriber that could block
/// would stall that read and, once the kernel buffer fills, the child's writes. So delivery is a
/// try-send: a line the subscriber cannot take at once is counted in [`Capture::dropped`] and
/// forgotten.
pub trait Subscriber: Send {
    /// Offers one line. Must not block. Returns `false` when the line was not taken (the
    /// subscriber is full or gone).
    fn try_send(&mut self, line: Line) -> bool;
}

impl Subscriber for SyncSender<Line> {
    /// [`SyncSender::try_send`]: refused when the channel is full or its receiver is gone.
    fn try_send(&mut self, line: Line) -> bool {
        SyncSender::try_send(self, line).is_ok()
    }
}

/// The sizes and the forwarding mode of a [`Capture`].
///
/// Setters take and return the value, builder style; the getters report the effective values
/// (after clamping).
///
/// ```
/// use procwire::stderr::{Config, Forward};
///
/// let config = Config::default()
///     .tail(16 * 1024)
///     .max_line(0) // clamped to 1
///     .forward(Forward::Lines { prefix: b"[child] ".to_vec() });
/// assert_eq!(config.max_line_size(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    tail: usize,
    max_line: usize,
    forward: Forward,
}

impl Default for Config {
    /// [`DEFAULT_TAIL`], [`DEFAULT_MAX_LINE`], [`Forward::Raw`].
    fn default() -> Config {
        Config {
            tail: DEFAULT_TAIL,
            max_line: DEFAULT_MAX_LINE,
            forward: Forward::Raw,
        }
    }
}

impl Config {
    /// Keeps the last `bytes` bytes of the raw stream ([`Capture::tail`]); 0 keeps nothing.
    pub fn tail(mut self, bytes: usize) -> Config {
        self.tail = bytes;
        self
    }

    /// Cuts lines longer than `bytes` into pieces of `bytes` ([`Line::partial`]). Clamped to at
    /// least 1: a limit of 0 would make every byte its own endless run of empty pieces.
    pub fn max_line(mut self, bytes: usize) -> Config {
        self.max_line = bytes.max(1);
        self
    }

    /// What to forward ([`Forward`]).
    pub fn forward(mut self, forward: Forward) -> Config {
        self.forward = forward;
        self
    }

    /// The size of the tail ring in bytes.
    pub fn tail_size(&self) -> usize {
        self.tail
    }

    /// The longest line or piece of a line, in bytes (at least 1).
    pub fn max_line_size(&self) -> usize {
        self.max_line
    }

    /// The forwarding mode.
    pub fn forward_mode(&self) -> &Forward {
        &self.forward
    }
}

/// What ended a line handed to `Capture::emit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// A `'\n'`.
    Newline,
    /// `max_line` bytes, with more of the line to come.
    Cut,
    /// The end of the stream (`Capture::finish`).
    Finish,
}

/// A bounded ring of the last `cap` bytes written to it.
///
/// The vector grows (by doubling, capped at `cap`) until it holds `cap` bytes, then `next`
/// marks the oldest byte, which the next write overwrites.
struct Ring {
    buf: Vec<u8>,
    cap: usize,
    next: usize,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        Ring {
            buf: Vec::new(),
            cap,
            next: 0,
        }
    }

    fn push(&mut self, mut input: &[u8]) {
        if self.cap == 0 {
            return;
        }
        if input.len() >= self.cap {
            // Only the last `cap` bytes can survive: start the ring over with them.
            input = &input[input.len() - self.cap..];
            self.buf.clear();
            self.next = 0;
        }
        if self.buf.len() < self.cap {
            let take = input.len().min(self.cap - self.buf.len());
            reserve_capped(&mut self.buf, take, self.cap);
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
        }
        // Full: overwrite from `next`, wrapping once at most (input.len() < cap here).
        while !input.is_empty() {
            let n = input.len().min(self.cap - self.next);
            self.buf[self.next..self.next + n].copy_from_slice(&input[..n]);
            self.next = (self.next + n) % self.cap;
            input = &input[n..];
        }
    }

    fn contiguous(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buf.len());
        v.extend_from_slice(&self.buf[self.next..]);
        v.extend_from_slice(&self.buf[..self.next]);
        v
    }
}

/// Makes room for `more` bytes in `v` without its capacity passing `limit` (when
/// `v.len() + more <= limit`): doubling as usual, but never beyond the limit, so a bounded
/// buffer's allocation is bounded too.
fn reserve_capped(v: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = v.len() + more;
    if needed <= v.capacity() {
        return;
    }
    let target = needed.max(v.capacity() * 2).max(64).min(limit.max(needed));
    v.reserve_exact(target - v.len());
}

/// The sans-IO stderr capture: splits, forwards, tails, counts and publishes lines.
///
/// ```
/// use procwire::stderr::{Capture, Config, Forward};
///
/// let mut capture = Capture::new(Config::default().forward(Forward::Lines { prefix: b"> ".to_vec() }));
/// let mut out = Vec::new();
/// capture.feed(b"one\ntw", &mut out);
/// assert_eq!(out, b"> one\n");
/// out.clear();
/// capture.finish(&mut out);
/// assert_eq!(out, b"> tw\n");
/// assert_eq!((capture.bytes(), capture.lines()), (6, 2));
/// assert_eq!(capture.tail(), b"one\ntw");
/// ```
///
/// # Lines
///
/// The stream is split into lines in every mode (the count is kept even when nothing is
/// forwarded or subscribed). A line is the bytes before a `'\n'`, a `'\r'` before it included
/// (only [`Forward::Lines`]'s output drops that `'\r'`).
/// A line longer than [`Config::max_line`] is cut into pieces of exactly that many bytes
/// ([`Line::partial`] set on all but the last); a line of exactly `max_line` bytes followed by
/// its `'\n'` is one whole line, not a piece and an empty line. Only the unfinished part of a
/// line is carried between feeds, never more than `max_line` bytes.
pub struct Capture {
    forward: Forward,
    max_line: usize,
    ring: Ring,
    /// The unfinished line carried between feeds (never longer than `max_line`).
    line: Vec<u8>,
    subscriber: Option<Box<dyn Subscriber>>,
    bytes: u64,
    lines: u64,
    dropped: u64,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("forward", &self.forward)
            .field("max_line", &self.max_line)
            .field("tail", &self.ring.cap)
            .field("subscribed", &self.subscriber.is_some())
            .field("bytes", &self.bytes)
            .field("lines", &self.lines)
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl Capture {
    /// A capture with this configuration and no subscriber. Allocates nothing until fed.
    pub fn new(config: Config) -> Capture {
        Capture {
            forward: config.forward,
            max_line: config.max_line.max(1),
            ring: Ring::new(config.tail),
            line: Vec::new(),
            subscriber: None,
            bytes: 0,
            lines: 0,
            dropped: 0,
        }
    }

    /// Sends every line from now on to `subscriber` (see [`Subscriber`]), replacing any
    /// earlier one. Subscribe before the first [`feed`](Self::feed) to see every line; a line
    /// under way when subscribing is delivered whole.
    pub fn subscribe(&mut self, subscriber: Box<dyn Subscriber>) {
        self.subscriber = Some(subscriber);
    }

    /// [`subscribe`](Self::subscribe), builder style.
    pub fn with_subscriber(mut self, subscriber: Box<dyn Subscriber>) -> Capture {
        self.subscribe(subscriber);
        self
    }

    /// Takes bytes read from the child and appends to `out` what should be forwarded (the
    /// caller writes it to the sink and clears it; `feed` only appends).
    ///
    /// [`Forward::Raw`] appends `input` unchanged; [`Forward::Lines`] appends each line
    /// completed by `input`; [`Forward::Quiet`] appends nothing. Lines go to the subscriber in
    /// every mode.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.bytes += input.len() as u64;
        self.ring.push(input);
        if self.forward == Forward::Raw {
            out.extend_from_slice(input);
        }
        let mut rest = input;
        while !rest.is_empty() {
            let room = self.max_line - self.line.len();
            // A newline right after a full `max_line` still ends the line whole.
            let look = rest.len().min(room + 1);
            match rest[..look].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.emit(&rest[..i], Ending::Newline, out);
                    rest = &rest[i + 1..];
                }
                None if look == room + 1 => {
                    // `max_line` bytes and more of the line follows: cut a piece.
                    self.emit(&rest[..room], Ending::Cut, out);
                    rest = &rest[room..];
                }
                None => {
                    reserve_capped(&mut self.line, rest.len(), self.max_line);
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
    }

    /// Ends the stream: a line still unfinished (no `'\n'` yet) is emitted as the last piece
    /// of its line ([`Line::partial`] `false`), and in [`Forward::Lines`] mode appended to `out`
    /// as `prefix + bytes + '\n'`. Raw mode appends nothing (its bytes went out when fed).
    /// Calling it again does nothing more; feeding after it starts a new line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.line.is_empty() {
            self.emit(&[], Ending::Finish, out);
        }
    }

    /// The whole line is `self.line` followed by `rest`; emits it and clears `self.line`.
    fn emit(&mut self, rest: &[u8], ending: Ending, out: &mut Vec<u8>) {
        self.lines += 1;
        let partial = ending == Ending::Cut;
        if let Forward::Lines { prefix } = &self.forward {
            let (mut line, mut rest) = (&self.line[..], rest);
            if ending == Ending::Newline {
                // The '\r' of "\r\n", wherever the feeds split the line.
                match (rest.split_last(), line.split_last()) {
                    (Some((b'\r', r)), _) => rest = r,
                    (None, Some((b'\r', l))) => line = l,
                    _ => {}
                }
            }
            out.reserve(prefix.len() + line.len() + rest.len() + 1);
            out.extend_from_slice(prefix);
            out.extend_from_slice(line);
            out.extend_from_slice(rest);
            out.push(b'\n');
        }
        if let Some(subscriber) = &mut self.subscriber {
            let mut bytes = Vec::with_capacity(self.line.len() + rest.len());
            bytes.extend_from_slice(&self.line);
            bytes.extend_from_slice(rest);
            if !subscriber.try_send(Line { bytes, partial }) {
                self.dropped += 1;
            }
        }
        self.line.clear();
    }

    /// The last [`Config::tail`] bytes of the raw stream (fewer if fewer were fed), oldest
    /// first, as one contiguous copy. Kept in every forwarding mode.
    pub fn tail(&self) -> Vec<u8> {
        self.ring.contiguous()
    }

    /// How many bytes were fed.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How many lines were produced, each piece of a cut line counted: the lines offered to
    /// the subscriber (or that would have been, without one).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// How many lines the subscriber refused. With a subscriber from the start,
    /// `dropped == lines - lines received`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The tail ring's and the line buffer's allocations, for the memory-bound tests.
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> (usize, usize) {
        (self.ring.buf.capacity(), self.line.capacity())
    }
}
