//! One keep-alive connection to one origin — TCP, then TLS for https — driven by the async
//! runtime or blocking on the runner's thread, and one request over it: made when the slot
//! has no usable connection, replaced once when the server closed it while idle, kept when the
//! answer leaves it reusable.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::blocking::{blocking_handshake, Blocking, BlockingTls};
use super::target::{Origin, Target};
use super::wire::{self, Answer, Failure, ReadBuffer};
use crate::workload::{ItemError, Transfer};

/// How a connection's socket is driven: registered with the ambient async runtime, or blocking
/// on the runner's own thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Driver {
    Ambient,
    Blocking,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Blocking(Blocking<std::net::TcpStream>),
    BlockingTls(Box<Blocking<BlockingTls>>),
}

pub(super) struct Connection {
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
    async fn exchange(
        &mut self,
        target: &Target,
        due: Instant,
        moved: &mut Transfer,
    ) -> Result<Answer, Failure> {
        self.busy = true;
        let (request, buffer) = (target.request(), &mut self.buffer);
        let answer = match &mut self.stream {
            Stream::Plain(tcp) => wire::exchange(tcp, buffer, request, moved).await,
            Stream::Tls(tls) => wire::exchange(tls.as_mut(), buffer, request, moved).await,
            Stream::Blocking(io) => {
                io.due = due;
                wire::exchange(io, buffer, request, moved).await
            }
            Stream::BlockingTls(io) => {
                io.due = due;
                wire::exchange(io.as_mut(), buffer, request, moved).await
            }
        }?;
        self.busy = false;
        self.reused = true;
        Ok(answer)
    }
}

/// One request on `slot`'s connection (made first when there is none, or it is not usable),
/// which is kept there when the answer leaves it reusable.
pub(super) async fn request(
    slot: &mut Option<Connection>,
    preconnected: Option<std::net::TcpStream>,
    target: &Target,
    driver: Driver,
    due: Instant,
    moved: &mut Transfer,
) -> Result<Answer, ItemError> {
    let origin = &target.origin;
    let mut conn = match slot.take() {
        Some(conn) if conn.driver == driver && !conn.busy => conn,
        _ => connect_boxed(origin, preconnected, driver, due, target.settings.timeout).await?,
    };
    let answer = match conn.exchange(target, due, moved).await {
        Ok(answer) => answer,
        // Closed by the server while idle: a fresh connection is no failure.
        Err(failure) if failure.untouched && conn.reused => {
            conn = connect_boxed(origin, None, driver, due, target.settings.timeout).await?;
            conn.exchange(target, due, moved)
                .await
                .map_err(|f| f.error)?
        }
        Err(failure) => return Err(failure.error),
    };
    if answer.reusable {
        *slot = Some(conn);
    }
    Ok(answer)
}

/// Connecting (TCP, then TLS) is rare and its future is large: boxed, it stays out of the
/// future every request allocates and moves.
fn connect_boxed(
    origin: &Origin,
    preconnected: Option<std::net::TcpStream>,
    driver: Driver,
    due: Instant,
    limit: Duration,
) -> Pin<Box<dyn Future<Output = Result<Connection, ItemError>> + Send + '_>> {
    Box::pin(connect(origin, preconnected, driver, due, limit))
}

async fn connect(
    origin: &Origin,
    preconnected: Option<std::net::TcpStream>,
    driver: Driver,
    due: Instant,
    limit: Duration,
) -> Result<Connection, ItemError> {
    let stream = match driver {
        Driver::Ambient => {
            let tcp = match preconnected.map(TcpStream::from_std) {
                Some(Ok(tcp)) => tcp,
                _ => TcpStream::connect(&origin.addrs[..])
                    .await
                    .map_err(|e| io_error("connect", &e))?,
            };
            let _ = tcp.set_nodelay(true);
            match &origin.tls {
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
            let tcp = match preconnected {
                Some(tcp) if tcp.set_nonblocking(false).is_ok() => tcp,
                _ => {
                    let left = due.saturating_duration_since(Instant::now());
                    origin
                        .connect_blocking(left.max(Duration::from_millis(1)))
                        .map_err(|e| io_error("connect", &e))?
                }
            };
            match &origin.tls {
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
