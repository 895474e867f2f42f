//! The stream-socket quirk: descriptors ride on the first byte of their send, and a plain
//! `read(2)` that consumes that byte makes the kernel close them: nothing leaks into the
//! reader, and nothing of them is left anywhere.

use std::io::{IoSlice, IoSliceMut, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use procwire::fd::open_fds;
use procwire::pass;

use crate::in_own_process;
use crate::support::HELPER_OK;

#[test]
fn a_plain_read_of_the_carrying_byte_closes_the_descriptors() {
    if !in_own_process("quirk::a_plain_read_of_the_carrying_byte_closes_the_descriptors") {
        return;
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    let (r, w) = crate::pipe();
    pass::send_fds(&a, &[IoSlice::new(b"xy")], &[w.as_fd(), w.as_fd()]).unwrap();
    // The only copies of the write end are now the two in flight.
    drop(w);
    let before = open_fds().unwrap();
    let mut byte = [0u8; 1];
    b.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
    assert_eq!(
        open_fds().unwrap(),
        before,
        "a plain read installed descriptors"
    );
    // The kernel closed the in-flight copies: the pipe has no writer left.
    let mut rest = Vec::new();
    std::fs::File::from(r).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // The second byte came without descriptors, and recv_fds says so.
    let mut buf = [0u8; 4];
    let (n, fds) = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf)], 2).unwrap();
    assert_eq!((&buf[..n], fds.len()), (&b"y"[..], 0));

    // With recv_fds reading the first byte, the descriptors arrive with it and only with it.
    let (r, w) = crate::pipe();
    pass::send_fds(&a, &[IoSlice::new(b"ab")], &[w.as_fd()]).unwrap();
    pass::send_fds(&a, &[IoSlice::new(b"cd")], &[r.as_fd()]).unwrap();
    let mut one = [0u8; 1];
    let (n, fds) = pass::recv_fds(&b, &mut [IoSliceMut::new(&mut one)], 2).unwrap();
    assert_eq!((n, fds.len()), (1, 1));
    // The rest, "bcd", brings the second send's descriptor and nothing more.
    let (mut data, mut got) = (Vec::new(), Vec::new());
    while data.len() < 3 {
        let (n, fds) =
            pass::recv_fds(&b, &mut [IoSliceMut::new(&mut buf[..3 - data.len()])], 2).unwrap();
        assert!(n > 0, "EOF");
        data.extend_from_slice(&buf[..n]);
        got.extend(fds);
    }
    assert_eq!((&data[..], got.len()), (&b"bcd"[..], 1));
    println!("{HELPER_OK}");
}
