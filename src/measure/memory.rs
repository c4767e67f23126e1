//! Resident memory of this process: current RSS and the peak during a point. Where the run has
//! a cgroup v2 of its own, the peak is the cgroup's `memory.peak` (see `cgroup`): the whole
//! process tree's, from the kernel. Otherwise it is this process's high-water mark (VmHWM),
//! reset before each point by writing 5 to /proc/self/clear_refs, to which the caller adds what
//! the children report; where that reset is refused, a sampler thread polls VmRSS instead. The
//! run says which method it used.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cgroup::CgroupPeak;

const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// How the peak RSS of a point was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeakMethod {
    /// The run's own cgroup v2 `memory.peak`, reset per point: the whole process tree at once.
    CgroupPeak,
    /// Kernel high-water mark, reset per point: exact.
    ClearRefs,
    /// VmRSS polled every 5 ms: may miss short spikes.
    Sampled,
    /// No /proc: no memory figures.
    Unavailable,
}

/// Reads `VmRSS` and `VmHWM` (bytes) from /proc/self/status.
pub fn rss_and_peak() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// This process's resident memory (VmRSS), in bytes; `None` where /proc does not say.
pub fn rss_bytes() -> Option<u64> {
    rss_and_peak().map(|(rss, _)| rss)
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Watches the peak RSS over one point.
pub struct PeakWatch {
    method: PeakMethod,
    cgroup: Option<CgroupPeak>,
    sampled_peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

impl PeakMethod {
    /// Whether the peak already holds every process of the tree, so children's own reports
    /// must not be added to it.
    pub fn covers_tree(self) -> bool {
        self == PeakMethod::CgroupPeak
    }
}

impl PeakWatch {
    pub fn start() -> PeakWatch {
        let sampled_peak = Arc::new(AtomicU64::new(rss_bytes().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let unsampled = |method, cgroup| PeakWatch {
            method,
            cgroup,
            sampled_peak: sampled_peak.clone(),
            stop: stop.clone(),
            sampler: None,
        };
        if let Some(cgroup) = CgroupPeak::open() {
            // This process's own high-water mark is reset too: the point's RSS columns use it.
            reset_peak();
            return unsampled(PeakMethod::CgroupPeak, Some(cgroup));
        }
        if rss_and_peak().is_none() {
            return unsampled(PeakMethod::Unavailable, None);
        }
        if reset_peak() {
            return unsampled(PeakMethod::ClearRefs, None);
        }
        let (peak, flag) = (sampled_peak.clone(), stop.clone());
        let sampler = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_bytes() {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
            .ok();
        PeakWatch {
            method: PeakMethod::Sampled,
            cgroup: None,
            sampled_peak,
            stop,
            sampler,
        }
    }

    /// The peak in bytes since `start`, and how it was measured: with `CgroupPeak` the whole
    /// process tree's, otherwise this process's alone.
    pub fn finish(mut self) -> (Option<u64>, PeakMethod) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.sampler.take() {
            let _ = handle.join();
        }
        let peak = match self.method {
            PeakMethod::CgroupPeak => self.cgroup.as_mut().and_then(|c| c.read()),
            PeakMethod::ClearRefs => rss_and_peak().map(|(_, hwm)| hwm),
            PeakMethod::Sampled => {
                rss_bytes().map(|now| now.max(self.sampled_peak.load(Ordering::Relaxed)))
            }
            PeakMethod::Unavailable => None,
        };
        (peak, self.method)
    }
}

/// Bytes in MB (2^20 bytes), as the memory columns count them.
pub fn bytes_to_mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_sees_a_temporary_allocation() {
        let watch = PeakWatch::start();
        let before = rss_bytes().unwrap();
        let mut block = vec![0u8; 64 << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        std::hint::black_box(&block);
        std::thread::sleep(Duration::from_millis(20));
        drop(block);
        let (peak, method) = watch.finish();
        assert_ne!(method, PeakMethod::Unavailable);
        assert!(
            peak.unwrap() >= before + (48 << 20),
            "peak {:?} before {before} ({method:?})",
            peak
        );
    }
}
