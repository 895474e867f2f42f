//! What this machine's kernel grants for wires: the facts every benchmark report carries.
//!
//! A throughput figure for a pipe or a socketpair means little without the limits it was
//! measured under: how large a pipe may grow (`/proc/sys/fs/pipe-max-size`), what a fresh pipe
//! and a fresh socketpair get by default, how far socket buffers may be raised
//! (`net.core.rmem_max`/`wmem_max`), how many descriptors the process may hold
//! (`RLIMIT_NOFILE`), and whether zero-copy [splice(2)] between a pipe and a socket works at
//! all (seccomp filters and some sandboxes refuse it). [`collect`] gathers them into a
//! [`Probe`].
//!
//! Probing never fails as a whole: a fact that cannot be read (a file missing in a container, a
//! syscall refused) is `None` and every other fact is still reported. The text parsers are
//! small pure functions ([`cpu_model`], [`cpuinfo_processors`], [`cpu_list_len`]) so they can be
//! checked against samples from other machines.
//!
//! ```
//! let probe = procwire::probe::collect();
//! if let Some(max) = probe.pipe_max_size {
//!     println!("pipes may grow to {max} bytes");
//! }
//! if !probe.splice_socket_to_pipe.works {
//!     println!("no zero-copy relay here: {:?}", probe.splice_socket_to_pipe.error);
//! }
//! ```
//!
//! [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use rustix::process::Resource;

use crate::wire::{self, Builder, Kind};

