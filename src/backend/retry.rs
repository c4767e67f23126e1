//! Per-item retries (`--retries N --retry-backoff 100ms`): a failed attempt is noted, the worker
//! waits an exponentially growing, jittered delay, and tries again. The per-item timeout covers
//! all attempts together. Jitter is derived from the item and attempt numbers, so a rerun waits
//! the same delays.
//!
//! Every backend uses this policy: in-process ones in their worker threads or tasks, `process`
//! and `remote` inside the worker process (the policy travels in the `Start` frame and the
//! failed attempts come back in `Done`), `process-per-item` in the parent, with a fresh process
//! for each attempt.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::WorkerStats;
use crate::workload::{ItemError, ItemResult, Runner};

/// Longest single wait between attempts, however many retries.
const MAX_DELAY: Duration = Duration::from_secs(30);

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

    /// Runs `item` on a blocking runner with retries; returns the last outcome and the attempts.
    pub fn run_blocking(
        &self,
        stats: &mut WorkerStats,
        item: u64,
        attempt_once: impl FnMut() -> ItemResult,
    ) -> (ItemResult, u32) {
        self.attempt_blocking(item, attempt_once, |attempt, err| {
            stats.note_failed_attempt(item, attempt, &err)
        })
    }

    /// `run_blocking` for a caller that keeps no `WorkerStats` (a worker process, which sends
    /// its failed attempts to the parent): `failed` receives each attempt that will be retried.
    pub fn attempt_blocking(
        &self,
        item: u64,
        mut attempt_once: impl FnMut() -> ItemResult,
        mut failed: impl FnMut(u32, ItemError),
    ) -> (ItemResult, u32) {
        let mut attempt = 1;
        loop {
            let outcome = attempt_once();
            match outcome {
                Err(err) if attempt <= self.retries => {
                    failed(attempt, err);
                    std::thread::sleep(self.delay(item, attempt));
                    attempt += 1;
                }
                outcome => return (outcome, attempt),
            }
        }
    }

    /// The async counterpart of `run_blocking`, waiting on the runtime's timer. `started` holds
    /// the attempt under way (or the last one made, during a wait): a caller that cancels this
    /// future at its timeout reads there which attempt it cut.
    pub async fn run_async(
        &self,
        stats: &mut WorkerStats,
        item: u64,
        runner: &mut dyn Runner,
        started: &AtomicU32,
    ) -> (ItemResult, u32) {
        let mut attempt = 1;
        loop {
            started.store(attempt, Ordering::Relaxed);
            let outcome = crate::backend::async_tokio::guarded(runner.run_async(item)).await;
            match outcome {
                Err(err) if attempt <= self.retries => {
                    stats.note_failed_attempt(item, attempt, &err);
                    tokio::time::sleep(self.delay(item, attempt)).await;
                    attempt += 1;
                }
                outcome => return (outcome, attempt),
            }
        }
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
