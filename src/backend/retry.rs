//! Per-item retries (`--retries N --retry-backoff 100ms`): a failed attempt is noted, the worker
//! waits an exponentially growing, jittered delay, and tries again. The per-item timeout covers
//! all attempts together: a wait that would end past it ends the item there, timed out. Ctrl-C
//! ends a wait too. Jitter is derived from the item and attempt numbers, so a rerun waits the
//! same delays.
//!
//! Every backend uses this policy: in-process ones in their worker threads or tasks, `process`
//! and `remote` inside the worker process (the policy travels in the `Start` frame and the
//! failed attempts come back in `Done`), `process-per-item` in the parent, with a fresh process
//! for each attempt.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::driver::{guarded, ItemEnd};
use crate::measure::WorkerStats;
use crate::workload::{ItemError, ItemResult, Runner};

/// Longest single wait between attempts, however many retries.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// How often a wait between attempts looks at Ctrl-C.
const STOP_POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Extra attempts after the first (0: no retries).
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one, with jitter.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            retries: 0,
            backoff: Duration::from_millis(100),
        }
    }

    /// The wait before attempt `attempt + 1` of `item`: backoff × 2^(attempt−1), scaled by a
    /// jitter factor in [0.5, 1.0) so that failing workers do not retry in lockstep.
    pub fn delay(&self, item: u64, attempt: u32) -> Duration {
        let exponential = self
            .backoff
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(20));
        let jitter = 0.5 + 0.5 * unit_hash(item, attempt);
        exponential.mul_f64(jitter).min(MAX_DELAY)
    }

    /// Runs `item` on a blocking runner with retries, noting each failed attempt that will be
    /// retried in `stats`; returns the last outcome and the attempts.
    pub fn run_blocking(
        &self,
        stats: &mut WorkerStats,
        item: u64,
        mut attempt_once: impl FnMut() -> ItemResult,
    ) -> (ItemResult, u32) {
        let never = AtomicBool::new(false);
        let (end, attempts) = self.attempt_blocking(
            item,
            None,
            &never,
            |_| ItemEnd::Ran(attempt_once()),
            |attempt, err| stats.note_failed_attempt(item, attempt, &err),
        );
        (end.into_result(item), attempts)
    }

    /// Whether a failed `attempt` is tried again. A workload that could not be built is not:
    /// it would fail the same way.
    #[inline]
    fn retries_after(&self, attempt: u32, err: &ItemError) -> bool {
        attempt <= self.retries && err.kind != "setup"
    }

    /// Runs `item`'s attempts on the calling thread until one succeeds, the retries run out,
    /// the item's `deadline` passes (a wait that would end past it ends the item there) or
    /// `stop` is set; `failed` receives each failed attempt that will be retried. Returns how
    /// the item ended and its attempts (the one cut short, when it ran out of time).
    #[inline]
    pub(crate) fn attempt_blocking(
        &self,
        item: u64,
        deadline: Option<Instant>,
        stop: &AtomicBool,
        mut attempt_once: impl FnMut(Option<Instant>) -> ItemEnd,
        mut failed: impl FnMut(u32, ItemError),
    ) -> (ItemEnd, u32) {
        let mut attempt = 1;
        loop {
            match attempt_once(deadline) {
                ItemEnd::Ran(Err(err)) if self.retries_after(attempt, &err) => {
                    failed(attempt, err);
                    let wake = Instant::now() + self.delay(item, attempt);
                    match deadline {
                        Some(limit) if limit <= wake => {
                            // The next attempt could not start in time: the item is out of time.
                            let end = match pause_until(limit, stop) {
                                true => ItemEnd::TimedOut,
                                false => ItemEnd::Stopped,
                            };
                            return (end, attempt);
                        }
                        _ if !pause_until(wake, stop) => return (ItemEnd::Stopped, attempt),
                        _ => attempt += 1,
                    }
                }
                end => return (end, attempt),
            }
        }
    }

    /// The async counterpart of `attempt_blocking`, waiting on the runtime's timer. `timeout`
    /// cancels the attempts where they stand: the item ends timed out, naming the attempt under
    /// way (or the last one made, when cut during a wait).
    pub(crate) async fn attempt_async(
        &self,
        item: u64,
        runner: &mut dyn Runner,
        timeout: Option<Duration>,
        mut failed: impl FnMut(u32, ItemError) + Send,
    ) -> (ItemEnd, u32) {
        let started = AtomicU32::new(1);
        let attempts = async {
            let mut attempt = 1;
            loop {
                started.store(attempt, Ordering::Relaxed);
                match guarded(runner.run_async(item)).await {
                    Err(err) if self.retries_after(attempt, &err) => {
                        failed(attempt, err);
                        tokio::time::sleep(self.delay(item, attempt)).await;
                        attempt += 1;
                    }
                    outcome => return (ItemEnd::Ran(outcome), attempt),
                }
            }
        };
        match timeout {
            None => attempts.await,
            Some(limit) => match tokio::time::timeout(limit, attempts).await {
                Ok(ended) => ended,
                Err(_) => (ItemEnd::TimedOut, started.load(Ordering::Relaxed)),
            },
        }
    }
}

/// Sleeps until `wake`, looking at `stop` every `STOP_POLL`; false when it was set.
fn pause_until(wake: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = wake.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}

/// A number in [0, 1) from (item, attempt): splitmix64.
fn unit_hash(item: u64, attempt: u32) -> f64 {
    let mut z = item ^ (u64::from(attempt) << 48) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_bounded_jitter() {
        let p = RetryPolicy {
            retries: 5,
            backoff: Duration::from_millis(100),
        };
        for attempt in 1..=5u32 {
            let base = 100.0 * f64::from(1u32 << (attempt - 1));
            let d = p.delay(7, attempt).as_secs_f64() * 1000.0;
            assert!(d >= base * 0.5 && d < base, "attempt {attempt}: {d} ms");
        }
        assert_eq!(p.delay(7, 2), p.delay(7, 2));
        assert!(p.delay(1, 40) <= MAX_DELAY);
    }

    #[test]
    fn retries_until_success_and_notes_each_failed_attempt() {
        let p = RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(1),
        };
        let mut stats = WorkerStats::new();
        let mut calls = 0;
        let (outcome, attempts) = p.run_blocking(&mut stats, 9, || {
            calls += 1;
            if calls < 3 {
                Err(ItemError::new("flaky", format!("call {calls}")))
            } else {
                Ok(())
            }
        });
        assert!(outcome.is_ok());
        assert_eq!(attempts, 3);
        assert_eq!(
            stats.failures.iter().map(|f| f.attempt).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn gives_up_after_the_last_retry() {
        let p = RetryPolicy {
            retries: 2,
            backoff: Duration::from_millis(1),
        };
        let mut stats = WorkerStats::new();
        let (outcome, attempts) =
            p.run_blocking(&mut stats, 1, || Err(ItemError::new("down", "no")));
        assert!(outcome.is_err());
        assert_eq!(attempts, 3);
        stats.finish_attempts(1, Duration::from_millis(1), Some(outcome), None, attempts);
        assert_eq!((stats.failed, stats.retried), (1, 1));
        assert_eq!(
            stats.failures.iter().map(|f| f.attempt).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}
