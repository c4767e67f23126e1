//! The backend cost table from a real run: a small program on `thread`, `process` and
//! `process-per-item`, memory per job measured alike (the programs a thread item starts
//! included), per-job CPU on one basis with `--repeat`, and the table in every output.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

/// The peak RSS `/usr/bin/time -v` reports for `sleep 0.03`, in MB; `None` without GNU time.
fn program_peak_mb() -> Option<f64> {
    let out = Command::new("/usr/bin/time")
        .args(["-v", "sleep", "0.03"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = text
        .lines()
        .find(|l| l.contains("Maximum resident set size"))?
        .rsplit(':')
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn run(out: &Path) -> (String, Value) {
    let output = Command::cargo_bin("throttlebench")
        .unwrap()
        .args(["run", "--kind", "command", "--param", "program=sleep"])
        .args(["--param", "args=0.03"])
        .args(["--backend", "thread,process,process-per-item"])
        .args(["--limits", "1,2,4", "--items", "12", "--repeat", "3"])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    (stdout, serde_json::from_str(&json).unwrap())
}

#[test]
fn a_jobs_cost_is_measured_alike_on_every_backend() {
    let Some(program_mb) = program_peak_mb() else {
        eprintln!("no /usr/bin/time: the program's own peak cannot be known");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (stdout, result) = run(&dir.path().join("r"));
    let costs = result["analysis"]["costs"].as_array().unwrap();
    let cost = |backend: &str| {
        costs
            .iter()
            .find(|c| c["backend"] == backend)
            .unwrap_or_else(|| panic!("no {backend} in {costs:?}"))
    };
    // A thread item's program counts as a process-per-item item's does: about the program's
    // own peak per job (a thread's stack and its share of the allocator ride along).
    for backend in ["thread", "process-per-item"] {
        let mb = cost(backend)["memory_per_job_mb"].as_f64().unwrap();
        assert!(
            mb > 0.5 * program_mb && mb < 2.0 * program_mb,
            "{backend}: {mb} MB per job against the program's {program_mb} MB"
        );
    }
    // On `process` a job in flight also holds a worker.
    let process_mb = cost("process")["memory_per_job_mb"].as_f64().unwrap();
    assert!(process_mb > program_mb, "{process_mb} MB");
    // Only process-per-item starts a process per job.
    assert!(cost("process-per-item")["startup_ms"].as_f64().unwrap() > 0.0);
    assert!(cost("thread")["startup_ms"].is_null());
    // CPU per item: each repetition's CPU over its own items, so a 30 ms sleep costs far less
    // than its duration, and the same order of CPU on the in-process and per-process sides.
    for c in costs {
        let ms = c["cpu_per_item_ms"].as_f64().unwrap();
        assert!(ms > 0.0 && ms < 30.0, "{c}");
    }
    assert!(stdout.contains("Cost per job"), "{stdout}");
    assert!(stdout.contains("items/rep"), "{stdout}");
    let summary = std::fs::read_to_string(dir.path().join("r/summary.md")).unwrap();
    assert!(summary.contains("**Cost per job**"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("r/index.html")).unwrap();
    assert!(html.contains("<h2>Cost per job</h2>"));
}
