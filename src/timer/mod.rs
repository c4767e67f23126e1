//! Async sleeps with sub-millisecond precision, for the built-in server's simulated latency and
//! the `sleep` workload on the async backend. tokio's timer works in whole milliseconds and
//! rounds up, so a 20 ms sleep takes 21–23 ms: a 20 ms answer would cap a capacity of 8 well
//! below 8 / 20 ms, and a 5 ms item would take a millisecond longer on async than on thread.
//! One thread waits on a condition variable (futex timeouts are precise to tens of
//! microseconds) and wakes each sleeper at its deadline.

mod deadline;
mod slice;
pub(crate) use deadline::LaneDeadline;
pub(crate) use slice::ask_short_slice;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Entry {
    deadline: Instant,
    wake: oneshot::Sender<()>,
}

// Ordered by deadline, earliest first out of the (max-)heap.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.deadline.cmp(&self.deadline)
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Entry {}

#[derive(Default)]
struct State {
    sleepers: BinaryHeap<Entry>,
    closed: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The timer thread; stops when dropped.
pub struct PreciseTimer {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sleeps `duration` on the process's shared timer, started on first use and kept for the
/// life of the process; tokio's own timer if that thread cannot be started.
pub(crate) async fn sleep(duration: Duration) {
    static SHARED: OnceLock<Option<PreciseTimer>> = OnceLock::new();
    match SHARED.get_or_init(|| PreciseTimer::start().ok()) {
        Some(timer) => timer.sleep(duration).await,
        None => tokio::time::sleep(duration).await,
    }
}

impl PreciseTimer {
    pub fn start() -> std::io::Result<PreciseTimer> {
        let shared: Shared = Arc::default();
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("tb-timer".into())
            .spawn(move || wake_loop(&inner))?;
        Ok(PreciseTimer {
            shared,
            thread: Some(thread),
        })
    }

    /// Completes `duration` from now (or at once when the timer is stopping).
    pub async fn sleep(&self, duration: Duration) {
        let (wake, woken) = oneshot::channel();
        let deadline = Instant::now() + duration;
        {
            let mut state = lock(&self.shared);
            if state.closed {
                return;
            }
            let earliest = state
                .sleepers
                .peek()
                .map_or(true, |e| deadline < e.deadline);
            state.sleepers.push(Entry { deadline, wake });
            if earliest {
                self.shared.1.notify_one();
            }
        }
        let _ = woken.await;
    }
}

fn wake_loop(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if state.closed {
            // Dropping the senders wakes every sleeper left.
            state.sleepers.clear();
            return;
        }
        let now = Instant::now();
        let wait = match state.sleepers.peek() {
            Some(first) if first.deadline <= now => {
                if let Some(entry) = state.sleepers.pop() {
                    let _ = entry.wake.send(());
                }
                continue;
            }
            Some(first) => Some(first.deadline - now),
            None => None,
        };
        state = match wait {
            Some(wait) => {
                shared
                    .1
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => shared.1.wait(state).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

impl PreciseTimer {
    /// Wakes every sleeper now and stops the thread.
    fn close(&self) {
        lock(&self.shared).closed = true;
        self.shared.1.notify_one();
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        self.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_close_to_the_deadline_in_order() {
        let timer = PreciseTimer::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let begin = Instant::now();
        let (a, b) = runtime.block_on(async {
            let first = async {
                timer.sleep(Duration::from_millis(30)).await;
                begin.elapsed()
            };
            let second = async {
                timer.sleep(Duration::from_millis(10)).await;
                begin.elapsed()
            };
            tokio::join!(first, second)
        });
        assert!(b >= Duration::from_millis(10) && b < a, "{b:?} {a:?}");
        // Generous: the machine may be busy; the point is "not whole milliseconds late".
        assert!(
            a >= Duration::from_millis(30) && a < Duration::from_millis(45),
            "{a:?}"
        );
    }

    #[test]
    fn stopping_wakes_sleepers() {
        let timer = Arc::new(PreciseTimer::start().unwrap());
        let sleeper = timer.clone();
        let (woken, wake) = std::sync::mpsc::channel();
        // The hour-long sleep runs on a thread of its own, so that a timer that fails to wake it
        // fails this test rather than hanging it (the thread is left behind).
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(sleeper.sleep(Duration::from_secs(3600)));
            let _ = woken.send(());
        });
        // Close only once the sleeper waits: a sleep that starts on a closed timer returns at
        // once, which would pass whether or not closing wakes anyone.
        let asleep = Instant::now();
        while lock(&timer.shared).sleepers.is_empty() {
            assert!(
                asleep.elapsed() < Duration::from_secs(10),
                "the sleeper never slept"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        timer.close();
        // Generous: waking is immediate, the bound only has to outlast a busy machine.
        assert!(
            wake.recv_timeout(Duration::from_secs(10)).is_ok(),
            "a sleeper still asleep 10 s after the timer stopped"
        );
    }
}
