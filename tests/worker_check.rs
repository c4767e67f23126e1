//! `run` and `tune` check the workers of the process backends before the sweep: a program that
//! does not speak the worker protocol, or a worker that hangs while starting, is one line and
//! exit 2 before the baseline — never a framing error mid-sweep, never a hang.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::tb as throttlebench;

/// `run` or `tune` of a long sleep sweep on `backend` (its baseline alone takes 4 s).
fn sweep(command: &str, backend: &str, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = [command, "--kind", "sleep", "--param", "ms=200"]
        .map(String::from)
        .to_vec();
    args.extend(["--items", "20", "--backend", backend].map(String::from));
    match command {
        "tune" => args.extend(["--max-limit", "4"].map(String::from)),
        _ => args.extend(["--limits", "1,2"].map(String::from)),
    }
    args.extend(["--out".to_string(), out.display().to_string()]);
    args
}

/// A program that never answers: it sleeps where a worker would say it is ready.
fn hanging_worker(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("hangs");
    std::fs::write(&path, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn one_line_exit_2(output: &std::process::Output, expected: &str, started: Instant) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "want '{expected}' in: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    // Refused before the 4 s baseline.
    assert!(started.elapsed() < Duration::from_secs(4), "{stderr}");
}

#[test]
fn a_program_that_is_no_worker_is_one_line_before_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["run", "tune"] {
        for backend in ["process", "process-per-item"] {
            let out = dir.path().join(format!("{command}-{backend}"));
            let started = Instant::now();
            let output = throttlebench()
                .args(sweep(command, backend, &out))
                .env("THROTTLEBENCH_EXE", "/bin/echo")
                .output()
                .unwrap();
            one_line_exit_2(&output, "run_if_worker_with", started);
            assert!(!out.join("results.csv").exists() || rows(&out) == 0);
        }
    }
}

#[test]
fn a_worker_that_hangs_while_starting_is_one_line_naming_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let hangs = hanging_worker(dir.path());
    for command in ["run", "tune"] {
        let out = dir.path().join(command);
        let started = Instant::now();
        let output = throttlebench()
            .args(sweep(command, "process", &out))
            .env("THROTTLEBENCH_EXE", &hangs)
            .env("THROTTLEBENCH_WORKER_START_TIMEOUT", "1")
            .output()
            .unwrap();
        one_line_exit_2(&output, "not ready within 1 s", started);
    }
}

#[test]
fn a_start_timeout_that_is_no_number_of_seconds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = throttlebench()
        .args(sweep("run", "process", &dir.path().join("out")))
        .env("THROTTLEBENCH_WORKER_START_TIMEOUT", "soon")
        .output()
        .unwrap();
    one_line_exit_2(&output, "THROTTLEBENCH_WORKER_START_TIMEOUT", started);
}

fn rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.csv"))
        .map(|text| text.lines().count().saturating_sub(1))
        .unwrap_or(0)
}
