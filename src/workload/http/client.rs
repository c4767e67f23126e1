//! One keep-alive HTTP/1.1 connection per in-flight slot, driven by the slot itself. On the
//! async backend it runs on the backend's runtime; on the thread backend each runner drives its
//! own small current-thread runtime, so every worker owns its client and nothing is shared on
//! the hot path.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::workload::{BoxFuture, ItemError, ItemResult, Runner};

/// Everything the runners of one workload share: where to connect and what to send.
pub(crate) struct Target {
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub method: Method,
    /// The request target in origin form (path and query).
    pub path: Uri,
    /// Host and the user's headers.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
}

impl Target {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.clone();
        *request.headers_mut() = self.headers.clone();
        request
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

/// Which runtime a connection's socket is registered with: the ambient one (async backend) or
/// the runner's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Ambient,
    Own,
}

/// hyper's connection state machine, polled by the runner's own task while an item runs (not
/// spawned): one task per slot instead of two, no cross-task wake-up per request.
type ConnectionFuture = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    io: ConnectionFuture,
    /// The connection future completed: the connection is closed.
    closed: bool,
    driver: Driver,
    /// A request was sent and its answer not fully read (the item was cancelled midway): the
    /// connection's state is unknown, so it is replaced rather than reused.
    busy: bool,
}

impl Connection {
    fn usable(&self, driver: Driver) -> bool {
        self.driver == driver && !self.busy && !self.closed && !self.sender.is_closed()
    }

    /// Runs `work` while driving the connection's I/O in the same task.
    async fn drive<F: Future>(io: &mut ConnectionFuture, closed: &mut bool, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if *closed || io.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            *closed = true;
            // The connection ended: whatever it owed `work` is now settled.
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Waits until the connection can take a request; false when it was closed while idle.
    async fn ready(&mut self) -> bool {
        let Connection {
            sender, io, closed, ..
        } = self;
        Connection::drive(io, closed, sender.ready()).await.is_ok()
    }

    async fn exchange(&mut self, target: &Target) -> Result<StatusCode, ItemError> {
        self.busy = true;
        let Connection {
            sender, io, closed, ..
        } = self;
        let status = Connection::drive(io, closed, exchange_on(sender, target)).await?;
        self.busy = false;
        Ok(status)
    }
}

/// The runner: one connection, made on first use and replaced after an error.
pub(crate) struct Client {
    target: Arc<Target>,
    /// A TCP connection made before the clock started, not yet handed to a runtime.
    preconnected: Option<std::net::TcpStream>,
    connection: Option<Connection>,
    /// The answer deadline, kept from item to item: moving a registered timer later is an
    /// atomic store, where a fresh timer per request costs a timer-wheel insert and removal.
    deadline: Option<(Driver, Pin<Box<tokio::time::Sleep>>)>,
    runtime: Option<tokio::runtime::Runtime>,
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
            runtime: None,
        }
    }

    async fn item(&mut self, driver: Driver) -> ItemResult {
        let limit = self.target.timeout;
        let due = tokio::time::Instant::now() + limit;
        let mut deadline = match self.deadline.take() {
            Some((d, mut sleep)) if d == driver => {
                sleep.as_mut().reset(due);
                sleep
            }
            _ => Box::pin(tokio::time::sleep_until(due)),
        };
        let outcome = {
            let exchange = std::pin::pin!(self.exchange(driver));
            Deadline {
                work: exchange,
                deadline: deadline.as_mut(),
                armed: false,
            }
            .await
        };
        self.deadline = Some((driver, deadline));
        match outcome {
            Some(outcome) => outcome,
            None => {
                self.connection = None;
                Err(ItemError::new(
                    "timeout",
                    format!("no complete answer within {} ms", limit.as_millis()),
                ))
            }
        }
    }

    async fn exchange(&mut self, driver: Driver) -> ItemResult {
        let mut conn = match self.connection.take() {
            Some(conn) if conn.usable(driver) => conn,
            _ => self.connect_boxed(driver).await?,
        };
        if !conn.ready().await {
            // Closed by the server while idle (keep-alive timeout): a fresh one is no failure.
            conn = self.connect_boxed(driver).await?;
            if !conn.ready().await {
                return Err(ItemError::new(
                    "reset",
                    "connection closed before the request",
                ));
            }
        }
        let status = conn.exchange(&self.target).await?;
        self.connection = Some(conn);
        if status.is_success() {
            Ok(())
        } else {
            Err(ItemError::new(
                format!("http-{}", status.as_u16()),
                format!("status {status}"),
            ))
        }
    }

    /// Connecting (TCP, TLS, handshake) is rare and its future is large: boxed, it stays out of
    /// the future every request allocates and moves.
    fn connect_boxed(
        &mut self,
        driver: Driver,
    ) -> Pin<Box<dyn Future<Output = Result<Connection, ItemError>> + Send + '_>> {
        Box::pin(self.connect(driver))
    }

    async fn connect(&mut self, driver: Driver) -> Result<Connection, ItemError> {
        let tcp = match self.preconnected.take().map(TcpStream::from_std) {
            Some(Ok(tcp)) => tcp,
            _ => TcpStream::connect(&self.target.addrs[..])
                .await
                .map_err(|e| io_error("connect", &e))?,
        };
        let _ = tcp.set_nodelay(true);
        let (sender, io) = match &self.target.tls {
            None => handshake(TokioIo::new(tcp)).await?,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| io_error("tls", &e))?;
                handshake(TokioIo::new(tls)).await?
            }
        };
        Ok(Connection {
            sender,
            io,
            closed: false,
            driver,
            busy: false,
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

async fn handshake<I>(io: I) -> Result<(SendRequest<Full<Bytes>>, ConnectionFuture), ItemError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| hyper_error(&e))?;
    Ok((sender, Box::pin(connection)))
}

/// Sends one request and reads the whole answer, returning its status. The request is built
/// here, where it is handed over at once, rather than carried through every caller's future.
async fn exchange_on(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
) -> Result<StatusCode, ItemError> {
    let response = sender
        .send_request(target.request())
        .await
        .map_err(|e| hyper_error(&e))?;
    let status = response.status();
    let mut body = response.into_body();
    // Frames are dropped as they come: the answer is read, never accumulated.
    while let Some(frame) = body.frame().await {
        frame.map_err(|e| hyper_error(&e))?;
    }
    Ok(status)
}

fn io_error(default: &'static str, e: &std::io::Error) -> ItemError {
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

fn hyper_error(e: &hyper::Error) -> ItemError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_parse() || e.is_parse_status() || e.is_user() {
        "protocol"
    } else {
        "reset"
    };
    let mut message = e.to_string();
    if let Some(source) = std::error::Error::source(e) {
        message = format!("{message}: {source}");
    }
    ItemError::new(kind, message)
}

impl Runner for Client {
    fn run(&mut self, _item: u64) -> ItemResult {
        if self.runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ItemError::new("runtime", e.to_string()))?;
            self.runtime = Some(runtime);
        }
        // Taken out for the call so that `self` can be borrowed by the future.
        let Some(runtime) = self.runtime.take() else {
            return Err(ItemError::new("runtime", "no runtime"));
        };
        let outcome = runtime.block_on(self.item(Driver::Own));
        self.runtime = Some(runtime);
        outcome
    }

    fn run_async(&mut self, _item: u64) -> BoxFuture<'_, ItemResult> {
        Box::pin(self.item(Driver::Ambient))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The socket and the timer are registered with the own runtime: drop them first.
        self.connection = None;
        self.deadline = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
