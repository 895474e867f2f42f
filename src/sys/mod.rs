//! The OS layer: every system call procwire makes that is not a one-line `rustix` call lives
//! here, written once, and every module uses it.
//!
//! - [`poll`]: [poll(2)] with a deadline (`EINTR` retried against the same deadline, durations too
//!   large to represent meaning "no limit"), on one descriptor or on one descriptor beside a
//!   [`Waker`].
//! - [`waker`]: the [eventfd(2)] a thread writes to wake another out of `poll`.
//! - [`io`]: read, write, their vectored forms and `write_all`, with `MSG_NOSIGNAL` on sockets
//!   (a gone peer is `EPIPE`, never `SIGPIPE`) and a choice of what `EAGAIN` means; `shutdown`;
//!   `FIONREAD`.
//! - [`splice`]: [splice(2)] that never blocks inside the call, and the test for "this pair of
//!   descriptors cannot splice".
//! - [`pidfd`]: process descriptors ([pidfd_open(2)], [pidfd_send_signal(2)]).
//! - [`scm`]: descriptors in socket messages (`SCM_RIGHTS` with [sendmsg(2)]/[recvmsg(2)]):
//!   exact control buffers, `MSG_CMSG_CLOEXEC`, `MSG_CTRUNC` an error with nothing leaked.
//! - [`pipe`]: the relay's pipes, `pipe2(O_NONBLOCK|O_CLOEXEC)` with a capacity asked and
//!   read back.
//! - `ffi`: the calls with no safe wrapper, the one file of the crate allowed `unsafe`: what a
//!   child runs between `fork` and `exec` (`CommandExt::pre_exec` is unsafe: the `SIGPIPE`
//!   disposition, `PR_SET_PDEATHSIG`, a new session), and `SIGPIPE` blocked on a thread that
//!   splices into sockets (`pthread_sigmask`, `sigtimedwait`); and the registration of a
//!   descriptor with tokio's reactor (`AsyncFd::register_with_interest`, unsafe since tokio
//!   1.54), for an `OwnedFd` only.
//! - `tokio` (feature `tokio`): the async twin of `poll`: a descriptor registered with tokio's
//!   reactor, an operation run when it is ready, readiness cleared only on a real `EAGAIN`.
//! - [`error`]: errors that say what failed and, for descriptor exhaustion, what to do.
//!
//! # Porting
//!
//! procwire builds on Linux only. Everything here except `poll`, `read`/`write` and
//! `shutdown` is Linux-specific: `eventfd`, `splice`, pidfds, `PR_SET_PDEATHSIG`, `F_SETPIPE_SZ`
//! (in [`crate::wire`]'s capacity code), `MSG_NOSIGNAL`, `pipe2`. A port replaces these
//! files (a self-pipe for the waker, a copy loop for splice, `kill(2)` for pidfds) and keeps
//! the callers.
//!
//! [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
//! [eventfd(2)]: https://man7.org/linux/man-pages/man2/eventfd.2.html
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
//! [pidfd_open(2)]: https://man7.org/linux/man-pages/man2/pidfd_open.2.html
//! [sendmsg(2)]: https://man7.org/linux/man-pages/man2/sendmsg.2.html
//! [recvmsg(2)]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
//! [pidfd_send_signal(2)]: https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html

pub(crate) mod error;
// The one file allowed `unsafe`.
#[allow(unsafe_code)]
pub(crate) mod ffi;
pub(crate) mod io;
pub(crate) mod pidfd;
pub(crate) mod pipe;
pub(crate) mod poll;
pub(crate) mod scm;
pub(crate) mod splice;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;
pub(crate) mod waker;

pub(crate) use error::hint;
pub(crate) use waker::Waker;
