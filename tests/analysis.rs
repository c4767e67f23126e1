//! End-to-end: `run` ends with a recommended throttle and its evidence, on the console, in
//! `results.json` and in `summary.md`; `--slo` and `[sweep] slo` shape it. What the analysis concludes from a
//! sweep is tested on the fake backend's exact points (src/analysis/sweep_tests.rs).

use assert_cmd::Command;
use predicates::prelude::*;

fn tb() -> Command {
    Command::cargo_bin("throttlebench").unwrap()
}

fn results(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

#[test]
fn too_few_throttles_are_noted_not_fitted() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=2",
        "--limits",
        "1,4",
        "--items",
        "8",
        "--backend",
        "thread",
        "--out",
    ])
    .arg(&dir)
    .assert()
    .success()
    .stdout(predicate::str::contains("Use throttle"))
    .stdout(predicate::str::contains("needs at least 6"));
    let json = results(&dir);
    assert!(json["analysis"]["backends"][0]["usl"].is_null());
    assert!(json["analysis"]["recommendation"]["throttle"]
        .as_u64()
        .is_some());
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("**Analysis**") && summary.contains("Use throttle"));
}

#[test]
fn an_slo_from_the_spec_file_that_nothing_meets_is_reported() {
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("slo.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"sleep\"\nms = 5\n[sweep]\nbackends = [\"thread\"]\nlimits = [1, 2]\nitems = 4\nslo = \"p99=1ms\"\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    tb().arg("run")
        .arg(&spec)
        .arg("--out")
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "No throttle meets the SLO (p99=1ms)",
        ));
    let json = results(&dir);
    assert_eq!(json["analysis"]["slo_met"], false);
    assert_eq!(json["spec"]["sweep"]["slo"], "p99=1ms");
}

#[test]
fn fail_on_slo_exits_one_when_nothing_meets_it() {
    let out = tempfile::tempdir().unwrap();
    let run = |slo: &str, name: &str| {
        let mut cmd = tb();
        cmd.args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=5",
            "--limits",
            "1,2",
            "--items",
            "4",
            "--backend",
            "thread",
            "--quiet",
            "--fail-on-slo",
            "--slo",
            slo,
            "--out",
        ])
        .arg(out.path().join(name));
        cmd
    };
    run("p99=1ms", "a").assert().code(1);
    run("p99=10s", "b").assert().success();
    tb().args(["run", "--kind", "noop", "--fail-on-slo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--fail-on-slo needs an SLO"));
}

#[test]
fn a_malformed_slo_is_bad_input() {
    tb().args(["run", "--kind", "noop", "--slo", "p97=10ms"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown objective 'p97'"))
        .stderr(predicate::str::contains("p99=200ms"));
}
