//! The analysis of whole sweeps measured on the fake backend: the curves are exact, so the
//! fit, knee, recommendation and Little's law are checked against known answers, every run
//! alike, without sleeping.

use std::time::Duration;

use super::table::SummaryMarkdown;
use super::Exporter;
use crate::backend::BackendKind::Thread;
use crate::sweep::fake::{spec, Fake};

#[test]
fn a_bounded_resource_gets_a_recommendation_and_a_fit() {
    // 5 ms items through 4 slots: 200 items/s alone, linear to 800/s at 4, flat after.
    let sweep = Fake::bounded(5.0, 4, 0.0).run(&spec(&[Thread], &[1, 2, 4, 8, 16, 32], 64, 1));
    let a = sweep.analysis.as_ref().unwrap();
    let throttle = a.recommendation.as_ref().unwrap().throttle;
    assert!((2..=8).contains(&throttle), "recommended {throttle}");
    let lines = a.lines().join("\n");
    assert!(
        lines.contains("Use throttle") && lines.contains("USL σ="),
        "{lines}"
    );
    let b = &a.backends[0];
    assert_eq!(b.backend, Thread);
    assert_eq!(b.knee, Some(4));
    // The fit describes this workload: about one item per 5 ms alone, and a limit near the
    // capacity's throughput (a peak or a ceiling), not linear growth. The reference fit weighs
    // every point alike, so on this hard corner it trades the lone throttle-1 point for the
    // plateau: λ lands above the measured rate (about 1.4× on workloads/bounded-pool.toml).
    let usl = b.usl.unwrap();
    assert!(
        usl.sigma > 0.0 || usl.kappa > 0.0,
        "a flat top is contention: {usl:?}"
    );
    assert!((140.0..360.0).contains(&usl.lambda), "λ {}", usl.lambda);
    let scaling = b.scaling.as_ref().unwrap();
    let level = scaling
        .predicted_peak_per_s
        .or(scaling.ceiling_per_s)
        .unwrap();
    assert!((560.0..1280.0).contains(&level), "the fit's top {level}");
    assert!((b.peak_throughput_per_s - 800.0).abs() < 1e-6);
    assert_eq!(a.littles_law.len(), 7);
    let summary = String::from_utf8(SummaryMarkdown.serialize(&sweep).unwrap()).unwrap();
    assert!(summary.contains("**Analysis**") && summary.contains("Use throttle"));
}

#[test]
fn the_slo_holds_the_recommendation_below_its_latency_bound() {
    // Throughput grows linearly while latency grows 10 ms per throttle: p99 (≈ 1.1× the mean
    // here) stays within 35 ms up to throttle 3.
    let fake = Fake::new(|n| 100.0 * n as f64).latency(|n| Duration::from_millis(10 * n as u64));
    let mut spec = spec(&[Thread], &[1, 2, 4, 8], 40, 1);
    spec.sweep.slo = Some("p99=35ms".parse().unwrap());
    let sweep = fake.run(&spec);
    let a = sweep.analysis.as_ref().unwrap();
    assert_eq!(a.slo_met, Some(true));
    let slo = a.backends[0].slo.as_ref().unwrap();
    assert_eq!(slo.feasible, [1, 2]);
    assert_eq!(a.recommendation.as_ref().unwrap().throttle, 2);
}

#[test]
fn the_recommendation_names_only_what_was_measured() {
    // Capacity 6 swept by doubling: the limit lies between 4 and 8, and 6 was never measured.
    let sweep = Fake::bounded(20.0, 6, 0.0).run(&spec(&[Thread], &[1, 2, 4, 8, 16, 32], 96, 1));
    let recommendation = sweep
        .analysis
        .as_ref()
        .unwrap()
        .recommendation
        .clone()
        .unwrap();
    assert_eq!(recommendation.throttle, 8);
    let summary = recommendation.summary;
    assert!(
        summary.starts_with(
            "Use throttle 8 on thread: goodput stops growing between 4 and 8 in flight, at about "
        ),
        "{summary}"
    );
    // The measured part of the sentence, before the fit's evidence, names no throttle that
    // was not measured: not the capacity, nor the fit's optimum.
    let measured = &summary[..summary.find("The USL fit").unwrap_or(summary.len())];
    assert!(
        !measured.contains(" 6 ") && !measured.contains(" 6,"),
        "{summary}"
    );
    let optimum = sweep.analysis.as_ref().unwrap().backends[0]
        .scaling
        .as_ref()
        .and_then(|s| s.optimum);
    if let Some(n) = optimum.filter(|n| ![1, 2, 4, 8, 16, 32].contains(n)) {
        assert!(!measured.contains(&format!("{n} in flight")), "{summary}");
    }
}
