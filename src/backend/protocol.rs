//! The pipe protocol between the `process` backend and its workers: length-prefixed binary
//! frames (`u32` little-endian length, then a one-byte tag and the payload). An item costs 13
//! bytes one way and 30 bytes back, and both sides batch frames into one write per wakeup, so
//! the per-item cost is a few hundred nanoseconds of copying, not a syscall pair.
//!
//! Times are `CLOCK_MONOTONIC` nanoseconds, which is one clock for every process on the
//! machine: a worker's item start can be compared with the parent's clock directly.
//!
//! Fields added since the first version (the retry policy in `Start`, the protocol version, the
//! set-up CPU and the resident size in `Ready`, the attempts in `Done`, the bytes moved in
//! `Stats`) are appended at the end of their
//! frame and read only when present: an older reader ignores them, and a frame without them
//! reads as the old meaning (no retries, version 1, one attempt, no byte count). An item that
//! needed one attempt still costs 30 bytes.

use std::io;
use std::time::Duration;

pub use super::framing::{FrameReader, FrameWriter, Next};
use super::retry::RetryPolicy;
use crate::workload::Transfer;

/// A frame longer than this is a broken stream, not a message.
pub const MAX_FRAME: usize = 64 << 20;

/// The version a worker announces in `Ready`. 2: `Start` carries a retry policy and `Done`
/// the attempts; a worker that announces nothing is version 1 and cannot retry.
pub const PROTOCOL_VERSION: u32 = 2;

/// A failed attempt's message is cut to this many bytes in a `Done` frame, so that up to 100
/// retries of an item with a long error stay a small frame.
pub const MAX_ATTEMPT_MESSAGE: usize = 1024;

const TO_START: u8 = 1;
const TO_ITEM: u8 = 2;
const TO_FINISH: u8 = 3;

const FROM_READY: u8 = 1;
const FROM_DONE: u8 = 2;
const FROM_STATS: u8 = 3;

/// `CLOCK_MONOTONIC` in nanoseconds: the clock parent and workers share.
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What the parent tells a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWorker {
    /// The workload spec (JSON), how many unmeasured warm-up items to run before `Ready`, and
    /// how often to retry a failed item.
    Start {
        spec_json: Vec<u8>,
        warmup: u64,
        retry: RetryPolicy,
    },
    /// Run this item next.
    Item(u64),
    /// No more items: send `Stats` and exit.
    Finish,
}

/// How one item ended, as a worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDone {
    pub item: u64,
    pub begin_ns: u64,
    pub end_ns: u64,
    /// `(kind, message)` of a failed item.
    pub error: Option<(String, String)>,
    /// Attempts the item took (1 without retries); `begin_ns..end_ns` spans all of them.
    pub attempts: u32,
    /// `(kind, message)` of each failed attempt that was retried, in order (messages cut to
    /// `MAX_ATTEMPT_MESSAGE` bytes).
    pub failed_attempts: Vec<(String, String)>,
}

impl ItemDone {
    /// An item that took one attempt.
    pub fn once(item: u64, begin_ns: u64, end_ns: u64, error: Option<(String, String)>) -> Self {
        ItemDone {
            item,
            begin_ns,
            end_ns,
            error,
            attempts: 1,
            failed_attempts: Vec::new(),
        }
    }
}

/// `message` cut to at most `MAX_ATTEMPT_MESSAGE` bytes, on a character boundary.
pub fn cap_message(mut message: String) -> String {
    if message.len() > MAX_ATTEMPT_MESSAGE {
        let mut at = MAX_ATTEMPT_MESSAGE - '…'.len_utf8();
        while !message.is_char_boundary(at) {
            at -= 1;
        }
        message.truncate(at);
        message.push('…');
    }
    message
}

/// What a worker tells the parent.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWorker {
    /// Warmed up and waiting for items. `setup_error`: the workload could not be built here.
    /// `protocol`: the worker's `PROTOCOL_VERSION` (1 when it announced none).
    Ready {
        pid: u32,
        setup_error: Option<String>,
        protocol: u32,
        /// The worker's own CPU time (user + system) up to this frame, µs: its start-up and
        /// warm-up, which the point's CPU columns leave out (0 from older workers).
        setup_cpu_us: u64,
        /// The worker's peak resident size (VmHWM, bytes) when ready, before any measured
        /// item: what the backend holds per slot (0 from older workers, or without /proc).
        resident: u64,
    },
    Done(ItemDone),
    /// The worker's last word: its latency histogram (HdrHistogram V2 + deflate), its own
    /// peak RSS (VmHWM) in bytes, read just before it exits, and the bytes its runner moved in
    /// the measured items (`None` for a workload that counts none, or an older worker).
    Stats {
        histogram: Vec<u8>,
        peak_rss: u64,
        transfer: Option<Transfer>,
    },
}

fn begin(out: &mut Vec<u8>, tag: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, tag]);
    at
}

