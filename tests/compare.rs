//! End-to-end: saved baselines, `compare` verdicts and exit codes, refusals, unmatched points and
//! the CI export files, on tiny real sleep sweeps (a few milliseconds each).

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn tb(dir: &Path) -> Command {
    let mut cmd = common::tb();
    cmd.current_dir(dir);
    cmd
}

/// A small thread sweep of `ms`-long sleeps into `dir/out`.
fn run_cmd(dir: &Path, out: &str, ms: u32, limits: &str, repeat: u32) -> Command {
    let mut cmd = tb(dir);
    cmd.args([
        "run",
        "--kind",
        "sleep",
        "--backend",
        "thread",
        "--items",
        "6",
        "-q",
    ])
    .args(["--param", &format!("ms={ms}"), "--limits", limits])
    .args(["--repeat", &repeat.to_string(), "--out", out]);
    cmd
}

/// Runs that sweep and returns its folder.
fn sweep(dir: &Path, out: &str, ms: u32, limits: &str, repeat: u32, extra: &[&str]) -> PathBuf {
    run_cmd(dir, out, ms, limits, repeat)
        .args(extra)
        .assert()
        .success();
    dir.join(out)
}

#[test]
fn a_run_compared_with_itself_is_unchanged_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let run = sweep(dir.path(), "a", 2, "2", 3, &["--save-baseline", "main"]);
    assert!(dir.path().join("baselines/main.json").is_file());
    tb(dir.path())
        .args(["compare", "main", run.to_str().unwrap()])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("No change beyond noise\n"))
        .stdout(predicate::str::contains("unchanged"))
        .stdout(predicate::str::contains("regressed").not());
}

#[test]
fn a_real_slowdown_is_regressed_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let fast = sweep(dir.path(), "fast", 10, "2", 5, &[]);
    let slow = sweep(dir.path(), "slow", 30, "2", 5, &[]);
    let out = tb(dir.path())
        .args(["compare", fast.to_str().unwrap(), slow.to_str().unwrap()])
        .args(["--allow-param-change", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let c: Value = serde_json::from_slice(&out).unwrap();
    for metric in ["goodput", "latency_p50"] {
        for backend in ["sequential", "thread"] {
            let row = c["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["metric"] == metric && r["backend"] == backend)
                .unwrap();
            // Items three times as long: the change is measured whatever the machine does; the
            // verdict is "regressed" unless a burst of load on this shared machine explains it.
            let change = row["change_pct"].as_f64().unwrap();
            if metric == "goodput" {
                assert!(change < -30.0, "{row}");
            } else {
                assert!(change > 50.0, "{row}");
            }
            assert!(
                ["regressed", "within_noise"].contains(&row["verdict"].as_str().unwrap()),
                "{row}"
            );
        }
    }
    assert!(c["regressions"].as_u64().unwrap() >= 1, "{c}");
    let notes = c["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("'ms'")),
        "{notes:?}"
    );
    // The same comparison never fails the build with --fail-on never, and the other way round
    // it is an improvement.
    tb(dir.path())
        .args(["compare", fast.to_str().unwrap(), slow.to_str().unwrap()])
        .args(["--allow-param-change", "--fail-on", "never"])
        .assert()
        .code(0);
    tb(dir.path())
        .args(["compare", slow.to_str().unwrap(), fast.to_str().unwrap()])
        .args(["--allow-param-change", "--format", "markdown"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("### 🟢 throttlebench: "))
        .stdout(predicate::str::contains("improvement"));
}

#[test]
fn run_with_baseline_writes_the_comparison_and_fails_on_regression() {
    let dir = tempfile::tempdir().unwrap();
    // Items three times as long, so that no burst of load on a shared machine excuses it.
    sweep(dir.path(), "base", 10, "2", 3, &["--save-baseline", "b"]);
    run_cmd(dir.path(), "cur", 30, "2", 3)
        .args(["--baseline", "b", "--allow-param-change"])
        .assert()
        .code(1);
    let md = std::fs::read_to_string(dir.path().join("cur/comparison.md")).unwrap();
    assert!(md.starts_with("### 🔴 throttlebench: "), "{md}");
    assert!(md.contains("regression"), "{md}");
    assert!(dir.path().join("cur/comparison.json").is_file());
}

#[test]
fn incompatible_runs_are_refused_naming_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let a = sweep(dir.path(), "a", 2, "2", 1, &[]);
    let b = sweep(dir.path(), "b", 3, "2", 1, &[]);
    tb(dir.path())
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot compare these runs: workload parameter 'ms' differs (baseline 2.0, current 3.0)",
        ));
    // A baseline that cannot match is refused before the run starts: no folder is made.
    tb(dir.path())
        .args([
            "run",
            "--kind",
            "sleep",
            "--backend",
            "thread",
            "--items",
            "12",
            "-q",
        ])
        .args(["--param", "ms=2", "--limits", "2", "--out", "never"])
        .args(["--baseline", a.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "items per point differ (baseline 6 items, current 12 items)",
        ));
    assert!(!dir.path().join("never").exists());
}

