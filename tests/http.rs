//! End-to-end: `throttlebench serve` and the `http` workload over real sockets, on 127.0.0.1 only.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::bin;
use predicates::prelude::*;

/// A `throttlebench serve` child on a free loopback port, killed when dropped.
struct Served {
    child: Child,
    url: String,
    // Kept open so the server's later lines have a reader.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut child = Process::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--threads", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        assert!(url.contains("://127.0.0.1:"), "{url}");
        Served {
            child,
            url,
            _stdout: stdout,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (backend, throttle, items, ok, failed, timed_out, throughput) per row of results.csv.
type Row = (String, u64, u64, u64, u64, u64, f64);

fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f[i].parse::<u64>().unwrap();
            (
                f[1].to_string(),
                n(2),
                n(4),
                n(5),
                n(6),
                n(7),
                f[9].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn runs_against_a_standalone_server() {
    let served = Served::start(&["--latency-ms", "1"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    Command::new(bin())
        .args(["run", "--kind", "http", "--param"])
        .arg(format!("url={}", served.url))
        .args(["--limits", "1,4", "--items", "40", "-q", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = rows(&dir);
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.3 == 40), "{rows:?}");
}

#[test]
fn https_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let served = Served::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(served.url.starts_with("https://"), "{}", served.url);
    let run = |insecure: bool, dir: &Path| {
        Command::new(bin())
            .args([
                "run",
                "--kind",
                "http",
                "--backend",
                "thread,async",
                "--param",
            ])
            .arg(format!("url={}", served.url))
            .args(["--param", &format!("insecure={insecure}")])
            .args(["--limits", "2", "--items", "10", "-q", "--out"])
            .arg(dir)
            .assert()
    };
    let out = tempfile::tempdir().unwrap();
    run(true, &out.path().join("insecure")).success();
    let trusted = rows(&out.path().join("insecure"));
    assert!(trusted.iter().all(|r| r.3 == 10), "{trusted:?}");
    // Without `insecure`, the self-signed certificate is refused: every baseline item fails,
    // none hangs, and the run stops there with the cause on one line (exit 1).
    run(false, &out.path().join("strict")).code(1).stderr(
        predicates::str::contains("no item of the sequential baseline succeeded")
            .and(predicates::str::contains("tls")),
    );
    let strict = rows(&out.path().join("strict"));
    assert!(strict.iter().all(|r| r.4 == 10), "{strict:?}");
    let failures = std::fs::read_to_string(out.path().join("strict/failures.csv")).unwrap();
    assert!(failures.contains("tls"), "{failures}");
}

#[test]
fn a_server_that_is_down_is_one_line_and_exit_2() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let begin = Instant::now();
    Command::new(bin())
        .args(["run", "--kind", "http", "--param"])
        .arg(format!("url=http://{addr}/"))
        .args(["--limits", "2", "--items", "10", "-q", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("run"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("cannot connect to")
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
    assert!(begin.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_bad_url_is_one_line_and_exit_2() {
    for url in ["not a url", "ftp://127.0.0.1/"] {
        Command::new(bin())
            .args(["run", "--kind", "http", "--param", &format!("url={url}")])
            .args(["--items", "1", "-q", "--out"])
            .arg(tempfile::tempdir().unwrap().path().join("run"))
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("url")
                    .and(predicate::function(|s: &str| s.lines().count() == 1)),
            );
    }
}

#[test]
fn a_server_stopped_mid_run_leaves_every_item_accounted_for() {
    let mut served = Served::start(&["--latency-ms", "5"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let items = 600;
    let mut run = Process::new(bin())
        .args([
            "run",
            "--kind",
            "http",
            "--backend",
            "thread,async",
            "--param",
        ])
        .arg(format!("url={}", served.url))
        .args([
            "--param",
            "timeout_ms=2000",
            "--timeout",
            "3s",
            "--limits",
            "4",
        ])
        .args(["--items", &items.to_string(), "-q", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    served.child.kill().unwrap();
    let begin = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if begin.elapsed() > Duration::from_secs(60) {
            let _ = run.kill();
            panic!("the run hung after its server stopped");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let rows = rows(&dir);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.3 + r.4 + r.5, items, "{r:?}");
    }
    assert!(rows.iter().all(|r| r.4 > 0), "{rows:?}");
}

#[test]
fn throughput_flattens_at_the_servers_capacity() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    Command::new(bin())
        .args(["run", "--kind", "http", "--backend", "async"])
        .args([
            "--param",
            "server_latency_ms=20",
            "--param",
            "server_capacity=4",
        ])
        .args([
            "--limits", "1,4,8", "--items", "80", "--warmup", "8", "-q", "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    let rows = rows(&dir);
    let at = |t: u64| {
        rows.iter()
            .find(|r| r.0 == "async" && r.1 == t)
            .map(|r| r.6)
            .unwrap()
    };
    // Generous ratios: up to the capacity it scales, past it nothing more is gained.
    assert!(at(4) > 2.5 * at(1), "{rows:?}");
    assert!(at(8) < 1.3 * at(4), "{rows:?}");
}

#[test]
fn serve_refuses_bad_flags_and_stops_on_ctrl_c() {
    Command::new(bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--error-rate", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error rate"));
    Command::new(bin())
        .args(["serve", "--addr", "localhost"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--addr"));
    let mut served = Served::start(&[]);
    let child = &mut served.child;
    let pid = child.id() as i32;
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let begin = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "serve ignored Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}
