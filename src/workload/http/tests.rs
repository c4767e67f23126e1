use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::server::{Server, ServerConfig};
use crate::workload::{ItemResult, Registry};

/// Builds through a registry whose built-in server runs in this process: a unit test's binary
/// is not throttlebench and cannot be started as `serve` (tests/builtin_server.rs covers the
/// server's own process end to end).
fn build(params: Value) -> Result<Arc<dyn Workload>, SpecError> {
    let spec: WorkloadSpec =
        serde_json::from_value(json!({ "kind": "http", "params": params })).unwrap();
    let mut registry = Registry::builtin();
    registry.register(kind_with(ServerPlacement::InProcess));
    registry.build(&spec)
}

fn local(config: ServerConfig) -> Server {
    Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), config, None).unwrap()
}

fn run_async(runner: &mut dyn Runner, items: u64) -> Vec<ItemResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut outcomes = Vec::new();
        for item in 0..items {
            outcomes.push(runner.run_async(item).await);
        }
        outcomes
    })
}

#[test]
fn builtin_server_answers_on_both_paths() {
    let workload = build(json!({ "server_latency_ms": 1 })).unwrap();
    let mut runner = workload.runner().unwrap();
    for item in 0..20 {
        assert_eq!(runner.run(item), Ok(()));
    }
    let mut runner = workload.runner().unwrap();
    assert!(run_async(runner.as_mut(), 20).iter().all(Result::is_ok));
}

#[test]
fn workers_get_the_builtin_servers_url() {
    let workload =
        build(json!({ "server_latency_ms": 1, "server_capacity": 4, "method": "POST" })).unwrap();
    let spec = workload.spec_for_workers().unwrap();
    let url = spec.params["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        spec.params.keys().all(|k| !k.starts_with("server_")),
        "{spec:?}"
    );
    assert_eq!(spec.params["method"], "POST");
    // A worker rebuilds it and reaches the same server, starting none of its own.
    let rebuilt = Registry::builtin().build(&spec).unwrap();
    assert!(rebuilt.spec_for_workers().is_none());
    assert_eq!(rebuilt.runner().unwrap().run(0), Ok(()));
}

#[test]
fn a_user_url_needs_no_worker_spec() {
    let server = local(ServerConfig::default());
    let workload = build(json!({ "url": server.url() })).unwrap();
    assert!(workload.spec_for_workers().is_none());
}

#[test]
fn non_2xx_is_a_failure_kinded_by_status() {
    let workload = build(json!({ "server_latency_ms": 0, "server_error_rate": 1.0 })).unwrap();
    let err = workload.runner().unwrap().run(0).unwrap_err();
    assert_eq!(err.kind, "http-503");
}

#[test]
fn a_full_queue_answers_503_instead_of_waiting() {
    let server = local(ServerConfig {
        latency: Duration::from_millis(300),
        capacity: Some(1),
        queue: 0,
        ..ServerConfig::default()
    });
    let workload = build(json!({ "url": server.url() })).unwrap();
    let busy = {
        let mut runner = workload.runner().unwrap();
        std::thread::spawn(move || runner.run(0))
    };
    std::thread::sleep(Duration::from_millis(100));
    let begin = Instant::now();
    let err = workload.runner().unwrap().run(1).unwrap_err();
    assert_eq!(err.kind, "http-503");
    assert!(begin.elapsed() < Duration::from_millis(250));
    assert_eq!(busy.join().unwrap(), Ok(()));
}

#[test]
fn a_slow_answer_times_out() {
    let server = local(ServerConfig {
        latency: Duration::from_secs(2),
        ..ServerConfig::default()
    });
    let workload = build(json!({ "url": server.url(), "timeout_ms": 100 })).unwrap();
    let mut runner = workload.runner().unwrap();
    let begin = Instant::now();
    assert_eq!(runner.run(0).unwrap_err().kind, "timeout");
    assert_eq!(
        run_async(runner.as_mut(), 1)[0].as_ref().unwrap_err().kind,
        "timeout"
    );
    assert!(begin.elapsed() < Duration::from_secs(1));
}

#[test]
fn the_deadline_restarts_with_every_item() {
    // Ten 30 ms answers under a 100 ms limit: the runner keeps one timer and moves it per item,
    // so an item must never inherit an earlier item's deadline.
    let server = local(ServerConfig {
        latency: Duration::from_millis(30),
        ..ServerConfig::default()
    });
    let workload = build(json!({ "url": server.url(), "timeout_ms": 100 })).unwrap();
    let mut runner = workload.runner().unwrap();
    for item in 0..10 {
        assert_eq!(runner.run(item), Ok(()), "blocking item {item}");
    }
    for (item, outcome) in run_async(runner.as_mut(), 10).into_iter().enumerate() {
        assert_eq!(outcome, Ok(()), "async item {item}");
    }
}

