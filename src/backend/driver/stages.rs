//! Ramping open loops (`[[sweep.stages]]`): each stage moves the offered rate linearly from the
//! previous stage's target (0 before the first) to its own, as k6's ramping-arrival-rate. The
//! arrival times are drawn before the point's window opens, as Poisson arrivals are.

use std::time::Duration;

use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::schedule::{Arrival, OpenLoopJob, MAX_DRAWN};

/// One stage of a ramping open loop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// The rate reached at the end of the stage, items/s.
    pub rate: f64,
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

impl Stage {
    /// Items the stages offer per second on average.
    pub fn mean_rate(stages: &[Stage]) -> f64 {
        let mut from = 0.0;
        let (mut items, mut secs) = (0.0, 0.0);
        for stage in stages {
            let d = stage.duration.as_secs_f64();
            items += (from + stage.rate) / 2.0 * d;
            secs += d;
            from = stage.rate;
        }
        if secs > 0.0 {
            items / secs
        } else {
            0.0
        }
    }
}

/// Arrivals of a ramping run: the `k`-th comes when the stages' cumulative offered count reaches
/// `k` (constant), or the `k`-th arrival of a unit-rate Poisson process (Poisson): a Poisson
/// process of a varying rate is a unit-rate one with its clock stretched by that count.
pub(super) fn staged_offsets(job: &OpenLoopJob) -> Vec<u64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(job.seed);
    let unit = Exp::new(1.0).ok();
    let mut next_target = |k: f64| match (job.arrival, &unit) {
        (Arrival::Poisson, Some(gaps)) => k + gaps.sample(&mut rng),
        _ => k + 1.0,
    };
    let mut offsets = Vec::new();
    // The count reached so far, and the count at which the next item arrives.
    let (mut count, mut target, mut start_s, mut from) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for stage in &job.stages {
        let d = stage.duration.as_secs_f64();
        let to = stage.rate;
        let end_count = count + (from + to) / 2.0 * d;
        // count(τ) = count + from·τ + (to − from)·τ²/(2d) over the stage.
        let a = if d > 0.0 {
            (to - from) / (2.0 * d)
        } else {
            0.0
        };
        while target < end_count && (offsets.len() as u64) < MAX_DRAWN {
            let need = target - count;
            let disc = (from * from + 4.0 * a * need).max(0.0);
            let denominator = from + disc.sqrt();
            let tau = if denominator > 0.0 {
                (2.0 * need / denominator).min(d)
            } else {
                0.0
            };
            offsets.push(((start_s + tau) * 1e9) as u64);
            target = next_target(target);
        }
        count = end_count;
        start_s += d;
        from = to;
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::driver::schedule::Schedule;

    #[test]
    fn stages_ramp_linearly_between_their_targets() {
        let stages = vec![
            Stage {
                rate: 100.0,
                duration: Duration::from_secs(2),
            },
            Stage {
                rate: 100.0,
                duration: Duration::from_secs(1),
            },
        ];
        assert!((Stage::mean_rate(&stages) - 200.0 / 3.0).abs() < 1e-9);
        let ramp = OpenLoopJob {
            stages,
            ..OpenLoopJob {
                rate: 0.0,
                arrival: Arrival::Constant,
                seed: 7,
                stages: Vec::new(),
            }
        };
        let schedule = Schedule::new(&ramp, 0, None);
        // 0 → 100/s over 2 s offers 100 items, then 100 more at 100/s.
        assert_eq!(schedule.items(), 200);
        // Half the ramp's items by √½ of its time: the count grows with t².
        let half = schedule.offset(50).as_secs_f64();
        assert!((half - 2f64.sqrt()).abs() < 0.02, "{half}");
        let gap = (schedule.offset(150) - schedule.offset(149)).as_secs_f64();
        assert!((gap - 0.01).abs() < 1e-6, "{gap}");
        let poisson = Schedule::new(
            &OpenLoopJob {
                arrival: Arrival::Poisson,
                ..ramp.clone()
            },
            0,
            None,
        );
        assert!((150..250).contains(&poisson.items()), "{}", poisson.items());
        assert!(poisson.offset(poisson.items() - 1) < Duration::from_secs(3));
    }
}
