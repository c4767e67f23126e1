//! The built-in server on threads of the measuring process: for tests, benches and library
//! users without a throttlebench binary to start `serve` from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{serve, ServerConfig};

/// A server running on threads of this process, for a test or a library user without a
/// throttlebench binary (a run starts [`ServerProcess`](super::ServerProcess) instead, so that the server's CPU and
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

    /// Where the server listens.
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
