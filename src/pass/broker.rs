//! [`Broker`] (the parent's side) and [`Control`] (a child's side): a parent that introduces
//! its children to each other with a socketpair, then stays out of their path. The protocol is
//! in the [module docs](super#the-broker-protocol).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::event::{PollFd, PollFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::{Channel, Message};
use crate::child::Command;
use crate::sys::ffi;

/// The environment variable that gives a child the number of its control socket.
pub const CONTROL_ENV: &str = "PROCWIRE_CONTROL";
/// The environment variable with the pid the control socket is meant for (as `LISTEN_PID` is
/// for socket activation: a grandchild that inherits the environment is not fooled).
pub const CONTROL_PID_ENV: &str = "PROCWIRE_CONTROL_PID";
/// The descriptor number of the control socket in a child attached with [`Broker::attach`].
pub const CONTROL_FD: RawFd = 3;

/// The first byte of an introduction message.
const INTRODUCTION: u8 = b'I';
/// Type byte and peer id before the name.
const HEADER: usize = 5;
/// The longest member name, in bytes of UTF-8.
pub const MAX_NAME: usize = 1024;

/// A member of a [`Broker`]: a small number, given in order from 0, never reused by the same
/// broker; the peer id an introduction carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(u32);

impl MemberId {
    /// The number, as it travels in an introduction's header.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The bookkeeping of a broker, shared by the blocking [`Broker`] and the async one
/// (`pass::tokio::Broker`): the members, their names and control channels (of type `C`, the
/// blocking or the async [`Channel`]), the checks before an introduction and what a failed
/// send means. Sans-IO but for the zero-timeout [poll(2)] hang-up check; the drivers only send.
///
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
pub(super) struct Members<C> {
    list: Vec<Member<C>>,
}

struct Member<C> {
    name: String,
    /// `None` once the member is known to be gone or was removed.
    channel: Option<C>,
    /// Taken back with `remove` (not a member any more), rather than found gone.
    removed: bool,
}

/// One of the two sends of an introduction: `to` gets `header` with `end` attached.
pub(super) struct Telling {
    pub(super) to: MemberId,
    pub(super) header: Vec<u8>,
    pub(super) end: OwnedFd,
}

impl<C> Default for Members<C> {
    fn default() -> Self {
        Members { list: Vec::new() }
    }
}

impl<C> fmt::Debug for Members<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for (i, m) in self.list.iter().enumerate() {
            l.entry(&(i, &m.name, m.channel.is_some()));
        }
        l.finish()
    }
}

