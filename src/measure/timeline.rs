//! Per-item trace (`--trace`): when each item started and ended, on which worker, and how it
//! ended. Only recorded when asked for, and capped, so the default per-item path stays lean.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Events kept per worker per point; later items are counted but not traced.
pub const TRACE_CAP_PER_WORKER: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    TimedOut,
}

/// One traced item. Offsets are microseconds from the point's measured start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    pub item: u64,
    /// Thread index within the point, or a worker's pid for process backends.
    pub worker: u64,
    pub start_us: i64,
    pub end_us: i64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TraceEvent {
    /// An event for an item that ran from `begin` to `end`, offsets taken from `started`.
    pub fn new(
        item: u64,
        worker: u64,
        (begin, end): (Instant, Instant),
        started: Instant,
        outcome: Outcome,
        error: Option<&str>,
    ) -> Self {
        let offset = |t: Instant| t.saturating_duration_since(started).as_micros() as i64;
        TraceEvent {
            item,
            worker,
            start_us: offset(begin),
            end_us: offset(end),
            outcome,
            error: error.map(str::to_string),
        }
    }
}
