//! Measurements taken around and inside a point: latency histograms and outcome counts (per
//! worker, merged after), CPU time, memory, and the machine the run happened on.

pub mod cgroup;
pub mod cpu;
pub mod environment;
pub mod latency;
pub mod memory;
pub mod scheduling;
pub mod timeline;

pub use latency::{Failure, WorkerStats};
