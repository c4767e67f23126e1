//! End-to-end tests of `throttlebench run` and `workloads`: a real sweep, the CSV contract, and
//! every kind of bad input (one line on stderr, exit code 2, no report folder left behind).

mod common;

use common::tb as throttlebench;
use predicates::prelude::*;

const DESIGN_COLUMNS: &str = "workload,backend,throttle,repetition,items,ok,failed,timed_out,wall_s,throughput_per_s,\
speedup,efficiency,lat_mean_ms,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,cpu_user_s,cpu_sys_s,\
rss_before_mb,rss_after_mb,mem_delta_mb,peak_rss_mb,max_inflight,startup_ms,retried,goodput_per_s,error_pct,\
rx_bytes,tx_bytes,rx_mb_per_s,disk_bytes_per_item,disk_mb_per_s,disk_iops,worker_rss_mb,own_peak_rss_mb,\
offered_per_s,late,svc_p50_ms,svc_p90_ms,svc_p99_ms,slots,late_start_ms,overran";

fn read_rows(dir: &std::path::Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    assert_eq!(
        reader
            .headers()
            .unwrap()
            .iter()
            .collect::<Vec<_>>()
            .join(","),
        DESIGN_COLUMNS
    );
    reader.records().map(|r| r.unwrap()).collect()
}

#[test]
fn a_sleep_sweep_writes_every_point_with_the_design_columns() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args([
            "run", "--kind", "sleep", "--param", "ms=20", "--limits", "1,10", "--items", "40",
        ])
        .args(["--backend", "thread,async", "--out"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("goodput (ok/s)")
                .and(predicate::str::contains("errors (%)"))
                .and(predicate::str::contains("Report:")),
        );
    let rows = read_rows(&dir);
    // sequential + thread×2 + async×2
    assert_eq!(rows.len(), 5);
    let get = |backend: &str, throttle: &str, col: usize| -> f64 {
        let row = rows
            .iter()
            .find(|r| &r[1] == backend && &r[2] == throttle)
            .unwrap();
        row[col].parse().unwrap()
    };
    for row in &rows {
        assert_eq!(&row[4], "40", "items");
        assert_eq!(&row[5], "40", "ok");
        assert_eq!(&row[28], "0.000", "error_pct");
        assert_eq!(
            &row[27], &row[9],
            "goodput = throughput when nothing failed"
        );
        // A claim to a running thread: well under a millisecond, but measured.
        let startup: f64 = row[25].parse().unwrap();
        assert!(startup > 0.0 && startup < 1.0, "startup_ms {startup}");
        assert_eq!(
            row[24].parse::<usize>().unwrap(),
            row[2].parse::<usize>().unwrap(),
            "max_inflight = throttle"
        );
    }
    // Generous ratio only: throttle 10 must be at least 5× faster than one at a time.
    assert!(
        get("thread", "10", 10) >= 5.0,
        "thread speedup {}",
        get("thread", "10", 10)
    );
    assert!(
        get("async", "10", 10) >= 5.0,
        "async speedup {}",
        get("async", "10", 10)
    );
    // Speedup is throughput over the sequential baseline's, efficiency is speedup per slot,
    // throughput is successful items over wall time (every item succeeds here); the CSV
    // rounds each column, so they agree to its last digits.
    let baseline = get("sequential", "1", 9);
    assert!(baseline > 0.0, "baseline throughput {baseline}");
    for row in &rows {
        let col = |i: usize| row[i].parse::<f64>().unwrap();
        let (ok, wall, throughput) = (col(5), col(8), col(9));
        let (speedup, efficiency, throttle) = (col(10), col(11), col(2));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs().max(1.0);
        assert!(close(throughput, ok / wall), "throughput: {row:?}");
        assert!(close(speedup, throughput / baseline), "speedup: {row:?}");
        assert!(close(efficiency, speedup / throttle), "efficiency: {row:?}");
    }
    // Latency columns hold the sleep time, in milliseconds.
    let p50 = get("thread", "10", 13);
    assert!((19.0..40.0).contains(&p50), "p50 {p50} ms");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["points"].as_array().unwrap().len(), 5);
    assert!(json["environment"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(json["spec"]["workload"]["kind"], "sleep");
    assert!(dir.join("histograms/thread-10.hgrm").exists());
    assert!(dir.join("summary.md").exists());
}

#[test]
fn a_spec_file_runs_and_flags_override_it() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("s.toml");
    std::fs::write(&spec, "name = \"mine\"\n[workload]\nkind = \"cpu\"\nrounds = 10\n[sweep]\nlimits = [1, 2]\nitems = 50\n").unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .arg("run")
        .arg(&spec)
        .args([
            "--limits",
            "2,3",
            "--backend",
            "thread",
            "--repeat",
            "2",
            "--quiet",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let rows = read_rows(&dir);
    assert_eq!(
        rows.len(),
        2 + 2 * 2,
        "2 baseline reps + 2 throttles × 2 reps"
    );
    assert!(rows.iter().all(|r| &r[0] == "mine"));
    assert!(rows.iter().any(|r| &r[2] == "3"));
}

#[test]
fn failing_items_are_counted_and_the_sweep_goes_on() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--param",
            "fail_rate=0.5",
        ])
        .args([
            "--limits",
            "2",
            "--items",
            "100",
            "--backend",
            "thread",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    let rows = read_rows(&dir);
    for row in &rows {
        let (ok, failed): (u64, u64) = (row[5].parse().unwrap(), row[6].parse().unwrap());
        assert_eq!(ok + failed, 100);
        assert!(failed > 20, "failed {failed}");
    }
    let failures = std::fs::read_to_string(dir.join("failures.csv")).unwrap();
    assert!(failures.starts_with("backend,throttle,repetition,item,attempt,error_kind,message"));
    assert!(failures.contains("simulated"));
}

#[test]
fn a_timeout_marks_slow_items_and_the_point_completes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "distribution=uniform",
            "--param",
            "min_ms=1",
        ])
        .args([
            "--param",
            "max_ms=400",
            "--timeout",
            "100ms",
            "--limits",
            "4",
            "--items",
            "24",
        ])
        .args(["--backend", "thread,async", "--out"])
        .arg(&dir)
        .assert()
        .success();
    for row in read_rows(&dir) {
        let (ok, failed, timed_out): (u64, u64, u64) = (
            row[5].parse().unwrap(),
            row[6].parse().unwrap(),
            row[7].parse().unwrap(),
        );
        assert_eq!(ok + failed + timed_out, 24, "{row:?}");
        assert!(timed_out > 0, "{row:?}");
        let max_ms: f64 = row[17].parse().unwrap();
        assert!(
            max_ms <= 100.5,
            "a successful item above the timeout: {max_ms}"
        );
    }
}

