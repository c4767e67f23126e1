//! Adaptive throttle search. It answers the question `run` answers — the smallest throttle
//! within 95% of the best goodput that meets the SLO and the error budget (`analysis::pick`) —
//! without measuring every throttle: ramp 1, 2, 4, … until goodput stops growing by 5% or the
//! SLO breaks; chase the SLO's edge only when it cut a still-rising curve short; look for the
//! peak only when goodput measurably fell past it; then narrow the gap below the answer to one
//! throttle. Points are measured with the sweep's own machinery, so a search writes the same
//! results as a sweep.

use std::collections::BTreeMap;

use crate::analysis::knee::PEAK_SHARE;
use crate::analysis::pick::smallest_near_best;
use crate::analysis::Measured;

pub mod rates;
pub mod stepper;
pub use stepper::{run, Heard};

/// The ramp goes on while each doubling buys at least this much more goodput.
pub const MIN_GAIN: f64 = 1.05;

/// What one probed throttle gave: its figures, and whether it meets the SLO and the error
/// budget (`analysis::pick::feasible`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub measured: Measured,
    pub feasible: bool,
}

/// Which step of the search a probe belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Ramp,
    SloEdge,
    Peak,
    Narrow,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ramp => "ramp",
            Phase::SloEdge => "SLO edge",
            Phase::Peak => "peak",
            Phase::Narrow => "narrowing",
        }
    }
}

/// Where the search went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Throttles probed, in order, each once.
    pub probes: Vec<usize>,
    /// The throttle the rule picks among the probes; `None` when none met the SLO.
    pub answer: Option<usize>,
    /// Why the ramp stopped and what was searched after.
    pub story: String,
    /// False when the probe function reported an interruption.
    pub complete: bool,
}

/// Why the search stopped short: the run was interrupted, or measuring failed.
enum Stop {
    Interrupted,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Failed(e)
    }
}

struct Cache<F> {
    probe: F,
    seen: BTreeMap<usize, Probe>,
    order: Vec<usize>,
    interrupted: bool,
}

impl<F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>> Cache<F> {
    fn get(&mut self, n: usize, phase: Phase) -> Result<Probe, Stop> {
        if let Some(p) = self.seen.get(&n) {
            return Ok(*p);
        }
        if self.interrupted {
            return Err(Stop::Interrupted);
        }
        match (self.probe)(n, phase)? {
            Some(p) => {
                self.seen.insert(n, p);
                self.order.push(n);
                Ok(p)
            }
            None => {
                self.interrupted = true;
                Err(Stop::Interrupted)
            }
        }
    }

    /// Goodput, with throttles that break the SLO ranked below every feasible one.
    fn value(&mut self, n: usize) -> Result<f64, Stop> {
        let p = self.get(n, Phase::Peak)?;
        Ok(if p.feasible {
            p.measured.goodput_per_s
        } else {
            f64::NEG_INFINITY
        })
    }

    /// The feasible probe with the most goodput.
    fn best(&self) -> Option<(usize, f64)> {
        self.seen
            .iter()
            .filter(|(_, p)| p.feasible)
            .map(|(&n, p)| (n, p.measured.goodput_per_s))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// What `run`'s rule picks among the throttles probed so far.
    fn answer(&self) -> Option<usize> {
        smallest_near_best(
            self.seen
                .values()
                .filter(|p| p.feasible)
                .map(|p| &p.measured),
        )
    }

    fn below(&self, n: usize) -> Option<usize> {
        self.seen.range(..n).next_back().map(|(&m, _)| m)
    }

    fn above(&self, n: usize) -> Option<(usize, Probe)> {
        self.seen.range(n + 1..).next().map(|(&m, p)| (m, *p))
    }
}

/// How the doubling ramp ended.
enum RampEnd {
    /// Goodput grew by less than `MIN_GAIN` from the throttle before to this one.
    Levelled(usize),
    /// The SLO or the error budget broke at this throttle, not at the one before.
    Broken(usize),
    BrokenAtOne,
    AtMax(usize),
}

/// Searches 1..=`max_limit` for the throttle `run`'s rule would pick. `probe` measures one
/// throttle (it is called at most once per throttle) and returns `None` when the run was
/// interrupted.
pub fn search<F>(max_limit: usize, probe: F) -> anyhow::Result<Outcome>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let mut c = Cache {
        probe,
        seen: BTreeMap::new(),
        order: Vec::new(),
        interrupted: false,
    };
    let story = match steps(&mut c, max_limit.max(1)) {
        Ok(story) => story,
        Err(Stop::Interrupted) => "interrupted".to_string(),
        Err(Stop::Failed(e)) => return Err(e),
    };
    Ok(Outcome {
        answer: c.answer(),
        probes: c.order,
        story,
        complete: !c.interrupted,
    })
}

/// The ramp, the SLO edge or the peak when they matter, and the narrowing, told as they went.
fn steps<F>(c: &mut Cache<F>, max_limit: usize) -> Result<String, Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let gain = (MIN_GAIN - 1.0) * 100.0;
    let mut story = vec![match ramp(c, max_limit)? {
        RampEnd::BrokenAtOne => {
            return Ok("the SLO (or the error budget) is broken already at throttle 1".into())
        }
        RampEnd::AtMax(n) => format!(
            "goodput still grew by {gain:.0}% or more at the highest throttle allowed ({n}); raise --max-limit"
        ),
        RampEnd::Broken(at) => slo_edge(c, at)?,
        RampEnd::Levelled(at) => format!(
            "goodput grew by less than {gain:.0}% from throttle {} to {at}",
            c.below(at).unwrap_or(1)
        ),
    }];
    story.extend(peak(c)?);
    story.extend(narrow(c)?);
    Ok(story.join("; "))
}

