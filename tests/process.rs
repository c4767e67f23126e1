//! The process backends end to end: a worker killed mid-item, an item past its timeout, no
//! processes left behind after a run, an error or Ctrl-C, and one sweep comparing backends.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

const BIN: &str = "throttlebench";

/// Shell prelude: `$isolated` is true when this shell runs in a process group of its own
/// (process-per-item) or in its worker's group (process): that is, not inside the sequential
/// baseline or the thread backend, where killing the parent would kill the whole run.
const ISOLATED: &str = r#"item=$1; set -- $(cat /proc/$$/stat); isolated=false; if [ "$5" = "$$" ] || [ "$5" = "$4" ]; then isolated=true; fi; "#;

/// Runs the binary to completion; returns (exit code, stderr, its pid).
fn run(args: &[&str], out: &Path) -> (i32, String, u32) {
    let mut cmd = Command::cargo_bin(BIN).unwrap();
    cmd.args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        pid,
    )
}

fn points(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["points"].as_array().unwrap().clone()
}

fn point<'a>(points: &'a [Value], backend: &str, throttle: u64) -> &'a Value {
    points
        .iter()
        .find(|p| p["backend"] == backend && p["throttle"] == throttle)
        .unwrap_or_else(|| panic!("no {backend} x{throttle} point"))
}

