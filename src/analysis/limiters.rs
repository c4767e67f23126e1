//! Adaptive limiters judged against the sweep: where each one's limit settled (its median over
//! the second half of the point), how long it took to first come within 10 % of that, how much
//! it swung afterwards, its goodput against the same backend's best static goodput and its
//! p99 against that of the static throttle the analysis recommends. A limiter found the level
//! when it settled between half and twice the swept knee, below its ceiling of lanes, kept at
//! least 90 % of the best static goodput and had no more failed items than the error budget the
//! static throttles are held to; otherwise the judgement says how it missed.

use super::limiter_behaviour::{
    behaviour, reference_early_late, reference_followed, unheard_signal, Movement,
};
use crate::backend::limiter::LimitStep;
use crate::format::percent;
use crate::results::findings::BackendAnalysis;
use crate::results::limited::LimiterJudgement;
use crate::results::{PointResult, SweepResult};

/// A limiter keeps the level when its goodput is at least this share of the best static one.
pub const GOODPUT_SHARE: f64 = 0.90;
/// "Within 10 %" of the settled limit.
const NEAR: f64 = 0.10;

/// The limit held from `start` to `end` (seconds), clipped to `[from, to]`.
pub(super) struct Held {
    pub start: f64,
    pub end: f64,
    pub limit: usize,
}

/// The step function `steps` as held spans over `[from, to]`.
pub(super) fn spans(steps: &[LimitStep], from: f64, to: f64) -> Vec<Held> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let next = steps.get(i + 1).map_or(f64::INFINITY, |s| s.t_s);
        let (start, end) = (step.t_s.max(from), next.min(to));
        if end > start {
            out.push(Held {
                start,
                end,
                limit: step.limit,
            });
        }
    }
    out
}

/// The time-weighted mean and variance of the limit over `held` (not empty, of some length).
pub(super) fn mean_and_variance(held: &[Held]) -> (f64, f64) {
    let total: f64 = held.iter().map(|h| h.end - h.start).sum();
    let mean = held
        .iter()
        .map(|h| h.limit as f64 * (h.end - h.start))
        .sum::<f64>()
        / total;
    let var = held
        .iter()
        .map(|h| (h.limit as f64 - mean).powi(2) * (h.end - h.start))
        .sum::<f64>()
        / total;
    (mean, var)
}

/// The time-weighted median of the limit over the second half of a point of `wall_s` seconds.
pub fn settled_limit(steps: &[LimitStep], wall_s: f64) -> f64 {
    let mut held = spans(steps, wall_s / 2.0, wall_s);
    if held.is_empty() {
        return steps.last().map_or(0.0, |s| s.limit as f64);
    }
    held.sort_by_key(|h| h.limit);
    let total: f64 = held.iter().map(|h| h.end - h.start).sum();
    let mut seen = 0.0;
    for h in &held {
        seen += h.end - h.start;
        if seen >= total / 2.0 {
            return h.limit as f64;
        }
    }
    held.last().map_or(0.0, |h| h.limit as f64)
}

/// When the limit first came within 10 % of `settled`.
fn first_near(steps: &[LimitStep], settled: f64) -> Option<f64> {
    let near = |limit: usize| (limit as f64 - settled).abs() <= NEAR * settled.max(1.0);
    steps.iter().find(|s| near(s.limit)).map(|s| s.t_s)
}

/// The limit's time-weighted standard deviation, lowest and highest over `[from, to]`.
fn swing(steps: &[LimitStep], from: f64, to: f64) -> (f64, usize, usize) {
    let held = spans(steps, from, to);
    let total: f64 = held.iter().map(|h| h.end - h.start).sum();
    if total <= 0.0 {
        let last = steps.last().map_or(0, |s| s.limit);
        return (0.0, last, last);
    }
    let (_, var) = mean_and_variance(&held);
    let lo = held.iter().map(|h| h.limit).min().unwrap_or(0);
    let hi = held.iter().map(|h| h.limit).max().unwrap_or(0);
    (var.sqrt(), lo, hi)
}

/// Every limiter's point of `sweep`, judged against its backend's analysis in `backends`.
pub fn judge(sweep: &SweepResult, backends: &[BackendAnalysis]) -> Vec<LimiterJudgement> {
    sweep
        .limited
        .iter()
        .filter_map(|p| {
            let backend = backends.iter().find(|b| b.backend == p.backend);
            judge_one(sweep, p, backend)
        })
        .collect()
}

