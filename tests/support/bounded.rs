//! Threads whose results are awaited for a bounded time, so a lost wake-up fails a test instead
//! of hanging it. Shared by the model's unit tests (`src/model/tests.rs` includes this file) and
//! the integration tests.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The longest any test waits for a thread that should have been woken.
pub const BOUND: Duration = Duration::from_secs(20);

/// How long a thread is given to block before a test checks that it did.
pub const SETTLE: Duration = Duration::from_millis(50);

/// A thread's result, awaited for at most [`BOUND`].
pub struct Bounded<T>(mpsc::Receiver<T>);

/// Runs `f` on a new thread.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Bounded<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    Bounded(rx)
}

impl<T> Bounded<T> {
    /// The thread's result; fails the test, naming `what`, if it has not come within [`BOUND`].
    #[track_caller]
    pub fn join(self, what: &str) -> T {
        self.0
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("{what}: the thread was never woken (or panicked)"))
    }

    /// The result if the thread has already finished.
    pub fn done(&self) -> Option<T> {
        self.0.try_recv().ok()
    }

    /// Gives the thread a moment to block and checks it did (for streams whose waiters cannot
    /// be counted, such as the kernel's).
    #[track_caller]
    pub fn assert_blocked(&self, what: &str) {
        thread::sleep(SETTLE);
        assert!(
            self.0.try_recv().is_err(),
            "{what}: returned instead of blocking"
        );
    }
}
