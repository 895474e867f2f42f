//! The hardened TCP-loopback shim.
//!
//! Any local process may connect to a listening port, and may do it between our `listen` and
//! our own `connect`. So the shim connects first without blocking, learns its own socket's local
//! address, and accepts connections until it finds the one whose peer address is exactly that:
//! every other connection is closed at once and counted. The whole handshake is bounded.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// Makes a connected TCP pair over `127.0.0.1`: (the connecting end, the accepted end).
///
/// `listening` runs once the listener is up and before our own connect, with its address: the
/// tests use it to queue foreign connections ahead of ours.
pub(crate) fn pair(
    timeout: Duration,
    listening: &mut dyn FnMut(SocketAddr),
) -> io::Result<(OwnedFd, OwnedFd)> {
    let deadline = Instant::now() + timeout;
    // std binds with SOCK_CLOEXEC and accepts with accept4(SOCK_CLOEXEC).
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| context(e, "bind a listener on 127.0.0.1"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    listening(addr);

    let client = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| context(e.into(), "create a TCP socket"))?;
    match rustix::net::connect(&client, &addr) {
        Ok(()) | Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(context(e.into(), &format!("connect to {addr}"))),
    }
    let client = TcpStream::from(client);
    // The kernel picked our source port in connect(): this is the only peer we accept.
    let own = client.local_addr()?;

    let mut rejected = 0usize;
    loop {
        match listener.accept() {
            Ok((stream, peer)) if peer == own => {
                // Accepted means the three-way handshake completed, so the client is connected;
                // a pending error would still show here.
                if let Some(e) = client.take_error()? {
                    return Err(context(e, &format!("connect to {addr}")));
                }
                client.set_nodelay(true)?;
                stream.set_nodelay(true)?;
                return Ok((client.into(), stream.into()));
            }
            Ok((foreign, _)) => {
                rejected += 1;
                drop(foreign);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
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
                wait_readable(&listener, left)?;
            }
            // A queued connection reset before we took it, or a signal: try again.
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.raw_os_error() == Some(Errno::CONNABORTED.raw_os_error()) => {}
            Err(e) => return Err(context(e, &format!("accept on {addr}"))),
        }
    }
}

fn wait_readable(fd: &impl AsFd, timeout: Duration) -> io::Result<()> {
    let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    match poll(&mut fds, Some(&ts)) {
        Ok(_) | Err(Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("loopback shim: could not {what}: {e}"))
}
