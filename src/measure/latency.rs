//! Per-worker outcome record: a latency histogram (HdrHistogram, microseconds, 3 significant
//! digits), outcome counts by error kind, and a few sample failures. Each worker owns one; they
//! are merged after the point, so the per-item path takes no shared lock.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::scheduling::Scheduling;
use super::timeline::{Outcome, TraceEvent, TRACE_CAP_PER_WORKER};
use crate::workload::{ItemError, ItemResult, Transfer};

/// Latencies above a day are recorded as a day: a bound on histogram size.
const MAX_LATENCY_US: u64 = 86_400_000_000;

/// Sample failures kept per worker; counts stay exact beyond it.
const FAILURE_SAMPLES_PER_WORKER: usize = 20;

/// One failed or timed-out item, kept as an example for `failures.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub item: u64,
    /// Which attempt failed (1 = the first; more with `--retries`).
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    pub kind: String,
    pub message: String,
}

fn first_attempt() -> u32 {
    1
}

/// What one worker saw during one point.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Latency of successful items, in microseconds.
    pub latency: Histogram<u64>,
    /// Latency of failed and timed-out items, in microseconds, kept apart: a fast 503 must not
    /// flatter the successful items' percentiles, and a slow timeout is worth seeing too.
    pub failed_latency: Histogram<u64>,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Failed and timed-out items by error kind.
    pub errors: BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    /// Sum of every item's time, successful or not (for Little's law).
    pub busy: Duration,
    /// Per-item events, only with `--trace`.
    pub trace: Vec<TraceEvent>,
    /// Items that needed more than one attempt (`--retries`), whatever their final outcome.
    pub retried: u64,
    /// Bytes received and sent by the runners, for workloads that count them (HTTP); `None`
    /// for the rest. Taken from each runner once, when its last item has ended.
    pub transfer: Option<Transfer>,
    /// Open-loop points: lag and latency from each item's intended start.
    pub scheduling: Option<Box<Scheduling>>,
    /// The attempt number given to the next failure noted (set by the retry loop).
    attempt: u32,
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats::new()
    }
}

impl WorkerStats {
    pub fn new() -> Self {
        WorkerStats {
            // Auto-resizing: memory grows with the largest latency seen, not a preset range.
            latency: Histogram::new(3).expect("3 significant digits is a valid precision"),
            failed_latency: Histogram::new(3).expect("3 significant digits is a valid precision"),
            ok: 0,
            failed: 0,
            timed_out: 0,
            errors: BTreeMap::new(),
            failures: Vec::new(),
            busy: Duration::ZERO,
            trace: Vec::new(),
            retried: 0,
            transfer: None,
            scheduling: None,
            attempt: 1,
        }
    }

    /// Records one finished item. The success path is a histogram increment and two adds.
    #[inline]
    pub fn record(&mut self, item: u64, took: Duration, outcome: Result<(), ItemError>) {
        self.busy += took;
        match outcome {
            Ok(()) => {
                self.ok += 1;
                // Auto-resizing record: it grows to fit (saturating_record would clamp instead).
                let _ = self
                    .latency
                    .record((took.as_micros() as u64).min(MAX_LATENCY_US));
            }
            Err(err) => {
                self.failed += 1;
                let _ = self
                    .failed_latency
                    .record((took.as_micros() as u64).min(MAX_LATENCY_US));
                self.note_error(item, &err.kind, err.message);
            }
        }
    }

    /// Notes a failed attempt that will be retried: a sample for `failures.csv`, no count.
    pub fn note_failed_attempt(&mut self, item: u64, attempt: u32, err: &ItemError) {
        if self.failures.len() < FAILURE_SAMPLES_PER_WORKER {
            self.failures.push(Failure {
                item,
                attempt,
                kind: err.kind.to_string(),
                message: err.message.clone(),
            });
        }
    }