#[test]
fn workloads_lists_every_kind_with_defaults() {
    throttlebench().arg("workloads").assert().success().stdout(
        predicate::str::contains("sleep")
            .and(predicate::str::contains("(default 100)"))
            .and(predicate::str::contains("disk")),
    );
}

/// Without items or a duration, a point runs for a second: long enough for any built-in
/// workload, so a default run never warns that its points were too short — not even no-op items.
#[test]
fn a_default_run_never_warns_that_its_points_are_too_short() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let assert = throttlebench()
        .args([
            "run",
            "--kind",
            "noop",
            "--backend",
            "thread",
            "--limits",
            "1,8",
        ])
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    // No-op items may still be too short to *overlap* on a busy machine; that warning is
    // about the items, not the point's length.
    assert!(!stderr.contains("too short to measure"), "{stderr}");
    let json = common::results(&dir);
    assert_eq!(json["spec"]["sweep"]["budget"]["duration"], "1s");
    for point in json["points"].as_array().unwrap() {
        let wall = point["wall_s"].as_f64().unwrap();
        assert!((0.9..3.0).contains(&wall), "a second per point: {wall}");
    }
}

/// Runs the binary with bad input and checks the contract: exit 2, one line, no panic.
fn refuses(args: &[&str], expected: &str) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("never");
    let assert = throttlebench()
        .current_dir(out.path())
        .args(args)
        .arg("--out")
        .arg(&dir)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected, got: {stderr}"
    );
    assert!(
        stderr.contains(expected),
        "expected '{expected}' in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    assert!(
        !dir.exists(),
        "a report folder was left behind for bad input"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    refuses(&["run", "--kind", "sleep", "--limits", "0"], "throttle 0");
    refuses(
        &["run", "--kind", "sleep", "--limits", "abc"],
        "not a number",
    );
    refuses(&["run", "--kind", "sleep", "--limits", ","], "empty");
    refuses(&["run", "--kind", "sleep", "--items", "0"], "at least 1");
    refuses(&["run", "--kind", "nope"], "unknown workload kind 'nope'");
    refuses(
        &["run", "--kind", "sleep", "--param", "colour=red"],
        "unknown parameter 'colour'",
    );
    refuses(
        &["run", "--kind", "sleep", "--param", "ms=slow"],
        "parameter 'ms'",
    );
    refuses(
        &["run", "--kind", "sleep", "--backend", "fibers"],
        "unknown backend 'fibers'",
    );
    refuses(
        &["run", "--kind", "sleep", "--timeout", "soon"],
        "timeout 'soon'",
    );
    refuses(
        &["run", "--kind", "sleep", "--items", "1000000000000000000"],
        "maximum",
    );
    refuses(
        &["run", "/definitely/missing.toml"],
        "cannot read spec file",
    );
    refuses(&["run", "--kind", "sleep", "--bogus-flag"], "--bogus-flag");
    refuses(&["run"], "give a spec file");
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("broken.toml");
    std::fs::write(&spec, "[workload]\nkind = \"sleep\"\nms = [1,\n").unwrap();
    let assert = throttlebench().arg("run").arg(&spec).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("broken.toml:"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let unknown = out.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        "[workload]\nkind = \"sleep\"\n\n[sweep]\nitems = 5\nthrottle = 3\n",
    )
    .unwrap();
    throttlebench()
        .arg("run")
        .arg(&unknown)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown.toml:6:1"));
}

#[test]
fn an_unwritable_output_folder_is_refused_before_running() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let assert = throttlebench()
        .args(["run", "--kind", "noop", "--items", "10", "--out"])
        .arg(file.join("run"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("cannot create output folder"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn retries_recover_flaky_items_and_every_attempt_is_listed() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--param",
            "flaky_rate=0.3",
        ])
        .args([
            "--retries",
            "20",
            "--retry-backoff",
            "1ms",
            "--limits",
            "2",
            "--items",
            "60",
            "--backend",
            "thread,async",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    for row in read_rows(&dir) {
        let (ok, retried): (u64, u64) = (row[5].parse().unwrap(), row[26].parse().unwrap());
        assert_eq!(
            ok, 60,
            "20 retries at 30% flakiness leave nothing failed (odds 0.3^21 per item): {row:?}"
        );
        assert!(retried > 5, "{row:?}");
    }
    let failures = std::fs::read_to_string(dir.join("failures.csv")).unwrap();
    assert!(
        failures.lines().skip(1).all(|l| l.contains(",simulated,")),
        "{failures}"
    );
    assert!(
        failures
            .lines()
            .skip(1)
            .any(|l| l.split(',').nth(4) == Some("2")),
        "a second attempt is listed: {failures}"
    );
}
