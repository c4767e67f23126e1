//! End-to-end: `throttlebench tune` on the backends that run items in other processes — local
//! worker processes and remote hosts over ssh — prints each probe and writes the same report
//! folder as `run`. How the search chooses is tested on the fake backend (src/tune/).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn tb() -> Command {
    Command::cargo_bin("throttlebench").unwrap()
}

fn results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A short sleep search up to `max_limit`: the baseline and a probe per power of two.
fn small_search(backend: &str, max_limit: usize) -> Vec<String> {
    [
        "tune",
        "--kind",
        "sleep",
        "--param",
        "ms=5",
        "--items",
        "16",
        "--max-limit",
        &max_limit.to_string(),
        "--backend",
        backend,
    ]
    .map(String::from)
    .to_vec()
}

/// What every search writes: a probe line per throttle, a recommendation, and the run folder
/// holding one row per point measured, each on `backend` or the baseline.
fn check_search(dir: &Path, stdout: &str, stderr: &str, backend: &str) {
    assert!(
        stderr.contains(&format!("probe 1 (ramp): {backend} at throttle 1")),
        "{stderr}"
    );
    assert!(stdout.contains("Use throttle"), "{stdout}");
    let json = results(dir);
    let search = &json["analysis"]["search"];
    assert_eq!(search["backend"], backend);
    let runs = search["runs"].as_u64().unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len() as u64, runs);
    assert!(points.len() >= 3, "{points:?}");
    for p in points {
        assert!(
            p["backend"] == "sequential" || p["backend"] == backend,
            "{p}"
        );
        assert_eq!(p["ok"], 16, "{p}");
    }
    for file in ["results.csv", "results.json", "summary.md", "index.html"] {
        assert!(dir.join(file).exists(), "{file}");
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, runs + 1);
}

#[test]
fn tune_searches_on_worker_processes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let assert = tb()
        .args(small_search("process", 4))
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    let output = assert.get_output();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    check_search(&dir, &stdout, &stderr, "process");
}

/// The loopback sshd `scripts/ci-sshd.sh` starts (as tests/remote.rs finds it): its port, the
/// client key and a known_hosts file; `None` after saying why the test is skipped.
fn sshd(test: &str) -> Option<(u16, PathBuf, PathBuf)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = (|| {
        let port: u16 = var("TB_TEST_SSH_PORT")?.parse().ok()?;
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        Some((
            port,
            var("TB_TEST_SSH_KEY")?.into(),
            var("TB_TEST_SSH_KNOWN_HOSTS")?.into(),
        ))
    })();
    if found.is_none() {
        if var("TB_REQUIRE_SSH").as_deref() == Some("1") {
            panic!("{test}: TB_REQUIRE_SSH=1 but no sshd answers on TB_TEST_SSH_PORT");
        }
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}: no sshd (`scripts/ci-sshd.sh start DIR` starts one and writes \
             the variables to DIR/env)"
        );
    }
    found
}

#[test]
fn tune_searches_on_remote_hosts() {
    let Some((port, key, known_hosts)) = sshd("tune_searches_on_remote_hosts") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let own_known_hosts = out.path().join("known_hosts");
    std::fs::copy(known_hosts, &own_known_hosts).unwrap();
    // Up to 2 only: every point starts its workers over ssh, which costs most of the test.
    let assert = tb()
        .args(small_search("remote", 2))
        .args(["--hosts", &format!("127.0.0.1:{port}")])
        .args(["--remote-binary", env!("CARGO_BIN_EXE_throttlebench")])
        .args(["--ssh-option", &format!("IdentityFile={}", key.display())])
        .args(["--ssh-option", "IdentitiesOnly=yes"])
        .args([
            "--ssh-option",
            &format!("UserKnownHostsFile={}", own_known_hosts.display()),
        ])
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    let output = assert.get_output();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    check_search(&dir, &stdout, &stderr, "remote");
    let json = results(&dir);
    let remote = json["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["backend"] == "remote")
        .unwrap();
    assert_eq!(remote["hosts"].as_array().unwrap().len(), 1, "{remote}");
}

#[test]
fn tune_refuses_what_it_cannot_do() {
    for args in [
        vec!["tune", "--kind", "noop", "--limits", "1,2"],
        vec!["tune", "--kind", "noop", "--max-limit", "0"],
        vec!["tune", "--kind", "noop", "--backend", "thread,async"],
        vec!["tune", "--kind", "noop", "--slo", "p99=later"],
    ] {
        tb().args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::is_match("^error: [^\n]+\n$").unwrap());
    }
}
