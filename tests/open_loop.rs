//! End-to-end tests of the open loop (`--rates`): items offered at a rate on every local
//! backend, the two latencies, coordinated omission shown against a stalling server, both loops
//! in one report, and bad input refused in one line with exit code 2.

mod common;

use std::path::Path;

use common::{csv_rows, tb as throttlebench};

fn num(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = '{}' in {row:?}", row[column]))
}

fn run(dir: &Path, args: &[&str]) {
    throttlebench()
        .args(["run", "--quiet"])
        .args(args)
        .arg("--out")
        .arg(dir)
        .assert()
        .success();
}

#[test]
fn offered_rates_are_kept_on_the_thread_and_async_backends() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    run(
        &dir,
        &[
            "--kind",
            "sleep",
            "--param",
            "ms=2",
            "--rates",
            "100,200",
            "--duration",
            "2s",
            "--backend",
            "thread,async",
        ],
    );
    let rows = csv_rows(&dir);
    // Rates alone: no baseline and no throttle, only the open-loop points.
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows {
        let offered = num(row, "offered_per_s");
        let goodput = num(row, "goodput_per_s");
        // Generous: a shared 2-core machine; the generator's accuracy is measured in BENCHMARKS.
        assert!(
            goodput > 0.9 * offered && goodput < 1.1 * offered,
            "{offered}/s offered, {goodput}/s achieved"
        );
        assert_eq!(row["throttle"], "256", "the default cap on items in flight");
        let svc = num(row, "svc_p50_ms");
        let lat = num(row, "lat_p50_ms");
        assert!(svc >= 2.0, "service time of a 2 ms item: {svc}");
        assert!(
            lat >= svc,
            "from the intended start is never shorter: {lat} < {svc}"
        );
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("**Open loop**"), "{summary}");
    assert!(summary.contains("highest sustainable rate"), "{summary}");
    assert!(dir.join("charts/open-loop.png").exists());
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("<h2>Open loop</h2>"));
}

#[test]
fn poisson_arrivals_and_a_process_per_item_run_offer_the_rate_too() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    run(
        &dir,
        &[
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--rates",
            "20",
            "--items",
            "30",
            "--arrival",
            "poisson",
            "--backend",
            "process-per-item",
        ],
    );
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ok"], "30");
    // 30 Poisson arrivals at 20/s take about 1.5 s, give or take the draw: sd ≈ 0.27 s.
    let wall = num(&rows[0], "wall_s");
    assert!((0.6..3.5).contains(&wall), "{wall}");
}

/// 100 requests a second, at most 4 in flight, against a server that stalls 500 ms every 2 s:
/// a quarter of the arrivals fall in a stall and wait up to 500 ms for it to end, and only the
/// four items in flight when it began see it in their service time.
fn against_a_stalling_server(backend: &str) -> std::collections::BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    run(
        &dir,
        &[
            "--kind",
            "http",
            "--param",
            "server_latency_ms=2",
            "--param",
            "server_stall_ms=500",
            "--param",
            "server_stall_every_ms=2000",
            "--rates",
            "100",
            "--max-inflight",
            "4",
            "--duration",
            "6s",
            "--backend",
            backend,
        ],
    );
    let mut rows = csv_rows(&dir);
    assert_eq!(rows.len(), 1);
    let row = rows.remove(0);
    let p90 = num(&row, "lat_p90_ms");
    let svc_p90 = num(&row, "svc_p90_ms");
    assert!(
        p90 >= 100.0,
        "{backend}: p90 from the intended start {p90} ms"
    );
    assert!(svc_p90 <= 50.0, "{backend}: service-time p90 {svc_p90} ms");
    assert!(
        num(&row, "late") >= 50.0,
        "{backend}: items due during a stall start late: {row:?}"
    );
    row
}

#[test]
fn a_stalled_server_shows_in_latency_from_the_intended_start_not_in_service_time() {
    against_a_stalling_server("thread");
}

#[test]
fn offered_rates_are_kept_on_the_process_backend() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    run(
        &dir,
        &[
            "--kind",
            "sleep",
            "--param",
            "ms=2",
            "--rates",
            "100",
            "--duration",
            "2s",
            "--backend",
            "process",
        ],
    );
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    // Every arrival inside the 2 s is issued, however the machine keeps up.
    assert_eq!(row["items"], "200", "{row:?}");
    let goodput = num(row, "goodput_per_s");
    assert!(
        goodput > 90.0 && goodput < 110.0,
        "100/s offered, {goodput}/s achieved"
    );
    assert_eq!(row["throttle"], "32", "the pool's default: one worker each");
    assert!(num(row, "max_inflight") <= 32.0, "{row:?}");
    let svc = num(row, "svc_p50_ms");
    let lat = num(row, "lat_p50_ms");
    assert!(svc >= 2.0, "service time of a 2 ms item: {svc}");
    assert!(
        lat >= svc,
        "from the intended start is never shorter: {lat} < {svc}"
    );
}

#[test]
fn a_stalled_server_shows_on_the_async_backend_too() {
    against_a_stalling_server("async");
}

#[test]
fn a_stalled_server_shows_on_the_process_backend_too() {
    // Items due during a stall wait for a worker, not inside one: the wait is counted.
    let row = against_a_stalling_server("process");
    assert_eq!(row["throttle"], "4", "--max-inflight sets the workers");
}

