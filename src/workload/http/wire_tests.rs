use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::header::{HeaderValue, CONTENT_LENGTH, HOST};
use tokio::io::ReadBuf as TokioReadBuf;

use super::*;

/// A connection whose answers arrive in the given pieces, then EOF; writes are recorded.
struct Scripted {
    pieces: std::collections::VecDeque<Vec<u8>>,
    written: Vec<u8>,
}

impl Scripted {
    fn new(pieces: &[&[u8]]) -> Scripted {
        Scripted {
            pieces: pieces.iter().map(|p| p.to_vec()).collect(),
            written: Vec::new(),
        }
    }

    /// The whole answer, one byte per read: every parse must cope with any split.
    fn bytewise(answer: &[u8]) -> Scripted {
        Scripted {
            pieces: answer.iter().map(|b| vec![*b]).collect(),
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut TokioReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.pieces.pop_front() {
            let n = piece.len().min(out.remaining());
            out.put_slice(&piece[..n]);
            if n < piece.len() {
                self.pieces.push_front(piece.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.written.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_lite::future::block_on(future)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

fn run(io: &mut Scripted, buf: &mut ReadBuffer, head: bool) -> Result<Answer, Failure> {
    let request = Request {
        bytes: GET,
        head,
        follow: false,
    };
    block_on(exchange(io, buf, request, &mut Transfer::default()))
}

fn answer(status: u16, reusable: bool) -> Answer {
    Answer {
        status,
        reusable,
        location: None,
    }
}

#[test]
fn every_byte_each_way_is_counted_however_the_answer_is_framed() {
    let length = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".as_slice();
    let chunked =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".as_slice();
    let until_close = b"HTTP/1.1 200 OK\r\n\r\nhello".as_slice();
    for answer in [length, chunked, until_close] {
        for mut io in [Scripted::new(&[answer]), Scripted::bytewise(answer)] {
            let mut moved = Transfer::default();
            let request = Request {
                bytes: GET,
                head: false,
                follow: false,
            };
            block_on(exchange(
                &mut io,
                &mut ReadBuffer::new(),
                request,
                &mut moved,
            ))
            .unwrap();
            assert_eq!(moved.rx, answer.len() as u64);
            assert_eq!(moved.tx, GET.len() as u64);
        }
    }
    // Cut short: what arrived before the close is still counted.
    let mut moved = Transfer::default();
    let cut = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhel".as_slice();
    let request = Request {
        bytes: GET,
        head: false,
        follow: false,
    };
    assert!(block_on(exchange(
        &mut Scripted::new(&[cut]),
        &mut ReadBuffer::new(),
        request,
        &mut moved
    ))
    .is_err());
    assert_eq!(moved.rx, cut.len() as u64);
}

#[test]
fn a_redirects_location_is_kept_only_when_following() {
    let moved =
        b"HTTP/1.1 301 Moved\r\nLocation:  /next?a=1 \r\ncontent-length: 0\r\n\r\n".as_slice();
    for (follow, want) in [(true, Some("/next?a=1".to_string())), (false, None)] {
        let request = Request {
            bytes: GET,
            head: false,
            follow,
        };
        let got = block_on(exchange(
            &mut Scripted::new(&[moved]),
            &mut ReadBuffer::new(),
            request,
            &mut Transfer::default(),
        ))
        .unwrap();
        assert_eq!((got.status, got.location), (301, want));
    }
    // A Location on an answer that is not a redirect means nothing to a client.
    let created = b"HTTP/1.1 201 Created\r\nLocation: /new\r\ncontent-length: 0\r\n\r\n".as_slice();
    let request = Request {
        bytes: GET,
        head: false,
        follow: true,
    };
    let got = block_on(exchange(
        &mut Scripted::new(&[created]),
        &mut ReadBuffer::new(),
        request,
        &mut Transfer::default(),
    ))
    .unwrap();
    assert_eq!(got.location, None);
}

#[test]
fn length_delimited_answers_back_to_back_in_any_split() {
    let two = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno";
    for mut io in [Scripted::new(&[two]), Scripted::bytewise(two)] {
        let mut buf = ReadBuffer::new();
        assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(200, true));
        assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(503, true));
        assert!(buf.pending().is_empty());
        assert_eq!(io.written, b"GET / HTTP/1.1\r\n\r\n".repeat(2));
    }
}

#[test]
fn chunked_bodies_with_extensions_and_trailers() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    for mut io in [Scripted::new(&[chunked]), Scripted::bytewise(chunked)] {
        let mut buf = ReadBuffer::new();
        assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(200, true));
        assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(204, true));
    }
}

#[test]
fn a_body_without_length_runs_to_close_and_ends_the_connection() {
    let mut io = Scripted::new(&[b"HTTP/1.1 200 OK\r\n\r\nsome ", b"body"]);
    let mut buf = ReadBuffer::new();
    assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(200, false));
}

#[test]
fn informational_answers_are_skipped() {
    let mut io = Scripted::bytewise(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
    );
    let mut buf = ReadBuffer::new();
    assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(201, true));
}

