//! A machine-noise probe: after every point, a few 1 ms sleeps and a fixed CPU loop, timed. The
//! same probe in two runs tells how much slower the machine itself was in one of them (a busier
//! scheduler, a CPU shared with other work), which repetitions inside one run cannot see and
//! which would otherwise pass for a regression of the workload.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::results::median;

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

/// Probes after every point (`record`, called by a sweep listener); the samples stay readable
/// through `samples()` after the sweep.
#[derive(Default, Clone)]
pub struct NoiseProbe {
    samples: Rc<RefCell<Vec<NoiseSample>>>,
}

impl NoiseProbe {
    pub fn samples(&self) -> Vec<NoiseSample> {
        self.samples.borrow().clone()
    }

    /// Takes one probe and keeps it.
    pub fn record(&self) {
        self.samples.borrow_mut().push(probe());
    }
}

/// How much worse the machine was in one run than in another, from their probes. Each figure is
/// what the probes show *beyond doubt*: the lower end of a 95 % interval, 0 unless the change
/// is significant. One scheduler hiccup in one probe is not evidence that every item waited.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drift {
    /// Extra mean wait for a core after a sleep, ms: the lower 95 % bound of the difference of
    /// the runs' mean overruns (Welch), 0 when not significantly worse.
    pub delay_ms: f64,
    /// Extra worst wait, ms (the difference of the means of each probe's worst overrun). Shown
    /// for context; it excuses nothing, being one outlier's word.
    pub delay_max_ms: f64,
    /// Relative slowdown of the CPU loop (0.1 = 10 % slower), by medians (a preempted loop
    /// doubles its time); 0 unless the loops differ significantly (Welch, p < 0.05).
    pub cpu_slowdown: f64,
}

impl Drift {
    /// `None` when either side has no probe.
    pub fn between(base: &[NoiseSample], current: &[NoiseSample]) -> Option<Drift> {
        if base.is_empty() || current.is_empty() {
            return None;
        }
        let values =
            |xs: &[NoiseSample], f: fn(&NoiseSample) -> f64| xs.iter().map(f).collect::<Vec<_>>();
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
        let (b_over, c_over) = (
            values(base, |s| s.sleep_overshoot_ms),
            values(current, |s| s.sleep_overshoot_ms),
        );
        let (b_max, c_max) = (
            values(base, |s| s.sleep_overshoot_max_ms),
            values(current, |s| s.sleep_overshoot_max_ms),
        );
        let (mut b_loop, mut c_loop) = (
            values(base, |s| s.cpu_loop_ms),
            values(current, |s| s.cpu_loop_ms),
        );
        let loops_differ =
            crate::analysis::student::welch_p(&b_loop, &c_loop).is_some_and(|p| p < 0.05);
        let base_loop = median(&mut b_loop).unwrap_or(0.0);
        let current_loop = median(&mut c_loop).unwrap_or(0.0);
        Some(Drift {
            delay_ms: lower_bound_of_increase(&b_over, &c_over),
            delay_max_ms: (mean(&c_max) - mean(&b_max)).max(0.0),
            cpu_slowdown: if base_loop > 0.0 && loops_differ {
                (current_loop - base_loop).max(0.0) / base_loop
            } else {
                0.0
            },
        })
    }

    /// The relative change of an item of `item_ms` that the machine alone explains. An item
    /// that mostly waits (sleep, I/O) wakes up and waits for a core: the extra delay over its
    /// time. An item that mostly computes gets less of a core: the CPU loop's slowdown. `cpu_share`
    /// (CPU time per item ÷ item time, 0..1) says which the workload is, and weighs the two.
    pub fn explains(&self, item_ms: f64, cpu_share: f64) -> f64 {
        let share = cpu_share.clamp(0.0, 1.0);
        let from_delay = if item_ms > 0.0 {
            self.delay_ms / item_ms
        } else {
            0.0
        };
        (1.0 - share) * from_delay + share * self.cpu_slowdown
    }
}

/// The lower end of the 95 % interval of mean(current) − mean(base) (Welch), at least 0; 0 when
/// a side has fewer than two probes (no interval, so no evidence).
fn lower_bound_of_increase(base: &[f64], current: &[f64]) -> f64 {
    crate::analysis::student::Welch::of(base, current).map_or(0.0, |w| w.lower_95().max(0.0))
}

/// A run as stored: its results and the noise probes taken during it.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub sweep: crate::results::SweepResult,
    pub noise: Vec<NoiseSample>,
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
        // A sleeping item: 2 ms more wait on a 20 ms item is 10 %; a computing one loses 20 %.
        assert!((d.explains(20.0, 0.0) - 0.1).abs() < 1e-9);
        assert!((d.explains(20.0, 1.0) - 0.2).abs() < 1e-9);
        assert!((d.explains(5.0, 0.0) - 0.4).abs() < 1e-9);
        let back = Drift::between(&busy, &calm).unwrap();
        assert_eq!(back.explains(20.0, 0.5), 0.0);
        assert!(Drift::between(&[], &calm).is_none());
    }

    /// The case that excused a real +10 % regression of 20 ms items: one probe's 2 ms overrun
    /// among ordinary ones. Its worst-case reading would excuse 10 %; the evidence excuses
    /// nothing.
    #[test]
    fn one_hiccup_is_no_evidence() {
        let calm: Vec<NoiseSample> = (0..15)
            .map(|i| sample(0.06 + 0.001 * i as f64, 1.0))
            .collect();
        let mut one_hiccup = calm.clone();
        one_hiccup[7].sleep_overshoot_ms = 0.7;
        one_hiccup[7].sleep_overshoot_max_ms = 2.0;
        let d = Drift::between(&calm, &one_hiccup).unwrap();
        assert_eq!(d.delay_ms, 0.0, "{d:?}");
        assert!(d.delay_max_ms > 0.0);
        assert_eq!(d.explains(20.0, 0.0), 0.0);
        // Every probe 0.5 ms slower is evidence: it excuses 0.5 ms of each 20 ms item, less the
        // probes' own scatter.
        let slower: Vec<NoiseSample> = calm
            .iter()
            .map(|s| sample(s.sleep_overshoot_ms + 0.5, 1.0))
            .collect();
        let d = Drift::between(&calm, &slower).unwrap();
        assert!(d.delay_ms > 0.49 && d.delay_ms <= 0.5, "{d:?}");
    }

    /// A CPU loop that is slower in one preempted probe only is not a slower machine.
    #[test]
    fn one_preempted_loop_is_no_slowdown() {
        let calm: Vec<NoiseSample> = (0..10)
            .map(|i| sample(0.1, 1.0 + 0.01 * i as f64))
            .collect();
        let mut preempted = calm.clone();
        preempted[3].cpu_loop_ms = 2.5;
        assert_eq!(Drift::between(&calm, &preempted).unwrap().cpu_slowdown, 0.0);
        let slower: Vec<NoiseSample> = calm
            .iter()
            .map(|s| sample(0.1, s.cpu_loop_ms * 1.3))
            .collect();
        let d = Drift::between(&calm, &slower).unwrap();
        assert!((d.cpu_slowdown - 0.3).abs() < 0.01, "{d:?}");
    }
}
