//! The open loop's verdict: which offered rates a backend sustained — goodput at least 99 % of
//! the offered rate, failures within the error budget, and the SLO met by latency counted from
//! each item's intended start — the highest of them, and, when the run measured the closed loop
//! too, the sentence that links the two by Little's law (items in flight = rate × time in the
//! system).

use crate::backend::BackendKind;
use crate::format::{number, percent, rate as per_s};
use crate::results::findings::{BackendAnalysis, OpenLoopAnalysis, RateOutcome};
use crate::results::{error_pct, median, median_of, PointResult, SweepResult};

use super::slo::{error_budget, Measured, Slo};

/// Share of the offered rate a sustained rate's goodput reaches.
pub const SUSTAINED_SHARE: f64 = 0.99;

/// One entry per backend with open-loop points, in the spec's backend order.
pub fn analyze(sweep: &SweepResult, closed: &[BackendAnalysis]) -> Vec<OpenLoopAnalysis> {
    let slo = sweep.spec.sweep.slo.as_ref();
    sweep
        .spec
        .sweep
        .backends
        .iter()
        .filter_map(|&backend| {
            let rates = outcomes(&sweep.open_loop, backend, slo);
            if rates.is_empty() {
                return None;
            }
            let best = rates.iter().rev().find(|r| r.sustained);
            let max_sustainable_per_s = best.map(|r| r.offered_per_s);
            let knee = closed.iter().find(|b| b.backend == backend);
            let summary = summary(backend, &rates, best, knee, slo);
            Some(OpenLoopAnalysis {
                backend,
                rates,
                max_sustainable_per_s,
                summary,
            })
        })
        .collect()
}

/// Each offered rate of `backend`, ascending, with its verdict.
pub fn outcomes(
    points: &[PointResult],
    backend: BackendKind,
    slo: Option<&Slo>,
) -> Vec<RateOutcome> {
    let mut offered: Vec<f64> = points
        .iter()
        .filter(|p| p.backend == backend)
        .filter_map(|p| p.offered_per_s)
        .collect();
    offered.sort_by(f64::total_cmp);
    offered.dedup();
    offered
        .into_iter()
        .map(|rate| {
            let reps: Vec<&PointResult> = points
                .iter()
                .filter(|p| p.backend == backend && p.offered_per_s == Some(rate))
                .collect();
            verdict(rate, &reps, slo)
        })
        .collect()
}

