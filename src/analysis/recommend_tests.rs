//! Tests of the recommendation and of the sentence that explains it.

use super::*;
use crate::analysis::pick::recommend;
use crate::analysis::{scaling, SloOutcome};

fn row(throttle: usize, x: f64, p99: f64) -> Measured {
    Measured {
        throttle,
        goodput_per_s: x,
        p99_ms: Some(p99),
        ..Measured::default()
    }
}

fn backend(kind: BackendKind, rows: &[Measured], pick: Option<usize>) -> BackendAnalysis {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|m| (m.throttle as f64, m.goodput_per_s))
        .collect();
    let fit = scaling::fit(&points);
    let weights = scaling::FitWeights::Equal;
    let peak = rows
        .iter()
        .max_by(|a, b| a.goodput_per_s.total_cmp(&b.goodput_per_s))
        .unwrap();
    BackendAnalysis {
        backend: kind,
        usl: fit,
        knee: pick,
        kneedle: None,
        scaling: fit.map(|f| scaling::describe(&f, &points, weights)),
        peak_throttle: Some(peak.throttle),
        peak_throughput_per_s: peak.goodput_per_s,
        peak_cpu_cores: 1.9,
        retrograde: false,
        slo: None,
        recommended: pick,
    }
}

fn plateau(level: f64) -> Vec<Measured> {
    [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, (n as f64).min(2.0) * level, n as f64))
        .collect()
}

#[test]
fn the_better_backend_wins_and_ties_go_to_the_lower_throttle() {
    let a = plateau(100.0);
    let b = plateau(60.0);
    let backends = [
        backend(BackendKind::Thread, &a, Some(2)),
        backend(BackendKind::Async, &b, Some(2)),
    ];
    let r = recommend(&backends, &[a.clone(), b], None, 2).unwrap();
    assert_eq!((r.backend, r.throttle), (BackendKind::Thread, 2));
    assert!(
        r.summary.starts_with("Use throttle 2 on thread: 100% of peak goodput (200 successful items/s), p99 2.00 ms; contention-limited (σ="),
        "{}",
        r.summary
    );
    assert!(
        r.summary.ends_with("kept 1.90 of 2 cores busy"),
        "{}",
        r.summary
    );

    let c = plateau(99.0);
    let backends = [
        backend(BackendKind::Thread, &a, Some(8)),
        backend(BackendKind::Async, &c, Some(2)),
    ];
    let r = recommend(&backends, &[a, c], None, 2).unwrap();
    assert_eq!((r.backend, r.throttle), (BackendKind::Async, 2));
}

#[test]
fn an_unmet_slo_points_at_the_lowest_p99() {
    let slo: Slo = "p99=0.5ms".parse().unwrap();
    let a = plateau(100.0);
    let mut b = backend(BackendKind::Thread, &a, None);
    b.slo = Some(SloOutcome::default());
    let r = recommend(&[b], &[a], Some(&slo), 2).unwrap();
    assert_eq!(r.throttle, 1);
    assert!(
        r.summary
            .starts_with("No throttle meets the SLO (p99=0.5ms)"),
        "{}",
        r.summary
    );
}

#[test]
fn a_hard_limit_is_stated_as_measured_not_as_the_fit_overshoots_it() {
    // A service of capacity 8: linear to 8, flat after. The USL smooths the corner into
    // a peak above anything measured; the sentence must give the measured level.
    let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| {
            row(
                n,
                50.0 * (n.min(8) as f64) * if n > 8 { 0.985 } else { 1.0 },
                1.0,
            )
        })
        .collect();
    let b = backend(BackendKind::Thread, &rows, Some(8));
    let why = explain(&b, &rows, 2);
    assert!(why.contains("measured flat at about 400 items/s"), "{why}");
    let model = ceiling(b.usl.as_ref().unwrap(), b.scaling.as_ref().unwrap().optimum);
    assert!(model > 420.0, "the fit overshoots a hard corner: {model}");

    // Still rising at the last throttle: no plateau was measured, the fit's level stands.
    let rising: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, 50.0 * n as f64 / (1.0 + 0.02 * (n as f64 - 1.0)), 1.0))
        .collect();
    let b = backend(BackendKind::Thread, &rising, Some(32));
    assert!(
        !explain(&b, &rising, 2).contains("measured flat"),
        "{}",
        explain(&b, &rising, 2)
    );
}

#[test]
fn a_peaked_curve_is_explained_by_coherency() {
    let truth = UslFit {
        sigma: 0.02,
        kappa: 0.01,
        lambda: 50.0,
    };
    let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, truth.throughput(n as f64), 1.0))
        .collect();
    let mut b = backend(BackendKind::Thread, &rows, Some(8));
    b.retrograde = true;
    let why = explain(&b, &rows, 2);
    assert!(
        why.starts_with("coherency-limited: the fit peaks at throttle 10"),
        "{why}"
    );
}

#[test]
fn a_peak_the_fit_cannot_place_is_left_to_the_knee() {
    // Noisy: N* comes out near 73, but its 95% interval (scipy: −2487 to 2634) spans far more
    // than the sweep 1..32, so the sentence must not lean on it.
    let rows: Vec<Measured> = [
        (1, 50.0),
        (2, 140.0),
        (4, 120.0),
        (8, 300.0),
        (16, 250.0),
        (32, 330.0),
    ]
    .iter()
    .map(|&(n, x)| row(n, x, 1.0))
    .collect();
    let b = backend(BackendKind::Thread, &rows, Some(8));
    assert!(
        b.scaling.as_ref().unwrap().optimum.is_some(),
        "{:?}",
        b.scaling
    );
    let why = explain(&b, &rows, 2);
    assert!(why.contains("cannot place the peak"), "{why}");
    assert!(why.contains("is wider than the sweep (1 to 32)"), "{why}");
    assert!(
        why.contains("going by the knee, throughput reaches 95% of its peak at throttle 8"),
        "{why}"
    );
    // A knee at the highest throttle: still rising, so say that more may pay.
    let b = backend(BackendKind::Thread, &rows, Some(32));
    let why = explain(&b, &rows, 2);
    assert!(
        why.contains(
            "still rising at the highest throttle measured (32): higher throttles may still pay"
        ),
        "{why}"
    );
}