#[test]
fn a_dead_worker_and_a_timeout_cost_one_item_each_in_an_open_loop_process_point() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // Item 3 kills its worker (the shell's parent); item 5 outlives the timeout.
    let program = r#"case $1 in 3) kill -9 $PPID ;; 5) sleep 30 ;; esac"#;
    run(
        &dir,
        &[
            "--kind",
            "command",
            "--param",
            &format!("program={program}"),
            "--param",
            "shell=true",
            "--param",
            "args={item}",
            "--rates",
            "20",
            "--items",
            "12",
            "--max-inflight",
            "2",
            "--timeout",
            "500ms",
            "--backend",
            "process",
        ],
    );
    let json = common::results(&dir);
    let p = &json["open_loop"][0];
    assert_eq!(p["items"], 12, "{p}");
    assert_eq!(p["ok"], 10, "{p}");
    assert_eq!(p["errors"]["worker-died"], 1, "{p}");
    assert_eq!(p["timed_out"], 1, "{p}");
}

#[test]
fn rates_and_limits_together_make_one_report_linked_by_littles_law() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    run(
        &dir,
        &[
            "--kind",
            "sleep",
            "--param",
            "ms=5",
            "--limits",
            "1,2",
            "--rates",
            "50",
            "--items",
            "40",
            "--backend",
            "thread",
        ],
    );
    let rows = csv_rows(&dir);
    let closed: Vec<_> = rows
        .iter()
        .filter(|r| r["offered_per_s"].is_empty())
        .collect();
    assert_eq!(closed.len(), 3, "baseline and two throttles: {rows:?}");
    for row in &closed {
        // Closed loop: the service-time columns repeat the latency ones.
        assert_eq!(row["svc_p50_ms"], row["lat_p50_ms"]);
        assert_eq!(row["late"], "0");
    }
    assert_eq!(rows.len(), 4);
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("By Little's law, to serve 50/s"),
        "{summary}"
    );
    assert!(summary.contains("in flight"), "{summary}");
}

/// Bad input: exit 2, one line on stderr, nothing run.
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
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "'{expected}' in: {stderr}");
    assert!(!dir.exists());
}

#[test]
fn a_rate_of_zero_is_refused() {
    refuses(
        &["run", "--kind", "sleep", "--rates", "0"],
        "rate 0 is not allowed",
    );
}

#[test]
fn a_negative_rate_is_refused() {
    refuses(
        &["run", "--kind", "sleep", "--rates", "-5"],
        "rate -5 is not allowed",
    );
}

#[test]
fn a_rate_that_is_not_a_number_is_refused() {
    refuses(
        &["run", "--kind", "sleep", "--rates", "fast"],
        "rate 'fast' is not a number",
    );
}

#[test]
fn max_inflight_zero_is_refused() {
    refuses(
        &[
            "run",
            "--kind",
            "sleep",
            "--rates",
            "100",
            "--max-inflight",
            "0",
        ],
        "max-inflight 0 is not allowed",
    );
}

#[test]
fn rates_on_the_sequential_backend_alone_are_refused() {
    refuses(
        &[
            "run",
            "--kind",
            "sleep",
            "--rates",
            "100",
            "--backend",
            "sequential",
        ],
        "--rates needs a concurrent backend",
    );
}

#[test]
fn rates_on_the_rayon_backend_are_refused() {
    // rayon's par_iter would run the items as fast as it can: a closed loop under a rate's name.
    refuses(
        &[
            "run",
            "--kind",
            "sleep",
            "--rates",
            "100",
            "--backend",
            "thread,rayon",
        ],
        "--rates cannot run on the rayon backend",
    );
}

#[test]
fn an_unknown_arrival_is_refused() {
    refuses(
        &[
            "run",
            "--kind",
            "sleep",
            "--rates",
            "100",
            "--arrival",
            "bursty",
        ],
        "arrival must be constant or poisson",
    );
}

#[test]
fn a_bad_rate_in_a_spec_file_names_its_line() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("open.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\n[sweep]\nrates = [100, 0]\n",
    )
    .unwrap();
    refuses(&["run", spec.to_str().unwrap()], "open.toml:4:");
}

#[test]
fn tune_with_rates_finds_the_sustainable_rate_in_few_points() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("tune");
    throttlebench()
        .args([
            "tune",
            "--quiet",
            "--kind",
            "sleep",
            "--param",
            "ms=5",
            "--backend",
            "thread",
            "--max-limit",
            "4",
            "--rates",
            "25..12800",
            "--max-inflight",
            "4",
            "--duration",
            "0.5s",
        ])
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    let json = common::results(&dir);
    let open = &json["analysis"]["open_loop"][0];
    // At most 4 in flight of 5 ms each: 800/s at best, less on a busy machine.
    let best = open["max_sustainable_per_s"].as_f64().unwrap();
    assert!((100.0..=820.0).contains(&best), "{open}");
    let probes = json["open_loop"].as_array().unwrap().len();
    // A sweep of the range by doubling alone is 10 points, and only brackets the answer.
    assert!(probes <= 10, "{probes} rates probed");
}

#[test]
fn stages_ramp_in_one_point_per_backend() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("ramp.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\nms = 2\n[sweep]\nbackends = [\"thread\"]\n\
         [[sweep.stages]]\nrate = 200\nduration = \"1s\"\n\
         [[sweep.stages]]\nrate = 200\nduration = \"500ms\"\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    run(&dir, &[spec.to_str().unwrap()]);
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 1, "{rows:?}");
    // 0 → 200/s over 1 s offers 100 items, then 100 more in half a second: 200 in 1.5 s.
    assert_eq!(rows[0]["items"], "200");
    let offered = num(&rows[0], "offered_per_s");
    assert!((offered - 400.0 / 3.0).abs() < 0.01, "{offered}");
    let wall = num(&rows[0], "wall_s");
    assert!((1.4..2.5).contains(&wall), "{wall}");
}

#[test]
fn a_stage_without_a_duration_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("ramp.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\n[sweep]\n[[sweep.stages]]\nrate = 500\n",
    )
    .unwrap();
    refuses(&["run", spec.to_str().unwrap()], "stage 1 has no duration");
}
