//! The options load testers reach for: accepted statuses, redirects, CA files and client
//! certificates, and the bytes each way, against the built-in server on threads of this test.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::server::{Server, ServerConfig};
use crate::workload::{Registry, Transfer};

fn build(params: Value) -> Result<Arc<dyn Workload>, SpecError> {
    let spec: WorkloadSpec =
        serde_json::from_value(json!({ "kind": "http", "params": params })).unwrap();
    let mut registry = Registry::builtin();
    registry.register(kind_with(ServerPlacement::InProcess));
    registry.build(&spec)
}

fn kinds(workload: &Arc<dyn Workload>, items: u64) -> Vec<String> {
    let mut runner = workload.runner().unwrap();
    (0..items)
        .map(|i| match runner.run(i) {
            Ok(()) => "ok".to_string(),
            Err(e) => e.kind.to_string(),
        })
        .collect()
}

#[test]
fn accepted_statuses_decide_what_succeeds() {
    let redirect = build(json!({ "url": "/redirect/1", "ok_status": "200-299,301" })).unwrap();
    assert_eq!(kinds(&redirect, 3), ["ok", "ok", "ok"]);
    let not_found = build(json!({ "url": "/status/404", "ok_status": "404" })).unwrap();
    assert_eq!(kinds(&not_found, 2), ["ok", "ok"]);
    // Not accepted: kinded by the status, as before.
    let default = build(json!({ "url": "/redirect/1" })).unwrap();
    assert_eq!(kinds(&default, 2), ["http-301", "http-301"]);
    let ok_only = build(json!({ "ok_status": "204" })).unwrap();
    assert_eq!(kinds(&ok_only, 1), ["http-200"]);
}

#[test]
fn redirects_are_followed_up_to_the_limit_and_loops_fail() {
    let two = build(json!({ "url": "/redirect/2", "follow_redirects": 2 })).unwrap();
    assert_eq!(kinds(&two, 3), ["ok", "ok", "ok"]);
    let mut runner = two.runner().unwrap();
    let outcomes = tests_support::run_async(runner.as_mut(), 3);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let short = build(json!({ "url": "/redirect/3", "follow_redirects": 2 })).unwrap();
    assert_eq!(kinds(&short, 2), ["redirect", "redirect"]);
    let looping = build(json!({ "url": "/redirect/loop", "follow_redirects": 10 })).unwrap();
    let mut runner = looping.runner().unwrap();
    let err = runner.run(0).unwrap_err();
    assert_eq!(err.kind, "redirect");
    assert!(err.message.contains("loop"), "{}", err.message);
    // A 3xx to follow without a Location is the final answer, judged as one.
    let status = build(json!({ "url": "/status/304", "follow_redirects": 3 })).unwrap();
    assert_eq!(kinds(&status, 1), ["http-304"]);
}

#[test]
fn bytes_each_way_are_counted_per_runner_and_taken_once() {
    let workload = build(json!({ "server_body_size": "10KiB", "server_latency_ms": 0 })).unwrap();
    let mut runner = workload.runner().unwrap();
    for item in 0..5 {
        runner.run(item).unwrap();
    }
    let moved = runner.take_transfer().unwrap();
    assert!(
        (5 * 10240..5 * 10240 + 5 * 400).contains(&moved.rx),
        "five bodies and their heads: {moved:?}"
    );
    assert!((5 * 40..5 * 400).contains(&moved.tx), "{moved:?}");
    assert_eq!(runner.take_transfer(), Some(Transfer::default()), "taken");
    let outcomes = tests_support::run_async(runner.as_mut(), 2);
    assert!(outcomes.iter().all(Result::is_ok));
    assert!(runner.take_transfer().unwrap().rx >= 2 * 10240);
}

#[test]
fn bad_options_are_refused_naming_the_parameter() {
    for (params, says) in [
        (json!({ "ok_status": "200-2x9" }), "ok_status"),
        (json!({ "ok_status": "" }), "ok_status"),
        (json!({ "follow_redirects": 1000 }), "follow_redirects"),
        (json!({ "cacert": "/no/such/ca.pem" }), "/no/such/ca.pem"),
        (json!({ "client_cert": "c.pem" }), "client_key"),
        (json!({ "header": ["no colon"] }), "header"),
        (json!({ "header": ["Bad Name: x"] }), "header"),
    ] {
        let err = build(params.clone()).err().unwrap().to_string();
        assert!(err.contains(says), "{params}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

/// A CA, and a certificate for 127.0.0.1 it signed, as PEM files in `dir`: `ca.pem`,
/// `server.pem`/`server.key`, and `client.pem`/`client.key`.
fn generated_pki(
    dir: &Path,
) -> (
    rustls_pki_types::CertificateDer<'static>,
    Arc<rustls::ServerConfig>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let signed = |name: &str, san: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![san.to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    };
    signed("server", "127.0.0.1");
    signed("client", "client.test");
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let server =
        crate::tls::server_config_from_pem(&dir.join("server.pem"), &dir.join("server.key"));
    (ca.der().clone(), server.unwrap())
}

fn tls_server(tls: Arc<rustls::ServerConfig>) -> Server {
    Server::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        ServerConfig::default(),
        Some(tls),
    )
    .unwrap()
}

#[test]
fn a_ca_file_is_trusted_without_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tls) = generated_pki(dir.path());
    let server = tls_server(tls);
    let url = format!("https://{}/", server.addr());
    let ca = dir.path().join("ca.pem");
    let trusting = build(json!({ "url": url, "cacert": ca })).unwrap();
    assert_eq!(kinds(&trusting, 2), ["ok", "ok"]);
    let strict = build(json!({ "url": url })).unwrap();
    assert_eq!(kinds(&strict, 1), ["tls"]);
}

#[test]
fn a_client_certificate_is_shown_to_a_server_that_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = generated_pki(dir.path());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let certs = rustls_pki_types::pem::PemObject::pem_file_iter(dir.path().join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key: rustls_pki_types::PrivateKeyDer =
        rustls_pki_types::pem::PemObject::from_pem_file(dir.path().join("server.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server = tls_server(Arc::new(config));
    let url = format!("https://{}/", server.addr());
    let ca = dir.path().join("ca.pem");
    let with_cert = build(json!({
        "url": url,
        "cacert": ca,
        "client_cert": dir.path().join("client.pem"),
        "client_key": dir.path().join("client.key"),
    }))
    .unwrap();
    assert_eq!(kinds(&with_cert, 2), ["ok", "ok"]);
    let without = build(json!({ "url": url, "cacert": ca })).unwrap();
    assert_ne!(kinds(&without, 1), ["ok"]);
}

mod tests_support {
    use crate::workload::{ItemResult, Runner};

    pub fn run_async(runner: &mut dyn Runner, items: u64) -> Vec<ItemResult> {
        let runtime = tokio::runtime::Builder::new_current_thread()
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
}
