//! `sleep`: simulated latency (an API call, a remote job). Each item's duration is drawn from a
//! seeded distribution keyed by the item number, so every backend sleeps the same total time and
//! the comparison between backends is fair.
//!
//! With `capacity`, items also hold a shared resource of that size while they sleep (a
//! connection pool, a licence server): a throttle above it only queues. With `penalty_ms` on
//! top, every item waiting for the resource slows those holding it (thrashing), so throughput
//! falls past the capacity — a workload with a true optimum, for testing throttle searches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};

use super::{
    BoxFuture, ItemError, ItemResult, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind,
};
use crate::error::SpecError;

/// Attempts drawn so far, the source of flaky failures' randomness.
static FLAKY_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Samples above this are clamped: a heavy tail must not stall a sweep for hours.
const MAX_SLEEP: Duration = Duration::from_secs(600);

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "distribution",
        ParamType::Choice(&["fixed", "uniform", "exponential", "lognormal"]),
        Some("fixed"),
        "how item durations are drawn",
    ),
    ParamDef::new(
        "ms",
        ParamType::Float,
        Some("100"),
        "fixed: the duration; exponential: the mean; lognormal: the median",
    ),
    ParamDef::new(
        "min_ms",
        ParamType::Float,
        Some("10"),
        "uniform: shortest duration",
    ),
    ParamDef::new(
        "max_ms",
        ParamType::Float,
        Some("100"),
        "uniform: longest duration",
    ),
    ParamDef::new(
        "sigma",
        ParamType::Float,
        Some("0.5"),
        "lognormal: shape (standard deviation of ln duration)",
    ),
    ParamDef::new(
        "fail_rate",
        ParamType::Float,
        Some("0"),
        "share of items that fail (0..1), chosen by the seed",
    ),
    ParamDef::new(
        "flaky_rate",
        ParamType::Float,
        Some("0"),
        "share of attempts that fail at random (0..1): failures that --retries can recover",
    ),
    ParamDef::new(
        "capacity",
        ParamType::Int,
        Some("0"),
        "items that may sleep at once across all workers (0: no limit); others wait",
    ),
    ParamDef::new(
        "penalty_ms",
        ParamType::Float,
        Some("0"),
        "with capacity: extra sleep per item waiting at the moment an item gets the resource",
    ),
    ParamDef::new(
        "seed",
        ParamType::Int,
        Some("1"),
        "seed of the per-item random draws",
    ),
];

/// The `sleep` kind, to register under its name.
pub fn kind() -> WorkloadKind {
    WorkloadKind::new(
        "sleep",
        "simulated latency: sleeps a fixed or random duration per item",
        PARAMS,
        |p| Ok(Arc::new(Sleep::from_params(p)?)),
    )
}

#[derive(Debug, Clone, Copy)]
enum Draw {
    Fixed(Duration),
    Uniform { min_s: f64, max_s: f64 },
    Exponential(Exp<f64>),
    LogNormal(LogNormal<f64>),
}

#[derive(Debug, Clone)]
pub struct Sleep {
    draw: Draw,
    fail_rate: f64,
    flaky_rate: f64,
    seed: u64,
    gate: Option<Arc<Gate>>,
}

/// The shared resource behind `capacity`: a counter with a condition variable for the blocking
/// path, a semaphore for the async path (one backend runs a workload at a time).
#[derive(Debug)]
struct Gate {
    capacity: usize,
    penalty: Duration,
    /// (holding, waiting)
    state: Mutex<(usize, usize)>,
    freed: Condvar,
    permits: tokio::sync::Semaphore,
    async_waiting: AtomicUsize,
}

/// Releases the blocking path's hold on the gate, also when an item panics.
struct Held<'a>(&'a Gate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        drop(state);
        self.0.freed.notify_one();
    }
}

impl Gate {
    fn new(capacity: usize, penalty: Duration) -> Self {
        Gate {
            capacity,
            penalty,
            state: Mutex::new((0, 0)),
            freed: Condvar::new(),
            permits: tokio::sync::Semaphore::new(capacity),
            async_waiting: AtomicUsize::new(0),
        }
    }

