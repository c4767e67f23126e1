//! Blocking sockets behind tokio's I/O traits, for runners that own a thread (the thread
//! backend, worker processes): each call blocks that thread, bounded by the item's deadline
//! through the socket's timeouts, so a request costs a write and a read with no event loop.

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::workload::ItemError;

/// rustls over a blocking socket: it reads only as much as a record needs, where an async TLS
/// stream reads until the socket would block — which a blocking socket never says.
pub(crate) type BlockingTls = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

/// The TLS handshake of a blocking connection, done here so that its failure is a `tls` one.
pub(crate) fn blocking_handshake(
    connector: &TlsConnector,
    name: &ServerName<'static>,
    tcp: std::net::TcpStream,
    due: Instant,
) -> Result<BlockingTls, ItemError> {
    let tls_error = |e: &dyn std::fmt::Display| ItemError::new("tls", e.to_string());
    let conn = rustls::ClientConnection::new(connector.config().clone(), name.clone())
        .map_err(|e| tls_error(&e))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ItemError::new("timeout", "TLS handshake past the limit"));
        }
        let _ = tls.sock.set_read_timeout(Some(left));
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock => ItemError::new("timeout", e.to_string()),
                _ => tls_error(&e),
            })?;
    }
    Ok(tls)
}

/// The TCP socket under a blocking stream, whose timeouts bound each call.
pub(crate) trait Socket: std::io::Read + std::io::Write {
    fn tcp(&self) -> &std::net::TcpStream;
}

impl Socket for std::net::TcpStream {
    fn tcp(&self) -> &std::net::TcpStream {
        self
    }
}

impl Socket for BlockingTls {
    fn tcp(&self) -> &std::net::TcpStream {
        &self.sock
    }
}

/// A blocking stream behind tokio's I/O traits: every call completes at once, having blocked
/// the calling thread, and a read gives up at `due` (the socket's receive timeout is set to
/// what is left before each read). Sound here because `wire` reads only when it awaits an
/// answer, never to watch an idle connection.
pub(crate) struct Blocking<S> {
    io: S,
    pub due: Instant,
}

impl<S: Socket> Blocking<S> {
    pub fn new(io: S, limit: Duration, due: Instant) -> Blocking<S> {
        let _ = io.tcp().set_nodelay(true);
        // A request is small and the kernel buffers it: a write blocks only on a stuck peer.
        let _ = io.tcp().set_write_timeout(Some(limit));
        Blocking { io, due }
    }

    fn read(&mut self, into: &mut [u8]) -> std::io::Result<usize> {
        let left = self.due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.io.tcp().set_read_timeout(Some(left))?;
        self.io.read(into).map_err(timed_out)
    }
}

/// How an expired socket timeout shows (EAGAIN), said as what it is.
fn timed_out(e: std::io::Error) -> std::io::Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock => std::io::ErrorKind::TimedOut.into(),
        _ => e,
    }
}

impl<S: Socket + Unpin> tokio::io::AsyncRead for Blocking<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(this.read(buf.initialize_unfilled()).map(|n| buf.advance(n)))
    }
}

impl<S: Socket + Unpin> tokio::io::AsyncWrite for Blocking<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().io.write(data).map_err(timed_out))
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().io.flush().map_err(timed_out))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().io.tcp().shutdown(std::net::Shutdown::Write))
    }
}
