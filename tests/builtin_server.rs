//! The `http` workload's built-in server runs in a child process of the run, not in the
//! measuring process: seen from /proc while a run goes on, reached by process workers, gone
//! after the run (finished, interrupted or killed outright), and one clear line when it cannot
//! start.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bin;
use predicates::prelude::*;

/// Starts `run --kind http` with `args`, its results in `out`.
fn start_run(args: &[&str], out: &Path) -> Child {
    Command::new(bin())
        .args(["run", "--kind", "http", "-q", "--out"])
        .arg(out)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The fields of /proc/PID/stat after the command name: state, ppid, …
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f[0] != "Z")
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// Live processes whose environment carries the run's mark (`THROTTLEBENCH_PARENT_PID`), as
/// (pid, parent pid, command line).
fn started_by(run: u32) -> Vec<(u32, u32, String)> {
    let marker = format!("THROTTLEBENCH_PARENT_PID={run}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            continue;
        }
        if let Some(f) = stat_fields(pid).filter(|f| f[0] != "Z") {
            found.push((pid, f[1].parse().unwrap_or(0), cmdline(pid)));
        }
    }
    found
}

/// What the run started that is still there after a moment for killed processes to go.
fn leftovers(run: u32) -> Vec<(u32, u32, String)> {
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let found = started_by(run);
        if found.is_empty() || Instant::now() > until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Names of the run's own threads.
fn threads(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

fn is_serve(cmdline: &str) -> bool {
    cmdline.contains(" serve ")
}

/// Waits for the run, failing the test if it takes past `limit`.
fn finish(run: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let begin = Instant::now();
    loop {
        if let Some(status) = run.try_wait().unwrap() {
            return status;
        }
        if begin.elapsed() > limit {
            let _ = run.kill();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_server_is_a_child_process_not_threads_of_the_client() {
    let out = tempfile::tempdir().unwrap();
    let mut run = start_run(
        &[
            "--backend",
            "thread",
            "--param",
            "server_latency_ms=20",
            "--limits",
            "1,2",
            "--items",
            "60",
        ],
        out.path(),
    );
    let pid = run.id();
    let (mut servers, mut client_threads) = (Vec::new(), Vec::new());
    while run.try_wait().unwrap().is_none() {
        for (child, parent, line) in started_by(pid) {
            if is_serve(&line) && !servers.contains(&(child, parent)) {
                servers.push((child, parent));
            }
        }
        client_threads.extend(threads(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = finish(&mut run, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert!(!servers.is_empty(), "no serve child seen during the run");
    assert!(
        servers.iter().all(|s| s.1 == pid),
        "{servers:?} (run {pid})"
    );
    // The in-process server's threads are named tb-server and tb-server-main.
    assert!(
        !client_threads.iter().any(|t| t.starts_with("tb-server")),
        "{client_threads:?}"
    );
    assert!(servers.iter().all(|s| !alive(s.0)), "{servers:?}");
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
}

#[test]
fn process_workers_reach_the_runs_server_and_nothing_is_left() {
    let out = tempfile::tempdir().unwrap();
    let mut run = start_run(
        &[
            "--backend",
            "process,process-per-item",
            "--param",
            "server_latency_ms=5",
            "--limits",
            "2",
            "--items",
            "30",
        ],
        out.path(),
    );
    let pid = run.id();
    let mut serving_parents = Vec::new();
    while run.try_wait().unwrap().is_none() {
        for (_, parent, line) in started_by(pid) {
            if is_serve(&line) {
                serving_parents.push(parent);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = finish(&mut run, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    // Workers rebuild the workload with the run's server URL and start none of their own.
    assert!(
        serving_parents.iter().all(|p| *p == pid),
        "{serving_parents:?}"
    );
    let results = std::fs::read_to_string(out.path().join("results.csv")).unwrap();
    for row in results.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!((f[4], f[5]), ("30", "30"), "{row}");
    }
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
}

/// Starts a long run and waits until its server is up; returns the run and the server's pid.
fn run_with_server(out: &Path) -> (Child, u32) {
    let mut run = start_run(
        &[
            "--backend",
            "thread",
            "--param",
            "server_latency_ms=50",
            "--limits",
            "1",
            "--items",
            "2000",
        ],
        out,
    );
    let pid = run.id();
    let begin = Instant::now();
    let mut server = None;
    while server.is_none() && begin.elapsed() < Duration::from_secs(30) {
        server = started_by(pid)
            .into_iter()
            .find(|(_, parent, line)| *parent == pid && is_serve(line))
            .map(|(server, _, _)| server);
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(server) = server else {
        let _ = run.kill();
        let _ = run.wait();
        panic!("no server started");
    };
    (run, server)
}

#[test]
fn a_run_killed_outright_takes_its_server_with_it() {
    let out = tempfile::tempdir().unwrap();
    let (mut run, server) = run_with_server(out.path());
    run.kill().unwrap();
    run.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while alive(server) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(server), "server {server} outlived its run");
}

#[test]
fn ctrl_c_stops_the_run_and_its_server() {
    let out = tempfile::tempdir().unwrap();
    let (mut run, server) = run_with_server(out.path());
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(run.id() as i32, libc::SIGINT) }, 0);
    let status = finish(&mut run, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(!alive(server), "server {server} outlived its run");
    assert!(leftovers(run.id()).is_empty(), "{:?}", leftovers(run.id()));
}

/// Runs to the end with `exe` as the throttlebench binary; returns (exit code, stderr, pid).
fn run_with_exe(exe: &Path, params: &[&str]) -> (Option<i32>, String, u32) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args([
        "run", "--kind", "http", "--limits", "1", "--items", "4", "-q",
    ])
    .arg("--out")
    .arg(out.path().join("run"))
    .env("THROTTLEBENCH_EXE", exe)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for p in params {
        cmd.args(["--param", p]);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr, pid)
}

fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn one_line(stderr: &str, expected: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("built-in server"), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn a_server_that_cannot_start_is_one_clear_line() {
    assert_cmd::Command::new(bin())
        .args(["run", "--kind", "http", "--limits", "1", "--items", "4"])
        .args(["--param", "server_error_rate=2", "-q", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("run"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("server_error_rate")
                .and(predicate::str::contains("between 0 and 1"))
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );

    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, _) = run_with_exe(Path::new("/bin/false"), &[]);
    assert_eq!(code, Some(2));
    one_line(&stderr, "THROTTLEBENCH_EXE");

    // A refusal by the server is passed on in its own words.
    let refusing = script(
        dir.path(),
        "refusing",
        "echo 'error: cannot listen on 127.0.0.1:0: no ports today' >&2; exit 2",
    );
    let (code, stderr, _) = run_with_exe(&refusing, &["server_latency_ms=1"]);
    assert_eq!(code, Some(2));
    one_line(&stderr, "no ports today");

    // Something else that starts and keeps running is stopped, and nothing of it remains.
    let stranger = script(dir.path(), "stranger", "echo hello; exec sleep 30");
    let begin = Instant::now();
    let (code, stderr, pid) = run_with_exe(&stranger, &[]);
    assert_eq!(code, Some(2));
    one_line(&stderr, "'hello'");
    assert!(begin.elapsed() < Duration::from_secs(8), "{stderr}");
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
}