/// The facts [`collect`] gathers.
///
/// An `Option` fact is `None` when it could not be read, except the `RLIMIT_NOFILE` pair, where
/// `None` means unlimited ([getrlimit(2)] cannot fail). Sizes are in bytes unless the field says
/// pages. With the `serde` feature the struct
/// serializes with these field names as keys, in this order; `procwire probe --json` prints it.
///
/// [getrlimit(2)]: https://man7.org/linux/man-pages/man2/getrlimit.2.html
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Probe {
    /// The kernel release, e.g. `6.8.0-45-generic`: `release` of [uname(2)].
    ///
    /// [uname(2)]: https://man7.org/linux/man-pages/man2/uname.2.html
    pub kernel_release: Option<String>,
    /// The CPU model: the first `model name` line of `/proc/cpuinfo`, else `Hardware`, else
    /// `cpu model` (architectures name it differently; see [proc_cpuinfo(5)]).
    ///
    /// [proc_cpuinfo(5)]: https://man7.org/linux/man-pages/man5/proc_cpuinfo.5.html
    pub cpu_model: Option<String>,
    /// How many CPUs are online: the length of the list in `/sys/devices/system/cpu/online` (see
    /// [sysfs-devices-system-cpu]).
    ///
    /// [sysfs-devices-system-cpu]: https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-devices-system-cpu
    pub cpus_online: Option<usize>,
    /// How many threads this process can run at once: [`std::thread::available_parallelism`], which
    /// honours the CPU affinity mask ([sched_getaffinity(2)]) and cgroup CPU quotas, so it can be
    /// less than [`cpus_online`](Self::cpus_online).
    ///
    /// [sched_getaffinity(2)]: https://man7.org/linux/man-pages/man2/sched_getaffinity.2.html
    pub available_parallelism: Option<usize>,
    /// How many `processor` entries `/proc/cpuinfo` lists (see [proc_cpuinfo(5)]).
    ///
    /// [proc_cpuinfo(5)]: https://man7.org/linux/man-pages/man5/proc_cpuinfo.5.html
    pub cpuinfo_processors: Option<usize>,
    /// The memory page size, the unit of the `pipe-user-pages-*` limits: `sysconf(_SC_PAGESIZE)`
    /// ([sysconf(3)]), which cannot fail.
    ///
    /// [sysconf(3)]: https://man7.org/linux/man-pages/man3/sysconf.3.html
    pub page_size: usize,
    /// The largest size an unprivileged process may give a pipe with `F_SETPIPE_SZ`:
    /// `/proc/sys/fs/pipe-max-size` (see [`wire::pipe_max_size`] and [pipe(7)]).
    ///
    /// [pipe(7)]: https://man7.org/linux/man-pages/man7/pipe.7.html
    pub pipe_max_size: Option<usize>,
    /// The buffer size of a fresh pipe: [fcntl(2)] `F_GETPIPE_SZ` on a new [`wire::pipe`]. Normally
    /// 65536 (16 pages of 4 KiB); the minimum (a page or two, by kernel version) once the user's
    /// pipes hold more than `pipe-user-pages-soft`.
    ///
    /// [fcntl(2)]: https://man7.org/linux/man-pages/man2/fcntl.2.html
    pub pipe_default_size: Option<usize>,
    /// The pages all of one user's pipes may hold before new pipes get the minimum size:
    /// `/proc/sys/fs/pipe-user-pages-soft`, in pages; 0 means no limit (see [pipe(7)]).
    ///
    /// [pipe(7)]: https://man7.org/linux/man-pages/man7/pipe.7.html
    pub pipe_user_pages_soft: Option<usize>,
    /// The pages all of one user's pipes may hold before `F_SETPIPE_SZ` and new pipes fail:
    /// `/proc/sys/fs/pipe-user-pages-hard`, in pages; 0 means no limit (see [pipe(7)]).
    ///
    /// [pipe(7)]: https://man7.org/linux/man-pages/man7/pipe.7.html
    pub pipe_user_pages_hard: Option<usize>,
    /// The default receive buffer of a socket: `/proc/sys/net/core/rmem_default` (see [socket(7)]).
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub rmem_default: Option<usize>,
    /// The largest receive buffer `SO_RCVBUF` may ask for: `/proc/sys/net/core/rmem_max` (see
    /// [socket(7)]).
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub rmem_max: Option<usize>,
    /// The default send buffer of a socket: `/proc/sys/net/core/wmem_default` (see [socket(7)]).
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub wmem_default: Option<usize>,
    /// The largest send buffer `SO_SNDBUF` may ask for: `/proc/sys/net/core/wmem_max` (see
    /// [socket(7)]).
    ///
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub wmem_max: Option<usize>,
    /// The send buffer a fresh `AF_UNIX` socketpair end reports: [getsockopt(2)] `SO_SNDBUF` (see
    /// [`wire::End::capacity`] and [socket(7)]).
    ///
    /// [getsockopt(2)]: https://man7.org/linux/man-pages/man2/getsockopt.2.html
    /// [socket(7)]: https://man7.org/linux/man-pages/man7/socket.7.html
    pub socketpair_sndbuf: Option<usize>,
    /// The receive buffer a fresh `AF_UNIX` socketpair end reports: [getsockopt(2)] `SO_RCVBUF`.
    ///
    /// [getsockopt(2)]: https://man7.org/linux/man-pages/man2/getsockopt.2.html
    pub socketpair_rcvbuf: Option<usize>,
    /// The soft `RLIMIT_NOFILE`, the most descriptors this process may hold now: [getrlimit(2)].
    /// `None` means unlimited (`RLIM_INFINITY`).
    ///
    /// [getrlimit(2)]: https://man7.org/linux/man-pages/man2/getrlimit.2.html
    pub nofile_soft: Option<u64>,
    /// The hard `RLIMIT_NOFILE`, the ceiling the soft limit may be raised to without privilege:
    /// [getrlimit(2)]. `None` means unlimited (`RLIM_INFINITY`).
    ///
    /// [getrlimit(2)]: https://man7.org/linux/man-pages/man2/getrlimit.2.html
    pub nofile_hard: Option<u64>,
    /// Whether [splice(2)] moves bytes from a socketpair end into a pipe.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    pub splice_socket_to_pipe: SpliceCheck,
    /// Whether [splice(2)] moves bytes from a pipe into a socketpair end.
    ///
    /// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
    pub splice_pipe_to_socket: SpliceCheck,
}

/// The outcome of trying [splice(2)] in one direction between a pipe and a socketpair.
///
/// The check really moves a few bytes and reads them back on the far side, so `works` means the
/// bytes arrived intact, not only that the syscall returned.
///
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpliceCheck {
    /// `true` when the bytes went through `splice` and arrived unchanged.
    pub works: bool,
    /// Why not, when `works` is `false`: the step that failed and the error.
    pub error: Option<String>,
}

impl SpliceCheck {
    fn from_result(result: io::Result<()>) -> SpliceCheck {
        match result {
            Ok(()) => SpliceCheck {
                works: true,
                error: None,
            },
            Err(e) => SpliceCheck {
                works: false,
                error: Some(e.to_string()),
            },
        }
    }
}

