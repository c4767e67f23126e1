//! Cost of the analysis that ends every sweep: the reference USL fit (grid start, then
//! Levenberg–Marquardt to convergence) on typical curves, the whole per-backend analysis
//! (stalled-point check by leave-one-out, intervals), and the knee finders. The requirement:
//! 1,000 fits of 12 points in under a second.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use throttlebench::analysis::scaling::{self, FitOptions, FitWeights};
use throttlebench::analysis::{knee, UslFit};

fn curve(throttles: &[usize]) -> Vec<(f64, f64)> {
    let truth = UslFit {
        sigma: 0.05,
        kappa: 0.002,
        lambda: 100.0,
    };
    throttles
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            // A fixed ±2% wobble, so the fit works as on measured data.
            let wobble = if i % 2 == 0 { 1.02 } else { 0.98 };
            (n as f64, truth.throughput(n as f64) * wobble)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let twelve = curve(&[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]);
    c.bench_function("usl_fit_12_points_x1000", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                black_box(scaling::fit(black_box(&twelve)));
            }
        })
    });
    let ten = curve(&[1, 2, 4, 8, 12, 16, 24, 32, 48, 64]);
    c.bench_function("usl_fit_10_points", |b| {
        b.iter(|| scaling::fit(black_box(&ten)))
    });
    c.bench_function("usl_fit_robust_10_points", |b| {
        b.iter(|| scaling::fit_robust(black_box(&ten), FitWeights::Equal))
    });
    c.bench_function("usl_analyse_12_points", |b| {
        b.iter(|| scaling::analyse(black_box(&twelve), FitOptions::default()))
    });
    let six = curve(&[1, 2, 4, 8, 16, 32]);
    c.bench_function("usl_fit_6_points", |b| {
        b.iter(|| scaling::fit(black_box(&six)))
    });
    let points: Vec<(usize, f64)> = ten.iter().map(|&(n, x)| (n as usize, x)).collect();
    c.bench_function("knee_and_kneedle_10_points", |b| {
        b.iter(|| {
            (
                knee::knee(black_box(&points)),
                knee::kneedle(black_box(&points)),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
