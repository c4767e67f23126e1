//! The pipe protocol between the `process` backend and its workers: length-prefixed binary
//! frames (`u32` little-endian length, then a one-byte tag and the payload). An item costs 13
//! bytes one way and 30 bytes back, and both sides batch frames into one write per wakeup, so
//! the per-item cost is a few hundred nanoseconds of copying, not a syscall pair.
//!
//! Times are `CLOCK_MONOTONIC` nanoseconds, which is one clock for every process on the
//! machine: a worker's item start can be compared with the parent's clock directly.

use std::io;

pub use super::framing::{readable, FrameReader, FrameWriter, Next};

/// A frame longer than this is a broken stream, not a message.
pub const MAX_FRAME: usize = 64 << 20;

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
    /// The workload spec (JSON) and how many unmeasured warm-up items to run before `Ready`.
    Start { spec_json: Vec<u8>, warmup: u64 },
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
}

/// What a worker tells the parent.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWorker {
    /// Warmed up and waiting for items. `setup_error`: the workload could not be built here.
    Ready {
        pid: u32,
        setup_error: Option<String>,
    },
    Done(ItemDone),
    /// The worker's last word: its latency histogram (HdrHistogram V2 + deflate) and its own
    /// peak RSS (VmHWM) in bytes, read just before it exits.
    Stats {
        histogram: Vec<u8>,
        peak_rss: u64,
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
            ToWorker::Start { spec_json, warmup } => {
                let at = begin(out, TO_START);
                out.extend_from_slice(&warmup.to_le_bytes());
                put_bytes(out, spec_json);
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
                Ok(ToWorker::Start { spec_json, warmup })
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
            FromWorker::Ready { pid, setup_error } => {
                let at = begin(out, FROM_READY);
                out.extend_from_slice(&pid.to_le_bytes());
                put_bytes(out, setup_error.as_deref().unwrap_or("").as_bytes());
                end(out, at);
            }
            FromWorker::Done(done) => encode_done(out, done),
            FromWorker::Stats {
                histogram,
                peak_rss,
            } => {
                let at = begin(out, FROM_STATS);
                out.extend_from_slice(&peak_rss.to_le_bytes());
                put_bytes(out, histogram);
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
                Ok(FromWorker::Ready {
                    pid,
                    setup_error: (!text.is_empty()).then_some(text),
                })
            }
            FROM_DONE => {
                let item = c.u64()?;
                let begin_ns = c.u64()?;
                let end_ns = c.u64()?;
                let error = if c.u8()? == 0 {
                    None
                } else {
                    let kind = String::from_utf8_lossy(c.bytes()?).into_owned();
                    let message = String::from_utf8_lossy(c.bytes()?).into_owned();
                    Some((kind, message))
                };
                Ok(FromWorker::Done(ItemDone {
                    item,
                    begin_ns,
                    end_ns,
                    error,
                }))
            }
            FROM_STATS => {
                let peak_rss = c.u64()?;
                let histogram = c.bytes()?.to_vec();
                Ok(FromWorker::Stats {
                    histogram,
                    peak_rss,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut out = Vec::new();
        let to = [
            ToWorker::Start {
                spec_json: b"{\"kind\":\"noop\"}".to_vec(),
                warmup: 3,
            },
            ToWorker::Item(42),
            ToWorker::Finish,
        ];
        to.iter().for_each(|f| f.encode(&mut out));
        let from = [
            FromWorker::Ready {
                pid: 7,
                setup_error: None,
            },
            FromWorker::Done(ItemDone {
                item: 9,
                begin_ns: 100,
                end_ns: 250,
                error: Some(("exit-1".into(), "exit code 1".into())),
            }),
            FromWorker::Done(ItemDone {
                item: 10,
                begin_ns: 300,
                end_ns: 301,
                error: None,
            }),
            FromWorker::Stats {
                histogram: vec![1, 2, 3],
                peak_rss: 4096,
            },
        ];
        let mut back = Vec::new();
        from.iter().for_each(|f| f.encode(&mut back));

        let mut r = FrameReader::new(out.as_slice());
        for want in &to {
            match r.next(ToWorker::decode).unwrap() {
                Next::Frame(got) => assert_eq!(&got, want),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(r.next(ToWorker::decode).unwrap(), Next::Closed));
        let mut r = FrameReader::new(back.as_slice());
        for want in &from {
            match r.next(FromWorker::decode).unwrap() {
                Next::Frame(got) => assert_eq!(&got, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn item_frames_are_small() {
        let mut out = Vec::new();
        ToWorker::Item(1).encode(&mut out);
        assert_eq!(out.len(), 13);
        out.clear();
        encode_done(
            &mut out,
            &ItemDone {
                item: 1,
                begin_ns: 2,
                end_ns: 3,
                error: None,
            },
        );
        assert_eq!(out.len(), 30);
    }
}
