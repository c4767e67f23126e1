//! The gate between a limiter and a point's lanes. A point with a limiter starts as many lanes
//! as the limit may reach; lane `i` runs an item only while `i` is below the limit, so exactly
//! `limit` items are in flight at most. When the limit drops, the lanes above it finish their
//! item and wait; when it rises, they are woken. Each ended item is one sample for the limiter,
//! under a lock: a limiter point pays for it on every item, a static point never does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Limit, Sample};

/// How often a waiting lane looks at Ctrl-C and the end of a timed budget.
const WAIT_SLICE: Duration = Duration::from_millis(10);

/// The limit from `t_s` seconds after the point's start on, and the limiter's reference latency
/// then, where it keeps one (`Limit::reference`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LimitStep {
    pub t_s: f64,
    pub limit: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_ms: Option<f64>,
}

impl LimitStep {
    /// `limit` from `t_s` on, with no reference latency.
    pub fn new(t_s: f64, limit: usize) -> LimitStep {
        LimitStep {
            t_s,
            limit,
            reference_ms: None,
        }
    }
}

pub struct LimitGate {
    limit: AtomicUsize,
    inflight: AtomicUsize,
    /// An item found the limit full since the last sample.
    reached: AtomicBool,
    state: Mutex<State>,
    raised: Condvar,
    raised_async: tokio::sync::Notify,
}

struct State {
    limiter: Box<dyn Limit>,
    steps: Vec<LimitStep>,
}

impl LimitGate {
    pub fn new(limiter: Box<dyn Limit>) -> LimitGate {
        let limit = limiter.limit();
        LimitGate {
            limit: AtomicUsize::new(limit),
            inflight: AtomicUsize::new(0),
            reached: AtomicBool::new(false),
            state: Mutex::new(State {
                limiter,
                steps: vec![LimitStep::new(0.0, limit)],
            }),
            raised: Condvar::new(),
            raised_async: tokio::sync::Notify::new(),
        }
    }

