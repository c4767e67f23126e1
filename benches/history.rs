//! Cost of reading a history of 30 runs and drawing it: the runs are the test fixture's
//! 3-backend × 8-throttle sweep repeated three times, each run a little off the last (±1 %
//! run to run, ±0.5 % between repetitions) and the thread backend 10 % slower at high
//! throttles from run 19 on. Measured: judging the latest run, finding the steps, the three
//! charts (SVG + PNG), the HTML page and the console table. Target: under 2 s.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use throttlebench::analysis::history::{self, HistoryRun, Options};
use throttlebench::backend::BackendKind;
use throttlebench::analysis::noise::StoredRun;
use throttlebench::report::charts::history::render_all;
use throttlebench::report::{history as text, history_html, json};
use throttlebench::results::SweepResult;

const RUNS: usize = 30;
const STEP_AT: usize = 18;

/// A random factor around 1 with the given spread.
fn wobble(rng: &mut StdRng, spread: f64) -> f64 {
    1.0 + rng.random_range(-spread..spread)
}

fn series(template: &SweepResult) -> Vec<HistoryRun> {
    let mut rng = StdRng::seed_from_u64(30);
    (0..RUNS)
        .map(|i| {
            let mut sweep = template.clone();
            sweep.spec.sweep.repeat = 3;
            sweep.started_at = format!("2026-11-{:02}T03:{:02}:00+00:00", i / 2 + 1, i);
            sweep.environment.git_commit = Some(format!("{:012x}", rng.random::<u64>() >> 16));
            let run = wobble(&mut rng, 0.01);
            sweep.points = (1..=3)
                .flat_map(|rep| template.points.iter().map(move |p| (rep, p.clone())))
                .map(|(rep, mut p)| {
                    let mut f = run * wobble(&mut rng, 0.005);
                    if i >= STEP_AT && p.backend == BackendKind::Thread && p.throttle >= 16 {
                        f *= 0.9;
                    }
                    p.repetition = rep;
                    p.goodput_per_s *= f;
                    p.throughput_per_s *= f;
                    for lat in [&mut p.lat_p50_ms, &mut p.lat_p99_ms, &mut p.lat_mean_ms] {
                        *lat = lat.map(|v| v / f);
                    }
                    p
                })
                .collect();
            sweep.analysis = Some(throttlebench::analysis::analyze(&sweep));
            HistoryRun {
                stored: StoredRun {
                    sweep,
                    noise: Vec::new(),
                },
                source: format!("run-{i}"),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let template = json::load(Path::new("tests/fixtures/run-3x8")).expect("fixture");
    let runs = series(&template);
    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    group.bench_function(
        "30 runs, 3 backends x 8 throttles: judged, charts and page",
        |b| {
            b.iter(|| {
                let h = history::analyse(&runs, &Options::default()).expect("history");
                let charts = render_all(&h).expect("charts");
                let page = history_html::page(&h, &charts);
                (page.len(), text::console(&h).len())
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
