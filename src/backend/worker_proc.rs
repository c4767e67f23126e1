//! The parent's handle on one worker process of the `process` backend: starting it in a process
//! group of its own, the handshake, the last report, and killing or reaping it. Dropping the
//! handle kills the worker's whole group, so no error path can leave a worker behind.

use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::process::Launch;
use super::protocol::{FrameReader, FrameWriter, FromWorker, Next, ToWorker};
use super::retry::RetryPolicy;
use crate::child::{describe, kill_and_reap, kill_group, own_group};
use crate::workload::Transfer;

/// How often a waiting slot looks at Ctrl-C and the item timeout.
pub const SLICE: Duration = Duration::from_millis(20);
/// How long a finishing worker gets to send its last report.
const FINISH_GRACE: Duration = Duration::from_secs(10);

/// Seconds a worker checked before a sweep may take to become ready.
pub const START_LIMIT_ENV: &str = "THROTTLEBENCH_WORKER_START_TIMEOUT";
const DEFAULT_START_LIMIT: Duration = Duration::from_secs(30);

/// How long a worker checked before a sweep may take to start and build the workload: 30 s, or
/// `THROTTLEBENCH_WORKER_START_TIMEOUT` seconds.
pub fn start_limit() -> anyhow::Result<Duration> {
    match std::env::var(START_LIMIT_ENV) {
        Err(_) => Ok(DEFAULT_START_LIMIT),
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                anyhow::anyhow!("{START_LIMIT_ENV}={text:?}: expected seconds above 0, like 30")
            }),
    }
}

/// What a worker said of itself when ready.
#[derive(Debug, Clone, Copy)]
pub struct Readied {
    /// CPU it spent starting and warming up.
    pub setup_cpu: Duration,
    /// Its resident size then, bytes (0 when it could not say).
    pub resident: u64,
}

/// One running worker process and its pipes. Dropping it kills its process group.
pub struct WorkerProc {
    child: Child,
    pub pid: u32,
    pub reader: FrameReader<ChildStdout>,
    pub writer: FrameWriter<ChildStdin>,
    reaped: bool,
    /// The worker was asked to retry failed items: it must speak a protocol that can.
    retries: bool,
}