    /// The limit now.
    #[inline]
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    /// The limit over the point: where it started and every change.
    pub fn steps(&self) -> Vec<LimitStep> {
        self.lock().steps.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether lane `slot` may run an item now.
    #[inline]
    pub(crate) fn admits(&self, slot: usize) -> bool {
        slot < self.limit()
    }

    /// Waits until lane `slot` may run an item; false when `over` says the point is (Ctrl-C,
    /// the budget's time up, no items left) before that.
    pub(crate) fn wait_blocking(&self, slot: usize, over: impl Fn() -> bool) -> bool {
        let mut state = self.lock();
        loop {
            if self.admits(slot) {
                return true;
            }
            if over() {
                return false;
            }
            state = self
                .raised
                .wait_timeout(state, WAIT_SLICE)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// `wait_blocking` for a lane that is an async task.
    pub(crate) async fn wait_async(&self, slot: usize, over: impl Fn() -> bool) -> bool {
        loop {
            // Created before the check, so a raise in between is not missed.
            let raised = self.raised_async.notified();
            if self.admits(slot) {
                return true;
            }
            if over() {
                return false;
            }
            let _ = tokio::time::timeout(WAIT_SLICE, raised).await;
        }
    }

    /// An item starts: the items in flight now, itself included.
    #[inline]
    pub(crate) fn enter(&self) -> usize {
        let inflight = self.inflight.fetch_add(1, Ordering::AcqRel) + 1;
        // Read before writing: lanes at a full limit would otherwise all write the flag.
        if inflight >= self.limit() && !self.reached.load(Ordering::Relaxed) {
            self.reached.store(true, Ordering::Relaxed);
        }
        inflight
    }

    /// An item ended after `took`, having started with `inflight` in flight; `dropped` when it
    /// failed or timed out. `at` is when, from the point's start.
    pub(crate) fn leave(&self, took: Duration, inflight: usize, dropped: bool, at: Duration) {
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        let mut state = self.lock();
        let sample = Sample {
            rtt: took,
            inflight,
            dropped,
            at,
            limit_reached: self.reached.swap(false, Ordering::Relaxed),
        };
        state.limiter.on_sample(&sample);
        let limit = state.limiter.limit().max(1);
        let before = self.limit.swap(limit, Ordering::AcqRel);
        if limit != before {
            let reference_ms = state.limiter.reference().map(|r| r.as_secs_f64() * 1e3);
            state.steps.push(LimitStep {
                t_s: at.as_secs_f64(),
                limit,
                reference_ms,
            });
        }
        drop(state);
        if limit > before {
            self.raised.notify_all();
            self.raised_async.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limit that follows a script: the next value on each sample.
    struct Scripted(Vec<usize>, usize);

    impl Limit for Scripted {
        fn limit(&self) -> usize {
            self.0[self.1.min(self.0.len() - 1)]
        }
        fn on_sample(&mut self, _: &Sample) {
            self.1 += 1;
        }
    }

    #[test]
    fn keeps_each_change_of_the_limit() {
        let gate = LimitGate::new(Box::new(Scripted(vec![2, 2, 3, 1], 0)));
        for i in 1..=3 {
            let inflight = gate.enter();
            gate.leave(
                Duration::from_millis(1),
                inflight,
                false,
                Duration::from_secs(i),
            );
        }
        let steps: Vec<(f64, usize)> = gate.steps().iter().map(|s| (s.t_s, s.limit)).collect();
        assert_eq!(steps, [(0.0, 2), (2.0, 3), (3.0, 1)]);
        assert!(gate.admits(0) && !gate.admits(1));
    }

    /// A limit that is the number of samples plus one, with the last latency as its reference.
    struct Following(usize, Option<Duration>);

    impl Limit for Following {
        fn limit(&self) -> usize {
            self.0 + 1
        }
        fn on_sample(&mut self, s: &Sample) {
            self.0 += 1;
            self.1 = Some(s.rtt);
        }
        fn reference(&self) -> Option<Duration> {
            self.1
        }
    }

    #[test]
    fn each_change_keeps_the_reference_latency_then() {
        let gate = LimitGate::new(Box::new(Following(0, None)));
        for ms in [20, 45] {
            let inflight = gate.enter();
            gate.leave(
                Duration::from_millis(ms),
                inflight,
                false,
                Duration::from_millis(ms),
            );
        }
        let kept: Vec<Option<f64>> = gate.steps().iter().map(|s| s.reference_ms).collect();
        assert_eq!(kept, [None, Some(20.0), Some(45.0)]);
    }

    /// A limit of 2 that keeps what each sample said of the limit being reached.
    struct Recording(std::sync::Arc<Mutex<Vec<bool>>>);

    impl Limit for Recording {
        fn limit(&self) -> usize {
            2
        }
        fn on_sample(&mut self, s: &Sample) {
            self.0.lock().unwrap().push(s.limit_reached);
        }
    }

    #[test]
    fn a_sample_says_whether_an_item_found_the_limit_full_since_the_last() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let gate = LimitGate::new(Box::new(Recording(seen.clone())));
        let ms = Duration::from_millis;
        let one = gate.enter();
        gate.leave(ms(1), one, false, ms(1));
        let first = gate.enter();
        let second = gate.enter(); // 2 in flight: the limit is full
        gate.leave(ms(1), first, false, ms(2));
        gate.leave(ms(1), second, false, ms(3));
        assert_eq!(*seen.lock().unwrap(), [false, true, false]);
    }

    #[test]
    fn a_waiting_lane_is_let_in_when_the_limit_rises() {
        let gate = std::sync::Arc::new(LimitGate::new(Box::new(Scripted(vec![1, 4], 0))));
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.wait_blocking(3, || false))
        };
        std::thread::sleep(Duration::from_millis(30));
        let inflight = gate.enter();
        gate.leave(Duration::from_millis(1), inflight, false, Duration::ZERO);
        assert!(waiter.join().unwrap());
        // Above the limit with the point over: the lane gives up.
        let gate = LimitGate::new(Box::new(Scripted(vec![1], 0)));
        assert!(!gate.wait_blocking(1, || true));
    }
}
