//! End-to-end: `run` ends with a recommended throttle and its evidence, on the console, in
//! `results.json` and in `summary.md`; `--slo` and `[sweep] slo` shape it. What the analysis concludes from a
//! sweep is tested on the fake backend's exact points (src/analysis/sweep_tests.rs).

mod common;

use common::{results, tb};
use predicates::prelude::*;

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

/// The part of a recommendation told from the measurements alone, before the fit's evidence.
fn measured_part(summary: &str) -> &str {
    let end = summary
        .find("The USL fit")
        .or(summary.find("Too few throttles"))
        .unwrap_or(summary.len());
    &summary[..end]
}

#[test]
fn a_disk_sweep_quotes_its_measured_peak() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args([
        "run",
        "workloads/disk-write.toml",
        "--items",
        "24",
        "--limits",
        "1,2,4,8",
        "--quiet",
        "--out",
    ])
    .arg(&dir)
    .assert()
    .success();
    let json = results(&dir);
    let a = &json["analysis"];
    let summary = a["recommendation"]["summary"].as_str().unwrap();
    let peak = a["backends"][0]["peak_throughput_per_s"].as_f64().unwrap();
    // The console's rounding: three significant figures or whole numbers.
    let shown = if peak >= 100.0 {
        format!("{peak:.0}")
    } else if peak >= 10.0 {
        format!("{peak:.1}")
    } else {
        format!("{peak:.2}")
    };
    assert!(
        measured_part(summary).contains(&shown),
        "{shown}: {summary}"
    );
}
