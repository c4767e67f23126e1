//! Tests of the overall recommendation, and the measured curves and sentence helpers the
//! explanation's tests share.

use super::*;
use crate::analysis::explain::summary;
use crate::analysis::pick::{pick_throttle, recommend};
use crate::analysis::{scaling, SloOutcome, UslFit};

pub(crate) fn row(throttle: usize, x: f64, p99: f64) -> Measured {
    Measured {
        throttle,
        goodput_per_s: x,
        p99_ms: Some(p99),
        ..Measured::default()
    }
}

pub(crate) fn backend(
    kind: BackendKind,
    rows: &[Measured],
    pick: Option<usize>,
) -> BackendAnalysis {
    with_fit(kind, rows, pick, scaling::fit(&points(rows)))
}

fn points(rows: &[Measured]) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|m| (m.throttle as f64, m.goodput_per_s))
        .collect()
}

pub(crate) fn with_fit(
    kind: BackendKind,
    rows: &[Measured],
    pick: Option<usize>,
    fit: Option<UslFit>,
) -> BackendAnalysis {
    let points = points(rows);
    let peak = rows
        .iter()
        .max_by(|a, b| a.goodput_per_s.total_cmp(&b.goodput_per_s))
        .unwrap();
    BackendAnalysis {
        backend: kind,
        usl: fit,
        knee: pick,
        kneedle: None,
        scaling: fit.map(|f| scaling::describe(&f, &points, scaling::FitWeights::Equal)),
        peak_throttle: Some(peak.throttle),
        peak_throughput_per_s: peak.goodput_per_s,
        peak_cpu_cores: 1.9,
        retrograde: false,
        slo: None,
        recommended: pick,
    }
}

/// The sentence for the throttle `run`'s rule picks from `rows`, with its fit.
pub(crate) fn say(rows: &[Measured], slo: Option<&Slo>) -> (usize, String, BackendAnalysis) {
    let pick = pick_throttle(rows, slo).unwrap();
    let b = backend(BackendKind::Thread, rows, Some(pick));
    let m = rows.iter().find(|m| m.throttle == pick).unwrap();
    (pick, summary(&b, rows, m, slo, 2), b)
}

/// The part told from the measurements alone: everything before the fit's evidence.
pub(crate) fn measured_part(sentence: &str) -> &str {
    let end = sentence
        .find("The USL fit")
        .or(sentence.find("Too few throttles"))
        .unwrap_or(sentence.len());
    &sentence[..end]
}

/// Whether the measured part of the sentence names `n` as a number of its own anywhere (not as
/// part of a larger figure such as 16 or 6.5).
pub(crate) fn names(sentence: &str, n: usize) -> bool {
    measured_part(sentence)
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .any(|w| w == n.to_string())
}

/// A server of capacity 6 at 30 ms per request, swept by doubling: linear to 6, flat after,
/// latency growing with the queue past 6.
pub(crate) fn capacity_six() -> Vec<Measured> {
    [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| {
            let busy = n.min(6) as f64;
            row(n, busy / 0.030, 40.0 * (n as f64 / 6.0).max(1.0))
        })
        .collect()
}

#[test]
fn the_better_backend_wins_and_ties_go_to_the_lower_throttle() {
    let plateau = |level: f64| -> Vec<Measured> {
        [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| row(n, (n as f64).min(2.0) * level, n as f64))
            .collect()
    };
    let a = plateau(100.0);
    let b = plateau(60.0);
    let backends = [
        backend(BackendKind::Thread, &a, Some(2)),
        backend(BackendKind::Async, &b, Some(2)),
    ];
    let r = recommend(&backends, &[a.clone(), b], None, 2).unwrap();
    assert_eq!((r.backend, r.throttle), (BackendKind::Thread, 2));
    assert!(
        r.summary.starts_with("Use throttle 2 on thread: goodput stops growing at 2 in flight, at about 200 successful items/s; past 2 only latency grows (p99 2.00 ms at 2, 32.0 ms at 32). At 2: 100% of the best goodput measured (200 successful items/s), p99 2.00 ms. The USL fit"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.ends_with("kept 1.90 of 2 cores busy."),
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
    let a = capacity_six();
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
