//! `http`: one request per item over a keep-alive connection per in-flight slot. Without a
//! `url`, the run starts the built-in server on 127.0.0.1 (latency, capacity and error rate set
//! by the `server_*` parameters), so a spec needs no external service. The server runs in a
//! child process, so its CPU and memory are not counted as the client's. A non-2xx answer fails
//! the item as `http-<status>`; connection trouble as `connect`, `reset`, `tls` or `timeout`.

mod blocking;
mod client;
mod wire;

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Method, Uri};
use rustls_pki_types::ServerName;
use serde_json::Value;

use super::{ItemError, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind, WorkloadSpec};
use crate::error::SpecError;
use crate::server::{Server, ServerConfig, ServerProcess};
use client::{Client, Target};

/// The longest a user URL is given to accept a connection before the sweep starts.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

const SERVER_PARAMS: [&str; 5] = [
    "server_latency_ms",
    "server_jitter_ms",
    "server_capacity",
    "server_queue",
    "server_error_rate",
];

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "url",
        ParamType::Str,
        None,
        "http:// or https:// URL to request (unset: the built-in server on 127.0.0.1)",
    ),
    ParamDef::new("method", ParamType::Str, Some("GET"), "request method"),
    ParamDef::new(
        "headers",
        ParamType::StrMap,
        None,
        "extra request headers (table, or \"Name: value, Name: value\")",
    ),
    ParamDef::new("body", ParamType::Str, None, "request body (default: none)"),
    ParamDef::new(
        "timeout_ms",
        ParamType::Float,
        Some("10000"),
        "longest wait for a complete answer, connecting included",
    ),
    ParamDef::new(
        "insecure",
        ParamType::Bool,
        Some("false"),
        "https: accept any certificate (self-signed test servers)",
    ),
    ParamDef::new(
        "server_latency_ms",
        ParamType::Float,
        None,
        "built-in server: time to answer each request (default 10)",
    ),
    ParamDef::new(
        "server_jitter_ms",
        ParamType::Float,
        None,
        "built-in server: answers take latency ± up to this (default 0)",
    ),
    ParamDef::new(
        "server_capacity",
        ParamType::Int,
        None,
        "built-in server: requests served at once, the rest wait (default: no limit)",
    ),
    ParamDef::new(
        "server_queue",
        ParamType::Int,
        None,
        "built-in server: requests allowed to wait; past it, 503 (default 1024)",
    ),
    ParamDef::new(
        "server_error_rate",
        ParamType::Float,
        None,
        "built-in server: share of requests answered 503 (default 0)",
    ),
];

/// Where the built-in server runs when no `url` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerPlacement {
    /// A `throttlebench serve` child process, so that the server's CPU and memory are not
    /// counted in the client's columns. Needs a throttlebench binary: the running one, or the
    /// one `THROTTLEBENCH_EXE` names (as for process workers). What the CLI always uses.
    #[default]
    OwnProcess,
    /// Threads of the measuring process itself: needs no throttlebench binary (unit tests, a
    /// library user's own binary), but the server's CPU and memory are then counted as the
    /// client's. Chosen only explicitly, through [`kind_with`].
    InProcess,
}

/// The `http` kind, with the built-in server in a process of its own.
pub fn kind() -> WorkloadKind {
    kind_with(ServerPlacement::OwnProcess)
}

/// The `http` kind with the built-in server placed as asked; register it over the built-in
/// kind (`Registry::register`) to change where a run's server runs.
pub fn kind_with(placement: ServerPlacement) -> WorkloadKind {
    WorkloadKind::new(
        "http",
        "one HTTP request per item (keep-alive); default target: a built-in server",
        PARAMS,
        move |p| Ok(Arc::new(Http::with_server(p, placement)?)),
    )
}

/// The built-in server a run started, kept running for as long as the workload lives.
enum Builtin {
    Process(ServerProcess),
    InProcess(Server),
}

impl Builtin {
    fn start(config: ServerConfig, placement: ServerPlacement) -> anyhow::Result<Builtin> {
        Ok(match placement {
            ServerPlacement::OwnProcess => Builtin::Process(ServerProcess::start(&config)?),
            ServerPlacement::InProcess => Builtin::InProcess(Server::start(
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                config,
                None,
            )?),
        })
    }

    fn url(&self) -> String {
        match self {
            Builtin::Process(server) => server.url(),
            Builtin::InProcess(server) => server.url(),
        }
    }
}

/// The HTTP workload: a target, and the built-in server when the run started one.
pub struct Http {
    target: Arc<Target>,
    url: String,
    params: Params,
    server: Option<Builtin>,
}

