//! End-to-end: `run --history DIR` keeps a history folder, and `history` reads it — the step to
//! slower items is named and fails the job, like runs pass; bad input is one line and exit 2;
//! `--order git` follows the commits.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn tb(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("throttlebench").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// A small thread sweep of `ms`-long sleeps, repeated three times, added to `history`.
fn sweep(dir: &Path, out: &str, ms: u32, history: &str) {
    tb(dir)
        .args(["run", "--kind", "sleep", "--backend", "thread", "-q"])
        .args(["--items", "10", "--limits", "1,2", "--repeat", "3"])
        .args([
            "--param",
            &format!("ms={ms}"),
            "--out",
            out,
            "--history",
            history,
        ])
        .assert()
        .success();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn four_runs_of_20_ms_pass_and_a_fifth_of_26_ms_is_named_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 1..=4 {
        sweep(root, &format!("r{i}"), 20, "four");
    }
    assert_eq!(std::fs::read_dir(root.join("four")).unwrap().count(), 4);
    tb(root)
        .args(["history", "four", "--fail-on-change"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "No change beyond noise in the latest run, #4 ",
        ))
        .stdout(predicate::str::contains("regressed").not());

    copy_dir(&root.join("four"), &root.join("five"));
    sweep(root, "r5", 26, "five");
    // The slower items are another parameter: named, and refused without the flag.
    tb(root)
        .args(["history", "five", "--fail-on-change"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("workload parameter 'ms' differs"))
        .stderr(predicate::function(|e: &str| e.lines().count() == 1));
    let out = root.join("report");
    tb(root)
        .args([
            "history",
            "five",
            "--allow-param-change",
            "--fail-on-change",
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "regressions in the latest run, #5 ",
        ))
        .stdout(predicate::str::contains("Step at #5 "))
        .stdout(
            predicate::str::is_match(r"thread\s+2\s+goodput \(ok/s\)\s+#1–#4 .* regressed")
                .unwrap(),
        );
    for file in [
        "index.html",
        "history.json",
        "history.md",
        "history-goodput.svg",
        "history-goodput.png",
        "history-p99.png",
        "history-recommended.png",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("regressions in the latest run"));

    let json = tb(root)
        .args([
            "history",
            "five",
            "--allow-param-change",
            "--format",
            "json",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let h: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(h["runs"].as_array().unwrap().len(), 5);
    assert!(h["regressions"].as_u64().unwrap() >= 2, "{}", h["headline"]);
    let rows = h["judgements"][0]["rows"].as_array().unwrap();
    let goodput = rows
        .iter()
        .find(|r| r["metric"] == "goodput" && r["backend"] == "thread" && r["throttle"] == 2)
        .unwrap();
    // 26 ms items instead of 20: goodput falls by about a quarter, whatever the machine does.
    let change = goodput["change_pct"].as_f64().unwrap();
    assert!((-30.0..-15.0).contains(&change), "{goodput}");
}

/// A results file from the repository's fixture, with its start time and workload changed.
fn fixture_run(path: &Path, started_at: &str, kind: &str, commit: Option<&str>) {
    let text = std::fs::read_to_string("tests/fixtures/run-3x8/results.json").unwrap();
    let mut run: Value = serde_json::from_str(&text).unwrap();
    run["started_at"] = started_at.into();
    run["spec"]["workload"]["kind"] = kind.into();
    run["environment"]["git_commit"] = commit.map_or(Value::Null, Value::from);
    std::fs::write(path, serde_json::to_vec(&run).unwrap()).unwrap();
}

fn fails_in_one_line(cmd: &mut Command, what: &str) {
    cmd.assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(what))
        .stderr(predicate::function(|e: &str| e.lines().count() == 1));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("empty")).unwrap();
    fails_in_one_line(tb(root).args(["history", "empty"]), "empty holds no run");
    std::fs::create_dir(root.join("other")).unwrap();
    std::fs::write(root.join("other/notes.json"), "{\"a\": 1}").unwrap();
    fails_in_one_line(tb(root).args(["history", "other"]), "no run found in other");
    fails_in_one_line(
        tb(root).args(["history", "nowhere"]),
        "nowhere: no such file or folder",
    );
    // A run folder named on its own must hold a run, not be passed over.
    std::fs::create_dir(root.join("broken")).unwrap();
    std::fs::write(root.join("broken/results.json"), "{").unwrap();
    fails_in_one_line(
        tb(root).args(["history", "broken"]),
        "broken/results.json is not a throttlebench results file",
    );
    std::fs::create_dir(root.join("mixed")).unwrap();
    fixture_run(
        &root.join("mixed/a.json"),
        "2026-11-01T10:00:00+00:00",
        "sleep",
        None,
    );
    fixture_run(
        &root.join("mixed/b.json"),
        "2026-11-02T10:00:00+00:00",
        "cpu",
        None,
    );
    fails_in_one_line(
        tb(root).args(["history", "mixed"]),
        "workload kind differs (baseline 'sleep', current 'cpu')",
    );
    fails_in_one_line(
        tb(root).args(["history", "mixed", "--allow-param-change"]),
        "mixed/b.json does not belong with mixed/a.json",
    );
    fails_in_one_line(
        tb(root).args(["history", "mixed/a.json", "--order", "git"]),
        "recorded no git commit",
    );
    fails_in_one_line(tb(root).args(["history"]), "required");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn order_git_follows_the_commits_not_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    git(root, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let first = git(root, &["rev-parse", "--short=12", "HEAD"]);
    git(root, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let second = git(root, &["rev-parse", "--short=12", "HEAD"]);
    std::fs::create_dir(root.join("runs")).unwrap();
    // The later commit was measured first (a re-run of an old commit, say).
    fixture_run(
        &root.join("runs/a.json"),
        "2026-11-01T10:00:00+00:00",
        "sleep",
        Some(&second),
    );
    fixture_run(
        &root.join("runs/b.json"),
        "2026-11-02T10:00:00+00:00",
        "sleep",
        Some(&first),
    );
    let order = |how: &str| -> Vec<String> {
        let out = tb(root)
            .args(["history", "runs", "--format", "json", "--order", how])
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        let h: Value = serde_json::from_slice(&out).unwrap();
        h["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["git_commit"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order("time"), [second.clone(), first.clone()]);
    assert_eq!(order("git"), [first, second]);
    fixture_run(
        &root.join("runs/c.json"),
        "2026-11-03T10:00:00+00:00",
        "sleep",
        Some("0123456789ab"),
    );
    fails_in_one_line(
        tb(root).args(["history", "runs", "--order", "git"]),
        "cannot order by commit",
    );
}
