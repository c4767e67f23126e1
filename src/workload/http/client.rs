//! One keep-alive HTTP/1.1 connection per in-flight slot, driven by the slot itself. On the
//! async backend it runs on the backend's runtime; on the thread backend (and in worker
//! processes) each runner uses a blocking socket on its own thread — a write, then a read that
//! sleeps until the answer comes, as a blocking client does, with no event loop in between.
//! Nothing is shared on the hot path. The bytes on the wire are `wire`'s business.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::blocking::{blocking_handshake, Blocking, BlockingTls};
use super::wire::{self, Answer, Failure, ReadBuffer};
use crate::workload::{BoxFuture, ItemError, ItemResult, Runner};

/// Everything the runners of one workload share: where to connect and what to send.
pub(crate) struct Target {
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The whole request, encoded once (`wire::encode_request`).
    pub request: Vec<u8>,
    /// A HEAD request: the answer has a head only, whatever its Content-Length says.
    pub head: bool,
    pub timeout: Duration,
}

impl Target {
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

/// How a connection's socket is driven: registered with the ambient async runtime, or blocking
/// on the runner's own thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Ambient,
    Blocking,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Blocking(Blocking<std::net::TcpStream>),
    BlockingTls(Box<Blocking<BlockingTls>>),
}

struct Connection {
    stream: Stream,
    buffer: ReadBuffer,
    driver: Driver,
    /// A request was sent and its answer not fully read (the item was cancelled midway): the
    /// connection's state is unknown, so it is replaced rather than reused.
    busy: bool,
    /// An answer came back on it before: a close before any byte now means it was closed
    /// while idle (a keep-alive timeout), not that the request failed.
    reused: bool,
}

impl Connection {
    /// One request and its answer; a blocking socket gives up at `due`.
    async fn exchange(&mut self, target: &Target, due: Instant) -> Result<Answer, Failure> {
        self.busy = true;
        let (request, head, buffer) = (&target.request[..], target.head, &mut self.buffer);
        let answer = match &mut self.stream {
            Stream::Plain(tcp) => wire::exchange(tcp, buffer, request, head).await,
            Stream::Tls(tls) => wire::exchange(tls.as_mut(), buffer, request, head).await,
            Stream::Blocking(io) => {
                io.due = due;
                wire::exchange(io, buffer, request, head).await
            }
            Stream::BlockingTls(io) => {
                io.due = due;
                wire::exchange(io.as_mut(), buffer, request, head).await
            }
        }?;
        self.busy = false;
        self.reused = true;
        Ok(answer)
    }
}

/// The runner: one connection, made on first use and replaced after an error.
pub(crate) struct Client {
    target: Arc<Target>,
    /// A TCP connection made before the clock started, not yet handed to a runtime.
    preconnected: Option<std::net::TcpStream>,
    connection: Option<Connection>,
    /// The async answer deadline, kept from item to item: moving a registered timer later is
    /// an atomic store, where a fresh timer per request costs a timer-wheel insert and removal.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Client {
    pub fn new(target: Arc<Target>) -> Client {
        let preconnected = target
            .connect_blocking(target.timeout)
            .ok()
            .filter(|s| s.set_nonblocking(true).is_ok());
        Client {
            target,
            preconnected,
            connection: None,
            deadline: None,
        }
    }

    /// One item on the async runtime, cut short by a timer at the limit.
    async fn item(&mut self) -> ItemResult {
        let due = tokio::time::Instant::now() + self.target.timeout;
        let mut deadline = match self.deadline.take() {
            Some(mut sleep) => {
                sleep.as_mut().reset(due);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(due)),
        };
        let outcome = {
            let exchange = std::pin::pin!(self.exchange(Driver::Ambient, due.into_std()));
            Deadline {
                work: exchange,
                deadline: deadline.as_mut(),
                armed: false,
            }
            .await
        };
        self.deadline = Some(deadline);
        match outcome {
            Some(outcome) => outcome,
            None => {
                self.connection = None;
                Err(self.timed_out())
            }
        }
    }

    fn timed_out(&self) -> ItemError {
        ItemError::new(
            "timeout",
            format!(
                "no complete answer within {} ms",
                self.target.timeout.as_millis()
            ),
        )
    }

