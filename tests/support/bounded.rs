//! Threads whose results are awaited for a bounded time, so a lost wake-up fails a test instead
//! of hanging it. Shared by the model's unit tests (`src/model/tests.rs` includes this file) and
//! the integration tests.

use std::sync::{Arc, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any test waits for a thread that should have been woken.
pub const BOUND: Duration = Duration::from_secs(20);

/// How long a test lets threads run before it checks that something did *not* happen (a reader
/// got no byte). Only ever used before asserting an absence, which no delay can make false.
pub const SETTLE: Duration = Duration::from_millis(50);

/// A thread's result, awaited for at most [`BOUND`].
pub struct Bounded<T> {
    rx: mpsc::Receiver<T>,
    /// The thread's kernel id, set just before it calls `f`.
    tid: Arc<OnceLock<String>>,
}

/// Runs `f` on a new thread.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Bounded<T> {
    let (tx, rx) = mpsc::channel();
    let tid = Arc::new(OnceLock::new());
    let mine = Arc::clone(&tid);
    thread::spawn(move || {
        // /proc/thread-self links to "<pid>/task/<tid>".
        let link = std::fs::read_link("/proc/thread-self").expect("read /proc/thread-self");
        let _ = mine.set(
            link.to_string_lossy()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned(),
        );
        let _ = tx.send(f());
    });
    Bounded { rx, tid }
}

impl<T> Bounded<T> {
    /// The thread's result; fails the test, naming `what`, if it has not come within [`BOUND`].
    #[track_caller]
    pub fn join(self, what: &str) -> T {
        self.rx
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("{what}: the thread was never woken (or panicked)"))
    }

    /// The result if the thread has already finished.
    pub fn done(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// True while the thread sleeps in the kernel inside `f`: its state in
    /// `/proc/self/task/<tid>/stat` is `S` (an interruptible wait, which is how a blocking read
    /// or write on a socket or pipe, and a condition-variable wait, sleep). `f` must not sleep
    /// for any other reason (a contended lock, a `thread::sleep`) for this to mean "blocked".
    pub fn asleep(&self) -> bool {
        let Some(tid) = self.tid.get() else {
            return false; // not yet inside f
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
            return false; // the thread has exited
        };
        // "tid (comm) S ...": the name may hold spaces or parentheses, the state follows the last ')'.
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            == Some("S")
    }

    /// Waits (at most [`BOUND`]) until the thread sleeps inside `f`, and fails the test, naming
    /// `what`, if `f` returns first. No delay can make this fail for a call the kernel must
    /// block; unlike a fixed sleep, it also proves the call was blocked, not just not yet made.
    #[track_caller]
    pub fn assert_blocked(&self, what: &str) {
        let deadline = Instant::now() + BOUND;
        loop {
            // Asleep first, then not finished: a result sent after the check means f was
            // still running, and asleep, when it was made.
            if self.asleep() {
                assert!(
                    self.rx.try_recv().is_err(),
                    "{what}: returned instead of blocking"
                );
                return;
            }
            assert!(
                self.rx.try_recv().is_err(),
                "{what}: returned instead of blocking"
            );
            assert!(Instant::now() < deadline, "{what}: never blocked");
            thread::sleep(Duration::from_millis(1));
        }
    }
}
