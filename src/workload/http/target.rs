//! What a runner requests: the origin it connects to (addresses and TLS), the request encoded
//! once, and the settings every request of the workload shares (accepted statuses, redirects,
//! timeout, and the parts a redirect hop's request is encoded from).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, COOKIE, HOST};
use hyper::header::{PROXY_AUTHORIZATION, USER_AGENT};
use hyper::{Method, Uri};
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::status::StatusSet;
use super::wire;
use crate::error::SpecError;
use crate::workload::Params;

/// Sent unless the user gives a `User-Agent` of their own: servers and firewalls often treat a
/// request without one apart.
pub(crate) const DEFAULT_USER_AGENT: &str = concat!("throttlebench/", env!("CARGO_PKG_VERSION"));

/// Most redirects `follow_redirects` may ask for: past this, a chain is a loop in all but name.
pub(crate) const MAX_FOLLOW: u64 = 100;

/// A scheme, host and port, with the host's addresses and, for https, how to speak TLS to it.
pub(crate) struct Origin {
    /// `http://host:port` (lowercase, port always written): equal keys, same origin.
    pub key: String,
    pub https: bool,
    /// `host[:port]` as the Host header carries it.
    pub authority: String,
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Origin {
    /// The key of the origin `authority` names, without resolving it.
    pub fn key_of(https: bool, authority: &hyper::http::uri::Authority) -> Result<String, String> {
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("has no host ('{authority}')"));
        }
        let scheme = if https { "https" } else { "http" };
        Ok(format!("{scheme}://{host}:{port}"))
    }

    /// Resolves `authority` (blocking: at setup, or the first time a redirect leads there).
    pub fn new(https: bool, authority: &str, connector: &TlsConnector) -> Result<Origin, String> {
        let parsed: hyper::http::uri::Authority = authority
            .parse()
            .map_err(|e| format!("has an unusable host '{authority}': {e}"))?;
        let key = Origin::key_of(https, &parsed)?;
        let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
        let port = parsed.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve host '{host}': {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("host '{host}' has no address"));
        }
        let tls = match https {
            false => None,
            true => {
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| format!("has a host TLS cannot name ('{host}'): {e}"))?;
                Some((connector.clone(), name))
            }
        };
        Ok(Origin {
            key,
            https,
            authority: authority.to_string(),
            addrs,
            tls,
        })
    }

    /// A blocking TCP connect, used before the clock starts and to check a URL up front.
    pub fn connect_blocking(&self, limit: Duration) -> std::io::Result<std::net::TcpStream> {
        let mut last = None;
        for addr in &self.addrs {
            match std::net::TcpStream::connect_timeout(addr, limit) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the host has no address")))
    }
}

/// What every request of the workload shares.
pub(crate) struct Settings {
    pub timeout: Duration,
    /// Statuses that make the (final) answer a success.
    pub accept: StatusSet,
    /// Redirects followed per item; 0: a redirect is the answer.
    pub follow: u32,
    /// The user's headers and the default User-Agent, without Host.
    pub headers: HeaderMap,
    /// The user's own Host header: sent to the URL's origin in place of its authority (a
    /// virtual host on an address), never to another origin a redirect leads to.
    pub host: Option<HeaderValue>,
    /// The URL's origin (`Origin::key`).
    pub home: String,
    pub body: Vec<u8>,
    /// TLS for any https origin, a redirect's included.
    pub connector: TlsConnector,
}

/// One request to one origin, encoded once.
pub(crate) struct Target {
    pub origin: Arc<Origin>,
    pub method: Method,
    /// `METHOD scheme://host:port/path`: two hops with the same key are the same request.
    pub key: String,
    /// The path and query, in origin form.
    pub path: String,
    /// The whole request (`wire::encode_request`).
    pub request: Vec<u8>,
    /// A HEAD request: the answer has a head only, whatever its Content-Length says.
    pub head: bool,
    /// Whether the body goes with the request (a redirect to GET drops it).
    pub with_body: bool,
    pub settings: Arc<Settings>,
}

