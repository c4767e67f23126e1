//! Cost of drawing every chart of a 3-backend × 8-throttle run (the test fixture: sequential,
//! thread and async at throttles 1…128, with a traced point for the timeline), SVG and PNG.
//! Target: under 2 s for all of them.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use throttlebench::report::charts::{self, Series};
use throttlebench::report::html::HtmlReport;
use throttlebench::report::{items, json, Exporter};

fn charts(c: &mut Criterion) {
    let dir = Path::new("tests/fixtures/run-3x8");
    let sweep = json::load(dir).expect("fixture");
    let rows = items::load(&dir.join("items.jsonl")).expect("trace");
    let timeline = items::select(rows, "thread:16".parse().expect("point")).expect("traced");
    let mut group = c.benchmark_group("charts");
    group.sample_size(10);
    group.bench_function("all charts and index.html, 3 backends x 8 throttles", |b| {
        b.iter(|| {
            let files = charts::render_all(&sweep, Some(&timeline)).expect("charts");
            let html = HtmlReport {
                charts: &files,
                timeline_note: None,
            };
            html.serialize(&sweep).expect("html")
        })
    });
    let series = Series::of(&sweep);
    group.bench_function("throughput chart alone", |b| {
        b.iter(|| charts::render(&charts::throughput::Throughput(&series)).expect("chart"))
    });
    group.finish();
}

criterion_group!(benches, charts);
criterion_main!(benches);
