//! Adaptive throttle search: instead of measuring every throttle, ramp 1, 2, 4, … until
//! throughput stops improving by 5% (or the SLO breaks), then search inside the bracket —
//! golden-section for the throughput peak, bisection for the SLO edge. Points are measured with
//! the sweep's own machinery, so a search writes the same results as a sweep.

use std::collections::HashMap;

pub mod stepper;
pub use stepper::{run, Heard};

/// The ramp goes on while each doubling buys at least this much more throughput.
pub const MIN_GAIN: f64 = 1.05;

/// What one probed throttle gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub goodput_per_s: f64,
    pub slo_met: bool,
}

/// Which step of the search a probe belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Ramp,
    Golden,
    Bisect,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ramp => "ramp",
            Phase::Golden => "golden",
            Phase::Bisect => "bisect",
        }
    }
}

/// Where the search went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Throttles probed, in order, each once.
    pub probes: Vec<usize>,
    /// Why the ramp stopped and what was searched after.
    pub story: String,
    /// False when the probe function reported an interruption.
    pub complete: bool,
}

struct Cache<F> {
    probe: F,
    seen: HashMap<usize, Probe>,
    order: Vec<usize>,
    interrupted: bool,
}

impl<F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>> Cache<F> {
    fn get(&mut self, n: usize, phase: Phase) -> anyhow::Result<Option<Probe>> {
        if let Some(p) = self.seen.get(&n) {
            return Ok(Some(*p));
        }
        if self.interrupted {
            return Ok(None);
        }
        match (self.probe)(n, phase)? {
            Some(p) => {
                self.seen.insert(n, p);
                self.order.push(n);
                Ok(Some(p))
            }
            None => {
                self.interrupted = true;
                Ok(None)
            }
        }
    }

    /// Throughput, with throttles that break the SLO ranked below every feasible one.
    fn value(&mut self, n: usize) -> anyhow::Result<Option<f64>> {
        Ok(self.get(n, Phase::Golden)?.map(|p| {
            if p.slo_met {
                p.goodput_per_s
            } else {
                f64::NEG_INFINITY
            }
        }))
    }
}

/// Searches 1..=`max_limit` for the best throttle. `probe` measures one throttle (it is called
/// at most once per throttle) and returns `None` when the run was interrupted.
pub fn search<F>(max_limit: usize, probe: F) -> anyhow::Result<Outcome>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let max_limit = max_limit.max(1);
    let mut c = Cache {
        probe,
        seen: HashMap::new(),
        order: Vec::new(),
        interrupted: false,
    };
    let mut prev: Option<(usize, f64)> = None;
    let mut n = 1;
    let story = loop {
        let Some(p) = c.get(n, Phase::Ramp)? else {
            break "interrupted during the ramp".to_string();
        };
        if !p.slo_met {
            match prev {
                None => {
                    break "the SLO (or the error budget) is broken already at throttle 1"
                        .to_string()
                }
                Some((lo, _)) => break bisect(&mut c, lo, n)?,
            }
        }
        if let Some((_, px)) = prev {
            if p.goodput_per_s < MIN_GAIN * px {
                break golden(&mut c, (n / 4).max(1), n)?;
            }
        }
        if n >= max_limit {
            break format!(
                "throughput still rising at the highest throttle allowed ({max_limit}); raise --max-limit"
            );
        }
        prev = Some((n, p.goodput_per_s));
        n = (n * 2).min(max_limit);
    };
    Ok(Outcome {
        probes: c.order,
        story,
        complete: !c.interrupted,
    })
}

/// The largest throttle in (lo, hi) that meets the SLO, given lo meets it and hi does not.
fn bisect<F>(c: &mut Cache<F>, mut lo: usize, mut hi: usize) -> anyhow::Result<String>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let first = (lo, hi);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match c.get(mid, Phase::Bisect)? {
            Some(p) if p.slo_met => lo = mid,
            Some(_) => hi = mid,
            None => return Ok("interrupted during the SLO bisection".into()),
        }
    }
    Ok(format!(
        "the SLO broke between throttles {} and {}; bisection: it holds up to {lo} and breaks at {hi}",
        first.0, first.1
    ))
}