#[test]
fn points_on_one_side_only_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let a = sweep(dir.path(), "a", 2, "1,2", 1, &[]);
    let b = sweep(dir.path(), "b", 2, "2,4", 1, &[]);
    tb(dir.path())
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .args(["--fail-on", "never"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Missing in the current run: thread ×1.",
        ))
        .stdout(predicate::str::contains(
            "New in the current run (no baseline): thread ×4.",
        ))
        .stdout(predicate::str::contains("no statistical test is possible"))
        .stdout(predicate::str::contains(
            "p99 not compared where a repetition measured fewer than 1000 items",
        ))
        .stdout(predicate::str::contains("--repeat 5 or more"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    tb(dir.path())
        .args(["compare", "nope", "nada"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'nope' is neither a run folder, a results file nor a saved baseline",
        ));
    tb(dir.path())
        .args(["compare", "a", "b", "--threshold", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a threshold"));
    tb(dir.path())
        .args(["run", "--kind", "sleep", "--export", "junit=x.xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown export format 'junit'"));
}

#[test]
fn exports_follow_their_documented_shapes() {
    let dir = tempfile::tempdir().unwrap();
    sweep(
        dir.path(),
        "a",
        2,
        "1,2",
        2,
        &[
            "--name",
            "demo",
            "--export",
            "github-bigger=big.json",
            "--export",
            "github-smaller=small.json",
            "--export",
            "bencher=bmf.json",
        ],
    );
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    // github-action-benchmark custom tools: [{name, unit, value, range?, extra?}, …]
    let big = read("big.json");
    let big = big.as_array().unwrap();
    assert_eq!(big.len(), 3, "baseline + thread ×1 + thread ×2");
    assert_eq!(big[2]["name"], "demo thread x2 goodput");
    assert_eq!(big[2]["unit"], "ok/s");
    assert!(big.iter().all(|e| e["value"].as_f64().unwrap() > 0.0));
    let small = read("small.json");
    let small = small.as_array().unwrap();
    assert_eq!(
        small.len(),
        12,
        "p50, p99, peak RSS and error rate of 3 points"
    );
    for e in small {
        assert!(e["name"].is_string() && e["unit"].is_string() && e["value"].is_number());
        assert!(e["range"].is_string() && e["extra"].is_string());
    }
    // Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}
    let bmf = read("bmf.json");
    let bench = bmf["demo thread x2"].as_object().unwrap();
    for measure in ["throughput", "latency", "latency-p99", "peak-rss-mb"] {
        let m = &bench[measure];
        let (lo, v, hi) = (
            m["lower_value"].as_f64().unwrap(),
            m["value"].as_f64().unwrap(),
            m["upper_value"].as_f64().unwrap(),
        );
        assert!(lo <= v && v <= hi, "{measure}: {m}");
    }
    // Latency in nanoseconds: a 2 ms sleep is about 2e6.
    assert!(bench["latency"]["value"].as_f64().unwrap() > 1.9e6);
    // compare exports the current run.
    tb(dir.path())
        .args(["compare", "a", "a", "--export", "bencher=again.json"])
        .assert()
        .code(0);
    // The same run, read back from results.json (numbers to within float printing).
    let again = read("again.json");
    let close = |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6;
    for (name, measures) in bmf.as_object().unwrap() {
        for (measure, m) in measures.as_object().unwrap() {
            assert!(
                close(&again[name][measure]["value"], &m["value"]),
                "{name} {measure}"
            );
        }
    }
}
