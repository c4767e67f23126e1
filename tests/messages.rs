//! End-to-end tests of what a user reads when something is wrong: each mistake one line on
//! stderr with exit code 2, saying what is accepted; and a failing gate that says why even
//! under `--quiet`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::tb;

/// Runs the binary, expects exit 2 and one line on stderr holding every `expected` piece.
fn one_line(args: &[&str], expected: &[&str]) -> String {
    let out = tempfile::tempdir().unwrap();
    let assert = tb().current_dir(out.path()).args(args).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected for {args:?}, got: {stderr}"
    );
    for piece in expected {
        assert!(stderr.contains(piece), "expected '{piece}' in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_misspelt_flag_or_subcommand_names_the_one_meant() {
    one_line(
        &["run", "--kind", "sleep", "--limit", "2"],
        &["'--limit'", "did you mean '--limits'?"],
    );
    one_line(&["histroy"], &["did you mean 'history'?"]);
    one_line(&["rnu"], &["subcommands: run, workloads"]);
}

#[test]
fn every_choice_flag_lists_its_values() {
    one_line(
        &["compare", "a", "b", "--fail-on", "regression"],
        &["possible values: regressed, improved, any, never"],
    );
    one_line(
        &["compare", "a", "b", "--format", "html"],
        &["possible values: console, markdown, json"],
    );
    one_line(
        &["history", "a", "--order", "commit"],
        &["possible values: time, git"],
    );
    one_line(
        &["fit", "a.csv", "--usl-weights", "none"],
        &["possible values: equal, relative"],
    );
}

#[test]
fn slo_times_need_a_unit_like_every_duration() {
    one_line(
        &["run", "--kind", "noop", "--slo", "p99=100"],
        &["p99=100 needs a time unit", "p99=100ms"],
    );
    one_line(
        &["run", "--kind", "noop", "--slo", "p99=5ms,errors=0.01"],
        &["errors=0.01 needs its unit", "errors=0.01%"],
    );
    let out = tempfile::tempdir().unwrap();
    let spec = out.path().join("bare.toml");
    std::fs::write(
        &spec,
        "[workload]\nkind = \"noop\"\n[sweep]\nslo = \"p99=100\"\n",
    )
    .unwrap();
    one_line(
        &["run", spec.to_str().unwrap()],
        &["bare.toml:4:7", "needs a time unit"],
    );
    one_line(
        &["run", "--kind", "noop", "--duration", "5"],
        &["duration '5'"],
    );
}

#[test]
fn a_threshold_needs_its_percent_sign() {
    one_line(
        &["compare", "a", "b", "--threshold", "0.1"],
        &["'0.1' is ambiguous", "0.1%", "10%"],
    );
    one_line(&["compare", "a", "b", "--threshold", "5"], &["write 5%"]);
    one_line(
        &["history", "a", "--threshold", "0.5"],
        &["'0.5' is ambiguous"],
    );
}

#[test]
fn a_negative_number_is_refused_as_a_number() {
    one_line(
        &["run", "--kind", "noop", "--items", "-5"],
        &["'--items <N>'", "must be positive"],
    );
    one_line(
        &["run", "--kind", "noop", "--repeat", "-1"],
        &["'--repeat <R>'", "must be positive"],
    );
    one_line(
        &["run", "--kind", "noop", "--warmup", "-1"],
        &["'--warmup <W>'", "must be 0 or positive"],
    );
    one_line(
        &["run", "--kind", "noop", "--retries", "-2"],
        &["must be 0 or positive"],
    );
    one_line(
        &["tune", "--kind", "noop", "--max-limit", "-3"],
        &["'--max-limit <N>'", "must be positive"],
    );
    one_line(
        &["serve", "--capacity", "-4"],
        &["'--capacity <C>'", "must be positive"],
    );
    one_line(
        &["run", "--kind", "noop", "--limits", "-1"],
        &["throttle -1 is not allowed"],
    );
    one_line(
        &["run", "--kind", "noop", "--items", "2.5"],
        &["'2.5' is not a whole number"],
    );
}

#[test]
fn an_os_error_is_said_once() {
    let line = one_line(
        &["run", "/definitely/missing.toml"],
        &[
            "cannot read spec file /definitely/missing.toml",
            "os error 2",
        ],
    );
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "{line}"
    );
}

#[test]
fn tune_names_the_backends_it_was_given() {
    one_line(
        &["tune", "--kind", "noop", "--backend", "thread,process"],
        &[
            "one backend at a time, got thread,process",
            "--backend thread",
        ],
    );
}

#[test]
fn serve_resolves_a_host_name() {
    let mut child = Command::new(common::bin())
        .args(["serve", "--addr", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.starts_with("listening on http://"), "{first}");
    assert!(
        first.contains("127.0.0.1:") || first.contains("[::1]:"),
        "a loopback address: {first}"
    );
    one_line(
        &["serve", "--addr", "localhost"],
        &["--addr expects HOST:PORT", "'localhost'"],
    );
}

#[test]
fn a_quiet_gate_still_says_why_it_failed() {
    let out = tempfile::tempdir().unwrap();
    let sweep = |ms: &str, extra: &[&str]| {
        let mut cmd = tb();
        cmd.current_dir(out.path())
            .args(["run", "--kind", "sleep", "--param", ms, "--items", "12"])
            .args(["--limits", "2", "--backend", "thread", "--quiet", "--force"])
            .args(extra);
        cmd
    };
    sweep("ms=2", &["--save-baseline", "fast", "--out", "fast"])
        .assert()
        .success();
    let slow = sweep(
        "ms=12",
        &[
            "--baseline",
            "fast",
            "--allow-param-change",
            "--out",
            "slow",
        ],
    )
    .assert()
    .code(1);
    let stderr = String::from_utf8_lossy(&slow.get_output().stderr).to_string();
    assert!(stderr.contains("failed:"), "{stderr}");
    assert!(stderr.contains("regression"), "{stderr}");
    assert!(stderr.contains("--fail-on regressed"), "{stderr}");
    assert!(
        slow.get_output().stdout.is_empty(),
        "quiet: nothing on stdout"
    );

    let slo = sweep(
        "ms=12",
        &["--slo", "p99=1ms", "--fail-on-slo", "--out", "slo"],
    )
    .assert()
    .code(1);
    let stderr = String::from_utf8_lossy(&slo.get_output().stderr).to_string();
    assert!(
        stderr.contains("no throttle meets the SLO p99=1ms (--fail-on-slo)"),
        "{stderr}"
    );
}
