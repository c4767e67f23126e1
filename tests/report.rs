//! Reports: chart and HTML exporters on a fixed `results.json` fixture (a real 3-backend ×
//! 8-throttle run with failures and a per-item trace), and `throttlebench report RUN_DIR`.

mod common;

use std::path::{Path, PathBuf};

use common::tb;
use predicates::prelude::*;
use scraper::{Html, Selector};
use throttlebench::report::charts::{self, timeline::TimelineData};
use throttlebench::report::html::HtmlReport;
use throttlebench::report::{items, json, Exporter};
use throttlebench::SweepResult;

const FIXTURE: &str = "tests/fixtures/run-3x8";

fn fixture() -> SweepResult {
    json::load(Path::new(FIXTURE)).expect("fixture loads")
}

fn fixture_timeline(choice: &str) -> TimelineData {
    let rows = items::load(&Path::new(FIXTURE).join("items.jsonl")).unwrap();
    items::select(rows, choice.parse().unwrap()).unwrap()
}

/// A copy of the fixture folder, so `report` can write into it.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    for name in ["results.json", "items.jsonl"] {
        std::fs::copy(Path::new(FIXTURE).join(name), dir.join(name)).unwrap();
    }
    (temp, dir)
}

#[test]
fn every_chart_comes_as_svg_and_png_with_real_text() {
    let sweep = fixture();
    let timeline = fixture_timeline("thread:16");
    let files = charts::render_all(&sweep, Some(&timeline)).unwrap();
    let stems: Vec<&str> = files.iter().map(|f| f.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "throughput",
            "speedup",
            "latency",
            "memory",
            "distribution-thread",
            "distribution-async",
            "timeline"
        ]
    );
    for f in &files {
        assert!(f.svg.starts_with("<svg"), "{}", f.stem);
        assert!(f.svg.contains(&f.title), "{}: no title text", f.stem);
        let png = image::load_from_memory(&f.png).expect("a PNG");
        assert_eq!((png.width(), png.height()), (960, 540), "{}", f.stem);
        // The title is drawn with the embedded font: its strip holds dark pixels.
        let rgb = png.to_rgb8();
        let dark = (0..40)
            .flat_map(|y| (0..960).map(move |x| (x, y)))
            .filter(|&(x, y)| rgb.get_pixel(x, y).0.iter().all(|c| *c < 100))
            .count();
        assert!(
            dark > 200,
            "{}: title not drawn ({dark} dark pixels)",
            f.stem
        );
    }
    let svg = |stem: &str| &files.iter().find(|f| f.stem == stem).unwrap().svg;
    assert!(svg("throughput").contains("goodput (successful items/s)"));
    assert!(svg("latency").contains("latency (ms, log scale)"));
    assert!(svg("speedup").contains("ideal: min(N, items)"));
    assert!(svg("timeline").contains("failed"));
}

#[test]
fn a_fitted_curve_appears_once_the_analysis_has_one() {
    use throttlebench::analysis::{Analysis, BackendAnalysis, UslFit};
    let mut sweep = fixture();
    let series = charts::Series::of(&sweep);
    let plain = charts::render(&charts::speedup::Speedup::new(&sweep, &series)).unwrap();
    assert!(!plain.svg.contains("USL fit"));
    sweep.analysis = Some(Analysis {
        backends: vec![BackendAnalysis {
            backend: throttlebench::BackendKind::Thread,
            usl: Some(UslFit {
                sigma: 0.02,
                kappa: 0.0001,
                lambda: sweep.baseline_throughput_per_s.unwrap(),
            }),
            knee: Some(32),
            kneedle: None,
            scaling: None,
            peak_throttle: Some(32),
            peak_throughput_per_s: 0.0,
            peak_cpu_cores: 0.0,
            retrograde: false,
            slo: None,
            recommended: None,
        }],
        ..Analysis::default()
    });
    let fitted = charts::render(&charts::speedup::Speedup::new(&sweep, &series)).unwrap();
    assert!(fitted.svg.contains("thread USL fit"));
}

fn page(sweep: &SweepResult) -> (String, Html) {
    let files = charts::render_all(sweep, None).unwrap();
    let html = HtmlReport {
        charts: &files,
        timeline_note: Some("No per-item timeline".into()),
    };
    assert_eq!(html.file_name(), "index.html");
    let text = String::from_utf8(html.serialize(sweep).unwrap()).unwrap();
    let doc = Html::parse_document(&text);
    (text, doc)
}

