//! Errors that say what failed and what to try.

use std::io;

use rustix::io::Errno;

/// Adds what failed and, for descriptor exhaustion (`EMFILE`, `ENFILE`), what to do, keeping
/// the error's kind.
pub(crate) fn hint(e: io::Error, what: &str) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(n) if n == Errno::MFILE.raw_os_error() => {
            "; this process is at RLIMIT_NOFILE: close unused descriptors or raise the limit \
             (ulimit -n)"
        }
        Some(n) if n == Errno::NFILE.raw_os_error() => {
            "; the system-wide file table is full (fs.file-max)"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("{what} failed: {e}{hint}"))
}

/// Whether `e` is the errno `errno`.
pub(crate) fn is(e: &io::Error, errno: Errno) -> bool {
    e.raw_os_error() == Some(errno.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_gets_a_hint_and_keeps_its_kind() {
        let e = hint(Errno::MFILE.into(), "pipe2(O_CLOEXEC)");
        assert_eq!(e.kind(), io::Error::from(Errno::MFILE).kind());
        let text = e.to_string();
        assert!(text.starts_with("pipe2(O_CLOEXEC) failed: "), "{text}");
        assert!(text.contains("ulimit -n"), "{text}");
        let e = hint(Errno::NFILE.into(), "x");
        assert!(e.to_string().contains("fs.file-max"), "{e}");
        let e = hint(Errno::INVAL.into(), "x");
        assert!(!e.to_string().contains(';'), "{e}");
        assert!(is(&Errno::INVAL.into(), Errno::INVAL));
    }
}