    /// Like `finish`, for an item that took `attempts` attempts.
    pub fn finish_attempts(
        &mut self,
        item: u64,
        took: Duration,
        outcome: Option<ItemResult>,
        limit: Option<Duration>,
        attempts: u32,
    ) -> Outcome {
        if attempts > 1 {
            self.retried += 1;
        }
        self.attempt = attempts.max(1);
        let ended = self.finish(item, took, outcome, limit);
        self.attempt = 1;
        ended
    }

    /// Records one finished item and says how it ended. `None` (cancelled at the limit) and any
    /// outcome that took longer than `limit` count as timed out.
    #[inline]
    pub fn finish(
        &mut self,
        item: u64,
        took: Duration,
        outcome: Option<ItemResult>,
        limit: Option<Duration>,
    ) -> Outcome {
        match (outcome, limit) {
            (Some(_), Some(limit)) | (None, Some(limit)) if took > limit => {
                self.record_timeout(item, limit);
                Outcome::TimedOut
            }
            (None, _) => {
                self.record_timeout(item, limit.unwrap_or(took));
                Outcome::TimedOut
            }
            (Some(Ok(())), _) => {
                self.record(item, took, Ok(()));
                Outcome::Ok
            }
            (Some(Err(err)), _) => {
                self.record(item, took, Err(err));
                Outcome::Failed
            }
        }
    }

    /// Notes an open-loop item's lag against its intended start (after recording it).
    #[inline]
    pub fn scheduled(&mut self, lag: Duration, took: Duration, ended: Outcome) {
        self.scheduling
            .get_or_insert_with(Box::default)
            .record(lag, took, ended);
    }

    /// Notes one item in the trace, up to the per-worker cap.
    #[cold]
    pub fn trace_item(&mut self, event: TraceEvent) {
        if self.trace.len() < TRACE_CAP_PER_WORKER {
            self.trace.push(event);
        }
    }

    /// `record_timeout` for an item cut short in its `attempts`-th attempt.
    pub fn record_timeout_after(&mut self, item: u64, limit: Duration, attempts: u32) {
        if attempts > 1 {
            self.retried += 1;
        }
        self.attempt = attempts.max(1);
        self.record_timeout(item, limit);
        self.attempt = 1;
    }

    /// Records an item abandoned at the per-item timeout: its `limit` counts as its latency.
    pub fn record_timeout(&mut self, item: u64, limit: Duration) {
        self.timed_out += 1;
        self.busy += limit;
        // The item took at least the limit; the limit is what was measured of it.
        let _ = self
            .failed_latency
            .record((limit.as_micros() as u64).min(MAX_LATENCY_US));
        self.note_error(
            item,
            "timeout",
            format!("item {item} exceeded the {limit:?} timeout"),
        );
    }

    fn note_error(&mut self, item: u64, kind: &str, message: String) {
        match self.errors.get_mut(kind) {
            Some(count) => *count += 1,
            None => {
                self.errors.insert(kind.to_string(), 1);
            }
        }
        if self.failures.len() < FAILURE_SAMPLES_PER_WORKER {
            self.failures.push(Failure {
                item,
                attempt: self.attempt,
                kind: kind.to_string(),
                message,
            });
        }
    }

    /// Items ended so far, whatever their outcome.
    pub fn completed(&self) -> u64 {
        self.ok + self.failed + self.timed_out
    }

