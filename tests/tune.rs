//! End-to-end: `throttlebench tune` against a sleep workload with a bounded resource (capacity 8,
//! thrashing past it) finds the optimum in a fraction of the runs of a full sweep.

mod common;

use common::tb;
use predicates::prelude::*;

fn analysis(dir: &std::path::Path) -> serde_json::Value {
    common::results(dir)["analysis"].clone()
}

#[test]
fn tune_finds_a_bounded_resource_optimum_in_few_runs() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args([
        "tune",
        "--kind",
        "sleep",
        "--param",
        "ms=10",
        "--param",
        "capacity=8",
        "--param",
        "penalty_ms=2",
        "--items",
        "48",
        "--backend",
        "thread",
        "--max-limit",
        "256",
        "--out",
    ])
    .arg(&dir)
    .assert()
    .success()
    .stderr(predicate::str::contains(
        "probe 1 (ramp): thread at throttle 1",
    ))
    .stdout(predicate::str::contains("Use throttle"))
    .stdout(predicate::str::contains(
        "vs 257 for a full 1..256 integer sweep",
    ));

    let a = analysis(&dir);
    let throttle = a["recommendation"]["throttle"].as_u64().unwrap();
    // Within one power-of-two step of the true optimum, 8.
    assert!((4..=16).contains(&throttle), "recommended {throttle}");
    let runs = a["search"]["runs"].as_u64().unwrap();
    let full = a["search"]["full_sweep_runs"].as_u64().unwrap();
    assert_eq!(full, 257);
    assert!(runs * 10 <= full * 4, "{runs} runs of {full}");
    // The same report folder as `run`.
    for file in ["results.csv", "results.json", "summary.md"] {
        assert!(dir.join(file).exists(), "{file}");
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, runs + 1);
}

#[test]
fn tune_respects_an_slo() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // Capacity 4: beyond it items queue, so latency grows with the throttle.
    tb().args([
        "tune",
        "--kind",
        "sleep",
        "--param",
        "ms=10",
        "--param",
        "capacity=4",
        "--items",
        "64",
        "--slo",
        "p99=45ms",
        "--max-limit",
        "64",
        "--out",
    ])
    .arg(&dir)
    .assert()
    .success()
    .stdout(predicate::str::contains("SLO"));
    let a = analysis(&dir);
    assert_eq!(a["slo"], "p99=45ms");
    // Capacity 4 and a latency bound that queueing past 16 breaks.
    let throttle = a["recommendation"]["throttle"].as_u64().unwrap();
    assert!((2..=16).contains(&throttle), "recommended {throttle}");
    let feasible = a["backends"][0]["slo"]["feasible"].as_array().unwrap();
    assert!(!feasible.is_empty());
}

#[test]
fn tune_refuses_what_it_cannot_do() {
    for args in [
        vec!["tune", "--kind", "noop", "--limits", "1,2"],
        vec!["tune", "--kind", "noop", "--max-limit", "0"],
        vec!["tune", "--kind", "noop", "--backend", "thread,async"],
        vec!["tune", "--kind", "noop", "--slo", "p99=later"],
    ] {
        tb().args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::is_match("^error: [^\n]+\n$").unwrap());
    }
}
