//! Tests of the throttle search: on curves of every shape it must give the answer `run`'s rule
//! gives on a sweep of every throttle, in a fraction of the probes.

use super::*;

/// Goodput and whether the SLO holds, per throttle.
type Curve = fn(usize) -> (f64, bool);

fn probe(throttle: usize, (goodput_per_s, feasible): (f64, bool)) -> Probe {
    Probe {
        measured: Measured {
            throttle,
            goodput_per_s,
            ..Measured::default()
        },
        feasible,
    }
}

fn run(max: usize, f: impl Fn(usize) -> (f64, bool)) -> Outcome {
    search(max, |n, _| Ok(Some(probe(n, f(n))))).unwrap()
}

/// What `run`'s rule picks from a sweep of every throttle 1..=max of the same curve.
fn every_throttle(max: usize, f: impl Fn(usize) -> (f64, bool)) -> Option<usize> {
    let all: Vec<Probe> = (1..=max).map(|n| probe(n, f(n))).collect();
    smallest_near_best(all.iter().filter(|p| p.feasible).map(|p| &p.measured))
}

#[test]
fn a_capacity_plateau_gets_the_answer_of_a_full_sweep_in_few_probes() {
    for cap in [3usize, 6, 8, 13, 40, 100] {
        let f = move |n: usize| (n.min(cap) as f64 * 10.0, true);
        let out = run(256, f);
        assert_eq!(out.answer, every_throttle(256, f), "cap {cap}: {out:?}");
        assert!(out.probes.len() <= 20, "cap {cap}: {:?}", out.probes);
        assert!(out.complete);
    }
    let out = run(256, |n| (n.min(6) as f64 * 10.0, true));
    assert_eq!(out.answer, Some(6));
    assert!(out.story.contains("narrowed 4..8 to 6"), "{}", out.story);
}

#[test]
fn a_peaked_curve_gets_the_answer_of_a_full_sweep() {
    // Rising to a smooth peak at `top` and falling after it (a USL curve with coherency
    // costs). Near such a peak a 2% higher best moves "the smallest throttle within 95%"
    // by several throttles, and no machine measures 2%: when the probes' neighbours of the
    // best fell by less than the 5% band, the peak is not chased, and the answer is one
    // whose goodput is within 5% of the full sweep's answer.
    for top in [5usize, 12, 22, 37, 90, 150] {
        let f = move |n: usize| {
            let (n, t) = (n as f64, top as f64);
            let x = 1000.0 * n / (1.0 + 0.01 * (n - 1.0) + (0.99 / (t * t)) * n * (n - 1.0));
            (x, true)
        };
        let out = run(256, f);
        let full = every_throttle(256, f).unwrap();
        let found = out.answer.unwrap();
        assert!(
            f(found).0 >= PEAK_SHARE * f(full).0 && found.abs_diff(full) <= (full / 5).max(1),
            "peak {top}: {found} against {full} via {:?}",
            out.probes
        );
        // A tenth of the 256 throttles at most, a real fall's golden section included.
        assert!(out.probes.len() <= 26, "peak {top}: {:?}", out.probes);
    }
    // A pool of 8 that thrashes when oversubscribed (workloads/bounded-pool.toml).
    let thrash = |n: usize| {
        let waiting = n.saturating_sub(8) as f64;
        (n.min(8) as f64 / (0.020 + 0.002 * waiting), true)
    };
    assert_eq!(run(256, thrash).answer, Some(8));
}

#[test]
fn noise_on_a_plateau_moves_the_answer_by_at_most_one() {
    // ±3% of fixed pseudo-noise on a capacity-6 plateau.
    let noisy: Curve = |n| {
        let wobble = ((n as f64 * 12.9898).sin() * 43_758.545).rem_euclid(1.0) * 0.06 - 0.03;
        (n.min(6) as f64 * 33.0 * (1.0 + wobble), true)
    };
    let out = run(256, noisy);
    let full = every_throttle(256, noisy).unwrap();
    assert!(out.answer.unwrap().abs_diff(full) <= 1, "{out:?} vs {full}");
    assert!((5..=7).contains(&out.answer.unwrap()), "{out:?}");
}

#[test]
fn the_slo_edge_is_chased_only_while_goodput_grows() {
    // Goodput keeps growing; the SLO holds up to 50: the edge sets the best goodput.
    let rising = |n: usize| (n as f64, n <= 50);
    let out = run(256, rising);
    assert!(out.story.contains("holds up to 50"), "{}", out.story);
    assert_eq!(out.answer, every_throttle(256, rising));
    assert_eq!(out.answer, Some(48));
    assert!(out.probes.len() <= 18, "{:?}", out.probes);

    // A capacity-6 plateau whose latency breaks the SLO from 13 on: the edge only adds
    // latency, so the search spends its probes below 8, where the answer is.
    let plateau = |n: usize| (n.min(6) as f64 * 33.0, n <= 12);
    let out = run(256, plateau);
    assert_eq!(out.answer, Some(6), "{out:?}");
    assert!(
        !out.probes.iter().any(|n| (9..16).contains(n)),
        "{:?}",
        out.probes
    );
    assert!(out.story.contains("had stopped growing"), "{}", out.story);
}

#[test]
fn stops_at_the_maximum_and_says_so() {
    let out = run(100, |n| (n as f64, true));
    assert_eq!(&out.probes[..8], &[1, 2, 4, 8, 16, 32, 64, 100]);
    assert!(out.story.contains("raise --max-limit"), "{}", out.story);
    assert_eq!(out.answer, Some(95));
}

#[test]
fn an_slo_broken_at_one_stops_at_once() {
    let out = run(256, |_| (1.0, false));
    assert_eq!(out.probes, vec![1]);
    assert_eq!(out.answer, None);
}

#[test]
fn an_interruption_ends_the_search() {
    let mut calls = 0;
    let out = search(256, |n, _| {
        calls += 1;
        Ok((n < 8).then(|| probe(n, (n as f64, true))))
    })
    .unwrap();
    assert!(!out.complete);
    assert_eq!(out.probes, vec![1, 2, 4]);
    assert_eq!(calls, 4);
    assert_eq!(out.story, "interrupted");
}
