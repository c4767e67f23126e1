//! Tests of the sentence that explains a recommendation. Each rule is checked on data that
//! would expose a contradiction: a level placed where nothing was measured, a model figure
//! passed off as measured, a fall or a limit the data do not show.

use super::*;
use crate::analysis::pick::pick_throttle;
use crate::analysis::recommend::tests::{capacity_six, measured_part, names, row, say, with_fit};
use crate::backend::BackendKind;
use crate::format::number;

#[test]
fn a_doubling_sweep_places_the_limit_between_measured_throttles() {
    let rows = capacity_six();
    let slo: Slo = "p99=100ms".parse().unwrap();
    let (pick, text, b) = say(&rows, Some(&slo));
    assert_eq!(pick, 8);
    assert!(
        text.starts_with("Use throttle 8 on thread: goodput stops growing between 4 and 8 in flight, at about 200 successful items/s; past 8 only latency grows (p99 53.3 ms at 8, 213 ms at 32); the SLO breaks at 16 (p99 107 ms > 100 ms SLO). At 8: 100% of the best goodput measured (200 successful items/s), p99 53.3 ms ≤ 100 ms SLO. The USL fit (contention σ="),
        "{text}"
    );
    // Capacity 6 was never measured, nor the fit's optimum: the measured part names neither.
    let n = b.scaling.as_ref().unwrap().optimum.unwrap();
    for unmeasured in [5, 6, 7, n] {
        assert!(
            !names(&text, unmeasured) || rows.iter().any(|m| m.throttle == unmeasured),
            "{unmeasured}: {text}"
        );
    }
}

#[test]
fn a_fitted_peak_inside_the_sweep_that_the_data_do_not_show_is_called_the_models() {
    // A service of capacity 8: linear to 8, flat after. The USL smooths the corner into a
    // peak above anything measured, and a fall that was not measured.
    let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| {
            let flat = if n > 8 { 0.985 } else { 1.0 };
            row(n, 50.0 * (n.min(8) as f64) * flat, 1.0)
        })
        .collect();
    let (_, text, b) = say(&rows, None);
    let s = b.scaling.as_ref().unwrap();
    let model = model_level(b.usl.as_ref().unwrap(), s.optimum);
    assert!(model > 420.0, "the fit overshoots a hard corner: {model}");
    let part = measured_part(&text);
    assert!(
        part.contains(
            "goodput stops growing between 4 and 8 in flight, at about 400 successful items/s"
        ),
        "{text}"
    );
    assert!(!part.contains(&number(model)), "{text}");
    assert!(
        text.contains("which the measurements do not show up to 32: the smooth model rounds off a hard limit, 9% above the best measured (400 items/s at 8)"),
        "{text}"
    );
    let n = b.scaling.as_ref().unwrap().optimum.unwrap();
    assert!(
        !names(&text, n),
        "the fit's peak, {n}, is not a measured level: {text}"
    );
}

#[test]
fn a_fit_that_levels_off_below_a_measured_point_is_named_beside_it() {
    // A disk still speeding up at 32 (789 items/s) whose fit levels off at λ/σ = 711: the
    // sentence must quote the measured peak, and the model's level only as the model's.
    let rows: Vec<Measured> = [
        (1, 75.0),
        (2, 130.0),
        (4, 230.0),
        (8, 370.0),
        (16, 560.0),
        (32, 789.0),
    ]
    .iter()
    .map(|&(n, x)| row(n, x, 5.0))
    .collect();
    let fit = UslFit {
        sigma: 0.1,
        kappa: 0.0,
        lambda: 71.1,
    };
    let b = with_fit(BackendKind::Thread, &rows, Some(32), Some(fit));
    let text = summary(&b, &rows, &rows[5], None, 2);
    let part = measured_part(&text);
    assert!(
        part.contains("goodput was still growing at the highest throttle measured (560 successful items/s at 16, 789 at 32)"),
        "{text}"
    );
    assert!(
        part.contains("100% of the best goodput measured (789 successful items/s)"),
        "{text}"
    );
    assert!(!part.contains("711"), "{text}");
    assert!(
        text.contains(
            "levels off at λ/σ = 711 items/s, 10% below the best measured (789 items/s at 32): the fit underestimates"
        ),
        "{text}"
    );
}

#[test]
fn a_measured_fall_is_told_once_and_the_fit_agrees_with_it() {
    let truth = UslFit {
        sigma: 0.02,
        kappa: 0.01,
        lambda: 50.0,
    };
    let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, truth.throughput(n as f64), 1.0))
        .collect();
    let (pick, text, _) = say(&rows, None);
    assert_eq!(pick, 8);
    assert!(
        text.contains("goodput stops growing between 4 and 8 in flight, at about 235 successful items/s, and falls past 8 (to 139 at 32)"),
        "{text}"
    );
    assert_eq!(
        text.matches("fall").count(),
        2,
        "once measured, once the fit's: {text}"
    );
    // The data are exactly the model's: its peak at 10, which was not measured, is higher than
    // anything measured without the fit overshooting.
    assert!(
        text.contains("predicts a peak of 240 items/s at 10 in flight and a fall past it, as measured, 2% above the best measured (235 items/s at 8), at 10, a throttle not measured"),
        "{text}"
    );
}