fn judge_one(
    sweep: &SweepResult,
    p: &PointResult,
    backend: Option<&BackendAnalysis>,
) -> Option<LimiterJudgement> {
    let track = p.limiter.as_ref()?;
    let steps = &track.limit_over_time;
    let settled = track.settled;
    let settle_s = first_near(steps, settled);
    let (swing_sd, swing_min, swing_max) = swing(steps, settle_s.unwrap_or(0.0), p.wall_s);
    let best_throttle = backend.and_then(|b| b.peak_throttle);
    let best_goodput = backend
        .filter(|b| b.peak_throttle.is_some())
        .map(|b| b.peak_throughput_per_s);
    let recommended = backend.and_then(|b| b.recommended).or(best_throttle);
    let recommended_p99 = recommended.and_then(|t| {
        super::measured(sweep, p.backend)
            .into_iter()
            .find(|m| m.throttle == t)
            .and_then(|m| m.p99_ms)
    });
    let knee = backend.and_then(|b| b.knee);
    let n_star = backend
        .and_then(|b| b.scaling.as_ref())
        .and_then(|s| s.optimum);
    let failed_share = match p.items {
        0 => 0.0,
        items => (p.failed + p.timed_out) as f64 / items as f64,
    };
    let budget = super::error_budget(sweep.spec.sweep.slo.as_ref());
    let level = knee.or(best_throttle);
    let reference = reference_early_late(steps, p.wall_s);
    let over_level =
        settled >= track.lanes as f64 || level.is_some_and(|level| settled > 2.0 * level as f64);
    let missed = missed(
        settled,
        track.lanes,
        level,
        (p.goodput_per_s, best_goodput),
        (failed_share, budget),
    )
    .map(|why| {
        let cause = unheard_signal(&track.limiter, p).or_else(|| reference_followed(reference));
        match cause.filter(|_| over_level) {
            Some(cause) => format!("{why}: {cause}"),
            None => why,
        }
    });
    let behaviour = behaviour(&Movement {
        steps,
        settled,
        bounds: track.limiter.bounds(track.lanes),
        settle_s,
        swing_sd,
        wall_s: p.wall_s,
    });
    let mut j = LimiterJudgement {
        label: p.backend_label(),
        backend: p.backend,
        limiter: track.limiter.name(),
        settled,
        lanes: track.lanes,
        settle_s,
        swing_sd,
        swing_min,
        swing_max,
        goodput_per_s: p.goodput_per_s,
        failed_share,
        p99_ms: p.lat_p99_ms,
        best_throttle,
        best_goodput_per_s: best_goodput,
        recommended_throttle: recommended,
        recommended_p99_ms: recommended_p99,
        knee,
        n_star,
        reference_ms: reference,
        behaviour: Some(behaviour),
        missed,
        summary: String::new(),
    };
    j.summary = sentence(&j);
    Some(j)
}

