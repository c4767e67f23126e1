//! CPU time of this process and of its waited-for children (user and system), from getrusage.

use std::time::Duration;

/// User and system CPU time consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    pub user: Duration,
    pub sys: Duration,
}

impl CpuTimes {
    /// This process, all threads (`RUSAGE_SELF`).
    pub fn of_self() -> CpuTimes {
        rusage(libc::RUSAGE_SELF)
    }

    /// Children that have been waited for (`RUSAGE_CHILDREN`); only grows.
    pub fn of_children() -> CpuTimes {
        rusage(libc::RUSAGE_CHILDREN)
    }

    /// The CPU spent between `earlier` and this reading.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }

    /// The two together.
    pub fn plus(self, other: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user + other.user,
            sys: self.sys + other.sys,
        }
    }
}

fn rusage(who: libc::c_int) -> CpuTimes {
    // SAFETY: getrusage only writes into the struct we pass; a zeroed rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return CpuTimes::default();
    }
    let tv =
        |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32).saturating_mul(1000));
    CpuTimes {
        user: tv(usage.ru_utime),
        sys: tv(usage.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burning_cpu_shows_as_user_time() {
        // Burn until getrusage reports 20 ms, on however busy a machine: if it never does
        // within 10 s of wall time, CPU time is not being measured.
        let before = CpuTimes::of_self();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut used = CpuTimes::default();
        while start.elapsed() < Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            used = CpuTimes::of_self().since(before);
            if used.user + used.sys >= Duration::from_millis(20) {
                break;
            }
        }
        assert!(
            used.user + used.sys >= Duration::from_millis(20),
            "{used:?}"
        );
    }
}
