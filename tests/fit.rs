//! End-to-end: `throttlebench fit FILE` on a plain CSV (SPEC SDM91, against R's and scipy's
//! figures), with chosen columns, on a run's results.json and results.csv, writing a chart with
//! `--out`, and refusing bad input with one line and exit code 2.

mod common;

use std::path::Path;

use common::tb;
use predicates::prelude::*;

const FIXTURE: &str = "tests/fixtures/run-3x8";

/// SPEC SDM91, the `specsdm91` data set of R's `usl` package.
const SDM91: &str =
    "load,throughput\n1,64.9\n18,995.9\n36,1652.4\n72,1853.2\n108,1828.9\n144,1775.0\n216,1702.2\n";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).unwrap()
}

fn close(value: &serde_json::Value, want: f64, tolerance: f64) -> bool {
    let got = value.as_f64().unwrap();
    (got - want).abs() <= tolerance * want.abs()
}

/// The reference figures, from R 4.2 (Debian r-base-core) and scipy 1.17:
///
/// ```text
/// R:     m <- nls(throughput ~ l*load/(1+s*(load-1)+k*load*(load-1)), data = d,
///                 algorithm = "port", start = c(s=0.01, k=1e-4, l=65),
///                 lower = 0, upper = c(1, 1, Inf))
///        summary(m)$coefficients; cf ± qt(0.975, df.residual(m)) * se
///          s 2.772847e-02  se 9.121732e-03  CI [2.402486e-03, 5.305446e-02]
///          k 1.043655e-04  se 1.987527e-05  CI [4.918290e-05, 1.595481e-04]
///          l 8.999523e+01  se 1.421349e+01  CI [5.053226e+01, 1.294582e+02]
///        N* (delta method on vcov(m)) = 96.519554, CI [71.565003, 121.474105], qt = 2.776445
/// scipy: curve_fit(usl, x, y, bounds=([0,0,0],[1,1,inf]), method="trf",
///                  xtol=1e-15, ftol=1e-15, gtol=1e-15)
///          sigma=0.0277284 kappa=0.000104366 lambda=89.9952 N*=96.5194
///          se 0.0091218 / 1.98767e-05 / 14.2135; N* CI [71.5632, 121.476]
/// ```
#[test]
fn spec_sdm91_as_json_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "sdm91.csv", SDM91);
    let out = tb()
        .arg("fit")
        .arg(&csv)
        .args(["--format", "json"])
        .assert()
        .success();
    let fit = json(&out.get_output().stdout);
    assert_eq!(fit["name"], "sdm91");
    assert!(close(&fit["sigma"], 0.02772847, 1e-5), "{fit}");
    assert!(close(&fit["kappa"], 1.043655e-4, 1e-5), "{fit}");
    assert!(close(&fit["lambda"], 89.99523, 1e-5), "{fit}");
    assert!(close(&fit["n_star"], 96.519554, 1e-5), "{fit}");
    assert!(
        (96..=97).contains(&fit["optimum"].as_u64().unwrap()),
        "{fit}"
    );
    assert!(close(&fit["peak_per_s"], 1883.9, 1e-4), "{fit}");
    assert_eq!(fit["weights"], "equal");
    assert_eq!(fit["dropped"], serde_json::json!([]));
    let ci = &fit["ci"];
    assert_eq!(ci["df"], 4);
    let interval = |name: &str, lo: f64, hi: f64| {
        close(&ci[name][0], lo, 1e-4) && close(&ci[name][1], hi, 1e-4)
    };
    assert!(interval("sigma", 2.402486e-3, 5.305446e-2), "{ci}");
    assert!(interval("kappa", 4.918290e-5, 1.595481e-4), "{ci}");
    assert!(interval("lambda", 50.53226, 129.4582), "{ci}");
    assert!(interval("n_star", 71.565003, 121.474105), "{ci}");

    // The console names the weighting and shows each interval.
    tb().arg("fit")
        .arg(&csv)
        .assert()
        .success()
        .stdout(predicate::str::contains("least squares, equal weights"))
        .stdout(predicate::str::contains(
            "σ  = 0.02773     [0.002402, 0.05305]",
        ))
        .stdout(predicate::str::contains("N* = 96.52"));

    // Relative weights on request, and said so.
    let out = tb()
        .arg("fit")
        .arg(&csv)
        .args(["--format", "json", "--usl-weights", "relative"])
        .assert()
        .success();
    let report = json(&out.get_output().stdout);
    assert_eq!(report["weights"], "relative");
    assert!(close(&report["sigma"], 0.0135152, 1e-4));
}

