//! The hardened TCP-loopback shim.
//!
//! Any local process may connect to a listening port, and may do it between our `listen` and
//! our own `connect`. So the shim connects first without blocking, learns its own socket's local
//! address, and accepts connections until it finds the one whose peer address is exactly that:
//! every other connection is closed at once and counted. The whole handshake is bounded.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// The listener's accept queue. Small, so a flood of foreign connections is turned away by
/// the kernel instead of growing a queue we must drain; ours is retried by TCP until the bound.
pub(crate) const BACKLOG: i32 = 64;

/// A connected TCP pair over `127.0.0.1`, and how many foreign connections were turned away.
pub(crate) struct Made {
    pub connecting: OwnedFd,
    pub accepted: OwnedFd,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the unit tests"))]
    pub rejected: usize,
}

/// Makes a connected TCP pair over `127.0.0.1`.
///
/// `listening` runs once the listener is up and before our own connect, with its address: the
/// tests use it to queue foreign connections ahead of ours.
pub(crate) fn pair(timeout: Duration, listening: &mut dyn FnMut(SocketAddr)) -> io::Result<Made> {
    let socket = || {
        rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| context(e.into(), "create a TCP socket"))
    };
    let listener = socket()?;
    let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    rustix::net::bind(&listener, &localhost)
        .and_then(|()| rustix::net::listen(&listener, BACKLOG))
        .map_err(|e| context(e.into(), "bind and listen on 127.0.0.1"))?;
    // std accepts with accept4(SOCK_CLOEXEC); the listener stays non-blocking.
    let listener = TcpListener::from(listener);
    let addr = listener.local_addr()?;
    listening(addr);
    // The handshake's bound starts here, after the hook (the tests' flood of foreign
    // connections), so a slow hook cannot eat it. No deadline for Duration::MAX.
    let deadline = crate::sys::poll::deadline(Some(timeout));

    let client = socket()?;
    match rustix::net::connect(&client, &addr) {
        Ok(()) | Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(context(e.into(), &format!("connect to {addr}"))),
    }
    let client = TcpStream::from(client);
    // The kernel picked our source port in connect(): this is the only peer we accept.
    let own = client.local_addr()?;

    let mut rejected = 0usize;
    loop {
        // Checked on every pass: a flood of foreign connections must not keep us here.
        let left = crate::sys::poll::left(deadline).unwrap_or(Duration::MAX);
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "loopback shim: our own connection {own} -> {addr} was not accepted \
                     within {timeout:?} ({rejected} foreign connection(s) rejected); the \
                     machine may be overloaded or something floods the port; raise \
                     Builder::loopback_timeout or prefer another wire kind"
                ),
            ));
        }
        match listener.accept() {
            Ok((stream, peer)) if peer == own => {
                // Accepted means the three-way handshake completed, so the client is connected;
                // a pending error would still show here.
                if let Some(e) = client.take_error()? {
                    return Err(context(e, &format!("connect to {addr}")));
                }
                client.set_nodelay(true)?;
                stream.set_nodelay(true)?;
                return Ok(Made {
                    connecting: client.into(),
                    accepted: stream.into(),
                    rejected,
                });
            }
            Ok((foreign, _)) => {
                rejected += 1;
                drop(foreign);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&listener, left)?,
            // A queued connection reset before we took it, or a signal: try again.
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.raw_os_error() == Some(Errno::CONNABORTED.raw_os_error()) => {}
            Err(e) => return Err(context(e, &format!("accept on {addr}"))),
        }
    }
}

fn wait_readable(fd: &impl AsFd, timeout: Duration) -> io::Result<()> {
    crate::sys::poll::wait(fd.as_fd(), PollFlags::IN, Some(timeout)).map(drop)
}

fn context(e: io::Error, what: &str) -> io::Error {
    crate::sys::hint(e, &format!("loopback shim: {what}"))
}