    async fn exchange(&mut self, driver: Driver, due: Instant) -> ItemResult {
        let mut conn = match self.connection.take() {
            Some(conn) if conn.driver == driver && !conn.busy => conn,
            _ => self.connect_boxed(driver, due).await?,
        };
        let answer = match conn.exchange(&self.target, due).await {
            Ok(answer) => answer,
            // Closed by the server while idle: a fresh connection is no failure.
            Err(failure) if failure.untouched && conn.reused => {
                conn = self.connect_boxed(driver, due).await?;
                conn.exchange(&self.target, due)
                    .await
                    .map_err(|f| f.error)?
            }
            Err(failure) => return Err(failure.error),
        };
        if answer.reusable {
            self.connection = Some(conn);
        }
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            let reason = StatusCode::from_u16(answer.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            Err(ItemError::new(
                format!("http-{}", answer.status),
                format!("status {} {reason}", answer.status)
                    .trim_end()
                    .to_string(),
            ))
        }
    }

    /// Connecting (TCP, then TLS) is rare and its future is large: boxed, it stays out of
    /// the future every request allocates and moves.
    fn connect_boxed(
        &mut self,
        driver: Driver,
        due: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<Connection, ItemError>> + Send + '_>> {
        Box::pin(self.connect(driver, due))
    }

    async fn connect(&mut self, driver: Driver, due: Instant) -> Result<Connection, ItemError> {
        let stream = match driver {
            Driver::Ambient => {
                let tcp = match self.preconnected.take().map(TcpStream::from_std) {
                    Some(Ok(tcp)) => tcp,
                    _ => TcpStream::connect(&self.target.addrs[..])
                        .await
                        .map_err(|e| io_error("connect", &e))?,
                };
                let _ = tcp.set_nodelay(true);
                match &self.target.tls {
                    None => Stream::Plain(tcp),
                    Some((connector, name)) => Stream::Tls(Box::new(
                        connector
                            .connect(name.clone(), tcp)
                            .await
                            .map_err(|e| io_error("tls", &e))?,
                    )),
                }
            }
            Driver::Blocking => {
                let tcp = match self.preconnected.take() {
                    Some(tcp) if tcp.set_nonblocking(false).is_ok() => tcp,
                    _ => {
                        let left = due.saturating_duration_since(Instant::now());
                        self.target
                            .connect_blocking(left.max(Duration::from_millis(1)))
                            .map_err(|e| io_error("connect", &e))?
                    }
                };
                let limit = self.target.timeout;
                match &self.target.tls {
                    None => Stream::Blocking(Blocking::new(tcp, limit, due)),
                    Some((connector, name)) => {
                        let tls = blocking_handshake(connector, name, tcp, due)?;
                        Stream::BlockingTls(Box::new(Blocking::new(tls, limit, due)))
                    }
                }
            }
        };
        Ok(Connection {
            stream,
            buffer: ReadBuffer::new(),
            driver,
            busy: false,
            reused: false,
        })
    }
}

/// `work`, or `None` once the deadline passes first.
struct Deadline<'a, F> {
    work: Pin<&'a mut F>,
    deadline: Pin<&'a mut tokio::time::Sleep>,
    /// The timer holds this task's waker: later polls only read its state.
    armed: bool,
}

impl<F: Future> Future for Deadline<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        // A request wakes its task several times; registering with the timer once is enough,
        // since an item's future stays in the one task that polls it.
        if self.armed {
            return match self.deadline.is_elapsed() {
                true => Poll::Ready(None),
                false => Poll::Pending,
            };
        }
        let fired = self.deadline.as_mut().poll(cx).is_ready();
        self.armed = true;
        match fired {
            true => Poll::Ready(None),
            false => Poll::Pending,
        }
    }
}

pub(super) fn io_error(default: &'static str, e: &std::io::Error) -> ItemError {
    use std::io::ErrorKind;
    let kind = match e.kind() {
        ErrorKind::TimedOut => "timeout",
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof => "reset",
        _ => default,
    };
    ItemError::new(kind, e.to_string())
}

impl Runner for Client {
    fn run(&mut self, _item: u64) -> ItemResult {
        let due = Instant::now() + self.target.timeout;
        // Every socket call below blocks, bounded by `due`: the future never waits on a waker.
        match futures_lite::future::block_on(self.exchange(Driver::Blocking, due)) {
            Err(e) if e.kind == "timeout" => Err(self.timed_out()),
            outcome => outcome,
        }
    }

    fn run_async(&mut self, _item: u64) -> BoxFuture<'_, ItemResult> {
        Box::pin(self.item())
    }
}