/// Exact USL data (σ = κ = 0.02, λ = 1) gives its coefficients back, and N* = 7.
#[test]
fn exact_synthetic_data_gives_back_its_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "exact.csv",
        "n,x\n1,1\n2,1.8868\n4,3.0769\n6,3.5294\n8,3.5398\n10,3.3557\n",
    );
    let out = tb()
        .arg("fit")
        .arg(&csv)
        .args(["--format", "json"])
        .assert()
        .success();
    let fit = json(&out.get_output().stdout);
    // The throughputs are rounded to 4 decimals: the coefficients come back within 0.5 %.
    assert!(close(&fit["sigma"], 0.02, 5e-3), "{fit}");
    assert!(close(&fit["kappa"], 0.02, 5e-3), "{fit}");
    assert!(close(&fit["lambda"], 1.0, 5e-3), "{fit}");
    assert_eq!(fit["optimum"], 7, "{fit}");
    assert!(
        close(&fit["n_star"], 0.98f64.sqrt() / 0.02f64.sqrt(), 5e-3),
        "{fit}"
    );
}

#[test]
fn columns_are_chosen_by_name_or_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("users,note,rps\n");
    for line in SDM91.lines().skip(1) {
        let (n, x) = line.split_once(',').unwrap();
        text.push_str(&format!("{n},\"a, b\",{x}\n"));
    }
    let csv = write(dir.path(), "spec.csv", &text);
    for (load, throughput) in [("users", "rps"), ("1", "3"), ("USERS", "3")] {
        let out = tb()
            .arg("fit")
            .arg(&csv)
            .args(["--n", load, "--x", throughput, "--format", "json"])
            .assert()
            .success();
        let report = json(&out.get_output().stdout);
        assert_eq!(
            (report["load"].as_str(), report["throughput"].as_str()),
            (Some("users"), Some("rps"))
        );
        assert!(close(&report["sigma"], 0.02772847, 1e-5));
    }
    // Without a choice, the first two numeric columns: users and rps (the note is text).
    let out = tb()
        .arg("fit")
        .arg(&csv)
        .args(["--format", "json"])
        .assert()
        .success();
    let report = json(&out.get_output().stdout);
    assert_eq!(
        (report["load"].as_str(), report["throughput"].as_str()),
        (Some("users"), Some("rps"))
    );
    // --load and --throughput are the long names of --n and --x.
    tb().arg("fit")
        .arg(&csv)
        .args(["--load", "users", "--throughput", "rps"])
        .assert()
        .success();
}

#[test]
fn a_runs_results_json_and_csv_give_the_same_fit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(FIXTURE).join("results.json"),
        dir.path().join("results.json"),
    )
    .unwrap();
    tb().arg("report")
        .arg(dir.path())
        .arg("-q")
        .assert()
        .success();
    let from = |file: &str| {
        let out = tb()
            .arg("fit")
            .arg(dir.path().join(file))
            .args(["--format", "json"])
            .assert()
            .success();
        json(&out.get_output().stdout)
    };
    let (a, b) = (from("results.json"), from("results.csv"));
    assert_eq!(a["fits"].as_array().unwrap().len(), 2, "{a}");
    for i in 0..2 {
        assert_eq!(a["fits"][i]["name"], b["fits"][i]["name"]);
        let (x, y) = (&a["fits"][i]["kappa"], &b["fits"][i]["kappa"]);
        assert!(close(x, y.as_f64().unwrap(), 1e-3), "{x} vs {y}");
    }
    assert_eq!(a["load"], "throttle");
    // The sequential baseline is throttle 1 of each backend's curve.
    assert_eq!(a["fits"][0]["points"].as_array().unwrap().len(), 8);
    // A run folder works too, and --backend picks one curve.
    let out = tb()
        .arg("fit")
        .arg(dir.path())
        .args(["--backend", "async", "--format", "json"])
        .assert()
        .success();
    let one = json(&out.get_output().stdout);
    assert_eq!(one["name"], "async", "one fit is an object of its own");
}