impl WorkerProc {
    /// Starts a worker and sends it the spec and retry policy; it answers `Ready` once warmed up.
    pub(crate) fn spawn(
        launch: &dyn Launch,
        slot: usize,
        spec_json: &[u8],
        warmup: u64,
        retry: RetryPolicy,
    ) -> anyhow::Result<WorkerProc> {
        let mut cmd = launch.command(slot)?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = own_group(&mut cmd)
            .spawn()
            .context("cannot start a worker process")?;
        let pid = child.id();
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            kill_and_reap(&mut child);
            anyhow::bail!("worker process started without pipes");
        };
        let mut proc = WorkerProc {
            child,
            pid,
            reader: FrameReader::new(stdout),
            writer: FrameWriter::new(stdin),
            reaped: false,
            retries: retry.retries > 0,
        };
        ToWorker::Start {
            spec_json: spec_json.to_vec(),
            warmup,
            retry,
        }
        .encode(&mut proc.writer.buf);
        if proc.writer.flush().is_err() {
            // A program that is not a worker (the user's own `main` run again) can end before
            // its first frame is even written: the same advice as for a garbled answer.
            anyhow::bail!(
                "a worker process exited before it was given the workload ({}); a program that \
                 runs its own workload kinds on the process backends must call \
                 throttlebench::run_if_worker_with(&registry) first thing in main, or set \
                 THROTTLEBENCH_EXE to a throttlebench binary",
                launch.place(slot)
            );
        }
        Ok(proc)
    }

    /// Waits for `Ready`, giving up on Ctrl-C or past `limit`, and returns what the worker said
    /// of itself. A worker too old to retry (a remote host's binary of an earlier version) is
    /// refused when retries were asked for, rather than silently running every item once.
    pub fn await_ready(
        &mut self,
        stop: &AtomicBool,
        limit: Option<Duration>,
        place: impl Fn() -> String,
    ) -> anyhow::Result<Readied> {
        let until = limit.and_then(|l| Instant::now().checked_add(l));
        loop {
            let next = self
                .reader
                .next_within(SLICE, FromWorker::decode)
                .map_err(|e| not_a_worker(&e, &place()))?;
            match next {
                Next::Frame(FromWorker::Ready {
                    setup_error: None,
                    protocol,
                    ..
                }) if self.retries && protocol < 2 => anyhow::bail!(
                    "the worker at {} cannot retry items (protocol version {protocol}); update its throttlebench or drop --retries",
                    place()
                ),
                Next::Frame(FromWorker::Ready {
                    setup_error: None,
                    setup_cpu_us,
                    resident,
                    ..
                }) => {
                    return Ok(Readied {
                        setup_cpu: Duration::from_micros(setup_cpu_us),
                        resident,
                    })
                }
                Next::Frame(FromWorker::Ready {
                    setup_error: Some(why),
                    ..
                }) => anyhow::bail!("a worker process cannot build the workload: {why}"),
                Next::Frame(_) => anyhow::bail!("a worker process answered out of turn"),
                Next::Closed => {
                    anyhow::bail!("a worker process exited before it was ready ({})", place())
                }
                Next::Idle if stop.load(Ordering::Relaxed) => anyhow::bail!("interrupted"),
                Next::Idle if until.is_some_and(|u| Instant::now() >= u) => anyhow::bail!(
                    "a worker process was not ready within {} s ({}); it hangs while starting, or \
                     building the workload takes longer (set {START_LIMIT_ENV} to allow more)",
                    limit.unwrap_or_default().as_secs_f64(),
                    place()
                ),
                Next::Idle => {}
            }
        }
    }

    /// Kills the worker's group; returns how the worker ended.
    pub fn kill(&mut self) -> String {
        self.reaped = true;
        describe(kill_and_reap(&mut self.child))
    }

    /// After its stdout closed: lets the worker finish exiting, then sweeps its group.
    pub fn reap_dead(&mut self) -> String {
        self.reaped = true;
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                kill_group(self.pid);
                return describe(Some(status));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        describe(kill_and_reap(&mut self.child))
    }
}

/// The error for a worker whose first answer was not a frame: most often a program of the
/// library's user that does not hand its `worker` command line to the library, so it ran its
/// own `main` again and printed to what should have been the protocol.
fn not_a_worker(error: &std::io::Error, place: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "a worker process did not answer in the worker protocol ({error}); a program that runs \
         its own workload kinds on the process backends must call \
         throttlebench::run_if_worker_with(&registry) first thing in main, or set \
         THROTTLEBENCH_EXE to a throttlebench binary{}",
        if place.is_empty() {
            String::new()
        } else {
            format!(" ({place})")
        }
    )
}

impl WorkerProc {
    /// Asks for the worker's last report — (histogram, peak RSS in bytes) — and reaps it.
    pub fn finish(&mut self) -> Option<(Vec<u8>, u64, Option<Transfer>)> {
        ToWorker::Finish.encode(&mut self.writer.buf);
        let sent = self.writer.flush().is_ok();
        let until = Instant::now() + FINISH_GRACE;
        let mut report = None;
        while sent && Instant::now() < until {
            match self.reader.next_within(SLICE, FromWorker::decode) {
                Ok(Next::Frame(FromWorker::Stats {
                    histogram,
                    peak_rss,
                    transfer,
                })) => {
                    report = Some((histogram, peak_rss, transfer));
                    break;
                }
                Ok(Next::Idle) => continue,
                _ => break,
            }
        }
        self.reap_dead();
        report
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if !self.reaped {
            kill_and_reap(&mut self.child);
        }
    }
}
