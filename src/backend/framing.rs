//! Length-prefixed frames over a pipe: a reader that parses every frame already in its buffer
//! before it reads again (and can wait with a time limit), and a writer that sends the frames
//! queued since the last flush with one `write`.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::protocol::{bad, MAX_FRAME};
use crate::child::readable;

/// Reads frames from a pipe through one buffer: a frame already in the buffer costs no
/// syscall, so a burst of answers is parsed from a single `read`.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// What waiting for a frame gave.
#[derive(Debug)]
pub enum Next<T> {
    Frame(T),
    /// The other side closed the pipe (exited or died).
    Closed,
    /// Nothing arrived within the wait.
    Idle,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
        }
    }

    /// The length of the complete frame at the front of the buffer, if there is one.
    fn complete(&self) -> io::Result<Option<usize>> {
        let have = self.end - self.start;
        if have < 4 {
            return Ok(None);
        }
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buf[self.start..self.start + 4]);
        let len = u32::from_le_bytes(b) as usize;
        if len > MAX_FRAME {
            return Err(bad(format!("frame of {len} bytes is too long")));
        }
        Ok((have >= 4 + len).then_some(len))
    }

    /// Whether a whole frame is waiting in the buffer (reading it will not block).
    pub fn has_frame(&self) -> bool {
        matches!(self.complete(), Ok(Some(_)))
    }

    /// Decodes the next frame that is already buffered, without reading.
    pub fn buffered<T>(
        &mut self,
        decode: impl FnOnce(&[u8]) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        let Some(len) = self.complete()? else {
            return Ok(None);
        };
        let frame = &self.buf[self.start + 4..self.start + 4 + len];
        let value = decode(frame)?;
        self.start += 4 + len;
        Ok(Some(value))
    }

    /// Reads more bytes into the buffer; `false` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let needed = match self.complete()? {
            Some(_) => return Ok(true),
            None if self.end - self.start >= 4 => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&self.buf[self.start..self.start + 4]);
                4 + u32::from_le_bytes(b) as usize
            }
            None => 4,
        };
        if self.start + needed > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if needed > self.buf.len() {
                self.buf.resize(needed, 0);
            }
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next frame, blocking until it is complete.
    pub fn next<T>(&mut self, decode: impl Fn(&[u8]) -> io::Result<T>) -> io::Result<Next<T>> {
        loop {
            if let Some(value) = self.buffered(&decode)? {
                return Ok(Next::Frame(value));
            }
            if !self.fill()? {
                return Ok(Next::Closed);
            }
        }
    }
}

impl<R: Read + AsRawFd> FrameReader<R> {
    /// The next frame, waiting at most `wait` for bytes to arrive.
    pub fn next_within<T>(
        &mut self,
        wait: Duration,
        decode: impl Fn(&[u8]) -> io::Result<T>,
    ) -> io::Result<Next<T>> {
        loop {
            if let Some(value) = self.buffered(&decode)? {
                return Ok(Next::Frame(value));
            }
            if !readable(self.inner.as_raw_fd(), wait)? {
                return Ok(Next::Idle);
            }
            if !self.fill()? {
                return Ok(Next::Closed);
            }
        }
    }
}

/// Frames queued for one pipe, sent with one `write` when the writer is about to wait.
pub struct FrameWriter<W> {
    inner: W,
    pub buf: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    pub fn new(inner: W) -> Self {
        FrameWriter {
            inner,
            buf: Vec::with_capacity(4096),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::protocol::ToWorker;

    /// A reader that hands out one byte per read: frames split anywhere still decode.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn split_and_oversized_frames() {
        let mut out = Vec::new();
        let big = vec![7u8; 200_000];
        ToWorker::Start {
            spec_json: big.clone(),
            warmup: 0,
            retry: crate::backend::retry::RetryPolicy::none(),
        }
        .encode(&mut out);
        ToWorker::Item(5).encode(&mut out);
        let mut r = FrameReader::new(Trickle(&out));
        match r.next(ToWorker::decode).unwrap() {
            Next::Frame(ToWorker::Start { spec_json, .. }) => assert_eq!(spec_json, big),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.next(ToWorker::decode).unwrap(),
            Next::Frame(ToWorker::Item(5))
        ));
        let garbage = [0xff, 0xff, 0xff, 0x7f, 1];
        let mut r = FrameReader::new(&garbage[..]);
        assert!(r.next(ToWorker::decode).is_err());
    }
}