    /// Waits for the resource; returns the hold and the extra time the waiters cost.
    fn enter(&self) -> (Held<'_>, Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 += 1;
        while state.0 >= self.capacity {
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.1 -= 1;
        state.0 += 1;
        let waiting = state.1;
        (Held(self), self.extra(waiting))
    }

    fn extra(&self, waiting: usize) -> Duration {
        self.penalty
            .saturating_mul(waiting.min(u32::MAX as usize) as u32)
    }
}

impl Sleep {
    pub fn from_params(p: &Params) -> Result<Self, SpecError> {
        let draw = match p.str("distribution")? {
            "fixed" => Draw::Fixed(p.millis("ms")?),
            "uniform" => {
                let (min, max) = (p.millis("min_ms")?, p.millis("max_ms")?);
                if min > max {
                    return Err(p.invalid(
                        "min_ms",
                        format!("must not exceed max_ms ({min:?} > {max:?})"),
                    ));
                }
                Draw::Uniform {
                    min_s: min.as_secs_f64(),
                    max_s: max.as_secs_f64(),
                }
            }
            "exponential" => {
                let mean = p.millis("ms")?.as_secs_f64();
                let rate = if mean > 0.0 {
                    1.0 / mean
                } else {
                    f64::INFINITY
                };
                Draw::Exponential(Exp::new(rate).map_err(|e| p.invalid("ms", e.to_string()))?)
            }
            _ => {
                let median = p.millis("ms")?.as_secs_f64();
                if median <= 0.0 {
                    return Err(p.invalid("ms", "must be above 0 for a lognormal distribution"));
                }
                let sigma = p.f64("sigma")?;
                Draw::LogNormal(
                    LogNormal::new(median.ln(), sigma)
                        .map_err(|e| p.invalid("sigma", e.to_string()))?,
                )
            }
        };
        let fail_rate = p.f64("fail_rate")?;
        if !(0.0..=1.0).contains(&fail_rate) {
            return Err(p.invalid(
                "fail_rate",
                format!("must be between 0 and 1, got {fail_rate}"),
            ));
        }
        let flaky_rate = p.f64("flaky_rate")?;
        if !(0.0..=1.0).contains(&flaky_rate) {
            return Err(p.invalid(
                "flaky_rate",
                format!("must be between 0 and 1, got {flaky_rate}"),
            ));
        }
        let capacity = p.u64("capacity")?;
        if capacity > 1_000_000 {
            return Err(p.invalid(
                "capacity",
                format!("must be at most 1000000, got {capacity}"),
            ));
        }
        let penalty = p.millis("penalty_ms")?;
        Ok(Sleep {
            draw,
            fail_rate,
            flaky_rate,
            seed: p.u64("seed")?,
            gate: (capacity > 0).then(|| Arc::new(Gate::new(capacity as usize, penalty))),
        })
    }

    /// The duration of item `item`, and whether it fails; the same on every backend.
    pub fn plan(&self, item: u64) -> (Duration, bool) {
        let mut rng = StdRng::seed_from_u64(self.seed ^ item.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let seconds = match self.draw {
            Draw::Fixed(d) => d.as_secs_f64(),
            Draw::Uniform { min_s, max_s } => min_s + (max_s - min_s) * rng.random::<f64>(),
            Draw::Exponential(exp) => exp.sample(&mut rng),
            Draw::LogNormal(lognormal) => lognormal.sample(&mut rng),
        };
        let fails = self.fail_rate > 0.0 && rng.random::<f64>() < self.fail_rate;
        // Flaky failures differ from attempt to attempt: drawn from a process-wide call count,
        // and the process id, since on process-per-item every attempt is a fresh process.
        let flaky = self.flaky_rate > 0.0 && {
            let call = FLAKY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let process = u64::from(std::process::id()).rotate_left(48);
            StdRng::seed_from_u64(self.seed ^ call.rotate_left(32) ^ process ^ item).random::<f64>()
                < self.flaky_rate
        };
        let fails = fails || flaky;
        let duration = Duration::try_from_secs_f64(seconds)
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        (duration, fails)
    }
}

fn outcome(fails: bool, item: u64) -> ItemResult {
    if fails {
        Err(ItemError::new(
            "simulated",
            format!("item {item} failed (fail_rate or flaky_rate)"),
        ))
    } else {
        Ok(())
    }
}

impl Workload for Sleep {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(self.clone()))
    }
}

impl Runner for Sleep {
    fn run(&mut self, item: u64) -> ItemResult {
        let (duration, fails) = self.plan(item);
        match &self.gate {
            Some(gate) => {
                let (_held, extra) = gate.enter();
                std::thread::sleep(duration + extra);
            }
            None => std::thread::sleep(duration),
        }
        outcome(fails, item)
    }

