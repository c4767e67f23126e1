//! End-to-end: `throttlebench tune` against a sleep workload with a bounded resource (capacity 8,
//! thrashing past it) finds the optimum in a fraction of the runs of a full sweep.

use assert_cmd::Command;
use predicates::prelude::*;

fn tb() -> Command {
    Command::cargo_bin("throttlebench").unwrap()
}

fn analysis(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["analysis"].clone()
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

/// The throttle `run` or `tune` recommended, and the sentence that explains it.
fn recommended(dir: &std::path::Path) -> (u64, String) {
    let a = analysis(dir);
    let r = &a["recommendation"];
    (
        r["throttle"].as_u64().unwrap_or_else(|| panic!("{a}")),
        r["summary"].as_str().unwrap().to_string(),
    )
}

/// The built-in server at 30 ± 10 ms per request serving 6 at a time: about 200 requests/s
/// from 6 in flight on, with latency growing past it.
const CAPACITY_SIX: [&str; 10] = [
    "--kind",
    "http",
    "--param",
    "server_latency_ms=30",
    "--param",
    "server_jitter_ms=10",
    "--param",
    "server_capacity=6",
    "--backend",
    "thread",
];

#[test]
fn tune_answers_runs_question_on_a_capacity_six_server() {
    let out = tempfile::tempdir().unwrap();
    let go = |command: &str, extra: &[&str], name: &str| {
        let dir = out.path().join(name);
        tb().arg(command)
            .args(CAPACITY_SIX)
            .args(["--items", "90", "--slo", "p99=100ms", "--quiet", "--out"])
            .arg(&dir)
            .args(extra)
            .assert()
            .success();
        let (throttle, summary) = recommended(&dir);
        (throttle, summary, dir)
    };
    let (tuned, summary, dir) = go("tune", &[], "tune");
    assert!(
        (5..=8).contains(&tuned),
        "tune recommended {tuned}: {summary}"
    );
    // It looked where the answer is, not for the SLO's edge on the plateau.
    let probes: Vec<u64> = analysis(&dir)["search"]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(probes.iter().any(|p| (5..=7).contains(p)), "{probes:?}");
    assert!(!probes.iter().any(|p| (9..16).contains(p)), "{probes:?}");

    let (doubling, summary, _) = go("run", &["--limits", "1..32"], "doubling");
    assert!(
        (5..=8).contains(&doubling),
        "run recommended {doubling}: {summary}"
    );
    // A doubling sweep measured nothing between 4 and 8: its sentence names no throttle there.
    let measured = &summary[..summary.find("The USL fit").unwrap_or(summary.len())];
    let numbers: Vec<&str> = measured
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .collect();
    for unmeasured in ["3", "5", "6", "7"] {
        assert!(!numbers.contains(&unmeasured), "{unmeasured}: {summary}");
    }
    // The same question asked of every throttle around the capacity: the same answer.
    let (every, summary, _) = go("run", &["--limits", "1,2,3,4,5,6,7,8,10,12,16"], "every");
    assert!(
        every.abs_diff(tuned) <= 1,
        "run over every throttle: {every}, tune: {tuned}: {summary}"
    );
}

#[test]
fn tune_and_run_agree_on_the_bounded_pool() {
    let out = tempfile::tempdir().unwrap();
    let go = |command: &str| {
        let dir = out.path().join(command);
        tb().args([
            command,
            "workloads/bounded-pool.toml",
            "--items",
            "100",
            "--quiet",
        ])
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
        recommended(&dir)
    };
    let (run, run_says) = go("run");
    let (tune, tune_says) = go("tune");
    assert!(
        run.abs_diff(tune) <= 1,
        "run {run}: {run_says}\ntune {tune}: {tune_says}"
    );
    assert!((7..=9).contains(&tune), "tune {tune}: {tune_says}");
}
