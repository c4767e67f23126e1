//! The built-in server in a process of its own: `throttlebench serve` started as a child on
//! 127.0.0.1 with a free port, so that the server's CPU and memory are not counted as the
//! client's. The child reports its address as its first line of output.
//!
//! Lifetime: dropping the handle kills the child's process group; a run that dies first takes
//! the child with it (the child asks for PDEATHSIG, as workers do). The child is reaped only
//! when the handle is dropped — at the end of a run, after its last point — so its CPU never
//! reaches `RUSAGE_CHILDREN` while a point is being measured.

use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::ServerConfig;
use crate::child::{describe, kill_and_reap, own_group, readable, worker_exe, EXE_ENV, PARENT_ENV};

/// How long the child gets to report its address: starting a process and binding a port take
/// milliseconds, but a loaded machine can stall anything for a while.
const START_LIMIT: Duration = Duration::from_secs(10);

/// How long a failed child's error output is read for (it has been killed by then).
const STDERR_LIMIT: Duration = Duration::from_secs(1);

/// A `throttlebench serve` child process. Dropping it kills and reaps the child.
pub struct ServerProcess {
    addr: SocketAddr,
    pid: u32,
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts the executable that process workers use (`THROTTLEBENCH_EXE`, else this one) as
    /// `serve` on 127.0.0.1 and waits for its address.
    pub fn start(config: &ServerConfig) -> anyhow::Result<ServerProcess> {
        config.check().map_err(anyhow::Error::msg)?;
        let exe = worker_exe()?;
        let args = serve_args(config, std::process::id());
        let (started, on_start) = mpsc::channel();
        let (stop, on_stop) = mpsc::channel::<()>();
        // The kernel's parent-death signal follows the thread that started the child, not the
        // process: a thread of its own that lives exactly as long as this handle starts it, so
        // the server cannot die early because whichever thread built the workload has ended.
        let keeper = std::thread::Builder::new()
            .name("tb-serve-keeper".into())
            .spawn(move || keep(&exe, &args, &started, &on_stop))
            .context("cannot start a thread to keep the server process")?;
        match on_start.recv() {
            Ok(Ok((pid, addr))) => Ok(ServerProcess {
                addr,
                pid,
                stop: Some(stop),
                keeper: Some(keeper),
            }),
            Ok(Err(why)) => {
                let _ = keeper.join();
                Err(anyhow::Error::msg(why))
            }
            Err(_) => {
                let _ = keeper.join();
                anyhow::bail!("the thread keeping the server process ended unexpectedly")
            }
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `http://ADDR/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing the channel tells the keeper to kill and reap the child.
        drop(self.stop.take());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

/// The `serve` command line for `config`, on a free loopback port.
fn serve_args(config: &ServerConfig, parent: u32) -> Vec<String> {
    let ms = |d: Duration| (d.as_secs_f64() * 1e3).to_string();
    let mut args = vec![
        "serve".to_string(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--latency-ms".into(),
        ms(config.latency),
        "--jitter-ms".into(),
        ms(config.jitter),
        "--queue".into(),
        config.queue.to_string(),
        "--error-rate".into(),
        config.error_rate.to_string(),
        "--threads".into(),
        config.threads.to_string(),
        "--parent-pid".into(),
        parent.to_string(),
    ];
    if let Some(capacity) = config.capacity {
        args.extend(["--capacity".into(), capacity.to_string()]);
    }
    if let Some(size) = config.body_size {
        args.extend(["--body-size".into(), size.to_string()]);
    }
    if !config.stall.is_zero() {
        args.extend([
            "--stall-ms".into(),
            ms(config.stall),
            "--stall-every-ms".into(),
            ms(config.stall_every),
        ]);
    }
    args
}

type Started = Result<(u32, SocketAddr), String>;

/// The keeper thread: starts the child, reports its address (or why it has none), then holds
/// it until the handle is dropped, and kills and reaps it.
fn keep(exe: &Path, args: &[String], started: &mpsc::Sender<Started>, stop: &mpsc::Receiver<()>) {
    let mut cmd = Command::new(exe);
    // The same mark as workers carry: whatever a run started can be found by it.
    cmd.args(args)
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a terminal's Ctrl-C reaches the run, which then stops the server
    // itself, after the run's last item rather than in the middle of it.
    let mut child = match own_group(&mut cmd).spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = started.send(Err(format!("cannot run {}: {e}{}", exe.display(), hint())));
            return;
        }
    };
    match first_line(&mut child, START_LIMIT) {
        Ok(line) => match parse_address(&line) {
            Some(addr) => {
                if started.send(Ok((child.id(), addr))).is_ok() {
                    // Blocks until the handle is dropped (the channel closes).
                    let _ = stop.recv();
                }
                kill_and_reap(&mut child);
            }
            None => {
                kill_and_reap(&mut child);
                let _ = started.send(Err(format!(
                    "{} answered '{}' instead of the address it listens on{}",
                    exe.display(),
                    line.trim(),
                    hint()
                )));
            }
        },
        Err(waited) => {
            let status = kill_and_reap(&mut child);
            let said = stderr_line(&mut child);
            let why = match (waited, said) {
                (Waited::TooLong, _) => format!(
                    "{} did not report its address within {} s",
                    exe.display(),
                    START_LIMIT.as_secs()
                ),
                (_, Some(said)) => format!("{said} ({} {})", exe.display(), describe(status)),
                (_, None) => format!(
                    "{} {} without reporting its address{}",
                    exe.display(),
                    describe(status),
                    hint()
                ),
            };
            let _ = started.send(Err(why));
        }
    }
}

fn hint() -> String {
    format!("; is it a throttlebench binary? ({EXE_ENV} names the one to use)")
}

enum Waited {
    /// The child closed its output (most likely it exited) before a whole line.
    Closed,
    TooLong,
}

/// The child's first line of output, waiting at most `limit`.
fn first_line(child: &mut Child, limit: Duration) -> Result<String, Waited> {
    let Some(out) = child.stdout.as_mut() else {
        return Err(Waited::Closed);
    };
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !seen.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        match readable(out.as_raw_fd(), left) {
            Ok(true) => {}
            Ok(false) => return Err(Waited::TooLong),
            Err(_) => return Err(Waited::Closed),
        }
        match out.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Waited::Closed),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let end = seen.iter().position(|b| *b == b'\n').unwrap_or(seen.len());
    Ok(String::from_utf8_lossy(&seen[..end]).into_owned())
}

/// The last line a failed child wrote on stderr, without the `error: ` that throttlebench puts
/// before it (the caller adds its own context).
fn stderr_line(child: &mut Child) -> Option<String> {
    let err = child.stderr.as_mut()?;
    let deadline = Instant::now() + STDERR_LIMIT;
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    // Bounded in time and size: a killed child's pipe is closed, but anything it started outside
    // its group could still hold it open.
    while seen.len() < 64 * 1024 {
        let left = deadline.saturating_duration_since(Instant::now());
        if !matches!(readable(err.as_raw_fd(), left), Ok(true)) {
            break;
        }
        match err.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&seen);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    Some(line.strip_prefix("error: ").unwrap_or(line).to_string())
}

/// The address in `serve`'s first line: `listening on http://127.0.0.1:PORT/ (…)`.
fn parse_address(line: &str) -> Option<SocketAddr> {
    let url = line.strip_prefix("listening on http://")?;
    let authority = url.split('/').next()?;
    authority.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_serves_first_line() {
        let line = "listening on http://127.0.0.1:40123/ (latency 1.0 ms ± 0.0 ms, no capacity limit, error rate 0)";
        assert_eq!(
            parse_address(line),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(parse_address("running 3 tests"), None);
        assert_eq!(parse_address("listening on https://127.0.0.1:1/"), None);
    }

    #[test]
    fn serve_is_given_every_setting() {
        let args = serve_args(
            &ServerConfig {
                latency: Duration::from_micros(2500),
                jitter: Duration::from_millis(1),
                capacity: Some(8),
                queue: 16,
                error_rate: 0.25,
                threads: 1,
                body_size: Some(1 << 20),
                stall: Duration::from_millis(500),
                stall_every: Duration::from_secs(2),
            },
            42,
        );
        let joined = args.join(" ");
        assert_eq!(
            joined,
            "serve --addr 127.0.0.1:0 --latency-ms 2.5 --jitter-ms 1 --queue 16 \
             --error-rate 0.25 --threads 1 --parent-pid 42 --capacity 8 --body-size 1048576 \
             --stall-ms 500 --stall-every-ms 2000"
        );
    }
}