/// Integer golden-section search for the throughput peak in [a, b]; ties go to the lower side.
fn golden<F>(c: &mut Cache<F>, a: usize, b: usize) -> anyhow::Result<String>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    const INV_PHI: f64 = 0.618_033_988_749_895;
    let first = (a, b);
    let (mut a, mut b) = (a, b);
    let at = |a: usize, b: usize, share: f64| a + ((b - a) as f64 * share).round() as usize;
    let (mut lo, mut hi) = (at(a, b, 1.0 - INV_PHI), at(a, b, INV_PHI));
    while b - a > 2 {
        // Keep a < lo < hi < b; rounding can make the two inner points meet.
        lo = lo.clamp(a + 1, b - 2);
        hi = hi.clamp(lo + 1, b - 1);
        let (Some(f_lo), Some(f_hi)) = (c.value(lo)?, c.value(hi)?) else {
            return Ok("interrupted during the golden-section search".into());
        };
        // Ties go left: on a plateau the smallest throttle that reaches it is the answer.
        if f_lo >= f_hi {
            b = hi;
            hi = lo;
            lo = at(a, b, 1.0 - INV_PHI);
        } else {
            a = lo;
            lo = hi;
            hi = at(a, b, INV_PHI);
        }
    }
    for n in a..=b {
        if c.value(n)?.is_none() {
            return Ok("interrupted during the golden-section search".into());
        }
    }
    Ok(format!(
        "throughput stopped improving by {:.0}% at throttle {}; golden-section search in {}..{}",
        (MIN_GAIN - 1.0) * 100.0,
        first.1,
        first.0,
        first.1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::knee::knee;

    fn run(max: usize, f: impl Fn(usize) -> Probe) -> Outcome {
        search(max, |n, _| Ok(Some(f(n)))).unwrap()
    }

    fn feasible(x: f64) -> Probe {
        Probe {
            goodput_per_s: x,
            slo_met: true,
        }
    }

    #[test]
    fn a_capacity_plateau_is_found_in_few_probes() {
        for cap in [3usize, 8, 13, 40, 100] {
            let f = |n: usize| feasible(n.min(cap) as f64 * 10.0);
            let out = run(256, f);
            let curve: Vec<(usize, f64)> = out
                .probes
                .iter()
                .map(|&n| (n, f(n).goodput_per_s))
                .collect();
            let found = knee(&curve).unwrap();
            assert!(
                found * 2 >= cap && found <= cap * 2,
                "cap {cap}: found {found} via {:?}",
                out.probes
            );
            assert!(out.probes.len() <= 24, "cap {cap}: {:?}", out.probes);
            assert!(out.complete);
        }
    }

    #[test]
    fn a_true_peak_is_located_closely() {
        // Throughput rises to a peak at `top` and falls after it.
        for top in [5usize, 12, 22, 37, 90, 150] {
            let f = |n: usize| {
                let (n, t) = (n as f64, top as f64);
                feasible(1000.0 * n / (1.0 + 0.01 * (n - 1.0) + (0.99 / (t * t)) * n * (n - 1.0)))
            };
            let out = run(256, f);
            let best = *out
                .probes
                .iter()
                .max_by(|a, b| f(**a).goodput_per_s.total_cmp(&f(**b).goodput_per_s))
                .unwrap();
            let err = (best as f64 - top as f64).abs() / top as f64;
            assert!(err <= 0.15, "peak {top}: best {best} via {:?}", out.probes);
            assert!(out.probes.len() <= 24, "{:?}", out.probes);
        }
    }

    #[test]
    fn the_slo_edge_is_bisected() {
        // Throughput keeps growing, latency is n ms, the SLO allows 50 ms.
        let out = run(256, |n| Probe {
            goodput_per_s: n as f64,
            slo_met: n <= 50,
        });
        assert!(
            out.probes.contains(&50) && out.probes.contains(&51),
            "{:?}",
            out.probes
        );
        assert!(out.story.contains("holds up to 50"), "{}", out.story);
        assert!(out.probes.len() <= 13, "{:?}", out.probes);
    }

    #[test]
    fn stops_at_the_maximum_and_says_so() {
        let out = run(100, |n| feasible(n as f64));
        assert_eq!(out.probes, vec![1, 2, 4, 8, 16, 32, 64, 100]);
        assert!(out.story.contains("raise --max-limit"), "{}", out.story);
    }

    #[test]
    fn an_slo_broken_at_one_stops_at_once() {
        let out = run(256, |_| Probe {
            goodput_per_s: 1.0,
            slo_met: false,
        });
        assert_eq!(out.probes, vec![1]);
    }

    #[test]
    fn an_interruption_ends_the_search() {
        let mut calls = 0;
        let out = search(256, |n, _| {
            calls += 1;
            Ok((n < 8).then_some(feasible(n as f64)))
        })
        .unwrap();
        assert!(!out.complete);
        assert_eq!(out.probes, vec![1, 2, 4]);
        assert_eq!(calls, 4);
    }
}
