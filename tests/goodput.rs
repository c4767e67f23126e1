//! End-to-end: a failed item is never work. A shedding service is not recommended past its
//! capacity, an all-failing baseline stops the run, an all-failing run compares as a
//! regression, a point with no successful item has no latency, and CPU columns cover the timed
//! window only.

mod common;

use std::path::Path;

use assert_cmd::Command;
use common::{results, tb as throttlebench};
use predicates::prelude::*;

fn points<'a>(json: &'a serde_json::Value, backend: &'a str) -> Vec<&'a serde_json::Value> {
    json["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["backend"] == backend)
        .collect()
}

/// A server of capacity 4 with no queue answers 503 to everything beyond 4 in flight: fast
/// failures. They must not pass for throughput, and no throttle above 4 may be recommended.
#[test]
fn a_shedding_service_is_not_recommended_past_its_capacity() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let assert = throttlebench()
        .args(["run", "--kind", "http"])
        .args(["--param", "server_capacity=4", "--param", "server_queue=0"])
        .args([
            "--param",
            "server_latency_ms=20",
            "--limits",
            "1,2,4,8,16,32",
        ])
        .args(["--backend", "thread", "--slo", "p99=50ms", "--items", "200"])
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let json = results(&dir);
    let recommended = &json["analysis"]["recommendation"];
    if recommended.is_null() {
        assert!(stdout.contains("No recommendation"), "{stdout}");
    } else {
        let throttle = recommended["throttle"].as_u64().unwrap();
        assert!(throttle <= 4, "recommended {throttle}: {stdout}");
    }
    let thread = points(&json, "thread");
    let shedding: Vec<_> = thread
        .iter()
        .filter(|p| p["throttle"].as_u64().unwrap() >= 16)
        .collect();
    assert!(
        shedding.iter().all(|p| p["failed"].as_u64().unwrap() > 0),
        "the server did not shed: {shedding:?}"
    );
    for p in &thread {
        // Speedup is goodput over the baseline's: at most the server's 4 slots (with slack for
        // a noisy machine), never the 503s' speed.
        let speedup = p["speedup"].as_f64().unwrap_or(0.0);
        assert!(speedup <= 5.5, "speedup {speedup} at {}", p["throttle"]);
        let goodput = p["goodput_per_s"].as_f64().unwrap();
        let throughput = p["throughput_per_s"].as_f64().unwrap();
        assert!(goodput <= throughput + 1e-9);
    }
    assert!(
        stdout.contains("failed more than 1% of items"),
        "the over-budget throttles are named: {stdout}"
    );
    // Idle slots at a shedding throttle are the failures' doing, not a pool too small.
    assert!(
        !stdout
            .lines()
            .any(|l| l.contains("Little's law") && l.contains(" 8 (")),
        "{stdout}"
    );
}

/// A sweep of 1 ms sleep items that all fail, into `dir`.
fn failing_sweep(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = throttlebench();
    cmd.args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=1",
        "--param",
        "fail_rate=1",
    ])
    .args(["--limits", "1,2", "--items", "10", "--backend", "thread"])
    .args(extra)
    .arg("--out")
    .arg(dir);
    cmd
}

/// No baseline item succeeds: the run stops after the baseline with one line naming the
/// error kind and a sample message, exit 1, and keeps what it measured.
#[test]
fn an_all_failing_baseline_stops_the_run_unless_failures_are_ignored() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    failing_sweep(&dir, &[]).assert().code(1).stderr(
        predicate::str::contains("no item of the sequential baseline succeeded")
            .and(predicate::str::contains("simulated ×10"))
            .and(predicate::str::contains("--ignore-failures")),
    );
    let json = results(&dir);
    let all = json["points"].as_array().unwrap();
    assert_eq!(all.len(), 1, "only the baseline was measured");
    let baseline = &all[0];
    assert_eq!(baseline["ok"], 0);
    for column in [
        "lat_p50_ms",
        "lat_p99_ms",
        "lat_mean_ms",
        "speedup",
        "efficiency",
    ] {
        assert!(baseline[column].is_null(), "{column}: {}", baseline[column]);
    }
    assert_eq!(baseline["error_pct"], 100.0);
    assert!(baseline["failed_lat_p50_ms"].as_f64().unwrap() >= 1.0);
    // The CSV leaves the missing figures empty, never 0.
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(&cells[10..18], ["", "", "", "", "", "", "", ""], "{row}");

    let ignored = out.path().join("ignored");
    failing_sweep(&ignored, &["--ignore-failures"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "No recommendation: every throttle failed more than 1% of items",
        ));
    assert_eq!(results(&ignored)["points"].as_array().unwrap().len(), 3);
}

/// A baseline against the same sweep with every item failing: a regression (exit 1), and
/// nothing is called an improvement, though failing items are "faster".
#[test]
fn an_all_failing_comparison_is_a_regression_and_nothing_improves() {
    let out = tempfile::tempdir().unwrap();
    let run = |name: &str, fail_rate: &str| {
        let dir = out.path().join(name);
        throttlebench()
            .args(["run", "--kind", "sleep", "--param", "ms=20"])
            .args(["--param", &format!("fail_rate={fail_rate}")])
            .args(["--limits", "1,2", "--items", "20", "--repeat", "3"])
            .args([
                "--backend",
                "thread",
                "--ignore-failures",
                "--quiet",
                "--out",
            ])
            .arg(&dir)
            .assert()
            .success();
        dir
    };
    let (base, failing) = (run("base", "0"), run("failing", "1"));
    let assert = throttlebench()
        .arg("compare")
        .arg(&base)
        .arg(&failing)
        .arg("--allow-param-change")
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(!stdout.contains("improved"), "{stdout}");
    assert!(stdout.contains("error rate"), "{stdout}");
    assert!(stdout.contains("regressed"), "{stdout}");
}

/// CPU columns cover the timed window: a long CPU-bound warm-up is set apart in `setup_cpu_s`,
/// on threads and on worker processes (whose own start-up reaches us only when reaped).
#[test]
fn cpu_columns_leave_out_warm_up_and_start_up() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args(["run", "--kind", "cpu", "--param", "rounds=1000"])
        .args(["--limits", "1", "--items", "4", "--warmup", "100"])
        .args(["--backend", "thread,process", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let json = results(&dir);
    for backend in ["thread", "process"] {
        let p = points(&json, backend)[0];
        let window = p["cpu_user_s"].as_f64().unwrap() + p["cpu_sys_s"].as_f64().unwrap();
        let setup = p["setup_cpu_s"].as_f64().unwrap();
        // 100 warm-up items against 4 measured: the window's CPU is a small part of it.
        assert!(
            setup > 10.0 * window,
            "{backend}: setup {setup} s, window {window} s"
        );
    }
}