fn end(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl ToWorker {
    /// Appends this frame to `out`.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ToWorker::Start {
                spec_json,
                warmup,
                retry,
            } => {
                let at = begin(out, TO_START);
                out.extend_from_slice(&warmup.to_le_bytes());
                put_bytes(out, spec_json);
                out.extend_from_slice(&retry.retries.to_le_bytes());
                let backoff_ns = u64::try_from(retry.backoff.as_nanos()).unwrap_or(u64::MAX);
                out.extend_from_slice(&backoff_ns.to_le_bytes());
                end(out, at);
            }
            ToWorker::Item(item) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.push(TO_ITEM);
                out.extend_from_slice(&item.to_le_bytes());
            }
            ToWorker::Finish => {
                let at = begin(out, TO_FINISH);
                end(out, at);
            }
        }
    }

    pub fn decode(frame: &[u8]) -> io::Result<ToWorker> {
        let mut c = Cursor(frame);
        match c.u8()? {
            TO_START => {
                let warmup = c.u64()?;
                let spec_json = c.bytes()?.to_vec();
                let retry = if c.is_empty() {
                    RetryPolicy::none()
                } else {
                    RetryPolicy {
                        retries: c.u32()?,
                        backoff: Duration::from_nanos(c.u64()?),
                    }
                };
                Ok(ToWorker::Start {
                    spec_json,
                    warmup,
                    retry,
                })
            }
            TO_ITEM => Ok(ToWorker::Item(c.u64()?)),
            TO_FINISH => Ok(ToWorker::Finish),
            tag => Err(bad(format!("unknown frame tag {tag} from the parent"))),
        }
    }
}

impl FromWorker {
    /// Appends this frame to `out`.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FromWorker::Ready {
                pid,
                setup_error,
                protocol,
                setup_cpu_us,
                resident,
            } => {
                let at = begin(out, FROM_READY);
                out.extend_from_slice(&pid.to_le_bytes());
                put_bytes(out, setup_error.as_deref().unwrap_or("").as_bytes());
                out.extend_from_slice(&protocol.to_le_bytes());
                out.extend_from_slice(&setup_cpu_us.to_le_bytes());
                out.extend_from_slice(&resident.to_le_bytes());
                end(out, at);
            }
            FromWorker::Done(done) => encode_done(out, done),
            FromWorker::Stats {
                histogram,
                peak_rss,
                transfer,
            } => {
                let at = begin(out, FROM_STATS);
                out.extend_from_slice(&peak_rss.to_le_bytes());
                put_bytes(out, histogram);
                if let Some(t) = transfer {
                    out.extend_from_slice(&t.rx.to_le_bytes());
                    out.extend_from_slice(&t.tx.to_le_bytes());
                }
                end(out, at);
            }
        }
    }

    pub fn decode(frame: &[u8]) -> io::Result<FromWorker> {
        let mut c = Cursor(frame);
        match c.u8()? {
            FROM_READY => {
                let pid = c.u32()?;
                let text = String::from_utf8_lossy(c.bytes()?).into_owned();
                let protocol = if c.is_empty() { 1 } else { c.u32()? };
                let setup_cpu_us = if c.is_empty() { 0 } else { c.u64()? };
                let resident = if c.is_empty() { 0 } else { c.u64()? };
                Ok(FromWorker::Ready {
                    pid,
                    setup_error: (!text.is_empty()).then_some(text),
                    protocol,
                    setup_cpu_us,
                    resident,
                })
            }
            FROM_DONE => {
                let item = c.u64()?;
                let begin_ns = c.u64()?;
                let end_ns = c.u64()?;
                let error = if c.u8()? == 0 { None } else { Some(c.error()?) };
                let mut done = ItemDone::once(item, begin_ns, end_ns, error);
                if !c.is_empty() {
                    done.attempts = c.u32()?.max(1);
                    let failed = c.u32()?;
                    // Each failed attempt takes at least 8 bytes: a count beyond that is a lie.
                    if failed as usize > c.0.len() / 8 {
                        return Err(bad(format!("a Done frame claims {failed} failed attempts")));
                    }
                    done.failed_attempts =
                        (0..failed).map(|_| c.error()).collect::<Result<_, _>>()?;
                }
                Ok(FromWorker::Done(done))
            }
            FROM_STATS => {
                let peak_rss = c.u64()?;
                let histogram = c.bytes()?.to_vec();
                let transfer = match c.is_empty() {
                    true => None,
                    false => Some(Transfer {
                        rx: c.u64()?,
                        tx: c.u64()?,
                    }),
                };
                Ok(FromWorker::Stats {
                    histogram,
                    peak_rss,
                    transfer,
                })
            }
            tag => Err(bad(format!("unknown frame tag {tag} from a worker"))),
        }
    }
}

/// The per-item answer, written without building a `FromWorker` on the success path.
#[inline]
pub fn encode_done(out: &mut Vec<u8>, done: &ItemDone) {
    let at = begin(out, FROM_DONE);
    out.extend_from_slice(&done.item.to_le_bytes());
    out.extend_from_slice(&done.begin_ns.to_le_bytes());
    out.extend_from_slice(&done.end_ns.to_le_bytes());
    match &done.error {
        None => out.push(0),
        Some((kind, message)) => {
            out.push(1);
            put_bytes(out, kind.as_bytes());
            put_bytes(out, message.as_bytes());
        }
    }
    if done.attempts > 1 || !done.failed_attempts.is_empty() {
        out.extend_from_slice(&done.attempts.to_le_bytes());
        out.extend_from_slice(&(done.failed_attempts.len() as u32).to_le_bytes());
        for (kind, message) in &done.failed_attempts {
            put_bytes(out, kind.as_bytes());
            put_bytes(out, message.as_bytes());
        }
    }
    end(out, at);
}

pub(super) fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("truncated frame".to_string()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn text(&mut self) -> io::Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
    /// A `(kind, message)` pair.
    fn error(&mut self) -> io::Result<(String, String)> {
        Ok((self.text()?, self.text()?))
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