impl<C: AsFd> Members<C> {
    /// Checks `name`, makes the control pair, keeps our end (as `wrap` makes it) and returns
    /// the new id and the child's end.
    pub(super) fn add(
        &mut self,
        name: String,
        wrap: impl FnOnce(Channel) -> io::Result<C>,
    ) -> io::Result<(MemberId, OwnedFd)> {
        if name.len() > MAX_NAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "Broker: a member name of {} bytes; at most {MAX_NAME}",
                    name.len()
                ),
            ));
        }
        let id = u32::try_from(self.list.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "Broker: 2^32 members already")
        })?;
        let (ours, theirs) = Channel::pair()?;
        self.list.push(Member {
            name,
            channel: Some(wrap(ours)?),
            removed: false,
        });
        Ok((MemberId(id), theirs.into()))
    }

    /// [`add`](Self::add), then the child's end to the next child `cmd` spawns, as its
    /// control socket (descriptor [`CONTROL_FD`], announced in its environment).
    pub(super) fn attach(
        &mut self,
        cmd: &mut Command,
        name: String,
        wrap: impl FnOnce(Channel) -> io::Result<C>,
    ) -> io::Result<MemberId> {
        let (id, theirs) = self.add(name, wrap)?;
        cmd.fd(CONTROL_FD, theirs);
        cmd.announce(CONTROL_ENV, CONTROL_FD.to_string(), CONTROL_PID_ENV);
        Ok(id)
    }

    pub(super) fn name(&self, id: MemberId) -> Option<&str> {
        self.list.get(id.0 as usize).map(|m| m.name.as_str())
    }

    pub(super) fn channel(&self, id: MemberId) -> Option<&C> {
        self.list
            .get(id.0 as usize)
            .and_then(|m| m.channel.as_ref())
    }

    pub(super) fn remove(&mut self, id: MemberId) -> Option<C> {
        let m = self.list.get_mut(id.0 as usize)?;
        m.removed = true;
        m.channel.take()
    }

    /// The same members on other channels (the blocking ones made async).
    #[cfg(feature = "tokio")]
    pub(super) fn map<D>(self, mut f: impl FnMut(C) -> io::Result<D>) -> io::Result<Members<D>> {
        let list = self
            .list
            .into_iter()
            .map(|m| {
                Ok(Member {
                    name: m.name,
                    channel: m.channel.map(&mut f).transpose()?,
                    removed: m.removed,
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Members { list })
    }

    /// The checks before introducing `a` and `b`, then the pair and the two sends to make, in
    /// order (`a` first). Nothing is made when a check fails.
    pub(super) fn plan(&mut self, a: MemberId, b: MemberId) -> io::Result<[Telling; 2]> {
        if a == b {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Broker::introduce: member {a} cannot be introduced to itself"),
            ));
        }
        for id in [a, b] {
            self.live(id)?;
        }
        let (end_a, end_b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| {
            crate::sys::hint(
                e.into(),
                "Broker::introduce: socketpair(AF_UNIX, SOCK_STREAM)",
            )
        })?;
        let header = |peer| introduction(peer, self.name(peer).unwrap_or_default());
        Ok([
            Telling {
                to: a,
                header: header(b),
                end: end_a,
            },
            Telling {
                to: b,
                header: header(a),
                end: end_b,
            },
        ])
    }

    /// The member's channel, unless it is not a member or is gone (then marked so).
    pub(super) fn live(&mut self, id: MemberId) -> io::Result<&C> {
        let Some(m) = self.list.get_mut(id.0 as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("Broker: {id} is not a member of this broker"),
            ));
        };
        if m.removed {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "Broker: member {id} ({:?}) was removed from this broker (Broker::remove)",
                    m.name
                ),
            ));
        }
        let hung_up = match &m.channel {
            None => true,
            Some(c) => {
                let mut fds = [PollFd::new(c, PollFlags::empty())];
                crate::sys::poll::poll(&mut fds, Some(std::time::Instant::now()))?;
                fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR)
            }
        };
        if hung_up {
            m.channel = None;
            return Err(gone(id, &m.name, "its control socket is closed"));
        }
        Ok(m.channel.as_ref().expect("checked above"))
    }

    /// What the send to `to` came to: a `BrokenPipe` marks it gone and names it.
    pub(super) fn sent(&mut self, to: MemberId, sent: io::Result<()>) -> io::Result<()> {
        match sent {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                let m = &mut self.list[to.0 as usize];
                m.channel = None;
                Err(gone(
                    to,
                    &m.name,
                    &format!("sending its introduction failed: {e}"),
                ))
            }
            other => other,
        }
    }
}

/// The parent's side of the broker: one control [`Channel`] per child, and
/// [`introduce`](Broker::introduce), which hands two children the two ends of a new
/// socketpair so they talk directly. See the [module docs](super#the-broker) for the design and
/// the [protocol](super#the-broker-protocol) a child in any language speaks.
///
/// An async program uses `pass::tokio::Broker` (feature `tokio`), the same broker with an
/// async `introduce`.
///
/// ```
/// use std::io::Read;
/// use procwire::child::Command;
/// use procwire::pass::Broker;
///
/// let mut broker = Broker::new();
/// // A shell cannot read SCM_RIGHTS messages; this one shows what it was told about its
/// // control socket. (The tests have Python and Rust children that are introduced.)
/// let mut cmd = Command::new("sh");
/// cmd.args(["-c", "echo \"$PROCWIRE_CONTROL $PROCWIRE_CONTROL_PID $$\""]);
/// let id = broker.attach(&mut cmd, "shell")?;
/// let child = cmd.spawn()?;
/// let pid = child.id();
/// let out = child.wait_with_output()?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout), format!("3 {pid} {pid}\n"));
/// assert_eq!(broker.name(id), Some("shell"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Broker {
    members: Members<Channel>,
}

impl Broker {
    /// A broker with no members.
    pub fn new() -> Broker {
        Broker::default()
    }

    /// Adds a member and returns its id and the child's end of its control channel, for a
    /// child started by other means: give it that end (at any number) and set [`CONTROL_ENV`]
    /// to the number and [`CONTROL_PID_ENV`] to the child's pid. [`attach`](Self::attach) does
    /// all that for a [`child::Command`](crate::child::Command).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name longer than [`MAX_NAME`] bytes; the OS's error (with a hint
    /// for descriptor exhaustion) when the socketpair cannot be made.
    pub fn add(&mut self, name: impl Into<String>) -> io::Result<(MemberId, OwnedFd)> {
        self.members.add(name.into(), Ok)
    }

