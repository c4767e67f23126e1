//! `http`: one request per item over a keep-alive connection per in-flight slot. Without a
//! `url`, the run starts the built-in server on 127.0.0.1 (latency, capacity and error rate set
//! by the `server_*` parameters), so a spec needs no external service; a `url` that is only a
//! path requests that path of the built-in server. The server runs in a child process, so its
//! CPU and memory are not counted as the client's. An answer whose status is not accepted
//! (`ok_status`, 2xx by default) fails the item as `http-<status>`; connection trouble as
//! `connect`, `reset`, `tls` or `timeout`; a redirect chain that loops or runs past
//! `follow_redirects` as `redirect`.

mod blocking;
mod client;
mod connection;
mod redirect;
mod status;
mod target;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{ItemError, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind, WorkloadSpec};
use crate::error::SpecError;
use crate::server::{Server, ServerConfig, ServerProcess};
use client::Client;
use target::Target;

/// The longest a user URL is given to accept a connection before the sweep starts.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

const SERVER_PARAMS: [&str; 8] = [
    "server_latency_ms",
    "server_jitter_ms",
    "server_capacity",
    "server_queue",
    "server_error_rate",
    "server_body_size",
    "server_stall_ms",
    "server_stall_every_ms",
];

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "url",
        ParamType::Str,
        None,
        "http:// or https:// URL to request (unset: the built-in server on 127.0.0.1; a path \
         alone such as /redirect/2: that path of the built-in server)",
    ),
    ParamDef::new("method", ParamType::Str, Some("GET"), "request method"),
    ParamDef::new(
        "headers",
        ParamType::StrMap,
        None,
        "extra request headers (table, or \"Name: value, Name: value\")",
    ),
    ParamDef::new(
        "header",
        ParamType::Lines,
        None,
        "one request header \"Name: value\" (commas kept); repeat --param header=… for more",
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
        "cacert",
        ParamType::Str,
        None,
        "https: PEM file of CA certificates to trust besides the web PKI roots",
    ),
    ParamDef::new(
        "client_cert",
        ParamType::Str,
        None,
        "https: PEM client certificate chain, for servers that ask for one (needs client_key)",
    ),
    ParamDef::new(
        "client_key",
        ParamType::Str,
        None,
        "https: PEM private key of client_cert",
    ),
    ParamDef::new(
        "ok_status",
        ParamType::Str,
        Some("200-299"),
        "answer statuses that count as success, e.g. \"200-299,301,404\"",
    ),
    ParamDef::new(
        "follow_redirects",
        ParamType::Int,
        Some("0"),
        "redirects followed per item (0: a redirect is the answer, judged by ok_status)",
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
        "server_stall_ms",
        ParamType::Float,
        None,
        "built-in server: pause everything this long in every server_stall_every_ms (default 0)",
    ),
    ParamDef::new(
        "server_stall_every_ms",
        ParamType::Float,
        None,
        "built-in server: the period of its stalls, the first one a period after it starts",
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
    ParamDef::new(
        "server_body_size",
        ParamType::Size,
        None,
        "built-in server: bytes in each ok answer's body, e.g. 1MiB (default: \"ok\\n\", 3 bytes)",
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
            Some(url) if !url.starts_with('/') => {
                if let Some(name) = SERVER_PARAMS.iter().find(|n| p.has(n)) {
                    return Err(p.invalid(
                        name,
                        "only applies to the built-in server, which is not used when 'url' is a full URL",
                    ));
                }
                (url.to_string(), None)
            }
            path => {
                let server = Builtin::start(builtin_server_config(p)?, placement).map_err(|e| {
                    SpecError::invalid(format!("cannot start the built-in server: {e:#}"))
                })?;
                // `url()` ends with the root's slash.
                let path = path.unwrap_or("/").trim_start_matches('/');
                (format!("{}{path}", server.url()), Some(server))
            }
        };
        let target = Arc::new(target::from_params(p, &url)?);
        if server.is_none() {
            // A URL nobody answers at is bad input: say so now, not once per item.
            target
                .origin
                .connect_blocking(target.settings.timeout.min(PROBE_LIMIT))
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
        stall: ms("server_stall_ms", 0.0)?,
        stall_every: ms("server_stall_every_ms", 0.0)?,
        capacity: match p.has("server_capacity") {
            true => Some(p.u64("server_capacity")? as usize),
            false => None,
        },
        queue: match p.has("server_queue") {
            true => p.u64("server_queue")? as usize,
            false => ServerConfig::default().queue,
        },
        error_rate: p.opt_f64("server_error_rate").unwrap_or(0.0),
        body_size: match p.has("server_body_size") {
            true => Some(p.u64("server_body_size")?),
            false => None,
        },
        // The run's own backends need the cores more than a simulated server does.
        threads: 1,
    };
    config
        .check()
        .map_err(|why| p.invalid("server_capacity/server_error_rate/server_stall_ms", why))?;
    Ok(config)
}

#[cfg(test)]
mod options_tests;
#[cfg(test)]
mod tests;
