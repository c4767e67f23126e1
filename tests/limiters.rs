//! Adaptive limiters end to end: the gate holds the lanes to the limit, each limiter's point is
//! a row `async+vegas` whose throttle is where its limit settled, and the analysis judges it
//! against the swept optimum of a target with a known one — saying so when a limiter misses it.
//! Whether a published algorithm finds the level is its own finding, not this test's: what is
//! asserted is that the judgement matches the figures, never hides a miss.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{csv_rows, results, row, tb};
use serde_json::Value;
use throttlebench::backend::limiter::{Limit, LimitGate, Sample};
use throttlebench::backend::{BackendKind, Budget, PointJob};
use throttlebench::workload::{Registry, WorkloadSpec};

/// A limit that never moves.
struct Fixed(usize);

impl Limit for Fixed {
    fn limit(&self) -> usize {
        self.0
    }
    fn on_sample(&mut self, _: &Sample) {}
}

#[test]
fn the_gate_holds_the_lanes_to_the_limit_on_thread_and_async() {
    let spec = WorkloadSpec {
        kind: "sleep".into(),
        params: [("ms".to_string(), Value::from(5))].into_iter().collect(),
    };
    let workload = Registry::builtin().build(&spec).unwrap();
    for kind in [BackendKind::Thread, BackendKind::Async] {
        let backend = kind.create().unwrap();
        let gate = Arc::new(LimitGate::new(Box::new(Fixed(3))));
        let job = PointJob {
            limit: Some(gate.clone()),
            ..PointJob::plain(&workload, &spec, 8, Budget::Items(60))
        };
        let ran = backend.execute(&job).unwrap();
        assert_eq!(ran.stats.ok, 60, "{kind}: every item ran");
        assert_eq!(ran.max_inflight, 3, "{kind}: 8 lanes held to a limit of 3");
        assert_eq!(gate.steps().len(), 1, "a fixed limit never changes");
    }
}

/// A sweep of sleeps (`[ms param, backend, limits, items]`) into `dir` with `limiter` after it;
/// its rows.
fn sleeps_then_limiter(
    dir: &Path,
    sweep: &[&str; 4],
    limiter: &str,
) -> Vec<BTreeMap<String, String>> {
    let [ms, backend, limits, items] = *sweep;
    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        ms,
        "--backend",
        backend,
    ])
    .args(["--limits", limits, "--items", items, "--quiet", "--out"])
    .arg(dir)
    .args(["--limiter", limiter])
    .assert()
    .success();
    csv_rows(dir)
}

#[test]
fn worker_processes_are_held_to_the_limit_one_item_each() {
    // A limit pinned at 3 (AIMD may not leave [3, 3]): 8 lanes, 8 workers, 3 items in flight.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let rows = sleeps_then_limiter(
        &dir,
        &["ms=5", "process", "1,4", "60"],
        "aimd:initial_limit=3,min_limit=3,max_limit=3",
    );
    let row = row(
        &rows,
        "process+aimd:initial_limit=3,max_limit=3,min_limit=3",
    );
    assert_eq!(row["throttle"], "3");
    assert_eq!(row["failed"], "0");
    assert_eq!(row["ok"], "60", "every item ran");
    assert_eq!(row["max_inflight"], "3", "8 workers held to a limit of 3");
    let json = results(&dir);
    assert_eq!(json["limited"][0]["limiter"]["lanes"], 8);
}