    /// Adds a member for the next child `cmd` spawns: its control socket goes to the child
    /// as descriptor [`CONTROL_FD`] (3, through [`Command::fd`]), with [`CONTROL_ENV`]`=3` and
    /// [`CONTROL_PID_ENV`]`=<its pid>` in its environment (built before the fork and finished
    /// by the pre-exec hook, as [`Command::listen_fds`] does for `LISTEN_PID`). Our copy of
    /// the child's end is closed once the child has started, so the child's exit is seen here
    /// as a hung-up channel.
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add). At [`spawn`](Command::spawn): descriptor 3 mapped twice when
    /// `cmd` also has [`listen_fds`](Command::listen_fds) or [`fd`](Command::fd)`(3, ..)`.
    pub fn attach(&mut self, cmd: &mut Command, name: impl Into<String>) -> io::Result<MemberId> {
        self.members.attach(cmd, name.into(), Ok)
    }

    /// The member's name, if it is a member.
    pub fn name(&self, id: MemberId) -> Option<&str> {
        self.members.name(id)
    }

    /// The member's control channel, to send it messages of an application's own (types other
    /// than the introduction's, see the [protocol](super#the-broker-protocol)); `None` once the
    /// member is gone or removed.
    pub fn channel(&self, id: MemberId) -> Option<&Channel> {
        self.members.channel(id)
    }

    /// Removes a member and gives back its control channel (dropping it tells the child: its
    /// [`Control::recv`] returns `Ok(None)`).
    pub fn remove(&mut self, id: MemberId) -> Option<Channel> {
        self.members.remove(id)
    }

    /// Introduces `a` and `b`: makes an `AF_UNIX` `SOCK_STREAM` [socketpair(2)] and sends one
    /// end to each over its control channel, with a header naming the other (its id and
    /// name). The children then talk directly; this process keeps nothing of the pair. Costs
    /// one `socketpair` and two `sendmsg` (each end is duplicated into the child's table by
    /// the kernel, two small messages): cheap next to a process start, and the bytes the
    /// children then exchange never pass through here.
    ///
    /// Before sending, both channels are polled ([poll(2)], zero timeout) for a hang-up, so a
    /// member already known to be gone is reported before anyone is told. A member that dies
    /// between that check and its send is found by the send (`EPIPE`); if that is `b`, `a` has
    /// been told already and reads end of file on its end (its peer's end is closed here).
    ///
    /// # Errors
    ///
    /// - `NotFound`: `a` or `b` is not a member, or was removed; `InvalidInput`: `a == b`.
    /// - `BrokenPipe` when a member is gone (its process exited and closed its control
    ///   socket); the message names it. The member is then marked gone and every later
    ///   `introduce` of it fails the same way at once. Nothing is leaked: the pair's ends
    ///   are closed here in every case.
    ///
    /// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
    /// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub fn introduce(&mut self, a: MemberId, b: MemberId) -> io::Result<()> {
        for t in self.members.plan(a, b)? {
            let sent = self.members.live(t.to)?.send(&t.header, &[t.end.as_fd()]);
            self.members.sent(t.to, sent)?;
        }
        Ok(())
    }

    /// The bookkeeping, for the async broker made from this one.
    #[cfg(feature = "tokio")]
    pub(super) fn into_members(self) -> Members<Channel> {
        self.members
    }
}

fn gone(id: MemberId, name: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        format!(
            "Broker::introduce: member {id} ({name:?}) is gone: {why}; its process has exited \
             (or closed descriptor {CONTROL_FD}): reap it and remove it"
        ),
    )
}

/// An introduction's data: `'I'`, the peer's id (u32 little-endian), its name.
fn introduction(peer: MemberId, name: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(HEADER + name.len());
    data.push(INTRODUCTION);
    data.extend_from_slice(&peer.0.to_le_bytes());
    data.extend_from_slice(name.as_bytes());
    data
}

/// Who a child was introduced to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Its id in the broker.
    pub id: MemberId,
    /// Its name in the broker.
    pub name: String,
}

/// One introduction a child received: the peer and this child's end of a socketpair whose
/// other end the peer received.
#[derive(Debug)]
pub struct Introduction {
    /// Who is on the other end.
    pub peer: Peer,
    /// An `AF_UNIX` `SOCK_STREAM` socket, connected to the peer, close-on-exec.
    pub fd: OwnedFd,
}

impl Introduction {
    /// The socket as a [`UnixStream`].
    pub fn into_stream(self) -> UnixStream {
        UnixStream::from(self.fd)
    }
}

/// A child's side of the broker: its control channel, on which introductions arrive.
#[derive(Debug)]
pub struct Control {
    channel: Channel,
}

