//! Which limiter to copy, per backend: of the limiters that found the level, the one with the
//! lowest p99 (each kept at least 90 % of the best static goodput, so latency is what sets them
//! apart); when none found it, the static throttle the analysis recommends, said plainly.

use crate::backend::BackendKind;
use crate::results::limited::LimiterJudgement;

/// One sentence per backend that ran a limiter, in the order the judgements came.
pub fn choices(judgements: &[LimiterJudgement]) -> Vec<String> {
    let mut backends: Vec<BackendKind> = Vec::new();
    for j in judgements {
        if !backends.contains(&j.backend) {
            backends.push(j.backend);
        }
    }
    backends
        .into_iter()
        .map(|b| {
            let on: Vec<&LimiterJudgement> = judgements.iter().filter(|j| j.backend == b).collect();
            choice(b, &on)
        })
        .collect()
}

fn choice(backend: BackendKind, on: &[&LimiterJudgement]) -> String {
    let found: Vec<&LimiterJudgement> = on.iter().copied().filter(|j| j.missed.is_none()).collect();
    // Every judgement on a backend carries that backend's recommended static throttle.
    let static_one = on.iter().find_map(|j| {
        j.recommended_throttle
            .map(|t| (format!("the static {t}"), j.recommended_p99_ms))
    });
    let best = found.iter().min_by(|a, b| p99_order(a.p99_ms, b.p99_ms));
    match (best, static_one) {
        (Some(best), static_one) => {
            let p99 = best
                .p99_ms
                .map_or_else(String::new, |p| format!(", {p:.1} ms"));
            let against = match static_one {
                Some((s, Some(p))) => format!(", where {s} had {p:.1} ms"),
                _ => String::new(),
            };
            format!(
                "{backend}: {} of {} limiters found the level; of them {} had the lowest \
                 p99{p99}{against}.",
                found.len(),
                on.len(),
                best.limiter
            )
        }
        (None, Some((s, p99))) => {
            let p99 = p99.map_or_else(String::new, |p| format!(" (p99 {p:.1} ms)"));
            format!("{backend}: {}; use {s}{p99}.", none_found(on.len()))
        }
        (None, None) => format!("{backend}: {}.", none_found(on.len())),
    }
}

fn none_found(limiters: usize) -> String {
    match limiters {
        1 => "the limiter did not find the level".to_string(),
        n => format!("none of {n} limiters found the level"),
    }
}

/// Lower p99 first; a limiter without one (no item succeeded) last.
fn p99_order(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(backend: BackendKind, limiter: &str, p99: f64, missed: bool) -> LimiterJudgement {
        LimiterJudgement {
            label: format!("{backend}+{limiter}"),
            backend,
            limiter: limiter.into(),
            settled: 12.0,
            lanes: 64,
            settle_s: Some(0.5),
            swing_sd: 1.0,
            swing_min: 10,
            swing_max: 14,
            goodput_per_s: 380.0,
            failed_share: 0.0,
            p99_ms: Some(p99),
            best_throttle: Some(32),
            best_goodput_per_s: Some(392.0),
            recommended_throttle: Some(8),
            recommended_p99_ms: Some(21.0),
            knee: Some(8),
            n_star: Some(18),
            reference_ms: None,
            behaviour: None,
            missed: missed.then(|| "settled past twice the knee (8)".to_string()),
            summary: String::new(),
        }
    }

    #[test]
    fn the_lowest_p99_of_those_that_found_the_level_is_chosen_per_backend() {
        let js = [
            judged(BackendKind::Async, "aimd", 10.0, true),
            judged(BackendKind::Async, "envoy", 61.0, false),
            judged(BackendKind::Async, "vector", 41.0, false),
            judged(BackendKind::Thread, "vegas", 163.0, true),
        ];
        let said = choices(&js);
        assert_eq!(
            said,
            [
                "async: 2 of 3 limiters found the level; of them vector had the lowest p99, \
                 41.0 ms, where the static 8 had 21.0 ms.",
                "thread: the limiter did not find the level; use the static 8 (p99 21.0 ms).",
            ]
        );
    }
}
