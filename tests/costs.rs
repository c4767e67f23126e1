//! The backend cost table from a real run: a small program on `thread`, `process` and
//! `process-per-item`, memory per job measured alike (the programs a thread item starts
//! included, the workers `process` holds per slot apart), startup ordered by what starting a
//! job takes, per-job CPU on one basis with `--repeat`, and the table in every output.

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
    // A job's memory is about the program's own peak on every backend: a thread item's
    // program counts as a process-per-item item's does, and on `process` the worker each slot
    // holds is set apart (a thread's stack and its share of the allocator ride along).
    for backend in ["thread", "process", "process-per-item"] {
        let mb = cost(backend)["memory_per_job_mb"].as_f64().unwrap();
        assert!(
            mb > 0.5 * program_mb && mb < 2.0 * program_mb,
            "{backend}: {mb} MB per job against the program's {program_mb} MB"
        );
    }
    // What `process` holds per slot is a worker process, measured: megabytes, not a job's.
    let worker_mb = cost("process")["backend_mb_per_slot"].as_f64().unwrap();
    assert!(worker_mb > 1.0 && worker_mb < 100.0, "{worker_mb} MB");
    // On process-per-item a slot is a waiting thread here, far less than its program.
    let waiting = cost("process-per-item")["backend_mb_per_slot"]
        .as_f64()
        .unwrap();
    assert!((0.0..program_mb).contains(&waiting), "{waiting} MB");
    // On thread this process's growth is the jobs': nothing is set apart.
    assert!(cost("thread")["backend_mb_per_slot"].is_null());
    // A job starts from a claim on a thread, through a pipe to an idle worker on process, and
    // from a new process on process-per-item: each an order of magnitude or so above the one
    // before; a factor of 2 between them holds on a busy machine.
    let startup = |backend: &str| cost(backend)["startup_ms"].as_f64().unwrap();
    let (thread, process, per_item) = (
        startup("thread"),
        startup("process"),
        startup("process-per-item"),
    );
    assert!(
        thread > 0.0 && 2.0 * thread < process && 2.0 * process < per_item,
        "startup thread {thread} ms, process {process} ms, process-per-item {per_item} ms"
    );
    let rows = std::fs::read_to_string(dir.path().join("r/results.csv")).unwrap();
    let header: Vec<&str> = rows.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for row in rows.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        // Every backend's point has a startup; only `process` has workers holding slots.
        assert!(!cells[column("startup_ms")].is_empty(), "{row}");
        let holds_workers = cells[column("backend")] == "process";
        assert_eq!(
            !cells[column("worker_rss_mb")].is_empty(),
            holds_workers,
            "{row}"
        );
    }
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