/// 1, 2, 4, … while each doubling is feasible and buys at least `MIN_GAIN` more goodput.
fn ramp<F>(c: &mut Cache<F>, max_limit: usize) -> Result<RampEnd, Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let mut before: Option<f64> = None;
    let mut n = 1;
    loop {
        let p = c.get(n, Phase::Ramp)?;
        if !p.feasible {
            return Ok(match before {
                None => RampEnd::BrokenAtOne,
                Some(_) => RampEnd::Broken(n),
            });
        }
        if before.is_some_and(|x| p.measured.goodput_per_s < MIN_GAIN * x) {
            return Ok(RampEnd::Levelled(n));
        }
        if n >= max_limit {
            return Ok(RampEnd::AtMax(n));
        }
        before = Some(p.measured.goodput_per_s);
        n = (n * 2).min(max_limit);
    }
}

/// The SLO broke at `at`. Its edge matters only when the curve was still rising there: when
/// `at` gave `MIN_GAIN` more goodput than the best feasible throttle, bisect for the largest
/// throttle that meets the SLO; on a plateau, the edge would only add latency to the answer.
fn slo_edge<F>(c: &mut Cache<F>, at: usize) -> Result<String, Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let broken = c.seen[&at].measured.goodput_per_s;
    let best = c.best().map_or(0.0, |b| b.1);
    let Some(mut lo) = c.below(at) else {
        return Ok(format!("the SLO broke at throttle {at}"));
    };
    if broken < MIN_GAIN * best {
        return Ok(format!(
            "the SLO broke at throttle {at}, where goodput had stopped growing"
        ));
    }
    let first = lo;
    let mut hi = at;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if c.get(mid, Phase::SloEdge)?.feasible {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(format!(
        "the SLO broke between throttles {first} and {at} while goodput still grew; bisection: it holds up to {lo} and breaks at {hi}"
    ))
}

/// When goodput fell past the best throttle by more than the 5% band (a real fall, not noise
/// on a plateau), the true peak may lie between its neighbours and be higher: a golden-section
/// search there, so the 95% line is drawn from the peak. `None` when nothing fell.
fn peak<F>(c: &mut Cache<F>) -> Result<Option<String>, Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let Some((best, x)) = c.best() else {
        return Ok(None);
    };
    let Some((right, after)) = c.above(best) else {
        return Ok(None);
    };
    // An infeasible neighbour is the SLO's edge, not a fall: the edge step dealt with it.
    if !after.feasible || after.measured.goodput_per_s >= PEAK_SHARE * x {
        return Ok(None);
    }
    let left = c.below(best).unwrap_or(best);
    if right - left <= 2 {
        return Ok(None);
    }
    golden(c, left, right)?;
    Ok(Some(format!(
        "goodput fell past throttle {best}; golden-section search for the peak in {left}..{right}"
    )))
}

/// Integer golden-section search for the goodput peak in [a, b]; ties go to the lower side.
fn golden<F>(c: &mut Cache<F>, a: usize, b: usize) -> Result<(), Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    const INV_PHI: f64 = 0.618_033_988_749_895;
    let (mut a, mut b) = (a, b);
    let at = |a: usize, b: usize, share: f64| a + ((b - a) as f64 * share).round() as usize;
    let (mut lo, mut hi) = (at(a, b, 1.0 - INV_PHI), at(a, b, INV_PHI));
    while b - a > 2 {
        // Keep a < lo < hi < b; rounding can make the two inner points meet.
        lo = lo.clamp(a + 1, b - 2);
        hi = hi.clamp(lo + 1, b - 1);
        // Ties go left: on a plateau the smallest throttle that reaches it is the answer.
        if c.value(lo)? >= c.value(hi)? {
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
        c.value(n)?;
    }
    Ok(())
}

/// Bisects the gap between the answer and the probe below it until they are neighbours: the
/// throttles in between were never measured, and any of them might be the smaller answer. A
/// probe that raises the best goodput moves the 95% line, so the answer is recomputed each time.
fn narrow<F>(c: &mut Cache<F>) -> Result<Option<String>, Stop>
where
    F: FnMut(usize, Phase) -> anyhow::Result<Option<Probe>>,
{
    let mut first = None;
    while let Some(answer) = c.answer() {
        let Some(lo) = c.below(answer) else { break };
        if answer - lo <= 1 {
            break;
        }
        first.get_or_insert((lo, answer));
        c.get(lo + (answer - lo) / 2, Phase::Narrow)?;
    }
    Ok(match (first, c.answer()) {
        (Some((lo, hi)), Some(answer)) => Some(format!(
            "narrowed {lo}..{hi} to {answer}, the smallest throttle within {:.0}% of the best goodput",
            PEAK_SHARE * 100.0
        )),
        _ => None,
    })
}
#[cfg(test)]
#[path = "tune/search_tests.rs"]
mod tests;
