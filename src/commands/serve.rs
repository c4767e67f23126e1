//! `throttlebench serve`: the built-in HTTP target as a standalone server, until Ctrl-C. A run
//! of the `http` workload without a `url` starts it as a child process (see
//! `server::ServerProcess`), which then dies with the run.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;

use super::cli::ServeArgs;
use super::Exit;
use crate::backend::worker::die_with;
use crate::error::SpecError;
use crate::server::{self, ServerConfig};

/// How long open connections get to finish once asked to stop.
const GRACE: Duration = Duration::from_secs(2);

pub fn config(args: &ServeArgs) -> Result<ServerConfig, SpecError> {
    let ms = |flag: &str, ms: f64| {
        if ms.is_finite() && (0.0..=86_400_000.0).contains(&ms) {
            Ok(Duration::from_secs_f64(ms / 1e3))
        } else {
            Err(SpecError::invalid(format!(
                "--{flag} expects milliseconds between 0 and 86400000, got {ms}"
            )))
        }
    };
    let config = ServerConfig {
        latency: ms("latency-ms", args.latency_ms)?,
        jitter: ms("jitter-ms", args.jitter_ms)?,
        capacity: args.capacity,
        queue: args.queue,
        error_rate: args.error_rate,
        threads: args.threads,
        body_size: args.body_size,
        stall: ms("stall-ms", args.stall_ms)?,
        stall_every: ms("stall-every-ms", args.stall_every_ms)?,
    };
    config.check().map_err(SpecError::invalid)?;
    Ok(config)
}

pub fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    if let Some(parent) = args.parent_pid {
        // Started by a run: a run killed outright must not leave its server behind.
        die_with(Some(parent));
    }
    let addrs = resolve(&args.addr)?;
    let config = config(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config_from_pem(cert, key)?),
        _ => None,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.threads > 0 {
        builder.worker_threads(config.threads);
    }
    let runtime = builder
        .enable_all()
        .thread_name("tb-serve")
        .build()
        .context("cannot start the server runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let bound = listener.local_addr()?;
        let stop = stop_signal()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // A closed stdout (the reader went away) must not stop the server: writes are best effort.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "listening on {scheme}://{bound}/ ({})",
            config.describe()
        );
        if !bound.ip().is_loopback() {
            let _ = writeln!(out, "note: {bound} is reachable from other machines");
        }
        let _ = writeln!(out, "Ctrl-C to stop");
        let _ = out.flush();
        drop(out);
        server::serve(listener, config, tls, stop, GRACE)
            .await
            .context("cannot start the server's timer")?;
        let _ = writeln!(std::io::stdout(), "stopped");
        Ok(Exit::Ok)
    })
}

/// `--addr`: HOST:PORT, the host an address or a name (`localhost:8080`), resolved to every
/// address it has; the server listens on the first one it can bind.
fn resolve(addr: &str) -> Result<Vec<SocketAddr>, SpecError> {
    let refuse = |why: String| {
        SpecError::invalid(format!(
            "--addr expects HOST:PORT such as 127.0.0.1:8080 or localhost:8080, got '{addr}': {why}"
        ))
    };
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| refuse(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(refuse("the name has no address".into()));
    }
    Ok(addrs)
}

/// Completes on Ctrl-C or SIGTERM. The handlers are in place when this returns, so a signal
/// sent as soon as the address is printed is not lost.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
