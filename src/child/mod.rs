//! Care of child processes: the process backends' workers and the built-in server in a process
//! of its own, both this binary started again. Every child is started in a process group of its
//! own, so killing the group also kills whatever it started (a shell's children, a command run
//! by a worker): a timed-out or abandoned child leaves nothing behind. A terminal's Ctrl-C
//! reaches only the foreground group, so children are stopped by the parent, in order.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Names the parent's pid in a child's environment, so a child can tell whether the parent
/// died before the child asked to die with it.
pub const PARENT_ENV: &str = "THROTTLEBENCH_PARENT_PID";

/// Overrides the executable started as a child (by default the running one).
pub const EXE_ENV: &str = "THROTTLEBENCH_EXE";

/// The binary a parent starts as a worker or a server: `EXE_ENV`, else the running one.
pub fn worker_exe() -> anyhow::Result<std::path::PathBuf> {
    match std::env::var_os(EXE_ENV) {
        Some(path) => Ok(path.into()),
        None => std::env::current_exe().context("cannot find the running executable"),
    }
}

/// Makes `cmd` the leader of a new process group.
pub fn own_group(cmd: &mut Command) -> &mut Command {
    cmd.process_group(0)
}

/// Sends SIGKILL to the process group led by `pid` (the child and everything it started).
pub fn kill_group(pid: u32) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    // SAFETY: kill has no memory arguments; a negative pid names a process group.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
}

/// Kills the child's whole group and reaps the child.
pub fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    kill_group(child.id());
    let status = child.wait().ok();
    // Anything the child started that is still in the group goes too.
    kill_group(child.id());
    status
}

/// How a child ended, in words: "exited with code 1", "was killed by signal 9".
pub fn describe(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (_, Some(signal)) => format!("was killed by signal {signal}"),
            _ => format!("ended ({s})"),
        },
        None => "vanished".to_string(),
    }
}

/// A file descriptor that becomes readable when the process exits (Linux ≥ 5.3).
pub fn pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// How waiting for a child ended.
#[derive(Debug)]
pub enum Waited {
    Exited(ExitStatus),
    /// Still running at the deadline (it has not been killed).
    Deadline,
    /// `give_up` said to stop waiting (it has not been killed).
    GaveUp,
}

/// Waits for `child` until it exits, `deadline` passes, or `give_up()` turns true (checked every
/// `slice`). `each_slice` runs whenever the child is still running after a slice.
pub fn wait_until(
    child: &mut Child,
    fd: Option<&OwnedFd>,
    deadline: Option<Instant>,
    slice: Duration,
    give_up: &dyn Fn() -> bool,
    each_slice: &mut dyn FnMut(u32),
) -> io::Result<Waited> {
    use std::os::fd::AsRawFd;
    loop {
        let mut wait = slice;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Waited::Deadline);
            }
            wait = wait.min(left);
        }
        let exited = match fd {
            Some(fd) => readable(fd.as_raw_fd(), wait)?,
            None => {
                // No pidfd: poll the child's status at a fine grain.
                let step = wait.min(Duration::from_micros(200));
                let until = Instant::now() + wait;
                loop {
                    if child.try_wait()?.is_some() {
                        break true;
                    }
                    if Instant::now() >= until {
                        break false;
                    }
                    std::thread::sleep(step);
                }
            }
        };
        if exited {
            return Ok(Waited::Exited(child.wait()?));
        }
        if give_up() {
            return Ok(Waited::GaveUp);
        }
        each_slice(child.id());
    }
}

/// Waits until `fd` is readable (or closed) for at most `wait`.
pub fn readable(fd: i32, wait: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Rounded up: a wait of 0.4 ms must not become a busy loop of zero-length polls.
    let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The high-water mark of resident memory (VmHWM) of a running process, in bytes.
pub fn peak_rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_group_takes_its_grandchildren() {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg("sleep 30 & echo $!; wait");
        cmd.stdout(std::process::Stdio::piped());
        let mut child = own_group(&mut cmd).spawn().unwrap();
        let mut out = String::new();
        let mut line = [0u8; 32];
        let n = std::io::Read::read(child.stdout.as_mut().unwrap(), &mut line).unwrap();
        out.push_str(std::str::from_utf8(&line[..n]).unwrap());
        let grandchild: u32 = out.trim().parse().unwrap();
        let status = kill_and_reap(&mut child).unwrap();
        assert!(!status.success());
        // The grandchild was reparented and killed: within a moment its /proc entry is gone or a zombie.
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            match std::fs::read_to_string(format!("/proc/{grandchild}/stat")) {
                Err(_) => true,
                Ok(stat) => stat.split_whitespace().nth(2) == Some("Z"),
            }
        });
        assert!(gone, "grandchild {grandchild} survived");
    }

    #[test]
    fn waiting_stops_at_the_deadline() {
        let mut cmd = Command::new("sleep");
        cmd.arg("5");
        let mut child = own_group(&mut cmd).spawn().unwrap();
        let fd = pidfd(child.id());
        let t = Instant::now();
        let waited = wait_until(
            &mut child,
            fd.as_ref(),
            Some(Instant::now() + Duration::from_millis(50)),
            Duration::from_millis(10),
            &|| false,
            &mut |_| {},
        )
        .unwrap();
        assert!(matches!(waited, Waited::Deadline), "{waited:?}");
        assert!(t.elapsed() < Duration::from_secs(4));
        kill_and_reap(&mut child);
        let mut quick = Command::new("true").spawn().unwrap();
        let fd = pidfd(quick.id());
        let waited = wait_until(
            &mut quick,
            fd.as_ref(),
            None,
            Duration::from_millis(10),
            &|| false,
            &mut |_| {},
        )
        .unwrap();
        assert!(matches!(waited, Waited::Exited(s) if s.success()));
    }
}
