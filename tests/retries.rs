//! `--retries` end to end: a `process` worker retries flaky items itself and reports every
//! failed attempt; `process-per-item` starts a fresh process for each attempt (of a worker and of
//! a `command`); an item that never succeeds lists attempts 1..=N+1 in `failures.csv` on every
//! backend; an item cut at the timeout lists its failed attempts, then the timeout with the
//! attempt it cut.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{csv_rows as rows, row, tb as throttlebench};

fn count(row: &BTreeMap<String, String>, column: &str) -> u64 {
    row[column].parse().unwrap()
}

/// failures.csv as (backend, item, attempt, error_kind) per row.
fn failures(dir: &Path) -> Vec<(String, u64, u32, String)> {
    let mut reader = csv::Reader::from_path(dir.join("failures.csv")).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_string(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
                r[5].to_string(),
            )
        })
        .collect()
}

#[test]
fn process_backends_retry_flaky_items_and_every_attempt_is_listed() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args(["run", "--kind", "sleep", "--param", "ms=1"])
        // 40% flaky: some item among ~24 failing once fails twice, all but surely; with 20
        // retries an item fails all 21 attempts with odds 0.4^21 (1 run in ~10^6 fails here).
        .args(["--param", "flaky_rate=0.4", "--retries", "20"])
        .args(["--retry-backoff", "1ms", "--limits", "2", "--items", "60"])
        // On process-per-item each attempt is a fresh process: its flaky draw must differ too.
        .args(["--backend", "process,process-per-item", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let failures = failures(&dir);
    for backend in ["process", "process-per-item"] {
        let listed: Vec<_> = failures.iter().filter(|f| f.0 == backend).collect();
        assert!(!listed.is_empty(), "{backend}: {failures:?}");
        assert!(listed.iter().all(|f| f.3 == "simulated"), "{failures:?}");
        assert!(
            listed.iter().any(|f| f.2 == 2),
            "{backend}: a second attempt is listed: {failures:?}"
        );
    }
    let rows = rows(&dir);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        assert_eq!(
            count(r, "ok"),
            60,
            "20 retries at 40% flakiness leave nothing failed: {r:?}\n{failures:?}"
        );
        assert!(count(r, "retried") > 5, "{r:?}");
    }
}

#[test]
fn process_per_item_retries_a_command_in_a_fresh_process() {
    let out = tempfile::tempdir().unwrap();
    let marks = out.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let dir = out.path().join("run");
    // Each attempt appends its pid to the item's marker; the first attempt (no marker yet)
    // fails. A process group of its own (`$6`, the group in /proc/$$/stat, equal to `$$`) sets
    // per-item runs apart from the baseline's shells, which live in the run's group, so each
    // gets markers of its own.
    let program = format!(
        r#"set -- "$1" $(cat /proc/$$/stat); m={}/$1-$([ "$6" = "$$" ] && echo own || echo shared); [ -e $m ]; seen=$?; echo $$ >> $m; exit $((seen * 3))"#,
        marks.display()
    );
    throttlebench()
        .args(["run", "--kind", "command", "--param"])
        .arg(format!("program={program}"))
        .args(["--param", "shell=true", "--param", "args={item}"])
        .args(["--retries", "2", "--retry-backoff", "1ms"])
        .args([
            "--limits",
            "2",
            "--items",
            "6",
            "--backend",
            "process-per-item",
        ])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = rows(&dir);
    let per_item = row(&rows, "process-per-item");
    assert_eq!(count(per_item, "ok"), 6, "{per_item:?}");
    assert_eq!(count(per_item, "failed"), 0, "{per_item:?}");
    assert_eq!(count(per_item, "retried"), 6, "{per_item:?}");
    let mut listed: Vec<_> = failures(&dir)
        .into_iter()
        .filter(|f| f.0 == "process-per-item")
        .map(|f| (f.1, f.2, f.3))
        .collect();
    listed.sort();
    let expected: Vec<_> = (0..6).map(|item| (item, 1, "exit-3".to_string())).collect();
    assert_eq!(listed, expected, "one failed first attempt per item");
    for item in 0..6 {
        let pids = std::fs::read_to_string(marks.join(format!("{item}-own"))).unwrap();
        let pids: Vec<&str> = pids.lines().collect();
        assert_eq!(pids.len(), 2, "two attempts of item {item}: {pids:?}");
        assert_ne!(pids[0], pids[1], "each attempt is a process of its own");
    }
}