impl Target {
    pub fn new(
        origin: Arc<Origin>,
        method: Method,
        path: String,
        with_body: bool,
        settings: Arc<Settings>,
    ) -> Result<Target, String> {
        let mut headers = HeaderMap::with_capacity(settings.headers.len() + 1);
        let host = match &settings.host {
            Some(host) if origin.key == settings.home => host.clone(),
            _ => HeaderValue::from_str(&origin.authority)
                .map_err(|e| format!("has an unusable host '{}': {e}", origin.authority))?,
        };
        headers.insert(HOST, host);
        // Credentials are for the URL's origin: a redirect elsewhere goes without them (curl).
        let home = origin.key == settings.home;
        for (name, value) in &settings.headers {
            if home || ![AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION].contains(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let body = if with_body { &settings.body[..] } else { &[] };
        Ok(Target {
            key: format!("{method} {}{path}", origin.key),
            request: wire::encode_request(&method, &path, &headers, body),
            head: method == Method::HEAD,
            origin,
            method,
            path,
            with_body,
            settings,
        })
    }

    pub fn request(&self) -> wire::Request<'_> {
        wire::Request {
            bytes: &self.request,
            head: self.head,
            follow: self.settings.follow > 0,
        }
    }
}

/// The workload's target from its parameters and the URL to request.
pub(crate) fn from_params(p: &Params, url: &str) -> Result<Target, SpecError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| p.invalid("url", format!("is not a URL ('{url}'): {e}")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(p.invalid(
                "url",
                format!("must start with http:// or https:// ('{url}')"),
            ))
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| p.invalid("url", format!("has no host ('{url}')")))?;
    let connector = connector(p)?;
    let origin = Origin::new(https, authority.as_str(), &connector).map_err(|why| {
        match why.starts_with("cannot resolve") || why.contains("no address") {
            true => SpecError::invalid(format!("{why} ({url})")),
            false => p.invalid("url", why),
        }
    })?;
    let method = Method::from_bytes(p.str("method")?.as_bytes()).map_err(|_| {
        p.invalid(
            "method",
            format!(
                "is not an HTTP method ('{}')",
                p.str("method").unwrap_or("")
            ),
        )
    })?;
    // The request target in origin form; the URI parser has already checked its characters.
    let path = match uri.path_and_query().map(|pq| pq.as_str()) {
        Some(pq) if pq.starts_with('/') => pq.to_string(),
        Some(pq) => format!("/{pq}"),
        None => "/".to_string(),
    };
    let timeout = p.millis("timeout_ms")?;
    if timeout.is_zero() {
        return Err(p.invalid("timeout_ms", "must be above 0"));
    }
    let accept = match p.opt_str("ok_status") {
        Some(text) => StatusSet::parse(text).map_err(|why| p.invalid("ok_status", why))?,
        None => StatusSet::success(),
    };
    let follow = p.u64("follow_redirects")?;
    if follow > MAX_FOLLOW {
        return Err(p.invalid(
            "follow_redirects",
            format!("must be at most {MAX_FOLLOW}, got {follow}"),
        ));
    }
    let mut headers = headers(p)?;
    let settings = Arc::new(Settings {
        timeout,
        accept,
        follow: follow as u32,
        host: headers.remove(HOST),
        home: origin.key.clone(),
        headers,
        body: p.opt_str("body").unwrap_or_default().as_bytes().to_vec(),
        connector,
    });
    Target::new(Arc::new(origin), method, path, true, settings).map_err(|why| p.invalid("url", why))
}

/// TLS from `insecure`, `cacert`, `client_cert` and `client_key`; built for plain http too, so
/// that a wrong file is reported whatever the URL, and a redirect to https can follow.
fn connector(p: &Params) -> Result<TlsConnector, SpecError> {
    let path = |name: &str| p.opt_str(name).map(std::path::Path::new);
    let identity = match (path("client_cert"), path("client_key")) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => return Err(p.invalid("client_cert", "needs client_key too")),
        (None, Some(_)) => return Err(p.invalid("client_key", "needs client_cert too")),
    };
    let tls = crate::tls::ClientTls {
        insecure: p.bool("insecure")?,
        cacert: path("cacert"),
        identity,
    };
    let config = crate::tls::client_config(&tls)
        .map_err(|e| SpecError::invalid(format!("TLS setup: {e:#}")))?;
    Ok(TlsConnector::from(config))
}

/// `headers` (a table), then each `header` entry ("Name: value"), then the default User-Agent
/// when none was given. An entry replaces what the table (or an earlier default) set for its
/// name the first time the name appears in the list, and adds a line after that, as curl's -H.
fn headers(p: &Params) -> Result<HeaderMap, SpecError> {
    let mut headers = HeaderMap::new();
    let parse = |param: &str, name: &str, value: &str| {
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| p.invalid(param, format!("has an invalid header name '{name}'")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| p.invalid(param, format!("has an invalid value for '{name}'")))?;
        Ok::<_, SpecError>((header, value))
    };
    for (name, value) in p.str_map("headers") {
        let (name, value) = parse("headers", &name, &value)?;
        headers.insert(name, value);
    }
    let mut listed: Vec<HeaderName> = Vec::new();
    for line in p.str_list("header") {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            p.invalid(
                "header",
                format!("expects 'Name: value', got '{line}' (no colon)"),
            )
        })?;
        let (name, value) = parse("header", name, value)?;
        if listed.contains(&name) {
            headers.append(name, value);
        } else {
            listed.push(name.clone());
            headers.insert(name, value);
        }
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
    }
    Ok(headers)
}
