//! HTTP/1.1 on the wire, for the client: the request is encoded once per workload, and each
//! exchange writes those bytes and reads the answer's head (parsed by httparse) and its body
//! (Content-Length, chunked, or until close) through one buffer kept with the connection. Every
//! byte written and read is added to the runner's count as it goes, so an exchange cut short at
//! the timeout still counts what crossed the wire.
//!
//! Written here rather than taken from hyper's client for speed: a load generator sends the
//! same request again and again, and hyper's client builds it afresh each time, hands it to its
//! connection task through a channel and allocates the answer's headers and body. Here a
//! request is one write of bytes made once and, for a small answer, one read — which is what
//! `wrk` does, and what lets the client keep up with it on the same cores.

use hyper::header::{HeaderMap, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::workload::{ItemError, Transfer};

/// The longest answer head accepted (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Headers per answer that httparse is given room for.
const MAX_HEADERS: usize = 100;
/// Read buffer of a fresh connection: room for a typical head and a small body in one read.
const INITIAL_BUFFER: usize = 16 * 1024;

/// Encodes a request once: request line, headers (Host first, as the caller put it), the body's
/// length when there is a body or the method expects one, then the body.
pub(crate) fn encode_request(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        // The body is framed here: a user's own length or encoding would contradict it.
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if !body.is_empty() || expects_body {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// What an exchange learned: the final status, whether the connection can carry another, and
/// where a redirect points (read only when the caller follows redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub reusable: bool,
    pub location: Option<String>,
}

/// The statuses whose `Location` a client follows (RFC 9110, section 15.4).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A failed exchange. `untouched`: the server closed the connection before sending a single
/// byte — on a reused keep-alive connection, the sign that it was closed while idle.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: ItemError,
    pub untouched: bool,
}

impl Failure {
    fn new(error: ItemError) -> Failure {
        Failure {
            error,
            untouched: false,
        }
    }
}

/// Bytes read from a connection and not yet consumed.
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    pub fn new() -> ReadBuffer {
        ReadBuffer {
            data: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more, making room first (moving pending bytes to the front, or growing up to
    /// `MAX_HEAD` when pending bytes fill the buffer), and adds what it read to `rx`. Returns the
    /// bytes read; 0 at EOF.
    async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        rx: &mut u64,
    ) -> Result<usize, ItemError> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < MAX_HEAD {
                self.data.resize((self.data.len() * 2).min(MAX_HEAD), 0);
            } else {
                return Err(ItemError::new(
                    "protocol",
                    format!("answer head longer than {} KiB", MAX_HEAD / 1024),
                ));
            }
        }
        let n = io
            .read(&mut self.data[self.end..])
            .await
            .map_err(|e| super::connection::io_error("reset", &e))?;
        self.end += n;
        *rx += n as u64;
        Ok(n)
    }
}

/// How the answer's body is delimited (RFC 9112, section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the head says about the answer.
struct Head {
    status: u16,
    body: Body,
    keep_alive: bool,
    location: Option<String>,
}

/// One request as `exchange` sends it.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    pub bytes: &'a [u8],
    /// A HEAD request: the answer has a head only, whatever its Content-Length says.
    pub head: bool,
    /// Keep a redirect's `Location` (allocated only for a redirect, only when asked).
    pub follow: bool,
}

/// Sends `request` and reads the whole answer; the body is read and dropped, never kept. The
/// bytes written and read are added to `moved`.
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    buf: &mut ReadBuffer,
    request: Request<'_>,
    moved: &mut Transfer,
) -> Result<Answer, Failure> {
    let sent = async {
        io.write_all(request.bytes).await?;
        io.flush().await
    };
    if let Err(e) = sent.await {
        return Err(Failure {
            error: super::connection::io_error("reset", &e),
            untouched: true,
        });
    }
    moved.tx += request.bytes.len() as u64;
    let rx = &mut moved.rx;
    let head = read_head(io, buf, request, rx).await?;
    let complete = match head.body {
        Body::None => true,
        Body::Length(n) => discard(io, buf, n, rx).await.map_err(Failure::new)?,
        Body::Chunked => read_chunked(io, buf, rx).await.map_err(Failure::new)?,
        Body::UntilClose => {
            buf.consume(buf.pending().len());
            while buf.fill(io, rx).await.map_err(Failure::new)? > 0 {
                buf.consume(buf.pending().len());
            }
            true
        }
    };
    if !complete {
        return Err(Failure::new(ItemError::new(
            "reset",
            "connection closed in the middle of the answer",
        )));
    }
    Ok(Answer {
        status: head.status,
        reusable: head.keep_alive && head.body != Body::UntilClose,
        location: head.location,
    })
}