#[test]
fn an_item_that_never_succeeds_lists_every_attempt_on_every_backend() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    throttlebench()
        .args(["run", "--kind", "sleep", "--param", "ms=1"])
        .args([
            "--param",
            "fail_rate=1",
            "--retries",
            "2",
            "--ignore-failures",
        ])
        .args(["--retry-backoff", "1ms", "--limits", "2", "--items", "4"])
        .args(["--backend", "thread,async,process,process-per-item"])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = rows(&dir);
    let failures = failures(&dir);
    let backends = [
        "sequential",
        "thread",
        "async",
        "process",
        "process-per-item",
    ];
    for backend in backends {
        let r = row(&rows, backend);
        assert_eq!(count(r, "failed"), 4, "{r:?}");
        assert_eq!(count(r, "retried"), 4, "{r:?}");
        let mut attempts: Vec<(u64, u32)> = failures
            .iter()
            .filter(|f| f.0 == backend)
            .map(|f| (f.1, f.2))
            .collect();
        attempts.sort_unstable();
        let expected: Vec<(u64, u32)> = (0..4)
            .flat_map(|item| (1..=3).map(move |attempt| (item, attempt)))
            .collect();
        assert_eq!(attempts, expected, "{backend}: {failures:?}");
    }
}

#[test]
fn the_timeout_covers_every_attempt_and_the_waits_between_them() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // Attempt 1 fails at once; attempt 2 follows 230 ms later (the jitter is a function of item
    // and attempt) and fails too; the wait before attempt 3 (329–352 ms) would end past the
    // 400 ms limit, so the item times out.
    let started = std::time::Instant::now();
    throttlebench()
        .args(["run", "--kind", "command", "--param", "program=exit 1"])
        .arg("--ignore-failures")
        .args(["--param", "shell=true", "--retries", "5"])
        .args(["--retry-backoff", "300ms", "--timeout", "400ms"])
        .args(["--limits", "2", "--items", "2"])
        .args([
            "--backend",
            "thread,process,process-per-item",
            "--quiet",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "retries went on past the timeout"
    );
    let rows = rows(&dir);
    for backend in ["sequential", "thread", "process", "process-per-item"] {
        let r = row(&rows, backend);
        assert_eq!(count(r, "timed_out"), 2, "{r:?}");
        assert_eq!(count(r, "ok") + count(r, "failed"), 0, "{r:?}");
    }
    // Where the attempts outlive the cut (the item's own process, or the watched thread's
    // slot), every attempt is listed, then the timeout with the attempt it cut short.
    for backend in ["sequential", "thread", "process-per-item"] {
        let listed: Vec<(u32, String)> = failures(&dir)
            .into_iter()
            .filter(|f| f.0 == backend && f.1 == 0)
            .map(|f| (f.2, f.3))
            .collect();
        assert_eq!(
            listed,
            [(1, "exit-1"), (2, "exit-1"), (2, "timeout")].map(|(a, k)| (a, k.to_string())),
            "{backend}: both attempts, then the timeout after the second"
        );
    }
}

#[test]
fn an_async_timeout_names_the_attempt_it_cut_after_the_failed_ones() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // Each attempt sleeps 200 ms, then fails; retries follow 1 ms later. Attempts 1 and 2 end
    // near 200 and 400 ms; the 500 ms limit cuts attempt 3 midway (100 ms either side for noise).
    throttlebench()
        .args(["run", "--kind", "sleep", "--param", "ms=200"])
        .args([
            "--param",
            "fail_rate=1",
            "--retries",
            "5",
            "--ignore-failures",
        ])
        .args(["--retry-backoff", "1ms", "--timeout", "500ms"])
        .args(["--limits", "2", "--items", "2", "--backend", "async"])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = rows(&dir);
    let r = row(&rows, "async");
    assert_eq!(count(r, "timed_out"), 2, "{r:?}");
    assert_eq!(count(r, "retried"), 2, "{r:?}");
    let failures = failures(&dir);
    for item in 0..2 {
        let listed: Vec<(u32, String)> = failures
            .iter()
            .filter(|f| f.0 == "async" && f.1 == item)
            .map(|f| (f.2, f.3.clone()))
            .collect();
        assert_eq!(
            listed,
            [(1, "simulated"), (2, "simulated"), (3, "timeout")].map(|(a, k)| (a, k.to_string())),
            "item {item}: both failed attempts, then the timeout of the third: {failures:?}"
        );
    }
    // results.json holds the same rows.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let point = json["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["backend"] == "async")
        .expect("an async point");
    let mut attempts: Vec<(u64, u64, String)> = point["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let number = |key: &str| f[key].as_u64().unwrap();
            (number("item"), number("attempt"), f["kind"].to_string())
        })
        .collect();
    attempts.sort();
    let expected: Vec<(u64, u64, String)> = (0..2)
        .flat_map(|item| {
            [(1, "simulated"), (2, "simulated"), (3, "timeout")]
                .map(|(a, k)| (item, a, format!("\"{k}\"")))
        })
        .collect();
    assert_eq!(attempts, expected, "{point}");
}
