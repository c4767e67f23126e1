//! A machine-noise probe: after every point, a few 1 ms sleeps and a fixed CPU loop, timed. The
//! same probe in two runs tells how much slower the machine itself was in one of them (a busier
//! scheduler, a CPU shared with other work), which repetitions inside one run cannot see and
//! which would otherwise pass for a regression of the workload.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::results::{median, PointResult, SweepResult};
use crate::sweep::SweepListener;

const SLEEPS: u32 = 3;
const SLEEP: Duration = Duration::from_millis(1);
const LOOP_ROUNDS: u64 = 400_000;

/// One probe, taken between two points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseSample {
    /// Mean time a 1 ms sleep overran, ms: how long a woken thread waits for a core.
    pub sleep_overshoot_ms: f64,
    /// The longest overrun of those sleeps, ms.
    pub sleep_overshoot_max_ms: f64,
    /// Wall time of a fixed CPU loop, ms: how much of a core this process gets.
    pub cpu_loop_ms: f64,
}

/// Takes one probe (about 5 ms).
pub fn probe() -> NoiseSample {
    let (mut total, mut max) = (0.0f64, 0.0f64);
    for _ in 0..SLEEPS {
        let start = Instant::now();
        std::thread::sleep(SLEEP);
        let over = (start.elapsed().as_secs_f64() - SLEEP.as_secs_f64()).max(0.0) * 1000.0;
        total += over;
        max = max.max(over);
    }
    let start = Instant::now();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..LOOP_ROUNDS {
        x = black_box(x.rotate_left(5) ^ i).wrapping_mul(0x100_0000_01b3);
    }
    black_box(x);
    NoiseSample {
        sleep_overshoot_ms: total / SLEEPS as f64,
        sleep_overshoot_max_ms: max,
        cpu_loop_ms: start.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Probes after every point; the samples stay readable through `samples()` after the sweep.
#[derive(Default, Clone)]
pub struct NoiseProbe {
    samples: Rc<RefCell<Vec<NoiseSample>>>,
}

impl NoiseProbe {
    pub fn samples(&self) -> Vec<NoiseSample> {
        self.samples.borrow().clone()
    }
}

impl SweepListener for NoiseProbe {
    fn point_done(&mut self, _point: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
        self.samples.borrow_mut().push(probe());
        Ok(())
    }
}

/// How much worse the machine was in one run than in another, from their probes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drift {
    /// Extra mean wait for a core after a sleep, ms (0 when it was not worse).
    pub delay_ms: f64,
    /// Extra worst wait, ms.
    pub delay_max_ms: f64,
    /// Relative slowdown of the CPU loop (0.1 = 10% slower; 0 when not slower).
    pub cpu_slowdown: f64,
}

impl Drift {
    /// `None` when either side has no probe.
    pub fn between(base: &[NoiseSample], current: &[NoiseSample]) -> Option<Drift> {
        if base.is_empty() || current.is_empty() {
            return None;
        }
        let mean = |xs: &[NoiseSample], f: fn(&NoiseSample) -> f64| {
            xs.iter().map(f).sum::<f64>() / xs.len() as f64
        };
        let worse = |f: fn(&NoiseSample) -> f64| (mean(current, f) - mean(base, f)).max(0.0);
        // One preempted loop doubles its time: the CPU share is the typical loop, the median.
        let cpu = |xs: &[NoiseSample]| {
            median(&mut xs.iter().map(|s| s.cpu_loop_ms).collect::<Vec<_>>()).unwrap_or(0.0)
        };
        let base_loop = cpu(base);
        Some(Drift {
            delay_ms: worse(|s| s.sleep_overshoot_ms),
            delay_max_ms: worse(|s| s.sleep_overshoot_max_ms),
            cpu_slowdown: if base_loop > 0.0 {
                (cpu(current) - base_loop).max(0.0) / base_loop
            } else {
                0.0
            },
        })
    }

    /// The relative change of an item time of `item_ms` that the machine alone explains: the
    /// extra wait for a core on every item, or the lost CPU share, whichever is larger.
    pub fn explains(&self, item_ms: f64, worst: bool) -> f64 {
        let delay = if worst {
            self.delay_max_ms
        } else {
            self.delay_ms
        };
        let from_delay = if item_ms > 0.0 { delay / item_ms } else { 0.0 };
        from_delay.max(self.cpu_slowdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(over: f64, cpu: f64) -> NoiseSample {
        NoiseSample {
            sleep_overshoot_ms: over,
            sleep_overshoot_max_ms: over * 2.0,
            cpu_loop_ms: cpu,
        }
    }

    #[test]
    fn a_probe_accounts_for_its_own_time() {
        let begin = Instant::now();
        let s = probe();
        let outside_ms = begin.elapsed().as_secs_f64() * 1000.0;
        // The sleeps and the loop were timed one after another inside the probe: the times it
        // reports (each sleep's 1 ms plus its overrun, then the loop) fit in the time around it.
        // An overrun not measured against the 1 ms, or in the wrong unit, would not fit.
        let inside_ms =
            SLEEPS as f64 * (SLEEP.as_secs_f64() * 1000.0 + s.sleep_overshoot_ms) + s.cpu_loop_ms;
        assert!(
            inside_ms <= outside_ms,
            "{s:?}: {inside_ms} ms of {outside_ms}"
        );
        // The worst overrun is one of the overruns averaged: at least the mean, at most the sum.
        assert!(
            s.sleep_overshoot_ms <= s.sleep_overshoot_max_ms
                && s.sleep_overshoot_max_ms <= SLEEPS as f64 * s.sleep_overshoot_ms + 1e-9,
            "{s:?}"
        );
        // 400 000 rounds of a dependent multiply cannot take less than a tenth of a millisecond
        // on any CPU: a loop optimised away would.
        assert!(s.cpu_loop_ms >= 0.1, "{s:?}");
    }

    #[test]
    fn drift_counts_only_a_worse_machine() {
        let calm = [sample(0.1, 1.0), sample(0.1, 1.0)];
        let busy = [sample(2.1, 1.2), sample(2.1, 1.2)];
        let d = Drift::between(&calm, &busy).unwrap();
        assert!((d.delay_ms - 2.0).abs() < 1e-9);
        assert!((d.cpu_slowdown - 0.2).abs() < 1e-9);
        // 2 ms more wait on a 20 ms item is 10%, less than the CPU loop's 20%.
        assert!((d.explains(20.0, false) - 0.2).abs() < 1e-9);
        assert!((d.explains(5.0, false) - 0.4).abs() < 1e-9);
        assert!((d.explains(5.0, true) - 0.8).abs() < 1e-9);
        let back = Drift::between(&busy, &calm).unwrap();
        assert_eq!(back.explains(20.0, true), 0.0);
        assert!(Drift::between(&[], &calm).is_none());
    }
}