    /// Adds another worker's record into this one.
    pub fn merge(&mut self, other: WorkerStats) {
        // Both histograms auto-resize, so adding never fails for lack of range.
        let _ = self.latency.add(&other.latency);
        let _ = self.failed_latency.add(&other.failed_latency);
        self.ok += other.ok;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_insert(0) += count;
        }
        let room = (FAILURE_SAMPLES_PER_WORKER * 5).saturating_sub(self.failures.len());
        self.failures.extend(other.failures.into_iter().take(room));
        self.busy += other.busy;
        self.trace.extend(other.trace);
        self.retried += other.retried;
        self.transfer = Transfer::add(self.transfer, other.transfer);
        if let Some(theirs) = other.scheduling {
            match &mut self.scheduling {
                Some(ours) => ours.merge(&theirs),
                None => self.scheduling = Some(theirs),
            }
        }
    }

    /// Adds a runner's byte count (`Runner::take_transfer`).
    pub fn add_transfer(&mut self, transfer: Option<Transfer>) {
        self.transfer = Transfer::add(self.transfer, transfer);
    }

    pub fn merged(all: impl IntoIterator<Item = WorkerStats>) -> WorkerStats {
        all.into_iter().fold(WorkerStats::new(), |mut acc, s| {
            acc.merge(s);
            acc
        })
    }
}

/// Encodes a histogram as compressed HdrHistogram V2, base64: the portable form stored in
/// `results.json` and sent by worker processes.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes what `encode_histogram` wrote; `None` when it is not a histogram.
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

/// Milliseconds of a microsecond histogram value.
pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The HdrHistogram percentile distribution text format (`.hgrm`), values in milliseconds.
pub fn hgrm_text(h: &Histogram<u64>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if h.is_empty() {
        return out;
    }
    let mut last_count = 0;
    for v in h.iter_quantiles(1) {
        let q = v.quantile_iterated_to();
        last_count += v.count_since_last_iteration();
        let inverse = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {}",
            us_to_ms(v.value_iterated_to()),
            q,
            last_count,
            inverse
        );
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        us_to_ms(h.max()),
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_histograms_and_error_kinds() {
        let mut a = WorkerStats::new();
        a.record(0, Duration::from_millis(1), Ok(()));
        a.record(
            1,
            Duration::from_millis(2),
            Err(ItemError::new("io", "boom")),
        );
        let mut b = WorkerStats::new();
        b.record(2, Duration::from_millis(3), Ok(()));
        b.record_timeout(3, Duration::from_millis(50));
        b.record(
            4,
            Duration::from_millis(2),
            Err(ItemError::new("io", "again")),
        );
        a.merge(b);
        assert_eq!((a.ok, a.failed, a.timed_out), (2, 2, 1));
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.failed_latency.len(), 3, "failures are timed apart");
        assert_eq!(
            a.failed_latency.max() / 1000,
            50,
            "a timeout counts its limit"
        );
        assert_eq!(a.errors["io"], 2);
        assert_eq!(a.errors["timeout"], 1);
        assert_eq!(a.busy, Duration::from_millis(58));
        assert_eq!(a.failures.len(), 3);
        assert_eq!(a.transfer, None, "no runner counted bytes");
    }

    #[test]
    fn byte_counts_add_up_and_stay_absent_when_nobody_counts() {
        let mut a = WorkerStats::new();
        a.add_transfer(None);
        assert_eq!(a.transfer, None);
        a.add_transfer(Some(Transfer { rx: 10, tx: 2 }));
        let mut b = WorkerStats::new();
        b.add_transfer(Some(Transfer { rx: 5, tx: 1 }));
        a.merge(b);
        a.merge(WorkerStats::new());
        assert_eq!(a.transfer, Some(Transfer { rx: 15, tx: 3 }));
    }

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut s = WorkerStats::new();
        for ms in 1..=100 {
            s.record(ms, Duration::from_millis(ms), Ok(()));
        }
        let back = decode_histogram(&encode_histogram(&s.latency)).unwrap();
        assert_eq!(back, s.latency);
        assert!(decode_histogram("not a histogram").is_none());
    }

    #[test]
    fn hgrm_text_ends_with_totals() {
        let mut s = WorkerStats::new();
        for ms in 1..=10 {
            s.record(ms, Duration::from_millis(ms), Ok(()));
        }
        let text = hgrm_text(&s.latency);
        assert!(text.contains("Total count    =           10"), "{text}");
        assert!(
            text.lines().any(|l| l.trim_start().starts_with("10.00")),
            "{text}"
        );
    }
}