#[test]
fn out_writes_the_chart_as_svg_and_png_and_the_fit_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit");
    tb().arg("fit")
        .arg(Path::new(FIXTURE).join("results.json"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("scalability.svg")).unwrap();
    assert!(svg.contains("thread USL fit") && svg.contains("async USL fit"));
    assert!(svg.contains("thread N* 95% interval"));
    // The fixture's async throttle 64 lies 30% under the others' curve: left out, drawn hollow.
    assert!(svg.contains("async left out of the fit"), "no hollow point");
    let png = std::fs::read(out.join("scalability.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    let left = &saved["fits"][1]["dropped"][0];
    assert_eq!(left["throttle"], 64.0);
    assert!(left["reason"].as_str().unwrap().contains("below the curve"));
    // --usl-keep-all keeps it.
    let kept = tb()
        .arg("fit")
        .arg(Path::new(FIXTURE).join("results.json"))
        .args(["--usl-keep-all", "--format", "json"])
        .assert()
        .success();
    let kept = json(&kept.get_output().stdout);
    assert!(kept["fits"][1]["dropped"].as_array().unwrap().is_empty());
}

/// Each bad input: exit code 2 and exactly one line on stderr, naming what is wrong.
#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sdm = write(d, "sdm91.csv", SDM91);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![d.join("missing.csv").display().to_string()],
            "cannot read",
        ),
        (
            vec![write(d, "empty.csv", "").display().to_string()],
            "no data rows",
        ),
        (
            vec![write(d, "header.csv", "load,throughput\n")
                .display()
                .to_string()],
            "no data rows",
        ),
        (
            vec![sdm.display().to_string(), "--n".into(), "users".into()],
            "has no column 'users'",
        ),
        (
            vec![sdm.display().to_string(), "--x".into(), "9".into()],
            "has no column '9'",
        ),
        (
            vec![write(d, "bare.csv", "1,64.9\n18,995.9\n36,1652.4\n")
                .display()
                .to_string()],
            "has no header row",
        ),
        (
            vec![write(d, "words.csv", "name,where\nx,y\n")
                .display()
                .to_string()],
            "no numeric column left for the load",
        ),
        (
            vec![write(d, "text.csv", "load,throughput\n1,10\n2,abc\n")
                .display()
                .to_string()],
            "line 3: throughput 'abc' is not a number",
        ),
        (
            vec![write(d, "zero.csv", "load,throughput\n0,10\n")
                .display()
                .to_string()],
            "line 2: load 0 is below 1",
        ),
        (
            vec![write(d, "neg.csv", "load,throughput\n1,-5\n")
                .display()
                .to_string()],
            "throughput -5 is not positive",
        ),
        (
            vec![write(d, "ragged.csv", "load,throughput\n1,10\n2\n")
                .display()
                .to_string()],
            "not a readable CSV file",
        ),
        (
            vec![
                write(d, "few.csv", "load,throughput\n1,10\n2,19\n4,35\n8,60\n")
                    .display()
                    .to_string(),
            ],
            "4 distinct loads; the USL fit needs at least 6",
        ),
        (
            vec![write(d, "bad.json", "{\"not\": \"a run\"}")
                .display()
                .to_string()],
            "is not a throttlebench results file",
        ),
        (
            vec![FIXTURE.into(), "--backend".into(), "process".into()],
            "holds no points of backend 'process' (it holds: thread, async)",
        ),
        (
            vec![FIXTURE.into(), "--n".into(), "throttle".into()],
            "--n and --x choose CSV columns",
        ),
        (
            vec![
                sdm.display().to_string(),
                "--backend".into(),
                "thread".into(),
            ],
            "--backend picks a backend of a run's results",
        ),
        (
            vec![
                sdm.display().to_string(),
                "--usl-weights".into(),
                "heavy".into(),
            ],
            "heavy",
        ),
        (
            vec![sdm.display().to_string(), "--format".into(), "xml".into()],
            "xml",
        ),
    ];
    for (args, message) in cases {
        let out = tb().arg("fit").args(&args).assert().code(2);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.get_output().stdout.is_empty(), "{args:?}");
    }
}

/// `run` takes the weighting from `[sweep] usl_weights` or `--usl-weights` (the flag wins), and
/// results.json and the console say which was used.
#[test]
fn a_run_records_the_weighting_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.toml",
        "[workload]\nkind = \"sleep\"\nms = 1\n[sweep]\nbackends = [\"thread\"]\nlimits = \"1..32\"\nitems = 16\nusl_weights = \"relative\"\n",
    );
    let weights_of = |extra: &[&str]| {
        let out = dir.path().join(format!("run{}", extra.len()));
        tb().arg("run")
            .arg(&spec)
            .args(extra)
            .arg("--out")
            .arg(&out)
            .assert()
            .success()
            .stdout(predicate::str::contains("(least squares, "));
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(
            results["spec"]["sweep"]["usl_weights"],
            results["analysis"]["backends"][0]["scaling"]["weights"]
        );
        results["analysis"]["backends"][0]["scaling"]["weights"].clone()
    };
    assert_eq!(weights_of(&[]), "relative");
    assert_eq!(weights_of(&["--usl-weights", "equal"]), "equal");

    let bad = write(
        dir.path(),
        "bad.toml",
        "[workload]\nkind = \"sleep\"\n[sweep]\nusl_weights = \"heavy\"\n",
    );
    let out = tb().arg("run").arg(&bad).assert().code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bad.toml:4:15: usl_weights must be \"equal\" or \"relative\""),
        "{stderr}"
    );
}