/// Why a limiter that settled at `settled` missed the level the sweep found, if it did;
/// `goodput` is its own and the best static one, `failed` its failed share and the budget.
fn missed(
    settled: f64,
    lanes: usize,
    level: Option<usize>,
    (goodput, best_goodput): (f64, Option<f64>),
    (failed_share, budget): (f64, f64),
) -> Option<String> {
    let mut why = Vec::new();
    if let Some(level) = level {
        let level = level as f64;
        // Held at the most lanes it could use, it limited nothing: a miss wherever the knee is.
        if settled >= lanes as f64 {
            let past = if settled > 2.0 * level {
                ", past twice the knee"
            } else {
                ""
            };
            why.push(format!("pinned at its ceiling of {lanes} lanes{past}"));
        } else if settled > 2.0 * level {
            why.push(format!("settled past twice the knee ({level})"));
        } else if settled < level / 2.0 {
            why.push(format!("settled below half the knee ({level})"));
        }
    }
    if let Some(best) = best_goodput.filter(|b| *b > 0.0) {
        let share = goodput / best;
        if share < GOODPUT_SHARE {
            why.push(format!(
                "kept {:.0} % of the best static goodput",
                share * 100.0
            ));
        }
    }
    if failed_share > budget {
        why.push(format!(
            "{} % of its items failed, over the {} % budget",
            percent(failed_share * 100.0),
            percent(budget * 100.0)
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

fn sentence(j: &LimiterJudgement) -> String {
    let mut s = format!("{} settled at {}", j.label, fmt_limit(j.settled));
    match (j.knee, j.n_star) {
        (Some(k), Some(n)) => s.push_str(&format!(" (knee {k}, USL N* {n})")),
        (Some(k), None) => s.push_str(&format!(" (knee {k})")),
        _ => {}
    }
    match j.settle_s {
        Some(t) => s.push_str(&format!(", within 10 % of it after {t:.2} s")),
        None => s.push_str(", never within 10 % of it"),
    }
    s.push_str(&format!(
        ", then swung {}–{} (sd {:.1})",
        j.swing_min, j.swing_max, j.swing_sd
    ));
    if let Some(b) = j.behaviour {
        s.push_str(&format!(": {b}"));
    }
    if let Some((early, late)) = j.reference_ms {
        s.push_str(&format!(
            "; its reference latency {early:.1} ms at first, {late:.1} ms over the second half"
        ));
    }
    s.push_str(&format!("; goodput {:.1}/s", j.goodput_per_s));
    if let (Some(best), Some(t)) = (j.best_goodput_per_s, j.best_throttle) {
        let share = if best > 0.0 {
            format!(" = {:.0} %", j.goodput_per_s / best * 100.0)
        } else {
            String::new()
        };
        s.push_str(&format!("{share} of the best static ({best:.1}/s at {t})"));
    }
    if j.failed_share > 0.0 {
        s.push_str(&format!(
            ", {} % of its items failed",
            percent(j.failed_share * 100.0)
        ));
    }
    if let Some(p99) = j.p99_ms {
        s.push_str(&format!(", p99 {p99:.1} ms"));
        if let (Some(static_p99), Some(t)) = (j.recommended_p99_ms, j.recommended_throttle) {
            s.push_str(&format!(
                " against {static_p99:.1} ms at the recommended static {t}"
            ));
        }
    }
    match &j.missed {
        None => s.push_str(": found the level."),
        Some(why) => s.push_str(&format!(": MISSED the level — {why}.")),
    }
    s
}

fn fmt_limit(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A limit over time from (seconds, limit) pairs, for the tests here and in limiter_behaviour.
#[cfg(test)]
pub(super) fn steps(list: &[(f64, usize)]) -> Vec<LimitStep> {
    list.iter()
        .map(|&(t_s, limit)| LimitStep::new(t_s, limit))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settled_limit_is_the_time_weighted_median_of_the_second_half() {
        // 20 until 1 s, then 12 for 2.5 s, 13 for 0.5 s, over a 4 s point: the second half
        // holds 12 for 1.5 s and 13 for 0.5 s.
        let s = steps(&[(0.0, 20), (1.0, 12), (3.5, 13)]);
        assert_eq!(settled_limit(&s, 4.0), 12.0);
        assert_eq!(first_near(&s, 12.0), Some(1.0));
        let (sd, lo, hi) = swing(&s, 1.0, 4.0);
        assert_eq!((lo, hi), (12, 13));
        // 12 for 2.5 s and 13 for 0.5 s: sd = √(p(1−p)) with p = 1/6.
        assert!((sd - (5.0f64 / 36.0).sqrt()).abs() < 1e-9, "{sd}");
    }

    #[test]
    fn a_limit_that_never_moved_is_its_start() {
        let s = steps(&[(0.0, 20)]);
        assert_eq!(settled_limit(&s, 2.0), 20.0);
        assert_eq!(swing(&s, 0.0, 2.0), (0.0, 20, 20));
    }

    #[test]
    fn a_miss_names_its_reason() {
        let clean = (0.0, 0.01);
        assert_eq!(missed(12.0, 32, Some(8), (390.0, Some(400.0)), clean), None);
        let pinned = missed(32.0, 32, Some(8), (395.0, Some(400.0)), clean).unwrap();
        assert_eq!(
            pinned,
            "pinned at its ceiling of 32 lanes, past twice the knee"
        );
        // Twice a knee of 16 is the ceiling itself: still pinned, not "past twice the knee".
        let at_ceiling = missed(32.0, 32, Some(16), (395.0, Some(400.0)), clean).unwrap();
        assert_eq!(at_ceiling, "pinned at its ceiling of 32 lanes");
        let low = missed(2.0, 32, Some(8), (100.0, Some(400.0)), clean).unwrap();
        assert!(low.contains("below half the knee"), "{low}");
        assert!(low.contains("kept 25 %"), "{low}");
        // At the level with all the goodput, but most of what it sent was refused.
        let refused = missed(9.0, 32, Some(8), (393.0, Some(392.0)), (0.876, 0.01)).unwrap();
        assert_eq!(refused, "88 % of its items failed, over the 1 % budget");
        assert_eq!(
            missed(9.0, 32, Some(8), (393.0, Some(392.0)), (0.01, 0.01)),
            None,
            "a budget is inclusive, as for static throttles"
        );
    }
}
