//! A library user's own workload kind on every local backend: `examples/custom_workload.rs`,
//! whose workers are the example itself, run on `thread`, `async`, `process` and
//! `process-per-item`, and every item of every point succeeds. A program that does not hand its
//! worker command line to the library gets one clear error before the sweep, not a framing
//! error in its middle.

use std::path::PathBuf;
use std::process::Command;

/// The example binary, which `cargo test` builds beside the test binaries (`cargo test --test
/// custom_workload` alone does not rebuild it: build examples first).
fn example() -> PathBuf {
    let deps = std::env::current_exe().expect("test binary path");
    let target = deps
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    target.join("examples").join("custom_workload")
}

#[test]
fn the_custom_workload_succeeds_on_every_local_backend() {
    let out = Command::new(example())
        .arg("thread,async,process,process-per-item")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    for backend in ["thread", "async", "process", "process-per-item"] {
        let points: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == backend).collect();
        assert_eq!(points.len(), 3, "{backend}: {stdout}");
        for p in points {
            assert_eq!((p[2], p[3]), ("64", "0"), "{backend} at {}: {stdout}", p[1]);
        }
    }
}

#[test]
fn a_worker_that_runs_the_users_main_is_one_clear_error_up_front() {
    // `echo` stands in for a program that never hands `worker` to the library: it prints its
    // own output where the protocol's first frame should be.
    let out = Command::new(example())
        .arg("process")
        .env("THROTTLEBENCH_EXE", "/bin/echo")
        .output()
        .expect("run the example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("run_if_worker_with"),
        "the error should say what to do: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "no point ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_worker_that_hangs_while_starting_is_one_clear_error_naming_the_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let hangs = dir.path().join("hangs");
    std::fs::write(&hangs, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&hangs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(example())
        .arg("process")
        .env("THROTTLEBENCH_EXE", &hangs)
        .env("THROTTLEBENCH_WORKER_START_TIMEOUT", "1")
        .output()
        .expect("run the example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not ready within 1 s"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(out.stdout.is_empty());
}
