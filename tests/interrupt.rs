//! Nothing measured is lost: Ctrl-C keeps every finished point and `--resume` completes the
//! sweep; SIGKILL leaves a `results.csv` holding every point finished before it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn sweep(dir: &Path) -> Child {
    Command::cargo_bin("throttlebench")
        .unwrap()
        .args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=60",
            "--items",
            "10",
            "--limits",
            "1,2,3,4,5",
        ])
        .args(["--backend", "thread", "--quiet", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn rows(dir: &Path) -> Vec<csv::StringRecord> {
    let Ok(mut reader) = csv::Reader::from_path(dir.join("results.csv")) else {
        return Vec::new();
    };
    reader
        .records()
        .map(|r| r.expect("every row parses"))
        .collect()
}

/// Waits until at least `n` points are on disk.
fn wait_for_rows(dir: &Path, n: usize) {
    let start = Instant::now();
    while rows(dir).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the sweep never reached {n} points"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

#[test]
fn ctrl_c_keeps_finished_points_and_resume_completes_the_sweep() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let mut child = sweep(&dir);
    wait_for_rows(&dir, 2);
    signal(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let kept = rows(&dir).len();
    assert!((2..6).contains(&kept), "{kept} points kept");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    assert_eq!(json["points"].as_array().unwrap().len(), kept);

    let resumed = Command::cargo_bin("throttlebench")
        .unwrap()
        .args(["run", "--quiet", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let all = rows(&dir);
    let mut keys: Vec<(String, String)> = all
        .iter()
        .map(|r| (r[1].to_string(), r[2].to_string()))
        .collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "a point appears twice: {keys:?}");
    assert_eq!(keys.len(), 6, "{keys:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["interrupted"], false);
    assert_eq!(json["points"].as_array().unwrap().len(), 6);
    // The baseline that had finished was kept, not measured again.
    assert_eq!(all.iter().filter(|r| &r[1] == "sequential").count(), 1);
}

#[test]
fn sigkill_leaves_a_parseable_csv_with_every_finished_point() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let mut child = sweep(&dir);
    wait_for_rows(&dir, 2);
    let seen = rows(&dir).len();
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let after = rows(&dir);
    assert!(after.len() >= seen, "rows lost: {} < {seen}", after.len());
    for row in &after {
        assert_eq!(
            row.len(),
            throttlebench::report::csv::COLUMNS.len(),
            "every column of results.csv: {row:?}"
        );
        assert_eq!(&row[4], "10");
    }
}

#[test]
fn an_existing_run_is_not_overwritten_without_force() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let run = |extra: &[&str]| {
        Command::cargo_bin("throttlebench")
            .unwrap()
            .args([
                "run", "--kind", "noop", "--items", "100", "--limits", "1", "--quiet", "--out",
            ])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&[]).status.success());
    let second = run(&[]);
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already holds a run"));
    assert!(run(&["--force"]).status.success());
}