/// Gathers every fact, leaving `None` for those that cannot be read.
///
/// It reads a few files under `/proc` and `/sys`, makes one pipe and one socketpair to read
/// their default sizes, and one more of each to try [splice(2)] both ways; all of them are
/// closed before it returns. Nothing it does is observable outside the process.
///
/// [splice(2)]: https://man7.org/linux/man-pages/man2/splice.2.html
pub fn collect() -> Probe {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    let cpuinfo = cpuinfo.as_deref();
    let (socketpair_sndbuf, socketpair_rcvbuf) = socketpair_buffers();
    let nofile = rustix::process::getrlimit(Resource::Nofile);
    Probe {
        kernel_release: kernel_release(),
        cpu_model: cpuinfo.and_then(cpu_model),
        cpus_online: std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|list| cpu_list_len(&list)),
        available_parallelism: std::thread::available_parallelism().ok().map(|n| n.get()),
        cpuinfo_processors: cpuinfo.and_then(cpuinfo_processors),
        page_size: rustix::param::page_size(),
        pipe_max_size: wire::pipe_max_size().ok(),
        pipe_default_size: pipe_default_size(),
        pipe_user_pages_soft: read_number("/proc/sys/fs/pipe-user-pages-soft"),
        pipe_user_pages_hard: read_number("/proc/sys/fs/pipe-user-pages-hard"),
        rmem_default: read_number("/proc/sys/net/core/rmem_default"),
        rmem_max: read_number("/proc/sys/net/core/rmem_max"),
        wmem_default: read_number("/proc/sys/net/core/wmem_default"),
        wmem_max: read_number("/proc/sys/net/core/wmem_max"),
        socketpair_sndbuf,
        socketpair_rcvbuf,
        nofile_soft: nofile.current,
        nofile_hard: nofile.maximum,
        splice_socket_to_pipe: SpliceCheck::from_result(splice_socket_to_pipe()),
        splice_pipe_to_socket: SpliceCheck::from_result(splice_pipe_to_socket()),
    }
}

/// The CPU model named in `/proc/cpuinfo` text: the first `model name` value, else the first
/// `Hardware` value (older ARM kernels), else the first `cpu model` value (MIPS). Empty values
/// are skipped.
///
/// ```
/// let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n";
/// assert_eq!(procwire::probe::cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
/// ```
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Hardware", "cpu model"]
        .into_iter()
        .find_map(|wanted| {
            cpuinfo_fields(cpuinfo).find_map(|(key, value)| {
                (key == wanted && !value.is_empty()).then(|| value.to_owned())
            })
        })
}

/// How many `processor` entries `/proc/cpuinfo` text lists, or `None` if it lists none.
///
/// ```
/// let text = "processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n";
/// assert_eq!(procwire::probe::cpuinfo_processors(text), Some(2));
/// ```
pub fn cpuinfo_processors(cpuinfo: &str) -> Option<usize> {
    let n = cpuinfo_fields(cpuinfo)
        .filter(|(key, _)| *key == "processor")
        .count();
    (n > 0).then_some(n)
}

/// The number of CPUs in a kernel CPU list such as `/sys/devices/system/cpu/online` holds:
/// comma-separated numbers and inclusive ranges, e.g. `0-3,8,10-11` is 7 CPUs. `None` when the
/// text is not such a list.
///
/// ```
/// assert_eq!(procwire::probe::cpu_list_len("0-3,8,10-11\n"), Some(7));
/// assert_eq!(procwire::probe::cpu_list_len("0"), Some(1));
/// assert_eq!(procwire::probe::cpu_list_len("3-1"), None);
/// ```
pub fn cpu_list_len(list: &str) -> Option<usize> {
    let list = list.trim();
    if list.is_empty() {
        return None;
    }
    list.split(',').try_fold(0usize, |total, item| {
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (first.parse::<usize>().ok()?, last.parse::<usize>().ok()?),
            None => {
                let cpu = item.parse::<usize>().ok()?;
                (cpu, cpu)
            }
        };
        let len = last.checked_sub(first)?.checked_add(1)?;
        total.checked_add(len)
    })
}

/// `key: value` pairs of `/proc/cpuinfo` text, both trimmed; lines without a colon are skipped.
fn cpuinfo_fields(cpuinfo: &str) -> impl Iterator<Item = (&str, &str)> {
    cpuinfo.lines().filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        Some((key.trim(), value.trim()))
    })
}

/// A sysctl-style file holding one non-negative number.
fn read_number(path: impl AsRef<Path>) -> Option<usize> {
    parse_number(&std::fs::read_to_string(path).ok()?)
}

fn parse_number(text: &str) -> Option<usize> {
    text.trim().parse().ok()
}

fn kernel_release() -> Option<String> {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    (!release.is_empty()).then(|| release.into_owned())
}

fn pipe_default_size() -> Option<usize> {
    let (read, _write) = wire::pipe().ok()?;
    read.capacity().ok().map(|c| c.recv)
}

