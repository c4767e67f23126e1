//! The built-in HTTP/1.1 target (`throttlebench serve`, and the `http` workload's default
//! target): answers after a latency of D ± J ms, serves at most C requests at once with the rest
//! waiting in a bounded queue, and answers 503 to a chosen share of requests. With a capacity,
//! its throughput saturates at C / D: a service with a real optimal concurrency to find.

mod process;
mod timer;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio_rustls::TlsAcceptor;

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
        Ok(())
    }

    /// One line describing the model, for the console.
    pub fn describe(&self) -> String {
        let capacity = match self.capacity {
            Some(c) => format!("capacity {c} (queue {})", self.queue),
            None => "no capacity limit".to_string(),
        };
        format!(
            "latency {:.1} ms ± {:.1} ms, {capacity}, error rate {}",
            self.latency.as_secs_f64() * 1e3,
            self.jitter.as_secs_f64() * 1e3,
            self.error_rate
        )
    }
}

/// The shared state of the capacity model.
struct Model {
    config: ServerConfig,
    timer: timer::PreciseTimer,
    slots: Option<Semaphore>,
    waiting: AtomicUsize,
}

impl Model {
    fn new(config: ServerConfig) -> std::io::Result<Self> {
        Ok(Model {
            timer: timer::PreciseTimer::start()?,
            slots: config.capacity.map(Semaphore::new),
            waiting: AtomicUsize::new(0),
            config,
        })
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
        let (latency, fails) = self.draw();
        if !latency.is_zero() {
            self.timer.sleep(latency).await;
        }
        if fails {
            reply(StatusCode::SERVICE_UNAVAILABLE, "simulated error\n")
        } else {
            reply(StatusCode::OK, "ok\n")
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

/// A server running on threads of this process, for a test or a library user without a
/// throttlebench binary (a run starts [`ServerProcess`] instead, so that the server's CPU and
/// memory are not counted as the client's). Dropping it (or [`Server::stop`]) closes the
/// listener and every open connection at once.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (use port 0 for any free port) and starts serving.
    pub fn start(
        addr: SocketAddr,
        config: ServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<Server> {
        config.check().map_err(anyhow::Error::msg)?;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if config.threads > 0 {
            builder.worker_threads(config.threads);
        }
        let runtime = builder
            .enable_all()
            .thread_name("tb-server")
            .build()
            .context("cannot start the server runtime")?;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tb-server-main".into())
            .spawn(move || {
                let _ = runtime.block_on(serve(
                    listener,
                    config,
                    tls,
                    async {
                        let _ = stopped.await;
                    },
                    Duration::ZERO,
                ));
                // Dropping the runtime here cancels every connection task.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .context("cannot start the server thread")?;
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops at once: in-flight requests see their connection closed.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
    }
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

    #[test]
    fn starts_on_a_free_port_and_stops() {
        let server = Server::start(
            "127.0.0.1:0".parse().unwrap(),
            ServerConfig::default(),
            None,
        )
        .unwrap();
        let addr = server.addr();
        assert_ne!(addr.port(), 0);
        assert!(std::net::TcpStream::connect(addr).is_ok());
        server.stop();
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