    fn run_async(&mut self, item: u64) -> BoxFuture<'_, ItemResult> {
        let (duration, fails) = self.plan(item);
        let gate = self.gate.clone();
        Box::pin(async move {
            match gate {
                Some(gate) => {
                    gate.async_waiting.fetch_add(1, Ordering::SeqCst);
                    let permit = gate.permits.acquire().await;
                    let waiting = gate.async_waiting.fetch_sub(1, Ordering::SeqCst) - 1;
                    if permit.is_err() {
                        return Err(ItemError::new("closed", "the shared resource was closed"));
                    }
                    crate::timer::sleep(duration + gate.extra(waiting)).await;
                }
                None => crate::timer::sleep(duration).await,
            }
            outcome(fails, item)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Registry, WorkloadSpec};
    use serde_json::json;

    fn sleep(params: serde_json::Value) -> Sleep {
        let spec: WorkloadSpec =
            serde_json::from_value(json!({ "kind": "sleep", "params": params })).unwrap();
        Sleep::from_params(&Registry::builtin().validate(&spec).unwrap()).unwrap()
    }

    #[test]
    fn draws_are_seeded_by_item() {
        let s = sleep(json!({ "distribution": "uniform", "min_ms": 10, "max_ms": 20, "seed": 7 }));
        for item in 0..100 {
            let (a, _) = s.plan(item);
            assert_eq!(a, s.plan(item).0);
            assert!(a >= Duration::from_millis(10) && a <= Duration::from_millis(20));
        }
        assert_ne!(s.plan(1).0, s.plan(2).0);
    }

    #[test]
    fn exponential_mean_is_close_to_ms() {
        let s = sleep(json!({ "distribution": "exponential", "ms": 10 }));
        let mean: f64 = (0..20_000).map(|i| s.plan(i).0.as_secs_f64()).sum::<f64>() / 20_000.0;
        assert!((mean - 0.010).abs() < 0.0005, "mean {mean}");
    }

    #[test]
    fn lognormal_median_is_close_to_ms() {
        let s = sleep(json!({ "distribution": "lognormal", "ms": 20, "sigma": 0.8 }));
        let mut v: Vec<f64> = (0..20_001).map(|i| s.plan(i).0.as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        assert!((v[10_000] - 0.020).abs() < 0.001, "median {}", v[10_000]);
    }

    #[test]
    fn fail_rate_fails_about_that_share() {
        let s = sleep(json!({ "ms": 0, "fail_rate": 0.25 }));
        let failed = (0..10_000).filter(|&i| s.plan(i).1).count();
        assert!((2_300..2_700).contains(&failed), "{failed}");
    }

    #[test]
    fn capacity_bounds_how_many_sleep_at_once() {
        let s = sleep(json!({ "ms": 20, "capacity": 2 }));
        let start = std::time::Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let mut r = s.runner().unwrap();
                std::thread::spawn(move || r.run(i))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        // Four items, two at a time: two rounds of 20 ms, not one.
        assert!(
            start.elapsed() >= Duration::from_millis(39),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn capacity_holds_on_the_async_path_too() {
        let s = sleep(json!({ "ms": 20, "capacity": 1 }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let start = std::time::Instant::now();
        rt.block_on(async {
            let mut a = s.runner().unwrap();
            let mut b = s.runner().unwrap();
            let (x, y) = tokio::join!(a.run_async(1), b.run_async(2));
            x.unwrap();
            y.unwrap();
        });
        assert!(
            start.elapsed() >= Duration::from_millis(39),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn waiting_items_cost_the_holders_the_penalty() {
        let gate = Gate::new(1, Duration::from_millis(3));
        assert_eq!(gate.extra(0), Duration::ZERO);
        assert_eq!(gate.extra(4), Duration::from_millis(12));
    }

    #[test]
    fn inverted_uniform_bounds_are_refused() {
        let spec: WorkloadSpec =
            serde_json::from_value(json!({ "kind": "sleep", "params": { "distribution": "uniform", "min_ms": 5, "max_ms": 1 } }))
                .unwrap();
        let err = Registry::builtin().build(&spec).err().unwrap().to_string();
        assert!(err.contains("min_ms"), "{err}");
    }
}
