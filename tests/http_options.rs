//! End-to-end: the HTTP options load testers expect — accepted statuses, redirects, a private
//! CA, repeated headers, bytes and transfer rate — through the binary, on 127.0.0.1 only.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use common::{bin, csv_rows as rows};

fn num(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = '{}' in {row:?}", row[column]))
}

/// `throttlebench run --kind http` with these params and flags, into a fresh folder.
fn run(params: &[&str], flags: &[&str]) -> (tempfile::TempDir, Vec<BTreeMap<String, String>>) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--kind", "http", "-q", "--out"]).arg(&dir);
    for p in params {
        cmd.args(["--param", p]);
    }
    cmd.args(flags).assert().success();
    let rows = rows(&dir);
    (out, rows)
}

#[test]
fn accepted_statuses_make_a_301_a_success() {
    let (_out, rows) = run(
        &[
            "url=/redirect/1",
            "ok_status=200-299,301",
            "server_latency_ms=1",
        ],
        &["--backend", "thread", "--limits", "2", "--items", "20"],
    );
    assert!(
        rows.iter().all(|r| r["ok"] == "20" && r["failed"] == "0"),
        "{rows:?}"
    );
    // By default it is a failure of its own kind, never work.
    let (out, rows) = run(
        &["url=/redirect/1", "server_latency_ms=1"],
        &[
            "--backend",
            "thread",
            "--limits",
            "2",
            "--items",
            "20",
            "--ignore-failures",
        ],
    );
    assert!(
        rows.iter()
            .all(|r| r["failed"] == "20" && num(r, "goodput_per_s") == 0.0),
        "{rows:?}"
    );
    let failures = std::fs::read_to_string(out.path().join("run/failures.csv")).unwrap();
    assert!(failures.contains(",http-301,"), "{failures}");
}

/// A keep-alive server that answers `/a` with a redirect to `/b` and `/b` with 200, and notes
/// every request with the connection it came on.
struct Logging {
    url: String,
    /// (connection number, request head) in arrival order.
    seen: Arc<Mutex<Vec<(usize, String)>>>,
}

impl Logging {
    fn start() -> Logging {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/a", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (conn, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let log = log.clone();
                std::thread::spawn(move || serve_logged(conn, stream, &log));
            }
        });
        Logging { url, seen }
    }
}