#[test]
fn more_goodput_above_the_pick_is_said_to_break_the_slo() {
    // Goodput keeps growing; latency too: the SLO, not the curve, sets the pick.
    let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, 10.0 * n as f64, 10.0 * n as f64))
        .collect();
    let slo: Slo = "p99=100ms".parse().unwrap();
    let (pick, text, _) = say(&rows, Some(&slo));
    assert_eq!(pick, 8);
    assert!(
        text.contains("higher throttles measured more goodput (320 successful items/s at 32) but break the SLO (p99 320 ms > 100 ms SLO)"),
        "{text}"
    );
    assert!(
        text.contains("At 8: 25% of the best goodput measured"),
        "{text}"
    );
    assert_eq!(text.matches("SLO breaks").count(), 0, "told once: {text}");
}

#[test]
fn failures_above_the_pick_and_a_flat_curve_are_told_in_words() {
    let mut rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
        .iter()
        .map(|&n| row(n, 100.0 + n as f64 * 0.1, 10.0))
        .collect();
    rows[5].error_share = 0.2;
    let (pick, text, _) = say(&rows, None);
    assert_eq!(pick, 1);
    assert!(
        text.contains("goodput does not grow with concurrency: 1 in flight already gives 100 successful items/s, within 5% of the best measured (102)"),
        "{text}"
    );
    assert!(
        text.contains("past 1 neither goodput nor latency changes much (measured up to 16); at 32, 20% of items failed"),
        "{text}"
    );
}

#[test]
fn a_peak_the_fit_cannot_place_is_not_placed() {
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
    let (pick, text, b) = say(&rows, None);
    assert_eq!(pick, 32);
    assert!(
        b.scaling.as_ref().unwrap().optimum.is_some(),
        "{:?}",
        b.scaling
    );
    assert!(text.contains("cannot place a peak"), "{text}");
    assert!(text.contains("is wider than the sweep (1 to 32)"), "{text}");
    assert!(
        text.contains("goodput was still growing at the highest throttle measured (250 successful items/s at 16, 330 at 32)"),
        "{text}"
    );
    let n = b.scaling.as_ref().unwrap().optimum.unwrap();
    assert!(!names(&text, n), "{n}: {text}");
}

#[test]
fn without_a_fit_the_sentence_says_so_and_still_reads_the_points() {
    let rows = [row(1, 33.0, 30.0), row(4, 133.0, 31.0)];
    let b = with_fit(BackendKind::Thread, &rows, Some(4), None);
    let text = summary(&b, &rows, &rows[1], None, 2);
    assert!(
        text.starts_with("Use throttle 4 on thread: goodput was still growing at the highest throttle measured (33.0 successful items/s at 1, 133 at 4)"),
        "{text}"
    );
    assert!(
        text.contains("Too few throttles were measured for a scalability fit"),
        "{text}"
    );
}

#[test]
fn the_fits_level_is_judged_against_the_best_measured_point() {
    let throttles = [1, 2, 4, 8, 16, 32];
    let exact = |truth: UslFit| -> Vec<Measured> {
        throttles
            .iter()
            .map(|&n| row(n, truth.throughput(n as f64), 1.0))
            .collect()
    };
    let judged = |rows: &[Measured], fit: UslFit| {
        let pick = pick_throttle(rows, None).unwrap();
        let b = with_fit(BackendKind::Thread, rows, Some(pick), Some(fit));
        let m = rows.iter().find(|m| m.throttle == pick).unwrap();
        summary(&b, rows, m, None, 2)
    };
    // A peak at a measured throttle, data exactly the model's: in line.
    let peaked = UslFit {
        sigma: 0.0,
        kappa: 1.0 / 64.0,
        lambda: 50.0,
    };
    let text = judged(&exact(peaked), peaked);
    assert!(
        text.contains("predicts a peak of 213 items/s at 8 in flight and a fall past it, as measured, in line with the best measured (213 items/s at 8)"),
        "{text}"
    );
    // Still rising at 32: a ceiling above everything measured is where the sweep did not go.
    let rising = UslFit {
        sigma: 0.02,
        kappa: 0.0,
        lambda: 50.0,
    };
    let text = judged(&exact(rising), rising);
    assert!(
        text.contains("levels off at λ/σ = 2500 items/s, above the best measured (988 items/s at 32): the sweep stopped before the limit"),
        "{text}"
    );
    // Flat at 400 from 8 on, and a fit that runs far above the measured throttles: it
    // overshoots, and the sentence says so rather than quote its ceiling as a level.
    let flat: Vec<Measured> = throttles
        .iter()
        .map(|&n| row(n, 50.0 * n.min(8) as f64, 1.0))
        .collect();
    let high = UslFit {
        sigma: 0.1,
        kappa: 0.0,
        lambda: 100.0,
    };
    let text = judged(&flat, high);
    assert!(
        text.contains("levels off at λ/σ = 1000 items/s, 150% above the best measured (400 items/s at 8), more than its residual: the fit overshoots the measured limit"),
        "{text}"
    );
    assert!(!measured_part(&text).contains("1000"), "{text}");
}
