//! `procwire::relay::tokio` in a process of its own with `SIGPIPE`'s default disposition: a
//! splice into a socket whose peer is gone is `BrokenPipe`, never a signal.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;

use procwire::relay::{Mode, Options, Path};

use crate::support::{HELPER_OK, in_own_process};

#[test]
fn a_gone_peer_is_broken_pipe_never_sigpipe_in_the_async_relay() {
    if !in_own_process("library::a_gone_peer_is_broken_pipe_never_sigpipe_in_the_async_relay") {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of SIGPIPE in this single-test helper before
    // any other thread runs; a SIGPIPE raised from now on kills the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (mode, path) in [(Mode::Splice, Path::Splice), (Mode::Copy, Path::Copy)] {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, b_peer) = UnixStream::pair().unwrap();
        a_peer.write_all(&[7u8; 100_000]).unwrap();
        drop(b_peer);
        let mut o = Options::new();
        o.mode(mode);
        let r = rt.block_on(async move { procwire::relay::tokio::relay(a, b, &o).await });
        let e = r.error().expect("the peer is gone");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{r}");
        assert_eq!(r.a_to_b().path(), path, "{r}");
    }
    // Still alive: no SIGPIPE was delivered.
    println!("{HELPER_OK}");
}