impl Http {
    /// The workload with the built-in server (if no `url`) in a process of its own.
    pub fn from_params(p: &Params) -> Result<Self, SpecError> {
        Http::with_server(p, ServerPlacement::OwnProcess)
    }

    pub fn with_server(p: &Params, placement: ServerPlacement) -> Result<Self, SpecError> {
        let (url, server) = match p.opt_str("url") {
            Some(url) => {
                if let Some(name) = SERVER_PARAMS.iter().find(|n| p.has(n)) {
                    return Err(p.invalid(
                        name,
                        "only applies to the built-in server, which is not used when 'url' is set",
                    ));
                }
                (url.to_string(), None)
            }
            None => {
                let server = Builtin::start(builtin_server_config(p)?, placement).map_err(|e| {
                    SpecError::invalid(format!("cannot start the built-in server: {e:#}"))
                })?;
                (server.url(), Some(server))
            }
        };
        let target = Arc::new(target(p, &url)?);
        if server.is_none() {
            // A URL nobody answers at is bad input: say so now, not once per item.
            target
                .connect_blocking(target.timeout.min(PROBE_LIMIT))
                .map_err(|e| SpecError::invalid(format!("cannot connect to {url}: {e}")))?;
        }
        Ok(Http {
            target,
            url,
            params: p.clone(),
            server,
        })
    }

    /// The URL requested (the built-in server's when no `url` was given).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Workload for Http {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(Client::new(self.target.clone())))
    }

    fn spec_for_workers(&self) -> Option<WorkloadSpec> {
        self.server.as_ref()?;
        // Workers connect to the server started here rather than each starting their own.
        let mut params = self.params.values().clone();
        for name in SERVER_PARAMS {
            params.remove(name);
        }
        params.insert("url".into(), Value::from(self.url.clone()));
        Some(WorkloadSpec {
            kind: "http".into(),
            params,
        })
    }
}

fn builtin_server_config(p: &Params) -> Result<ServerConfig, SpecError> {
    let ms = |name: &str, default: f64| -> Result<Duration, SpecError> {
        if p.has(name) {
            p.millis(name)
        } else {
            Ok(Duration::from_secs_f64(default / 1e3))
        }
    };
    let config = ServerConfig {
        latency: ms("server_latency_ms", 10.0)?,
        jitter: ms("server_jitter_ms", 0.0)?,
        capacity: match p.has("server_capacity") {
            true => Some(p.u64("server_capacity")? as usize),
            false => None,
        },
        queue: match p.has("server_queue") {
            true => p.u64("server_queue")? as usize,
            false => ServerConfig::default().queue,
        },
        error_rate: p.opt_f64("server_error_rate").unwrap_or(0.0),
        // The run's own backends need the cores more than a simulated server does.
        threads: 1,
    };
    config
        .check()
        .map_err(|why| p.invalid("server_capacity/server_error_rate", why))?;
    Ok(config)
}

fn target(p: &Params, url: &str) -> Result<Target, SpecError> {
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
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| SpecError::invalid(format!("cannot resolve host '{host}' of {url}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(SpecError::invalid(format!(
            "host '{host}' of {url} has no address"
        )));
    }
    let tls = if https {
        let config = crate::tls::client_config(p.bool("insecure")?)
            .map_err(|e| SpecError::invalid(format!("TLS setup: {e}")))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| p.invalid("url", format!("has a host TLS cannot name ('{host}'): {e}")))?;
        Some((tokio_rustls::TlsConnector::from(config), name))
    } else {
        None
    };
    let method = Method::from_bytes(p.str("method")?.as_bytes()).map_err(|_| {
        p.invalid(
            "method",
            format!(
                "is not an HTTP method ('{}')",
                p.str("method").unwrap_or("")
            ),
        )
    })?;
    let mut headers = HeaderMap::new();
    let host_header = HeaderValue::from_str(authority.as_str())
        .map_err(|e| p.invalid("url", format!("has an unusable host: {e}")))?;
    headers.insert(HOST, host_header);
    for (name, value) in p.str_map("headers") {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| p.invalid("headers", format!("has an invalid header name '{name}'")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| p.invalid("headers", format!("has an invalid value for '{name}'")))?;
        headers.insert(header, value);
    }
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
    let body = p.opt_str("body").unwrap_or_default();
    Ok(Target {
        addrs,
        tls,
        request: wire::encode_request(&method, &path, &headers, body.as_bytes()),
        head: method == Method::HEAD,
        timeout,
    })
}

#[cfg(test)]
mod tests;