/// Runs a sweep with every limiter and checks the rows, the limit over time and the verdicts.
fn judged(workload: &[&str], dir: &Path) {
    tb().args(["run"])
        .args(workload)
        .args([
            "--backend",
            "async",
            "--limits",
            "1,2,4,8,16",
            "--duration",
            "2s",
        ])
        .args([
            "--limiter",
            "aimd,vegas,gradient2,envoy,vector",
            "--quiet",
            "--out",
        ])
        .arg(dir)
        .assert()
        .success();
    let rows = csv_rows(dir);
    let json = results(dir);
    let limited = json["limited"].as_array().expect("limited points");
    let judgements = json["analysis"]["limiters"].as_array().expect("judgements");
    assert_eq!(judgements.len(), 5, "{judgements:?}");
    for name in ["aimd", "vegas", "gradient2", "envoy", "vector"] {
        let label = format!("async+{name}");
        let row = row(&rows, &label);
        let point = limited
            .iter()
            .find(|p| p["limiter"]["limiter"]["algorithm"] == name)
            .unwrap();
        let track = &point["limiter"];
        let steps = track["limit_over_time"].as_array().unwrap();
        assert_eq!(steps[0]["t_s"], 0.0, "{label}: the limit from the start");
        let highest = steps.iter().filter_map(|s| s["limit"].as_u64()).max();
        let lanes = track["lanes"].as_u64().unwrap();
        assert_eq!(lanes, 32, "twice the largest throttle");
        assert!(highest.unwrap() <= lanes, "{label}: {steps:?}");
        let inflight: u64 = row["max_inflight"].parse().unwrap();
        assert!(
            inflight <= highest.unwrap(),
            "{label}: {inflight} in flight past the highest limit"
        );
        let settled = track["settled"].as_f64().unwrap();
        assert_eq!(row["throttle"], format!("{}", settled.round() as u64));

        let j = judgements.iter().find(|j| j["label"] == label).unwrap();
        let knee = j["knee"].as_f64().expect("the sweep found a knee");
        assert!((4.0..=16.0).contains(&knee), "{label}: knee {knee}");
        let share =
            j["goodput_per_s"].as_f64().unwrap() / j["best_goodput_per_s"].as_f64().unwrap();
        // Pinned at the lanes' ceiling it limited nothing, and failures count against it as
        // against a static throttle (1 % budget).
        let pinned = settled >= lanes as f64;
        let clean = j["failed_share"].as_f64().unwrap() <= 0.01;
        let found =
            (knee / 2.0..=2.0 * knee).contains(&settled) && share >= 0.9 && !pinned && clean;
        let in_target = (5.0..=16.0).contains(&settled) && share >= 0.9;
        assert_eq!(
            j["missed"].is_null(),
            found,
            "{label}: the verdict must match its figures: {j}"
        );
        // How the limit moved is named, in the sentence too, and a limit held at the lanes'
        // ceiling is said to be there.
        let summary = j["summary"].as_str().unwrap();
        let kind = j["behaviour"]["kind"].as_str().expect("a behaviour");
        let words = [
            ("steady", "steady"),
            ("oscillating", "oscillating"),
            ("drifting", "drifting"),
            ("slow_to_settle", "slow to settle"),
            ("at_floor", "held at its floor"),
            ("at_ceiling", "held at its ceiling"),
        ];
        let word = words.iter().find(|(k, _)| *k == kind).expect(kind).1;
        assert!(summary.contains(word), "{label}: {kind} unsaid: {summary}");
        if pinned {
            assert_eq!(kind, "at_ceiling", "{label}: {j}");
        }
        // Every algorithm but AIMD keeps a reference latency ("no queue"), and the results
        // keep it with the limit.
        assert_eq!(
            j["reference_ms"].is_null(),
            name == "aimd",
            "{label}: reference {}",
            j["reference_ms"]
        );
        assert_eq!(
            steps.iter().any(|s| s["reference_ms"].is_number()),
            name != "aimd",
            "{label}"
        );
        // AIMD past the level with nothing failed: the sentence says which signal it lacked.
        if name == "aimd" && pinned && j["failed_share"] == 0.0 {
            assert!(
                summary.contains("AIMD lowers its limit only when an item fails"),
                "{summary}"
            );
        }
        eprintln!(
            "{label}: settled {settled}, {:.0} % of the best static goodput, 5–16 with ≥ 90 %: {}",
            share * 100.0,
            if in_target { "yes" } else { "no" }
        );
        // The 5–16 target comes from the targets' known optimum (8); the verdict can only go by
        // the knee this run measured, which a noisy run may put at 16. Outside the target, a
        // limiter is never hidden: its summary says where it settled and what goodput it kept,
        // and where the knee was measured at the true 8, the verdict is a miss.
        if !in_target {
            let at = match settled.fract() == 0.0 {
                true => format!("settled at {settled:.0}"),
                false => format!("settled at {settled:.1}"),
            };
            assert!(summary.contains(&at), "{label}: {summary}");
            assert!(summary.contains("of the best static"), "{summary}");
            if knee == 8.0 && !(4.0..5.0).contains(&settled) {
                assert!(summary.contains("MISSED"), "a miss is said: {summary}");
            }
        }
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("**Adaptive limiters**"), "{summary}");
    // Which one to copy, or that the static throttle is the one to use: said as the verdicts say.
    let found = judgements.iter().filter(|j| j["missed"].is_null()).count();
    let choice = match found {
        0 => "- async: none of 5 limiters found the level; use the static ".to_string(),
        n => format!("- async: {n} of 5 limiters found the level; of them "),
    };
    assert!(summary.contains(&choice), "{choice}: {summary}");
    assert!(dir.join("charts/limiters.png").exists());
    // The legend names a reference line only where one is drawn: N* needs the USL fit.
    let svg = std::fs::read_to_string(dir.join("charts/limiters.svg")).unwrap();
    let fitted = judgements.iter().any(|j| !j["n_star"].is_null());
    assert_eq!(svg.contains("USL N*"), fitted, "N* in the legend: {fitted}");
    assert!(svg.contains("swept knee"));
}

#[test]
fn limiters_against_the_built_in_server_of_capacity_8_at_20_ms() {
    let out = tempfile::tempdir().unwrap();
    judged(
        &[
            "--kind",
            "http",
            "--param",
            "server_capacity=8",
            "--param",
            "server_latency_ms=20",
        ],
        &out.path().join("run"),
    );
}

#[test]
fn limiters_against_a_sleep_that_thrashes_past_its_capacity() {
    let out = tempfile::tempdir().unwrap();
    judged(
        &[
            "--kind",
            "sleep",
            "--param",
            "ms=20",
            "--param",
            "capacity=8",
            "--param",
            "penalty_ms=2",
        ],
        &out.path().join("run"),
    );
}