fn socketpair_buffers() -> (Option<usize>, Option<usize>) {
    let Ok(pair) = Builder::new().kind(Kind::SocketPair).build() else {
        return (None, None);
    };
    let (end, _peer) = pair.into_ends();
    match end.capacity() {
        Ok(capacity) => (Some(capacity.send), Some(capacity.recv)),
        Err(_) => (None, None),
    }
}

/// What the splice checks move: short enough for any buffer, recognisable if it comes back wrong.
const SPLICE_PAYLOAD: &[u8] = b"procwire splice probe";

/// Everything non-blocking, so a kernel that stalls the transfer is a failure, never a hang.
fn splice_fixture() -> io::Result<(wire::End, wire::End, wire::ReadHalf, wire::WriteHalf)> {
    let (a, b) = Builder::new()
        .kind(Kind::SocketPair)
        .nonblocking(true, true)
        .build()
        .map_err(|e| context("making a socketpair", e))?
        .into_ends();
    let (r, w) = Builder::new()
        .nonblocking(true, true)
        .pipe()
        .map_err(|e| context("making a pipe", e))?;
    Ok((a, b, r, w))
}

/// Writes the payload into socket end `a`, splices it from end `b` into the pipe, reads the pipe.
fn splice_socket_to_pipe() -> io::Result<()> {
    let (a, b, pipe_r, pipe_w) = splice_fixture()?;
    (&a).write_all(SPLICE_PAYLOAD)
        .map_err(|e| context("writing to the socketpair", e))?;
    let from = b
        .read_fd()
        .ok_or_else(|| io::Error::other("no read descriptor"))?;
    splice_all(from, pipe_w.as_fd()).map_err(|e| context("splice(socket -> pipe)", e))?;
    read_back(&pipe_r, "the pipe")
}

/// Writes the payload into the pipe, splices it into socket end `b`, reads it from end `a`.
fn splice_pipe_to_socket() -> io::Result<()> {
    let (a, b, pipe_r, pipe_w) = splice_fixture()?;
    (&pipe_w)
        .write_all(SPLICE_PAYLOAD)
        .map_err(|e| context("writing to the pipe", e))?;
    let to = b
        .write_fd()
        .ok_or_else(|| io::Error::other("no write descriptor"))?;
    splice_all(pipe_r.as_fd(), to).map_err(|e| context("splice(pipe -> socket)", e))?;
    read_back(&a, "the socketpair")
}

/// Splices exactly `SPLICE_PAYLOAD.len()` bytes, which are already waiting in `from`.
fn splice_all(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let mut left = SPLICE_PAYLOAD.len();
    while left > 0 {
        let moved = crate::sys::splice::splice_once(from.as_fd(), to.as_fd(), left)?;
        if moved == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("moved 0 bytes with {left} still to go"),
            ));
        }
        left -= moved;
    }
    Ok(())
}

/// Reads the spliced bytes back (they are already there: the source was non-blocking).
fn read_back(mut from: impl Read, what: &str) -> io::Result<()> {
    let mut got = [0; SPLICE_PAYLOAD.len()];
    from.read_exact(&mut got)
        .map_err(|e| context(&format!("reading the bytes back from {what}"), e))?;
    if got != SPLICE_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the bytes read back from {what} differ from those sent: {:?}",
                String::from_utf8_lossy(&got)
            ),
        ));
    }
    Ok(())
}