/// Reads heads until a final one (1xx answers other than 101 are informational).
async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut ReadBuffer,
    request: Request<'_>,
    rx: &mut u64,
) -> Result<Head, Failure> {
    let mut received = !buf.pending().is_empty();
    loop {
        match parse_head(buf.pending(), request).map_err(Failure::new)? {
            Some((len, head)) => {
                buf.consume(len);
                if (100..200).contains(&head.status) && head.status != 101 {
                    continue;
                }
                return Ok(head);
            }
            None => {
                if buf.fill(io, rx).await.map_err(|error| Failure {
                    error,
                    untouched: !received,
                })? == 0
                {
                    return Err(Failure {
                        error: ItemError::new("reset", "connection closed before the answer"),
                        untouched: !received,
                    });
                }
                received = true;
            }
        }
    }
}

/// The head at the start of `bytes` and its length, or `None` when it is not complete yet.
fn parse_head(bytes: &[u8], request: Request<'_>) -> Result<Option<(usize, Head)>, ItemError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ItemError::new("protocol", format!("bad answer head: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut keep_alive = response.version == Some(1);
    let mut length = None;
    let mut encoding: Option<&[u8]> = None;
    let mut location = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ItemError::new("protocol", "bad Content-Length in the answer"))?;
            if length.is_some_and(|l| l != value) {
                return Err(ItemError::new(
                    "protocol",
                    "conflicting Content-Length in the answer",
                ));
            }
            length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            encoding = Some(header.value);
        } else if request.follow
            && is_redirect(status)
            && header.name.eq_ignore_ascii_case("location")
        {
            location = Some(String::from_utf8_lossy(header.value).trim().to_string());
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body = if request.head || (100..200).contains(&status) || status == 204 || status == 304 {
        Body::None
    } else if let Some(encoding) = encoding {
        let last = encoding.rsplit(|&b| b == b',').next().unwrap_or_default();
        match last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            true => Body::Chunked,
            false => Body::UntilClose,
        }
    } else if let Some(length) = length {
        Body::Length(length)
    } else {
        Body::UntilClose
    };
    Ok(Some((
        len,
        Head {
            status,
            body,
            keep_alive,
            location,
        },
    )))
}

/// Reads and drops `n` bytes; false when the connection closed first.
async fn discard<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut ReadBuffer,
    mut n: u64,
    rx: &mut u64,
) -> Result<bool, ItemError> {
    loop {
        let take = buf
            .pending()
            .len()
            .min(usize::try_from(n).unwrap_or(usize::MAX));
        buf.consume(take);
        n -= take as u64;
        if n == 0 {
            return Ok(true);
        }
        if buf.fill(io, rx).await? == 0 {
            return Ok(false);
        }
    }
}

/// Reads and drops a chunked body and its trailers; false when the connection closed first.
async fn read_chunked<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut ReadBuffer,
    rx: &mut u64,
) -> Result<bool, ItemError> {
    loop {
        match httparse::parse_chunk_size(buf.pending()) {
            Ok(httparse::Status::Complete((len, 0))) => {
                buf.consume(len);
                return read_trailers(io, buf, rx).await;
            }
            Ok(httparse::Status::Complete((len, size))) => {
                buf.consume(len);
                // The chunk, then the CRLF that ends it.
                if !discard(io, buf, size.saturating_add(2), rx).await? {
                    return Ok(false);
                }
            }
            Ok(httparse::Status::Partial) => {
                if buf.fill(io, rx).await? == 0 {
                    return Ok(false);
                }
            }
            Err(_) => return Err(ItemError::new("protocol", "bad chunk size in the answer")),
        }
    }
}

/// Skips trailer lines up to the empty line that ends a chunked body.
async fn read_trailers<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut ReadBuffer,
    rx: &mut u64,
) -> Result<bool, ItemError> {
    loop {
        let pending = buf.pending();
        if let Some(at) = pending.windows(2).position(|w| w == b"\r\n") {
            buf.consume(at + 2);
            if at == 0 {
                return Ok(true);
            }
            continue;
        }
        if buf.fill(io, rx).await? == 0 {
            return Ok(false);
        }
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