#[test]
fn the_html_page_is_valid_and_self_contained() {
    let sweep = fixture();
    let (text, doc) = page(&sweep);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let count = |css: &str| doc.select(&Selector::parse(css).unwrap()).count();
    assert_eq!(count("figure svg"), 6);
    assert_eq!(count("script"), 0);
    // Results table: a header row and one row per (backend, throttle).
    let tables: Vec<_> = doc.select(&Selector::parse("table").unwrap()).collect();
    let results = tables
        .iter()
        .find(|t| t.text().any(|s| s == "goodput (ok/s)"))
        .expect("the results table");
    assert_eq!(
        results.select(&Selector::parse("tr").unwrap()).count(),
        sweep.summaries().len() + 1
    );
    for heading in [
        "Summary",
        "Recommendation",
        "Results",
        "Charts",
        "Environment",
        "Warnings",
        "Failures",
    ] {
        assert!(text.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(text.contains("No recommendation"));
    // Nothing is fetched: no links to style sheets, no images, no sources.
    for fetch in ["<link", "<img", "src=", "url("] {
        assert!(!text.contains(fetch), "{fetch}");
    }
    assert!(text.contains("fixture-host"));
}

#[test]
fn a_recommendation_replaces_the_placeholder() {
    use throttlebench::analysis::{Analysis, Recommendation};
    let mut sweep = fixture();
    sweep.analysis = Some(Analysis {
        recommendation: Some(Recommendation {
            backend: throttlebench::BackendKind::Thread,
            throttle: 32,
            summary: "95% of peak throughput & p99 within budget".into(),
        }),
        ..Analysis::default()
    });
    let (text, doc) = page(&sweep);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    assert!(text.contains("Throttle 32 on thread."));
    assert!(text.contains("peak throughput &amp; p99"));
    assert!(!text.contains("No recommendation"));
}

#[test]
fn names_from_the_spec_are_escaped() {
    let evil = "<script>alert(1)</script>";
    let mut sweep = fixture();
    sweep.spec.name = evil.into();
    sweep.spec.description = Some(format!("{evil} & more"));
    sweep.spec.workload.kind = evil.into();
    sweep.warnings.push(evil.into());
    sweep.points[1].failures[0].message = "<img src=x onerror=alert(2)>".into();
    let (text, doc) = page(&sweep);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    assert!(!text.to_lowercase().contains("<script"), "raw script tag");
    assert!(!text.contains("<img"));
    assert_eq!(
        doc.select(&Selector::parse("script, img").unwrap()).count(),
        0
    );
    let h1: String = doc
        .select(&Selector::parse("h1").unwrap())
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(h1, format!("throttlebench: {evil}"));
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn report_rebuilds_a_run_folder_from_its_results() {
    let (_temp, dir) = fixture_copy();
    tb().arg("report")
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("timeline of thread:16"));
    for stem in [
        "throughput",
        "speedup",
        "latency",
        "memory",
        "distribution-thread",
        "distribution-async",
        "timeline",
    ] {
        for ext in ["svg", "png"] {
            let path = dir.join("charts").join(format!("{stem}.{ext}"));
            assert!(path.metadata().unwrap().len() > 1000, "{}", path.display());
        }
    }
    for file in ["index.html", "summary.md", "results.csv", "failures.csv"] {
        assert!(dir.join(file).exists(), "{file}");
    }
    assert!(dir.join("histograms/thread-128.hgrm").exists());
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| thread | 128 |"), "{summary}");
}

#[test]
fn report_shows_the_timeline_asked_for_or_says_what_was_traced() {
    let (_temp, dir) = fixture_copy();
    tb().args(["report", "--timeline", "async:8"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("timeline of async:8"));
    let svg = std::fs::read_to_string(dir.join("charts/timeline.svg")).unwrap();
    assert!(svg.contains("async at throttle 8"));
    tb().args(["report", "--timeline", "async:64"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "traced points: async:8, thread:16",
        ));
    tb().args(["report", "--timeline", "async"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("must look like thread:8"));
}

#[test]
fn report_without_a_trace_says_how_to_get_a_timeline() {
    let (_temp, dir) = fixture_copy();
    std::fs::remove_file(dir.join("items.jsonl")).unwrap();
    tb().arg("report").arg(&dir).assert().success();
    assert!(!dir.join("charts/timeline.svg").exists());
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("run with --trace"));
}

#[test]
fn report_refuses_a_folder_without_results_in_one_line() {
    let temp = tempfile::tempdir().unwrap();
    let out = tb().arg("report").arg(temp.path()).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("results.json"), "{stderr}");
    tb().args(["report", "/nonexistent/run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a run folder"));
}

#[test]
fn a_run_writes_the_report_and_escapes_its_name() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("out");
    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=1",
        "--backend",
        "thread",
        "--limits",
        "1,2",
        "--items",
        "8",
        "--trace",
        "--quiet",
        "--name",
        "<script>alert(1)</script>",
        "--out",
    ])
    .arg(&dir)
    .assert()
    .success();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.to_lowercase().contains("<script"));
    assert!(Html::parse_document(&html).errors.is_empty());
    assert!(dir.join("charts/timeline.png").exists());
    assert!(dir.join("charts/throughput.svg").exists());
}

/// The fixture's async throttle 64 lies 30% under the curve of its other throttles: the
/// analysis leaves it out, the speedup chart draws it hollow, and the page names it and the fit.
#[test]
fn a_point_left_out_of_the_fit_is_drawn_hollow_and_named() {
    let mut sweep = fixture();
    sweep.analysis = Some(throttlebench::analysis::analyze(&sweep));
    let scaling = sweep.analysis.as_ref().unwrap().backends[1]
        .scaling
        .clone()
        .unwrap();
    assert_eq!(scaling.left_out[0].throttle, 64.0, "{scaling:?}");
    let series = charts::Series::of(&sweep);
    let chart = charts::render(&charts::speedup::Speedup::new(&sweep, &series)).unwrap();
    assert!(chart.svg.contains("async left out of the fit"));
    let (text, _) = page(&sweep);
    assert!(
        text.contains("least squares, equal weights"),
        "the page names the fit"
    );
    assert!(text.contains("95% confidence intervals"));
    assert!(text.contains("Left out of the fit, drawn hollow in the speedup chart: throttle 64"));
}
