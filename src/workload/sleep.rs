//! `sleep`: simulated latency (an API call, a remote job). Each item's duration is drawn from a
//! seeded distribution keyed by the item number, so every backend sleeps the same total time and
//! the comparison between backends is fair.

use std::sync::Arc;
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
        "seed",
        ParamType::Int,
        Some("1"),
        "seed of the per-item random draws",
    ),
];

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

#[derive(Debug, Clone, Copy)]
pub struct Sleep {
    draw: Draw,
    fail_rate: f64,
    flaky_rate: f64,
    seed: u64,
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
        Ok(Sleep {
            draw,
            fail_rate,
            flaky_rate,
            seed: p.u64("seed")?,
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
        // Flaky failures differ from attempt to attempt: drawn from a process-wide call count.
        let flaky = self.flaky_rate > 0.0 && {
            let call = FLAKY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            StdRng::seed_from_u64(self.seed ^ call.rotate_left(32) ^ item).random::<f64>()
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
        Ok(Box::new(*self))
    }
}

impl Runner for Sleep {
    fn run(&mut self, item: u64) -> ItemResult {
        let (duration, fails) = self.plan(item);
        std::thread::sleep(duration);
        outcome(fails, item)
    }

    fn run_async(&mut self, item: u64) -> BoxFuture<'_, ItemResult> {
        let (duration, fails) = self.plan(item);
        Box::pin(async move {
            tokio::time::sleep(duration).await;
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
    fn inverted_uniform_bounds_are_refused() {
        let spec: WorkloadSpec =
            serde_json::from_value(json!({ "kind": "sleep", "params": { "distribution": "uniform", "min_ms": 5, "max_ms": 1 } }))
                .unwrap();
        let err = Registry::builtin().build(&spec).err().unwrap().to_string();
        assert!(err.contains("min_ms"), "{err}");
    }
}
