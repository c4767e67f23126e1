//! A lane's own deadline on the async open loop: a Linux timerfd in the runtime's epoll. When the
//! item is due, the kernel's high-resolution timer makes the fd readable and the worker waiting
//! in epoll wakes and starts the item itself. The shared timer thread (`timer::sleep`) would add
//! a hop — that thread must be scheduled, then wake a worker — and at 20 000 items a second on
//! two cores shared with the service, waiting for a second thread to get a core is what put the
//! lag's tail past a millisecond. A timerfd also has no timer slack, where a futex wait takes
//! the thread's 50 µs.
//!
//! Written on `libc` rather than a crate: the few lines below are all of it, and the timerfd
//! crates wrap them in a second async layer of their own.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// One lane's deadline, re-armed for each item.
pub(crate) struct LaneDeadline {
    fd: AsyncFd<OwnedFd>,
}

impl LaneDeadline {
    /// A disarmed deadline, registered with the current tokio runtime (which needs I/O enabled).
    pub(crate) fn new() -> io::Result<LaneDeadline> {
        // SAFETY: plain system call; the fd is owned below or the error returned.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // Registering outside a runtime would panic: refuse instead, and the caller falls back.
        tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        // SAFETY: an `OwnedFd` is open and is the same fd for as long as it lives, which is as
        // long as the `AsyncFd` that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(LaneDeadline { fd })
    }

    /// Completes at `due` (at once if it has passed).
    pub(crate) async fn sleep_until(&self, due: Instant) -> io::Result<()> {
        let Some(left) = due
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        // Relative arming: `Instant` is CLOCK_MONOTONIC on Linux, but opaque.
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: `fd` is our timerfd; `spec` outlives the call. Re-arming clears the count.
        if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut ready = self.fd.readable().await?;
            // A readiness left from an earlier expiry reads EAGAIN, is cleared, and we wait on.
            let read = ready.try_io(|inner| {
                let mut expirations = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer from our own fd.
                let n = unsafe {
                    libc::read(
                        inner.get_ref().as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        8,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                Ok(result) => {
                    // The count is read, so the fd is not readable until the next expiry:
                    // forget this readiness, or the next item's wait would begin with a
                    // read that can only say EAGAIN — a system call an item for nothing.
                    ready.clear_ready();
                    return result;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_at_its_deadline_and_again_when_rearmed() {
        let deadline = LaneDeadline::new().unwrap();
        for wait_ms in [5u64, 1, 12] {
            let due = Instant::now() + Duration::from_millis(wait_ms);
            deadline.sleep_until(due).await.unwrap();
            assert!(Instant::now() >= due);
        }
        // A deadline already past completes at once, without waiting for an expiry.
        let past = Instant::now();
        deadline.sleep_until(past).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_wait_leaves_nothing_behind_for_the_next() {
        let deadline = LaneDeadline::new().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(5), deadline.sleep_until(far)).await;
        assert!(cancelled.is_err());
        let due = Instant::now() + Duration::from_millis(3);
        deadline.sleep_until(due).await.unwrap();
        assert!(Instant::now() >= due);
    }
}