impl Control {
    /// Takes over the control socket this process was started with by a [`Broker`]: reads
    /// [`CONTROL_ENV`] (the descriptor's number) and [`CONTROL_PID_ENV`] (which must be this
    /// process's pid), checks the descriptor (open, inherited: not close-on-exec; an
    /// `AF_UNIX` `SOCK_SEQPACKET` or `SOCK_STREAM` socket, [getsockopt(2)]), and makes it
    /// close-on-exec ([fcntl(2)]). Only the first call in a process looks; a second fails.
    ///
    /// # Call it early
    ///
    /// At the start of `main`, before threads start. Until the call the socket is not
    /// close-on-exec (a child spawned meanwhile would inherit it). And only in a process with a
    /// single thread are the two variables removed from the environment
    /// ([`std::env::remove_var`], which races with a `getenv` on another thread); otherwise
    /// they stay, harmlessly: `PROCWIRE_CONTROL_PID` names this process, so our children
    /// ignore them.
    ///
    /// # Errors
    ///
    /// - `NotFound`: a second call, the variables are missing (not started by a broker),
    ///   `CONTROL_PID_ENV` is another pid (meant for a parent of ours), or the descriptor is
    ///   not open.
    /// - `InvalidInput`: not a number, close-on-exec (opened by this process, not inherited),
    ///   or not an `AF_UNIX` seqpacket or stream socket (the descriptor is left open then).
    ///
    /// [getsockopt(2)]: https://man7.org/linux/man-pages/man2/getsockopt.2.html
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    pub fn from_env() -> io::Result<Control> {
        static DONE: AtomicBool = AtomicBool::new(false);
        if DONE.swap(true, Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "Control::from_env: the control socket was taken over already in this process",
            ));
        }
        let fd = std::env::var(CONTROL_ENV).ok();
        let pid = std::env::var(CONTROL_PID_ENV).ok();
        ffi::remove_env_if_alone(&[CONTROL_ENV, CONTROL_PID_ENV]);
        let not_found = |why: String| {
            io::Error::new(io::ErrorKind::NotFound, format!("Control::from_env: {why}"))
        };
        let Some(fd) = fd else {
            return Err(not_found(format!(
                "{CONTROL_ENV} is not set: this process was not started by a procwire Broker \
                 (or its control socket was taken over already)"
            )));
        };
        let ours = std::process::id().to_string();
        if pid.as_deref().map(str::trim) != Some(ours.as_str()) {
            return Err(not_found(format!(
                "{CONTROL_PID_ENV} is {pid:?}, not this process's pid {ours}: the control \
                 socket was meant for another process (a parent that did not take it over)"
            )));
        }
        let number: RawFd = fd.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Control::from_env: {CONTROL_ENV} is {fd:?}, not a descriptor number"),
            )
        })?;
        let fd = ffi::take_inherited(number, "Control::from_env")?;
        Channel::from_fd(fd).map(Control::new)
    }

    /// A control on a channel made elsewhere (the other end of a [`Broker::add`] end, in a
    /// thread or a test).
    pub fn new(channel: Channel) -> Control {
        Control { channel }
    }

    /// The control channel, for messages of an application's own.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Waits for the next introduction; `Ok(None)` when the broker is gone (its end closed
    /// everywhere) and every introduction has been read.
    ///
    /// # Errors
    ///
    /// `InvalidData` for a message that is not an introduction (another type byte, a header
    /// shorter than 5 bytes, a name that is not UTF-8, or not exactly one descriptor): its
    /// descriptors are closed, and the next call reads the next message. As
    /// [`Channel::recv`] otherwise.
    pub fn recv(&self) -> io::Result<Option<Introduction>> {
        decode(self.channel.recv()?)
    }

    /// The control channel, for the async control made from this one.
    #[cfg(feature = "tokio")]
    pub(super) fn into_channel(self) -> Channel {
        self.channel
    }
}

/// Decodes one control message (`None`: end of file) as an introduction, sans-IO: the one
/// decoder of the blocking and the async [`Control`].
///
/// # Errors
///
/// `InvalidData` for a message that is not an introduction; its descriptors are closed.
pub(super) fn decode(msg: Option<Message>) -> io::Result<Option<Introduction>> {
    let Some(Message { data, mut fds }) = msg else {
        return Ok(None);
    };
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "Control::recv: a control message that is not an introduction ({why}); its \
                 descriptors are closed"
            ),
        )
    };
    if data.len() < HEADER || data[0] != INTRODUCTION {
        return Err(bad("its data does not start with 'I' and a 4-byte peer id"));
    }
    if fds.len() != 1 {
        return Err(bad(&format!("{} descriptors, not 1", fds.len())));
    }
    let id = u32::from_le_bytes(data[1..HEADER].try_into().expect("4 bytes"));
    let name = String::from_utf8(data[HEADER..].to_vec())
        .map_err(|_| bad("the peer's name is not UTF-8"))?;
    Ok(Some(Introduction {
        peer: Peer {
            id: MemberId(id),
            name,
        },
        fd: fds.pop().expect("one descriptor"),
    }))
}
