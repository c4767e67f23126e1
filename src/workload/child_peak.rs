//! The memory of the programs `command` items start on the in-process backends and in a
//! `process` worker. Each runner waits for its child on a pidfd in 5 ms slices, reads the
//! child's high-water mark (VmHWM) whenever a slice passes with the child alive, and keeps its
//! largest; the growth of each runner's largest goes into one process-wide sum, so N runners
//! add N programs' peaks — as `process-per-item` counts its N slots. A child that lives under
//! 5 ms is not seen, but the slowest items of a point are: a runner's largest is the program's
//! peak once any of its items took longer. The kernel's own figure cannot serve here: wait4's
//! `ru_maxrss` is at least the parent's peak, which a child inherits at exec.

use std::io;
use std::os::fd::AsRawFd;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::child::{peak_rss_of, pidfd};

/// How long a wait lasts between two looks at the child's memory, in ms.
const SLICE_MS: i32 = 5;

/// Sum over runners of the largest peak (bytes) one of their children reached.
static CHILDREN_PEAK: AtomicU64 = AtomicU64::new(0);

/// The sum so far, set back to zero: called before a point (to start afresh) and after it.
pub fn take() -> u64 {
    CHILDREN_PEAK.swap(0, Ordering::Relaxed)
}

/// One runner's largest child peak.
#[derive(Debug, Default)]
pub(crate) struct ChildPeak {
    largest: u64,
}

impl ChildPeak {
    /// Waits for `child` to exit, looking at its memory while it runs.
    pub(crate) fn wait(&mut self, child: &mut Child) -> io::Result<ExitStatus> {
        let Some(fd) = pidfd(child.id()) else {
            return child.wait();
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd, count 1.
            let n = unsafe { libc::poll(&mut pfd, 1, SLICE_MS) };
            if n != 0 {
                // Exited, or poll failed (EINTR, …): wait() settles it either way.
                if n > 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return child.wait();
                }
                continue;
            }
            if let Some(peak) = peak_rss_of(child.id()) {
                if peak > self.largest {
                    CHILDREN_PEAK.fetch_add(peak - self.largest, Ordering::Relaxed);
                    self.largest = peak;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_program_that_lives_long_enough_adds_its_peak_once_per_runner() {
        // Python holding 40 MB for a while: its peak is seen, and a second item of the same
        // runner adds nothing more.
        let program = "import time; b = bytearray(40 << 20); time.sleep(0.1)";
        let Ok(mut first) = Command::new("python3").args(["-c", program]).spawn() else {
            return; // no python3 here: nothing to measure with
        };
        let mut runner = ChildPeak::default();
        assert!(runner.wait(&mut first).unwrap().success());
        // The shared sum is read by every point other tests run: the runner's own is checked.
        let largest = runner.largest;
        assert!(largest >= 40 << 20, "{largest} bytes");
        let mut second = Command::new("python3")
            .args(["-c", program])
            .spawn()
            .unwrap();
        assert!(runner.wait(&mut second).unwrap().success());
        assert!(
            runner.largest < largest + (8 << 20),
            "the same runner's second child is not added again: {} then {largest}",
            runner.largest
        );
    }
}