#[test]
fn head_requests_and_bodiless_statuses_read_no_body() {
    let mut io = Scripted::new(&[
        b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
    ]);
    let mut buf = ReadBuffer::new();
    assert_eq!(run(&mut io, &mut buf, true).unwrap(), answer(200, true));
    assert_eq!(run(&mut io, &mut buf, false).unwrap(), answer(304, true));
}

#[test]
fn keep_alive_follows_the_version_and_the_connection_header() {
    for (head, reusable) in [
        (
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n"[..],
            false,
        ),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n", false),
        (
            b"HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n",
            true,
        ),
    ] {
        let mut io = Scripted::new(&[head]);
        let mut buf = ReadBuffer::new();
        assert_eq!(run(&mut io, &mut buf, false).unwrap().reusable, reusable);
    }
}

#[test]
fn a_close_before_any_byte_is_told_apart_from_one_midway() {
    let mut buf = ReadBuffer::new();
    let failure = run(&mut Scripted::new(&[]), &mut buf, false).unwrap_err();
    assert!(failure.untouched);
    assert_eq!(failure.error.kind, "reset");

    for cut in [
        &b"HTTP/1.1 200 OK\r\ncontent-le"[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc",
    ] {
        let failure = run(&mut Scripted::new(&[cut]), &mut ReadBuffer::new(), false).unwrap_err();
        assert!(!failure.untouched, "{cut:?}");
        assert_eq!(failure.error.kind, "reset");
    }
}

#[test]
fn malformed_answers_are_protocol_errors() {
    for bad in [
        &b"HTTP/1.1 2x0 OK\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ] {
        let failure = run(&mut Scripted::new(&[bad]), &mut ReadBuffer::new(), false).unwrap_err();
        assert_eq!(
            failure.error.kind,
            "protocol",
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn an_endless_head_is_refused_at_the_limit() {
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    // Long lines, fewer than the headers httparse has room for: the size limit is what stops it.
    while endless.len() <= MAX_HEAD {
        endless.extend_from_slice(format!("x-filler: {}\r\n", "0".repeat(2000)).as_bytes());
    }
    let failure = run(
        &mut Scripted::new(&[&endless]),
        &mut ReadBuffer::new(),
        false,
    )
    .unwrap_err();
    assert_eq!(failure.error.kind, "protocol");
}

#[test]
fn requests_are_encoded_once_with_their_framing() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert("x-token", HeaderValue::from_static("abc"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
    let get = encode_request(&Method::GET, "/a?b=1", &headers, b"");
    assert_eq!(
        String::from_utf8(get).unwrap(),
        "GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-token: abc\r\n\r\n"
    );
    let post = encode_request(&Method::POST, "/", &headers, b"");
    assert!(String::from_utf8(post)
        .unwrap()
        .ends_with("content-length: 0\r\n\r\n"));
    let put = encode_request(&Method::PUT, "/", &headers, b"{}");
    assert!(String::from_utf8(put)
        .unwrap()
        .ends_with("content-length: 2\r\n\r\n{}"));
}

/// Pieces of `bytes` cut at the given points.
fn cut(bytes: &[u8], cuts: &[usize]) -> Scripted {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        // An empty read is EOF: only cuts between bytes.
        if p > last {
            pieces.push(&bytes[last..p]);
        }
        last = p;
    }
    Scripted::new(&pieces)
}

proptest::proptest! {
    // Whatever a server sends, an exchange ends with an answer or an error: no panic, no hang.
    #[test]
    fn any_bytes_from_a_server_end_in_an_answer_or_an_error(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..8),
        head in proptest::bool::ANY,
    ) {
        let mut prefixed = b"HTTP/1.1 200 OK\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        for answer in [bytes, prefixed] {
            let _ = run(&mut cut(&answer, &cuts), &mut ReadBuffer::new(), head);
        }
    }

    // A well-formed answer is read whole however the network splits it, chunked or not.
    #[test]
    fn well_formed_answers_survive_any_split(
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
        chunk in 1usize..700,
        cuts in proptest::collection::vec(0usize..5000, 0..12),
        status in 200u16..600,
    ) {
        let mut answer = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        answer.extend_from_slice(&body);
        answer.extend_from_slice(format!("HTTP/1.1 {status} X\r\ntransfer-encoding: chunked\r\n\r\n").as_bytes());
        for piece in body.chunks(chunk) {
            answer.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            answer.extend_from_slice(piece);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        let mut io = cut(&answer, &cuts);
        let mut buf = ReadBuffer::new();
        let bodiless = status == 204 || status == 304;
        for _ in 0..2 {
            let got = run(&mut io, &mut buf, false);
            if bodiless {
                // No body is read for these: the bytes that follow are not an answer head.
                break;
            }
            proptest::prop_assert_eq!(got.unwrap(), answer_of(status));
        }
    }
}

fn answer_of(status: u16) -> Answer {
    answer(status, true)
}
