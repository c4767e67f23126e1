//! A short scheduler slice for the threads that start open-loop items on time. Since Linux 6.12
//! the EEVDF scheduler lets any thread ask for a shorter slice (`sched_setattr`, `SCHED_OTHER`,
//! `sched_runtime`; no privilege needed): its deadline comes sooner, so when it wakes for an
//! item that is due it gets a core at once instead of waiting out the slice of whatever runs
//! there — on a small machine, often the service under test. It asks for no more CPU, only
//! earlier turns. On an older kernel the call is refused and nothing changes. Asked by the
//! async open-loop workers and the thread lanes; not by the process feeders (see `feed_open`).
//!
//! Written on `libc::syscall` because no libc wrapper exists for `sched_setattr`.

/// The slice asked for: EEVDF's smallest, against its default of 0.75 ms × (1 + log2 cores).
const SHORT_SLICE_NS: u64 = 100_000;

/// `struct sched_attr`, its first version (48 bytes), as the kernel reads it.
#[repr(C)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

/// Asks a short slice for the calling thread, keeping its nice value; false when the kernel
/// refused (older than 6.12, or a policy that forbids it).
pub(crate) fn ask_short_slice() -> bool {
    // SAFETY: getpriority has no memory arguments; for PRIO_PROCESS and 0 it reads the calling
    // thread's nice. -1 is also a valid nice, which is what we would keep anyway.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_flags: 0,
        sched_nice: nice,
        sched_priority: 0,
        sched_runtime: SHORT_SLICE_NS,
        sched_deadline: 0,
        sched_period: 0,
    };
    // SAFETY: `attr` is a valid, fully initialised sched_attr of the size it states, alive for
    // the call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    rc == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's attributes, as the kernel holds them.
    fn current() -> Option<SchedAttr> {
        let mut attr = SchedAttr {
            size: 0,
            sched_policy: 0,
            sched_flags: 0,
            sched_nice: 0,
            sched_priority: 0,
            sched_runtime: 0,
            sched_deadline: 0,
            sched_period: 0,
        };
        let size = std::mem::size_of::<SchedAttr>() as u32;
        // SAFETY: the kernel writes at most `size` bytes into `attr`.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                0,
                &mut attr as *mut SchedAttr,
                size,
                0,
            )
        };
        (rc == 0).then_some(attr)
    }

    #[test]
    fn a_granted_request_shortens_the_slice_and_keeps_the_nice_value() {
        std::thread::spawn(|| {
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            let granted = ask_short_slice();
            let now = current().expect("sched_getattr");
            assert_eq!(now.sched_nice, nice);
            assert_eq!(now.sched_policy, libc::SCHED_OTHER as u32);
            if granted {
                assert_eq!(now.sched_runtime, SHORT_SLICE_NS);
            }
        })
        .join()
        .unwrap();
    }
}