fn serve_logged(conn: usize, mut stream: std::net::TcpStream, log: &Mutex<Vec<(usize, String)>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            pending.drain(..end + 4);
            let answer: &[u8] = if head.starts_with("GET /a ") {
                b"HTTP/1.1 301 Moved Permanently\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            };
            log.lock().unwrap().push((conn, head));
            if stream.write_all(answer).is_err() {
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_followed_redirect_is_two_requests_on_one_connection_with_the_headers_given() {
    let server = Logging::start();
    let url = format!("url={}", server.url);
    let (_out, rows) = run(
        &[
            &url,
            "follow_redirects=1",
            "header=Accept-Encoding: gzip, deflate",
            "header=X-Id: 1",
            "header=X-Id: 2",
        ],
        &[
            "--backend",
            "thread,async",
            "--limits",
            "2",
            "--items",
            "20",
        ],
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["ok"] == "20"), "{rows:?}");
    let seen = server.seen.lock().unwrap().clone();
    let heads: Vec<(usize, &str)> = seen.iter().map(|(c, h)| (*c, &h[..6])).collect();
    // Both hops of every item reach the server: 60 items, and the first point's warm-up.
    assert!(
        seen.len() % 2 == 0 && (2 * 60..=2 * 62).contains(&seen.len()),
        "{heads:?}"
    );
    // Per connection, requests alternate /a, /b: each hop went on the slot's own connection.
    let mut per_conn: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (conn, head) in &seen {
        per_conn.entry(*conn).or_default().push(&head[..6]);
    }
    assert!(per_conn.len() <= 5, "one connection per slot: {per_conn:?}");
    for heads in per_conn.values() {
        for pair in heads.chunks(2) {
            assert_eq!(pair, ["GET /a", "GET /b"], "{heads:?}");
        }
    }
    let head = seen[0].1.to_ascii_lowercase();
    assert!(
        head.contains("\r\naccept-encoding: gzip, deflate"),
        "{head}"
    );
    assert!(head.contains("\r\nx-id: 1\r\nx-id: 2"), "{head}");
    assert!(head.contains("\r\nuser-agent: throttlebench/"), "{head}");
}

#[test]
fn a_followed_redirects_latency_spans_both_hops() {
    let flags = ["--backend", "thread", "--limits", "1", "--items", "15"];
    let p50 = |rows: &[BTreeMap<String, String>]| num(&rows[1], "lat_p50_ms");
    let (_a, plain) = run(&["url=/", "server_latency_ms=25"], &flags);
    let (_b, followed) = run(
        &[
            "url=/redirect/1",
            "follow_redirects=1",
            "server_latency_ms=25",
        ],
        &flags,
    );
    let (one, two) = (p50(&plain), p50(&followed));
    assert!(two >= 50.0, "two answers of 25 ms each: {two} ms");
    assert!((1.6..2.6).contains(&(two / one)), "{two} ms vs {one} ms");
}

#[test]
fn one_mib_answers_move_one_mib_per_item_on_every_backend() {
    let (_out, rows) = run(
        &["server_body_size=1MiB", "server_latency_ms=0"],
        &[
            "--backend",
            "thread,async,process,process-per-item",
            "--limits",
            "2",
            "--items",
            "24",
        ],
    );
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in &rows {
        let per_item = num(row, "rx_mb_per_s") / num(row, "goodput_per_s");
        assert!(
            (0.95..1.05).contains(&per_item),
            "{}: {per_item} MiB per item ({row:?})",
            row["backend"]
        );
        let rx = num(row, "rx_bytes") / 24.0;
        assert!((1048576.0..1048576.0 + 1024.0).contains(&rx), "{row:?}");
        let tx = num(row, "tx_bytes") / 24.0;
        assert!(
            (40.0..400.0).contains(&tx),
            "one small request per item: {row:?}"
        );
    }
}

#[test]
fn workloads_that_move_no_bytes_leave_the_columns_empty() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    Command::new(bin())
        .args([
            "run",
            "--kind",
            "noop",
            "--backend",
            "thread",
            "--limits",
            "1",
        ])
        .args(["--items", "10", "-q", "--out"])
        .arg(&dir)
        .assert()
        .success();
    for row in rows(&dir) {
        for column in ["rx_bytes", "tx_bytes", "rx_mb_per_s"] {
            assert_eq!(row[column], "", "{column} in {row:?}");
        }
    }
}

/// A `throttlebench serve` over https with a certificate signed by a CA made here.
struct TlsServed {
    child: Child,
    url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for TlsServed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server(dir: &Path) -> TlsServed {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let mut child = Process::new(bin())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--threads",
            "1",
            "--tls-cert",
        ])
        .arg(dir.join("server.pem"))
        .arg("--tls-key")
        .arg(dir.join("server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    TlsServed {
        child,
        url,
        _stdout: stdout,
    }
}

#[test]
fn a_server_signed_by_a_generated_ca_is_trusted_through_cacert() {
    let keys = tempfile::tempdir().unwrap();
    let served = tls_server(keys.path());
    let url = format!("url={}", served.url);
    let ca = format!("cacert={}", keys.path().join("ca.pem").display());
    let (_out, rows) = run(
        &[&url, &ca],
        &[
            "--backend",
            "thread,async,process",
            "--limits",
            "2",
            "--items",
            "10",
        ],
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r["ok"] == "10"), "{rows:?}");
    // Without it, the certificate is not trusted: every item fails as `tls`, and the run stops.
    let out = tempfile::tempdir().unwrap();
    let stdout = Command::new(bin())
        .args([
            "run", "--kind", "http", "--param", &url, "--items", "3", "-q", "--out",
        ])
        .arg(out.path().join("run"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let said = String::from_utf8_lossy(&stdout.stderr).to_string()
        + &String::from_utf8_lossy(&stdout.stdout);
    assert!(said.contains("tls"), "{said}");
}

#[test]
fn bad_options_are_one_line_and_exit_2() {
    for (param, says) in [
        ("cacert=/no/such/dir/ca.pem", "/no/such/dir/ca.pem"),
        ("ok_status=200-2x9", "ok_status"),
        ("follow_redirects=-1", "follow_redirects"),
        ("header=no colon here", "header"),
    ] {
        let output = Command::new(bin())
            .args(["run", "--kind", "http", "--param", param, "--items", "1"])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{param}: {stderr}");
        assert!(stderr.contains(says), "{param}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
