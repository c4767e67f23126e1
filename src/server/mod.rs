//! The built-in HTTP/1.1 target (`throttlebench serve`, and the `http` workload's default
//! target): answers after a latency of D ± J ms, serves at most C requests at once with the rest
//! waiting in a bounded queue, and answers 503 to a chosen share of requests. With a capacity,
//! its throughput saturates at C / D: a service with a real optimal concurrency to find.
//!
//! Besides `/` (and any other path), two paths answer as HTTP features need testing:
//! `/redirect/N` redirects (301) to `/redirect/N-1` and `/redirect/1` to `/`, and
//! `/redirect/loop` to itself (302); `/status/CODE` answers with that status (a 3xx one with
//! `Location: /`). Every request, whatever its path, goes through the same capacity, latency
//! and error model.
//!
//! A stall (`--stall-ms S --stall-every-ms P`) pauses the whole server for S ms in every P, as a
//! garbage-collection pause does: no request arriving during it is taken up, and none in
//! progress is answered, until it ends. A closed-loop client simply stops sending then, and its
//! latency hides the pause; an open loop's latency from the intended start shows it.

mod in_process;
mod paths;
mod process;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, LOCATION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use paths::Path;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub use in_process::Server;
pub use process::ServerProcess;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Time to answer each request, once it holds a capacity slot.
    pub latency: Duration,
    /// Each answer takes latency ± up to this much, uniformly.
    pub jitter: Duration,
    /// At most this many requests served at once (`None`: no limit).
    pub capacity: Option<usize>,
    /// Requests allowed to wait for a slot; past that they get 503 at once.
    pub queue: usize,
    /// Share of requests (0..1) answered with 503.
    pub error_rate: f64,
    /// Executor threads (0: one per core).
    pub threads: usize,
    /// Bytes in the body of each ok answer (`None`: "ok\n").
    pub body_size: Option<u64>,
    /// Length of each stall (zero: none).
    pub stall: Duration,
    /// A stall begins every this long, the first one period after the server starts.
    pub stall_every: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            capacity: None,
            queue: 1024,
            error_rate: 0.0,
            threads: 0,
            body_size: None,
            stall: Duration::ZERO,
            stall_every: Duration::ZERO,
        }
    }
}

impl ServerConfig {
    /// Refuses settings that cannot mean anything.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error rate must be between 0 and 1, got {}",
                self.error_rate
            ));
        }
        if self.capacity == Some(0) {
            return Err("capacity must be at least 1 (leave it out for no limit)".into());
        }
        if !self.stall.is_zero() && self.stall >= self.stall_every {
            return Err(format!(
                "a stall of {} ms needs a period longer than it (--stall-every-ms), got {} ms",
                self.stall.as_secs_f64() * 1e3,
                self.stall_every.as_secs_f64() * 1e3
            ));
        }
        if self.body_size.is_some_and(|n| n > MAX_BODY) {
            return Err(format!("body size must be at most {} MiB", MAX_BODY >> 20));
        }
        Ok(())
    }

    /// One line describing the model, for the console.
    pub fn describe(&self) -> String {
        let capacity = match self.capacity {
            Some(c) => format!("capacity {c} (queue {})", self.queue),
            None => "no capacity limit".to_string(),
        };
        let body = match self.body_size {
            Some(n) => format!(", body {n} bytes"),
            None => String::new(),
        };
        let stall = if self.stall.is_zero() {
            String::new()
        } else {
            format!(
                ", stalls of {:.0} ms every {:.0} ms",
                self.stall.as_secs_f64() * 1e3,
                self.stall_every.as_secs_f64() * 1e3
            )
        };
        format!(
            "latency {:.1} ms ± {:.1} ms, {capacity}, error rate {}{body}{stall}",
            self.latency.as_secs_f64() * 1e3,
            self.jitter.as_secs_f64() * 1e3,
            self.error_rate
        )
    }
}

/// The largest body the server is asked to send: it is held in memory once.
pub const MAX_BODY: u64 = 1 << 30;

/// The shared state of the capacity model.
struct Model {
    config: ServerConfig,
    /// The ok answer's body, made once and shared by every answer.
    body: Bytes,
    timer: crate::timer::PreciseTimer,
    slots: Option<Semaphore>,
    waiting: AtomicUsize,
    /// Stalls are counted from here.
    started: Instant,
}

impl Model {
    fn new(config: ServerConfig) -> std::io::Result<Self> {
        let body = match config.body_size {
            None => Bytes::from_static(b"ok\n"),
            Some(n) => Bytes::from(vec![b'x'; n as usize]),
        };
        Ok(Model {
            body,
            timer: crate::timer::PreciseTimer::start()?,
            slots: config.capacity.map(Semaphore::new),
            waiting: AtomicUsize::new(0),
            started: Instant::now(),
            config,
        })
    }

    /// When the stall in progress at `now` ends, if one is.
    fn stalled_until(&self, now: Instant) -> Option<Instant> {
        let (stall, every) = (self.config.stall, self.config.stall_every);
        if stall.is_zero() || every.is_zero() {
            return None;
        }
        let since = now.saturating_duration_since(self.started).as_nanos();
        let phase = since % every.as_nanos();
        // Stall in the last `stall` of each period: the first one a period after the start.
        let into_stall = phase.checked_sub((every - stall).as_nanos())?;
        Some(now + stall - Duration::from_nanos(into_stall as u64))
    }