fn verdict(rate: f64, reps: &[&PointResult], slo: Option<&Slo>) -> RateOutcome {
    let med = |f: fn(&PointResult) -> f64| {
        median(&mut reps.iter().map(|p| f(p)).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    let med_opt = |f: fn(&PointResult) -> Option<f64>| median_of(reps.iter().map(|p| f(p)));
    let ok: u64 = reps.iter().map(|p| p.ok).sum();
    let bad: u64 = reps.iter().map(|p| p.failed + p.timed_out).sum();
    let goodput = med(|p| p.goodput_per_s);
    let measured = Measured {
        throttle: reps.first().map_or(0, |p| p.throttle),
        goodput_per_s: goodput,
        p50_ms: med_opt(|p| p.lat_p50_ms),
        p90_ms: med_opt(|p| p.lat_p90_ms),
        p99_ms: med_opt(|p| p.lat_p99_ms),
        p999_ms: med_opt(|p| p.lat_p999_ms),
        error_share: if ok + bad > 0 {
            bad as f64 / (ok + bad) as f64
        } else {
            0.0
        },
        ..Measured::default()
    };
    let why_not = if goodput < SUSTAINED_SHARE * rate {
        Some(format!(
            "goodput {}/s is {}% of the offered rate",
            number(goodput),
            percent(goodput / rate * 100.0)
        ))
    } else if !measured.within_budget(error_budget(slo)) {
        Some(format!(
            "{}% of items failed, over the {}% budget",
            percent(measured.error_share * 100.0),
            percent(error_budget(slo) * 100.0)
        ))
    } else {
        slo.filter(|s| !s.met(&measured))
            .map(|s| format!("{} from the intended start", s.quote(&measured)))
    };
    RateOutcome {
        offered_per_s: rate,
        goodput_per_s: goodput,
        error_pct: error_pct(ok, bad),
        lat_p50_ms: measured.p50_ms,
        lat_p99_ms: measured.p99_ms,
        svc_p99_ms: med_opt(|p| p.svc_p99_ms),
        in_flight: med(|p| p.achieved_concurrency),
        late: reps.iter().map(|p| p.late).sum(),
        sustained: why_not.is_none(),
        why_not,
    }
}

fn summary(
    backend: BackendKind,
    rates: &[RateOutcome],
    best: Option<&RateOutcome>,
    closed: Option<&BackendAnalysis>,
    slo: Option<&Slo>,
) -> String {
    let Some(best) = best else {
        let first = &rates[0];
        return format!(
            "On {backend} no offered rate was sustained: at the lowest, {}/s, {}.",
            per_s(first.offered_per_s),
            first.why_not.as_deref().unwrap_or("it was not")
        );
    };
    let p99 = best.lat_p99_ms.map_or_else(
        || "no latency".to_string(),
        |ms| format!("p99 {} ms", number(ms)),
    );
    let mut text = format!(
        "On {backend} the highest sustainable rate measured is {}/s ({} from the intended start",
        per_s(best.offered_per_s),
        p99
    );
    if let Some(next) = rates
        .iter()
        .find(|r| r.offered_per_s > best.offered_per_s && !r.sustained)
    {
        text.push_str(&format!(
            "; at {}/s {}",
            per_s(next.offered_per_s),
            next.why_not.as_deref().unwrap_or("it was not sustained")
        ));
    }
    text.push_str(").");
    if let Some(closed) = closed {
        text.push(' ');
        text.push_str(&littles_law(best, closed, slo));
    }
    text
}

/// "To serve R/s with p99 ≤ X you need at least N in flight; the closed-loop knee is N*; the
/// highest sustainable rate measured is R*." N is Little's law on the measured service time.
fn littles_law(best: &RateOutcome, closed: &BackendAnalysis, slo: Option<&Slo>) -> String {
    let rate = best.offered_per_s;
    let needed = best.in_flight.ceil().max(1.0);
    let bound = match (slo.and_then(Slo::headline), best.lat_p99_ms) {
        (Some(b), _) => format!(" with {} ≤ {}", b.metric.name(), b.show(b.limit)),
        (None, Some(ms)) => format!(" with p99 ≤ {} ms", number(ms)),
        (None, None) => String::new(),
    };
    let service_ms = if best.goodput_per_s > 0.0 {
        best.in_flight / best.goodput_per_s * 1000.0
    } else {
        0.0
    };
    let knee = closed.knee.map_or_else(
        || "the closed loop found no knee".to_string(),
        |k| format!("the closed-loop knee is {k}"),
    );
    format!(
        "By Little's law, to serve {}/s{bound} you need at least {needed:.0} in flight ({}/s × {} ms in service); {knee}.",
        per_s(rate),
        per_s(rate),
        number(service_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture;

    fn open(rate: f64, goodput: f64, p99: f64, in_flight: f64) -> PointResult {
        let mut p = fixture::point(BackendKind::Thread, 256, 1, 10.0);
        p.offered_per_s = Some(rate);
        p.goodput_per_s = goodput;
        p.lat_p99_ms = Some(p99);
        p.achieved_concurrency = in_flight;
        p
    }

    #[test]
    fn the_highest_rate_kept_up_with_and_within_the_slo_is_the_sustainable_one() {
        let mut sweep = fixture::sweep(10.0, 1);
        sweep.spec.sweep.slo = Some("p99=50ms".parse().unwrap());
        sweep.open_loop = vec![
            open(100.0, 100.0, 12.0, 1.0),
            open(200.0, 199.5, 30.0, 2.0),
            open(400.0, 398.0, 80.0, 4.0),
            open(800.0, 600.0, 900.0, 8.0),
        ];
        let closed = crate::analysis::analyze(&sweep).backends;
        let found = analyze(&sweep, &closed);
        let thread = found
            .iter()
            .find(|b| b.backend == BackendKind::Thread)
            .unwrap();
        assert_eq!(thread.max_sustainable_per_s, Some(200.0));
        assert!(!thread.rates[2].sustained, "p99 80 ms breaks the 50 ms SLO");
        assert!(thread.rates[3].why_not.as_deref().unwrap().contains("75%"));
        let text = &thread.summary;
        assert!(
            text.contains("highest sustainable rate measured is 200/s"),
            "{text}"
        );
        assert!(text.contains("at least 2 in flight"), "{text}");
        assert!(text.contains("closed-loop knee is"), "{text}");
    }

    #[test]
    fn goodput_short_of_the_offered_rate_is_not_sustained_even_when_fast() {
        let rows = outcomes(&[open(1000.0, 950.0, 2.0, 1.0)], BackendKind::Thread, None);
        assert!(!rows[0].sustained);
        assert!(rows[0].why_not.as_deref().unwrap().contains("95%"));
    }
}
