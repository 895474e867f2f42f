//! Reused worker threads for drains.
//!
//! Each running drain has a thread of its own, so a slow sink stalls only its own child's
//! stderr. But the thread comes from a pool of idle workers rather than being spawned and
//! joined per drain: on a 2-core VM a thread's spawn and join cost about 85-95 µs, as much as
//! everything else procwire adds to a child's spawn. A worker that finds no job for
//! [`IDLE`] leaves the pool and ends.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One drain's whole run; it must not unwind (the drain catches its own panics).
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// How long an idle worker waits for another job before it ends.
pub(super) const IDLE: Duration = Duration::from_secs(10);

/// The idle workers, each by its id and the sender that hands it a job.
static IDLE_WORKERS: Mutex<Vec<(u64, mpsc::Sender<Job>)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn idle() -> MutexGuard<'static, Vec<(u64, mpsc::Sender<Job>)>> {
    IDLE_WORKERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `job` on an idle worker, or on a new thread named `procwire-stderr` when none is idle.
pub(super) fn run(job: Job) -> io::Result<()> {
    let mut job = job;
    loop {
        let Some((_, worker)) = idle().pop() else {
            break;
        };
        match worker.send(job) {
            Ok(()) => return Ok(()),
            // That worker has ended meanwhile; try the next.
            Err(mpsc::SendError(back)) => job = back,
        }
    }
    std::thread::Builder::new()
        .name("procwire-stderr".into())
        .spawn(move || work(job))
        .map(drop)
}

fn work(first: Job) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<Job>();
    let mut job = first;
    loop {
        job();
        idle().push((id, tx.clone()));
        job = match rx.recv_timeout(IDLE) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => {
                let mut workers = idle();
                if let Some(at) = workers.iter().position(|(w, _)| *w == id) {
                    workers.remove(at);
                    return;
                }
                // Taken from the pool just now: its job is on the way.
                drop(workers);
                match rx.recv() {
                    Ok(next) => next,
                    Err(_) => return,
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
    }
}

#[cfg(test)]
pub(super) fn idle_workers() -> usize {
    idle().len()
}