fn context(step: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{step}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                       flags\t\t: fpu vme\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\n\
                       model name\t: AMD EPYC 7B13\nflags\t\t: fpu vme\n\n";
    const ARM_OLD: &str = "processor\t: 0\nmodel name\t: \nBogoMIPS\t: 38.40\n\nprocessor\t: 1\n\
                           BogoMIPS\t: 38.40\n\nHardware\t: BCM2835\nRevision\t: a02082\n";
    const MIPS: &str = "system type\t\t: MT7621\nmachine\t\t\t: Generic\nprocessor\t\t: 0\n\
                        cpu model\t\t: MIPS 1004Kc V2.15\nBogoMIPS\t\t: 584.90\n";
    const ARM64_NO_MODEL: &str = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n\
                                  CPU implementer\t: 0x41\n";

    #[test]
    fn cpu_model_prefers_model_name() {
        assert_eq!(cpu_model(X86).as_deref(), Some("AMD EPYC 7B13"));
    }

    #[test]
    fn cpu_model_falls_back_to_hardware_then_cpu_model() {
        // An empty `model name` does not count.
        assert_eq!(cpu_model(ARM_OLD).as_deref(), Some("BCM2835"));
        assert_eq!(cpu_model(MIPS).as_deref(), Some("MIPS 1004Kc V2.15"));
    }

    #[test]
    fn cpu_model_is_none_when_no_line_names_it() {
        assert_eq!(cpu_model(ARM64_NO_MODEL), None);
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn processors_are_counted_by_their_own_key_only() {
        assert_eq!(cpuinfo_processors(X86), Some(2));
        assert_eq!(cpuinfo_processors(ARM_OLD), Some(2));
        assert_eq!(cpuinfo_processors(MIPS), Some(1));
        // `vendor_id` and friends do not count; no entries at all is unknown, not 0.
        assert_eq!(cpuinfo_processors("vendor_id : x\n"), None);
        assert_eq!(cpuinfo_processors(""), None);
    }

    #[test]
    fn cpu_lists_count_numbers_and_ranges() {
        assert_eq!(cpu_list_len("0-1\n"), Some(2));
        assert_eq!(cpu_list_len("0"), Some(1));
        assert_eq!(cpu_list_len("0,2,4-7"), Some(6));
        assert_eq!(cpu_list_len("5-5"), Some(1));
    }

    #[test]
    fn malformed_cpu_lists_are_unknown() {
        for bad in ["", "\n", "a", "0-", "-1", "2-1", "0,,1", "0-1-2", "1 2"] {
            assert_eq!(cpu_list_len(bad), None, "{bad:?}");
        }
        assert_eq!(cpu_list_len(&format!("0-{}", usize::MAX)), None);
    }

    #[test]
    fn sysctl_numbers_are_trimmed() {
        assert_eq!(parse_number("1048576\n"), Some(1_048_576));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("-1\n"), None);
        assert_eq!(parse_number(""), None);
    }

    fn file_number(path: &str) -> Option<usize> {
        Some(std::fs::read_to_string(path).ok()?.trim().parse().unwrap())
    }

    /// The facts every Linux machine with `/proc` and `/sys` mounted has; the sysctl files that
    /// containers may hide must agree with the files themselves.
    #[test]
    fn collect_fills_what_this_machine_has() {
        let p = collect();
        assert!(p.kernel_release.as_deref().is_some_and(|r| !r.is_empty()));
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        assert!(p.cpu_model.is_some(), "{p:?}");
        let online = p.cpus_online.expect("cpus_online");
        let parallel = p.available_parallelism.expect("available_parallelism");
        let listed = p.cpuinfo_processors.expect("cpuinfo_processors");
        assert!(online >= 1 && parallel >= 1 && listed >= 1, "{p:?}");
        assert!(parallel <= online, "{p:?}");
        assert!(p.page_size >= 4096 && p.page_size.is_power_of_two());

        assert_eq!(p.pipe_max_size, file_number("/proc/sys/fs/pipe-max-size"));
        assert!(p.pipe_max_size.is_some());
        let pipe = p.pipe_default_size.expect("pipe_default_size");
        assert!(pipe >= p.page_size && pipe % p.page_size == 0, "{p:?}");
        for (got, path) in [
            (p.pipe_user_pages_soft, "/proc/sys/fs/pipe-user-pages-soft"),
            (p.pipe_user_pages_hard, "/proc/sys/fs/pipe-user-pages-hard"),
            (p.rmem_default, "/proc/sys/net/core/rmem_default"),
            (p.rmem_max, "/proc/sys/net/core/rmem_max"),
            (p.wmem_default, "/proc/sys/net/core/wmem_default"),
            (p.wmem_max, "/proc/sys/net/core/wmem_max"),
        ] {
            assert_eq!(got, file_number(path), "{path}");
        }
        assert!(p.socketpair_sndbuf.is_some_and(|n| n > 0), "{p:?}");
        assert!(p.socketpair_rcvbuf.is_some_and(|n| n > 0), "{p:?}");

        let nofile = rustix::process::getrlimit(Resource::Nofile);
        assert_eq!(
            (p.nofile_soft, p.nofile_hard),
            (nofile.current, nofile.maximum)
        );
        if let (Some(soft), Some(hard)) = (p.nofile_soft, p.nofile_hard) {
            assert!(soft <= hard);
        }

        let works = SpliceCheck {
            works: true,
            error: None,
        };
        assert_eq!(p.splice_socket_to_pipe, works);
        assert_eq!(p.splice_pipe_to_socket, works);
    }

    #[test]
    fn a_failed_step_is_reported_with_its_context() {
        let check = SpliceCheck::from_result(Err(context(
            "splice(socket -> pipe)",
            io::Error::from_raw_os_error(22),
        )));
        assert!(!check.works);
        let error = check.error.unwrap();
        assert!(error.starts_with("splice(socket -> pipe): "), "{error}");
    }
}