    /// Waits out the stall in progress, if there is one.
    async fn wait_out_stall(&self) {
        if let Some(end) = self.stalled_until(Instant::now()) {
            self.timer
                .sleep(end.saturating_duration_since(Instant::now()))
                .await;
        }
    }

    /// This request's service time and whether it is answered with an error.
    fn draw(&self) -> (Duration, bool) {
        let c = &self.config;
        if c.jitter.is_zero() && c.error_rate == 0.0 {
            return (c.latency, false);
        }
        let mut rng = rand::rng();
        let latency = if c.jitter.is_zero() {
            c.latency
        } else {
            let j = c.jitter.as_secs_f64();
            let s = c.latency.as_secs_f64() + rng.random_range(-j..=j);
            Duration::from_secs_f64(s.max(0.0))
        };
        (
            latency,
            c.error_rate > 0.0 && rng.random::<f64>() < c.error_rate,
        )
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = Path::of(request.uri().path());
        // Read the whole request first, so the connection stays usable for the next one;
        // frames are dropped as they come, so a large body costs no memory.
        let mut body = request.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                return reply(StatusCode::BAD_REQUEST, "unreadable request body\n");
            }
        }
        let _slot = match &self.slots {
            None => None,
            Some(slots) => match slots.try_acquire() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    // Bounded queue: past it, refuse at once instead of growing without limit.
                    if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.config.queue {
                        self.waiting.fetch_sub(1, Ordering::AcqRel);
                        return reply(StatusCode::SERVICE_UNAVAILABLE, "queue full\n");
                    }
                    let slot = slots.acquire().await;
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    match slot {
                        Ok(slot) => Some(slot),
                        Err(_) => return reply(StatusCode::SERVICE_UNAVAILABLE, "closing\n"),
                    }
                }
            },
        };
        self.wait_out_stall().await;
        let (latency, fails) = self.draw();
        if !latency.is_zero() {
            self.timer.sleep(latency).await;
        }
        self.wait_out_stall().await;
        if fails {
            return reply(StatusCode::SERVICE_UNAVAILABLE, "simulated error\n");
        }
        match path {
            Path::Ok => {
                let mut response = Response::new(Full::new(self.body.clone()));
                *response.status_mut() = StatusCode::OK;
                response
            }
            Path::Redirect(status, to) => {
                let mut response = reply(status, "moved\n");
                response.headers_mut().insert(LOCATION, to);
                response
            }
            Path::Status(status) => {
                let mut response = reply(status, "as asked\n");
                if status.is_redirection() {
                    response
                        .headers_mut()
                        .insert(LOCATION, HeaderValue::from_static("/"));
                }
                response
            }
        }
    }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Serves on `listener` until `shutdown` completes, then stops accepting and gives open
/// connections up to `grace` to finish (zero: drops them at once). Fails only when the server's
/// timer thread cannot start.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let model = Arc::new(Model::new(config)?);
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of descriptors or a reset before accept: keep serving the others.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let model = model.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let model = model.clone();
                async move { Ok::<_, Infallible>(model.answer(request).await) }
            });
            let builder = http1::Builder::new();
            match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                }
            }
        });
    }
    drop(listener);
    if !grace.is_zero() {
        let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused() {
        let bad_rate = ServerConfig {
            error_rate: 1.5,
            ..ServerConfig::default()
        };
        assert!(bad_rate.check().is_err());
        let zero = ServerConfig {
            capacity: Some(0),
            ..ServerConfig::default()
        };
        assert!(zero.check().is_err());
        assert!(ServerConfig::default().check().is_ok());
    }

    #[test]
    fn a_stall_covers_the_end_of_each_period_and_needs_a_longer_period() {
        let model = Model::new(ServerConfig {
            stall: Duration::from_millis(500),
            stall_every: Duration::from_millis(2000),
            ..ServerConfig::default()
        })
        .unwrap();
        let at = |ms: u64| model.started + Duration::from_millis(ms);
        assert_eq!(model.stalled_until(at(100)), None);
        assert_eq!(model.stalled_until(at(1499)), None);
        assert_eq!(model.stalled_until(at(1600)), Some(at(2000)));
        assert_eq!(model.stalled_until(at(3900)), Some(at(4000)));
        assert_eq!(model.stalled_until(at(4100)), None);
        let too_long = ServerConfig {
            stall: Duration::from_millis(500),
            stall_every: Duration::from_millis(500),
            ..ServerConfig::default()
        };
        assert!(too_long.check().is_err());
        assert!(Model::new(ServerConfig::default())
            .unwrap()
            .stalled_until(Instant::now())
            .is_none());
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let model = Model::new(ServerConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(4),
            ..ServerConfig::default()
        })
        .unwrap();
        for _ in 0..1000 {
            let (d, fails) = model.draw();
            assert!(!fails);
            assert!(
                d >= Duration::from_millis(6) && d <= Duration::from_millis(14),
                "{d:?}"
            );
        }
    }

    #[test]
    fn error_rate_fails_about_that_share() {
        let model = Model::new(ServerConfig {
            error_rate: 0.3,
            ..ServerConfig::default()
        })
        .unwrap();
        let failed = (0..10_000).filter(|_| model.draw().1).count();
        assert!((2_600..3_400).contains(&failed), "{failed}");
    }
}