#[test]
fn a_timer_that_fired_still_times_the_next_item() {
    let server = local(ServerConfig {
        latency: Duration::from_secs(2),
        ..ServerConfig::default()
    });
    let workload = build(json!({ "url": server.url(), "timeout_ms": 100 })).unwrap();
    let mut runner = workload.runner().unwrap();
    let begin = Instant::now();
    for outcome in run_async(runner.as_mut(), 3) {
        assert_eq!(outcome.unwrap_err().kind, "timeout");
    }
    assert!(begin.elapsed() < Duration::from_millis(1500));
}

#[test]
fn a_server_that_goes_away_fails_items_quickly() {
    let server = local(ServerConfig::default());
    let workload = build(json!({ "url": server.url(), "timeout_ms": 2000 })).unwrap();
    let mut runner = workload.runner().unwrap();
    assert_eq!(runner.run(0), Ok(()));
    server.stop();
    let begin = Instant::now();
    let err = runner.run(1).unwrap_err();
    assert!(["connect", "reset"].contains(&err.kind.as_ref()), "{err}");
    let err = run_async(runner.as_mut(), 1).remove(0).unwrap_err();
    assert!(["connect", "reset"].contains(&err.kind.as_ref()), "{err}");
    assert!(begin.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_unreachable_url_is_refused_before_the_run() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = build(json!({ "url": format!("http://{addr}/") }))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot connect to"), "{err}");
}

#[test]
fn bad_input_is_refused_with_the_parameter_named() {
    let server = local(ServerConfig::default());
    let cases = [
        (json!({ "url": "ftp://127.0.0.1/" }), "http://"),
        (json!({ "url": server.url(), "method": "GE T" }), "method"),
        (
            json!({ "url": server.url(), "server_capacity": 4 }),
            "server_capacity",
        ),
        (json!({ "server_error_rate": 2.0 }), "between 0 and 1"),
        (
            json!({ "url": server.url(), "headers": { "Bad Name": "x" } }),
            "headers",
        ),
    ];
    for (params, expected) in cases {
        let err = build(params).err().unwrap().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn https_with_a_self_signed_certificate_needs_insecure() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let tls = crate::tls::server_config(vec![cert.cert.der().clone()], key).unwrap();
    let server = Server::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        ServerConfig::default(),
        Some(tls),
    )
    .unwrap();
    let url = format!("https://{}/", server.addr());
    let trusting = build(json!({ "url": url, "insecure": true })).unwrap();
    let mut runner = trusting.runner().unwrap();
    assert_eq!(runner.run(0), Ok(()));
    assert!(run_async(runner.as_mut(), 3).iter().all(Result::is_ok));
    let strict = build(json!({ "url": url })).unwrap();
    assert_eq!(strict.runner().unwrap().run(0).unwrap_err().kind, "tls");
}

#[test]
fn method_headers_and_body_are_sent() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // A bare socket server: the connection check before the run sends nothing and is skipped.
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !String::from_utf8_lossy(&seen).contains("hello") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            if !seen.is_empty() {
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
                let _ = tx.send(String::from_utf8_lossy(&seen).to_string());
                return;
            }
        }
    });
    let workload = build(json!({
        "url": format!("http://{addr}/api/items?x=1"),
        "method": "POST",
        "body": "hello",
        "headers": { "Authorization": "Bearer t" },
        "header": ["Accept-Encoding: gzip, deflate", "X-Id: 1", "X-Id:2"],
    }))
    .unwrap();
    assert_eq!(workload.runner().unwrap().run(0), Ok(()));
    let request = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        request.starts_with("post /api/items?x=1 http/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains(&format!("host: {addr}\r\n")), "{request}");
    assert!(request.contains("authorization: bearer t\r\n"), "{request}");
    assert!(
        request.contains("accept-encoding: gzip, deflate\r\n"),
        "{request}"
    );
    assert!(request.contains("x-id: 1\r\nx-id: 2\r\n"), "{request}");
    assert!(
        request.contains(&format!(
            "user-agent: throttlebench/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{request}"
    );
    assert!(
        request.contains("content-length: 5\r\n") && request.ends_with("hello"),
        "{request}"
    );
}

#[test]
fn chunked_answers_and_connections_closed_while_idle() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    // Each connection gets one chunked answer and is then closed without notice, the way a
    // server's keep-alive timeout closes an idle connection.
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            if seen.is_empty() {
                continue;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            );
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let workload = build(json!({ "url": format!("http://{addr}/"), "timeout_ms": 2000 })).unwrap();
    let mut runner = workload.runner().unwrap();
    for item in 0..3 {
        assert_eq!(runner.run(item), Ok(()), "blocking item {item}");
    }
    for (item, outcome) in run_async(runner.as_mut(), 3).into_iter().enumerate() {
        assert_eq!(outcome, Ok(()), "async item {item}");
    }
    assert_eq!(answered.load(Ordering::SeqCst), 6);
}