/// Processes started on behalf of the run whose parent pid was `parent` that still exist
/// (every process the process backends start carries THROTTLEBENCH_PARENT_PID in its
/// environment, and children inherit it).
fn leftovers(parent: u32) -> Vec<String> {
    let marker = format!("THROTTLEBENCH_PARENT_PID={parent}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let has = environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes());
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if has && !zombie {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// Waits a moment for killed processes to be gone, then lists what remains.
fn leftovers_after_settling(parent: u32) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let found = leftovers(parent);
        if found.is_empty() || Instant::now() > until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_worker_killed_mid_item_costs_only_that_item() {
    let dir = tempfile::tempdir().unwrap();
    let program = format!("{ISOLATED} if $isolated && [ \"$item\" = 3 ]; then kill -9 $PPID; fi");
    let (code, stderr, pid) = run(
        &[
            "run",
            "--kind",
            "command",
            "--param",
            &format!("program={program}"),
            "--param",
            "shell=true",
            "--param",
            "args={item}",
            "--backend",
            "process",
            "--limits",
            "2",
            "--items",
            "20",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let points = points(dir.path());
    let p = point(&points, "process", 2);
    assert_eq!(p["items"], 20, "{p}");
    assert_eq!(p["ok"], 19, "{p}");
    assert_eq!(p["failed"], 1, "{p}");
    assert_eq!(p["errors"]["worker-died"], 1, "{p}");
    assert!(p["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("signal 9"));
    assert_eq!(point(&points, "sequential", 1)["ok"], 20);
    assert!(leftovers_after_settling(pid).is_empty());
}

#[test]
fn an_item_past_the_timeout_is_killed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let program = format!("{ISOLATED} if $isolated && [ \"$item\" = 2 ]; then sleep 30; fi");
    let started = Instant::now();
    let (code, stderr, pid) = run(
        &[
            "run",
            "--kind",
            "command",
            "--param",
            &format!("program={program}"),
            "--param",
            "shell=true",
            "--param",
            "args={item}",
            "--backend",
            "process,process-per-item",
            "--limits",
            "2",
            "--items",
            "10",
            "--timeout",
            "500ms",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the sleeps were not killed"
    );
    let points = points(dir.path());
    for backend in ["process", "process-per-item"] {
        let p = point(&points, backend, 2);
        assert_eq!(p["items"], 10, "{p}");
        assert_eq!(p["timed_out"], 1, "{p}");
        assert_eq!(p["ok"], 9, "{p}");
    }
    // The killed item's `sleep 30` went with its process group.
    assert!(
        leftovers_after_settling(pid).is_empty(),
        "{:?}",
        leftovers(pid)
    );
}

#[test]
fn ctrl_c_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    for backend in ["process", "process-per-item"] {
        let mut cmd = Command::cargo_bin(BIN).unwrap();
        // The baseline (100 × 20 ms) comes first; the backend's point follows.
        cmd.args([
            "run",
            "--kind",
            "command",
            "--param",
            "program=sleep",
            "--param",
            "args=0.02",
            "--backend",
            backend,
            "--limits",
            "2",
            "--items",
            "100",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join(backend))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let until = Instant::now() + Duration::from_secs(60);
        let mut seen = false;
        while !seen && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
            seen = !leftovers(pid).is_empty();
        }
        assert!(seen, "{backend}: no child ever seen");
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{backend}");
        assert!(
            leftovers_after_settling(pid).is_empty(),
            "{backend}: {:?}",
            leftovers(pid)
        );
    }
}

#[test]
fn a_worker_that_cannot_start_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin(BIN).unwrap();
    let output = cmd
        .env("THROTTLEBENCH_EXE", "/bin/false")
        .args([
            "run",
            "--kind",
            "noop",
            "--backend",
            "process",
            "--limits",
            "2",
            "--items",
            "10",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("worker process"), "{stderr}");
}

#[test]
fn one_sweep_compares_thread_process_and_process_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, pid) = run(
        &[
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=20",
            "--backend",
            "thread,process,process-per-item",
            "--limits",
            "1,4",
            "--items",
            "24",
            "--warmup",
            "2",
            "--trace",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let mut rows = csv::Reader::from_path(dir.path().join("results.csv")).unwrap();
    let headers = rows.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    for backend in ["thread", "process", "process-per-item"] {
        for throttle in ["1", "4"] {
            let row = rows
                .iter()
                .find(|r| &r[col("backend")] == backend && &r[col("throttle")] == throttle)
                .unwrap();
            assert_eq!(&row[col("ok")], "24", "{row:?}");
            assert_eq!(&row[col("max_inflight")], throttle, "{row:?}");
            let startup = &row[col("startup_ms")];
            // Every backend says how long a job takes to start.
            assert!(startup.parse::<f64>().unwrap() > 0.0, "{row:?}");
            let p50: f64 = row[col("lat_p50_ms")].parse().unwrap();
            assert!(p50 >= 19.0, "{row:?}");
        }
    }
    // At throttle 4 the process backends carry four workers' memory on top of the parent's.
    let peak = |backend: &str| -> f64 {
        rows.iter()
            .find(|r| &r[col("backend")] == backend && &r[col("throttle")] == "4")
            .unwrap()[col("peak_rss_mb")]
        .parse()
        .unwrap()
    };
    assert!(peak("process") > peak("thread"), "{rows:?}");
    let speed = |backend: &str, throttle: &str| -> f64 {
        rows.iter()
            .find(|r| &r[col("backend")] == backend && &r[col("throttle")] == throttle)
            .unwrap()[col("throughput_per_s")]
        .parse()
        .unwrap()
    };
    assert!(
        speed("process", "4") > 1.5 * speed("process", "1"),
        "{rows:?}"
    );
    // In the trace, a process backend's worker is the child's pid; times are on the parent's clock.
    let trace = std::fs::read_to_string(dir.path().join("items.jsonl")).unwrap();
    let mut workers = std::collections::BTreeSet::new();
    for line in trace.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if event["backend"] == "process" && event["throttle"] == 4 {
            let (start, end) = (
                event["start_us"].as_i64().unwrap(),
                event["end_us"].as_i64().unwrap(),
            );
            assert!(start >= 0 && end - start >= 19_000, "{line}");
            workers.insert(event["worker"].as_u64().unwrap());
        }
    }
    assert_eq!(workers.len(), 4, "{workers:?}");
    assert!(!workers.contains(&u64::from(pid)) && !workers.contains(&0));
    assert!(leftovers_after_settling(pid).is_empty());
}

#[test]
fn the_worker_subcommand_is_hidden() {
    let output = Command::cargo_bin(BIN)
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(!help.contains("worker"), "{help}");
}

#[test]
fn the_cpu_of_workers_and_child_processes_is_counted() {
    // The same CPU-bound items on every backend: wherever they run — a worker, a process of
    // their own, a `command` child of a thread — their CPU time is the point's, so no backend
    // can report a fraction of the sequential baseline's.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cpu");
    let (code, err, _) = run(
        &[
            "run",
            "--kind",
            "cpu",
            "--param",
            "rounds=300",
            "--backend",
            "thread,process,process-per-item",
            "--limits",
            "2",
            "--items",
            "20",
        ],
        &out,
    );
    assert_eq!(code, 0, "{err}");
    let swept = points(&out);
    let cpu = |p: &Value| p["cpu_user_s"].as_f64().unwrap() + p["cpu_sys_s"].as_f64().unwrap();
    let baseline = cpu(point(&swept, "sequential", 1));
    assert!(baseline > 0.0, "{swept:?}");
    for backend in ["thread", "process", "process-per-item"] {
        let used = cpu(point(&swept, backend, 2));
        assert!(
            used > baseline * 0.5,
            "{backend}: {used} s of CPU against the baseline's {baseline} s"
        );
    }

    let out = dir.path().join("command");
    let (code, err, _) = run(
        &[
            "run",
            "--kind",
            "command",
            "--param",
            "shell=true",
            "--param",
            "program=i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
            "--backend",
            "thread",
            "--limits",
            "2",
            "--items",
            "6",
        ],
        &out,
    );
    assert_eq!(code, 0, "{err}");
    let swept = points(&out);
    let baseline = cpu(point(&swept, "sequential", 1));
    let used = cpu(point(&swept, "thread", 2));
    assert!(
        baseline > 0.02 && used > baseline * 0.5,
        "{baseline} {used}"
    );
}