/// A server that refuses past a bounded queue gives AIMD its drop signal: it comes near the
/// level, but by sending requests the server answers 503 at once. A limiter is held to the same
/// error budget as a static throttle, so that is a miss, and the failed share is shown.
#[test]
fn a_limiter_that_is_refused_more_than_the_budget_allows_misses() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args(["run", "--kind", "http"])
        .args([
            "--param",
            "server_capacity=8",
            "--param",
            "server_latency_ms=20",
        ])
        .args(["--param", "server_queue=8", "--backend", "async"])
        .args([
            "--limits",
            "4,8,16",
            "--duration",
            "2s",
            "--limiter",
            "aimd",
        ])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let json = results(&dir);
    let point = &json["limited"][0];
    let failed = point["failed"].as_u64().unwrap() + point["timed_out"].as_u64().unwrap();
    let items = point["items"].as_u64().unwrap();
    assert!(
        failed * 100 > items,
        "refused requests: {failed} of {items}"
    );
    let j = &json["analysis"]["limiters"][0];
    let share = j["failed_share"].as_f64().unwrap();
    assert!((share - failed as f64 / items as f64).abs() < 1e-9, "{j}");
    let why = j["missed"].as_str().expect("a miss");
    assert!(
        why.contains("of its items failed, over the 1 % budget"),
        "{why}"
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| failed (% of items) |"), "{summary}");
}

/// Bad input: exit 2 and one line on stderr.
fn refuses(args: &[&str], expected: &str) {
    let out = tempfile::tempdir().unwrap();
    let assert = tb()
        .args(["run", "--kind", "sleep", "--items", "4", "--limits", "1"])
        .args(args)
        .arg("--out")
        .arg(out.path().join("never"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected '{expected}' in {stderr}"
    );
    assert!(!out.path().join("never").exists());
}

#[test]
fn an_unknown_limiter_is_refused() {
    refuses(
        &["--limiter", "aimd,cubic"],
        "unknown limiter 'cubic' (known limiters: aimd, vegas, gradient2, envoy, vector)",
    );
}

#[test]
fn an_unknown_limiter_parameter_is_refused() {
    refuses(
        &["--limiter", "vegas:alpha=3,gamma=6"],
        "unknown parameter 'gamma' for limiter vegas",
    );
}

#[test]
fn a_limiter_on_sequential_is_refused() {
    refuses(
        &["--backend", "sequential", "--limiter", "vegas"],
        "sequential cannot take one",
    );
}

#[test]
fn tune_refuses_a_limiter() {
    let assert = tb()
        .args(["tune", "--kind", "sleep", "--limiter", "vegas"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run --limiter"), "{stderr}");
}

#[test]
fn a_spec_file_names_its_limiters_and_a_bad_one_where_it_stands() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("limited.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\nms = 1\n[sweep]\nlimits = [1, 2]\nitems = 40\nbackends = [\"thread\"]\nlimiters = [\"aimd:min_limit=2\", \"vegas\"]\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    tb().arg("run")
        .arg(&spec)
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let labels: Vec<String> = csv_rows(&dir)
        .into_iter()
        .map(|r| r["backend"].clone())
        .collect();
    // A row names its limiter's parameters where they were given.
    assert!(
        labels.contains(&"thread+aimd:min_limit=2".to_string()),
        "{labels:?}"
    );
    assert!(labels.contains(&"thread+vegas".to_string()), "{labels:?}");

    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\n[sweep]\nlimiters = [\"vegas:beta=-1\"]\n",
    )
    .unwrap();
    let assert = tb().arg("run").arg(&spec).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("limited.toml:4:12"), "{stderr}");
    assert!(stderr.contains("must not be negative"), "{stderr}");
}

#[test]
fn one_algorithm_runs_with_two_sets_of_parameters_side_by_side() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let rows = sleeps_then_limiter(
        &dir,
        &["ms=2", "thread", "1,2", "40"],
        "vegas,vegas:alpha=2,beta=4",
    );
    for label in ["thread+vegas", "thread+vegas:alpha=2,beta=4"] {
        assert_eq!(row(&rows, label)["ok"], "40", "{label}");
    }
    let json = results(&dir);
    let judged: Vec<&str> = json["analysis"]["limiters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["limiter"].as_str().unwrap())
        .collect();
    assert_eq!(judged, ["vegas", "vegas:alpha=2,beta=4"]);
    // Each is drawn and named in the chart's legend, in its own shade of Vegas's green.
    let svg = std::fs::read_to_string(dir.join("charts/limiters.svg")).unwrap();
    assert!(svg.contains("\nvegas:alpha=2,beta=4\n"), "legend");
    assert!(svg.contains("\nvegas\n"), "legend");

    refuses(
        &[
            "--backend",
            "thread",
            "--limiter",
            "vegas:alpha=2,vegas:alpha=2",
        ],
        "limiter vegas:alpha=2 is given twice",
    );
}
