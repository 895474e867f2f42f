//! CPU affinity: which CPUs we may use, and pinning the calling thread to one of them.
//!
//! Both ends of every measurement are pinned ([sched_setaffinity(2)]) so "same CPU" and
//! "different CPUs" mean what they say; the spawn row unpins, since children inherit it.
//!
//! [sched_setaffinity(2)]: https://man7.org/linux/man-pages/man2/sched_setaffinity.2.html

use std::io;

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// The CPUs this process may run on, ascending ([sched_getaffinity(2)]).
///
/// [sched_getaffinity(2)]: https://man7.org/linux/man-pages/man2/sched_getaffinity.2.html
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(None)?;
    Ok((0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect())
}

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) -> io::Result<()> {
    set(&[cpu])
}

/// Restores the calling thread's affinity to every CPU in `cpus`.
pub fn unpin(cpus: &[usize]) -> io::Result<()> {
    set(cpus)
}

fn set(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    Ok(sched_setaffinity(None, &set)?)
}
