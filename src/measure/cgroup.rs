//! The peak memory of the run's own cgroup: cgroup v2's `memory.peak`, the kernel's own account
//! of everything the cgroup's processes charged — this process, its workers and the programs
//! they start — with no sampling gap. It serves only where it answers the question asked: the
//! cgroup is v2 (`0::` in /proc/self/cgroup, a `cgroup2` mount), holds this process alone when
//! a point starts (a shared session's cgroup would count strangers), has `memory.peak` (Linux
//! 5.19), and lets this process reset the peak by writing to its open file (Linux 6.12).
//! Anywhere else — cgroup v1 machines among them — the caller falls back to the high-water mark.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An open, reset `memory.peak`: reading it says the cgroup's peak since the reset.
#[derive(Debug)]
pub struct CgroupPeak {
    file: File,
}

impl CgroupPeak {
    /// This run's own cgroup's peak, reset now; `None` where it cannot serve (see the module).
    pub fn open() -> Option<CgroupPeak> {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        CgroupPeak::open_in(&own_cgroup_dir(&cgroup, &mountinfo, std::process::id())?)
    }

    /// The peak of the cgroup at `dir`, reset now.
    pub(crate) fn open_in(dir: &Path) -> Option<CgroupPeak> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("memory.peak"))
            .ok()?;
        // Any write resets the peak seen through this file; kernels before 6.12 refuse it, and
        // a peak since the cgroup began would be no point's own.
        file.write_all(b"reset\n").ok()?;
        Some(CgroupPeak { file })
    }

    /// The peak since the reset, bytes.
    pub fn read(&mut self) -> Option<u64> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0)).ok()?;
        self.file.read_to_string(&mut text).ok()?;
        text.trim().parse().ok()
    }
}

/// The directory of the cgroup `proc_cgroup` (/proc/self/cgroup) names, under the `cgroup2`
/// mount of `mountinfo` (/proc/self/mountinfo), when that cgroup holds process `pid` alone and
/// has `memory.peak`.
pub(crate) fn own_cgroup_dir(proc_cgroup: &str, mountinfo: &str, pid: u32) -> Option<PathBuf> {
    let path = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    let (root, mount_point) = mountinfo.lines().find_map(cgroup2_mount)?;
    // Inside a cgroup namespace both are relative to the same root.
    let relative = path.strip_prefix(root.as_str()).unwrap_or(path);
    let dir = mount_point.join(relative.trim_start_matches('/'));
    if !dir.join("memory.peak").is_file() {
        return None;
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
    let mut pids = procs.split_whitespace().peekable();
    let me = pid.to_string();
    (pids.peek().is_some() && pids.all(|p| p == me)).then_some(dir)
}

/// `(root, mount point)` of a mountinfo line for a `cgroup2` file system.
fn cgroup2_mount(line: &str) -> Option<(String, PathBuf)> {
    let (fields, tail) = line.split_once(" - ")?;
    if tail.split_whitespace().next()? != "cgroup2" {
        return None;
    }
    let mut fields = fields.split_whitespace().skip(3);
    let root = unescape(fields.next()?);
    let mount_point = PathBuf::from(unescape(fields.next()?));
    Some((root, mount_point))
}

/// mountinfo writes a space, tab, newline or backslash in a path as an octal escape.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: u32 = 4242;

    /// A fake cgroup v2 tree: the mount at `dir`, the run's cgroup at `bench.scope`.
    fn tree(dir: &Path, procs: &str, peak: Option<&str>) -> (String, String) {
        let cgroup = dir.join("user.slice/bench.scope");
        std::fs::create_dir_all(&cgroup).unwrap();
        std::fs::write(cgroup.join("cgroup.procs"), procs).unwrap();
        if let Some(peak) = peak {
            std::fs::write(cgroup.join("memory.peak"), peak).unwrap();
        }
        let mountinfo = format!(
            "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
             30 22 0:26 / {} rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n",
            dir.display()
        );
        ("0::/user.slice/bench.scope\n".to_string(), mountinfo)
    }

    #[test]
    fn the_runs_own_v2_cgroup_is_found_and_its_peak_read_after_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let (cgroup, mountinfo) = tree(dir.path(), "4242\n", Some("8388608\n"));
        let found = own_cgroup_dir(&cgroup, &mountinfo, PID).unwrap();
        assert_eq!(found, dir.path().join("user.slice/bench.scope"));
        let mut peak = CgroupPeak::open_in(&found).unwrap();
        // The kernel answers the reset file with the peak since the reset: stand in for it.
        std::fs::write(found.join("memory.peak"), "12582912\n").unwrap();
        assert_eq!(peak.read(), Some(12 << 20));
    }

    #[test]
    fn a_shared_or_v1_cgroup_or_one_without_a_peak_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let (cgroup, mountinfo) = tree(dir.path(), "4242\n977\n", Some("1\n"));
        assert_eq!(own_cgroup_dir(&cgroup, &mountinfo, PID), None, "shared");
        let dir = tempfile::tempdir().unwrap();
        let (cgroup, mountinfo) = tree(dir.path(), "4242\n", None);
        assert_eq!(own_cgroup_dir(&cgroup, &mountinfo, PID), None, "no peak");
        let dir = tempfile::tempdir().unwrap();
        let (_, mountinfo) = tree(dir.path(), "4242\n", Some("1\n"));
        let v1 = "12:memory:/user.slice\n11:cpu,cpuacct:/user.slice\n";
        assert_eq!(own_cgroup_dir(v1, &mountinfo, PID), None, "v1");
        let v1_mounts = mountinfo.replace("cgroup2 cgroup2", "cgroup cgroup");
        let (cgroup, _) = tree(dir.path(), "4242\n", Some("1\n"));
        assert_eq!(
            own_cgroup_dir(&cgroup, &v1_mounts, PID),
            None,
            "no v2 mount"
        );
    }

    #[test]
    fn mount_points_with_spaces_are_unescaped() {
        let line = "30 22 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw";
        let (root, at) = cgroup2_mount(line).unwrap();
        assert_eq!(
            (root.as_str(), at),
            ("/", PathBuf::from("/sys/fs/my cgroup"))
        );
    }
}
