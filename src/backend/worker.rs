//! The child side of the process backends: the hidden `throttlebench worker` subcommand.
//!
//! As a pool worker it reads the workload spec and retry policy, warms up, says `Ready`, then
//! runs the item numbers it is sent in order and answers each with a `Done` frame. A failed item
//! is retried here, in the same process, with the policy's backoff; its `Done` spans every
//! attempt and lists the failed ones, so the parent's `--timeout` covers all attempts together,
//! as on the thread backend. Answers are flushed only when no further item is already waiting,
//! so a burst of items costs one write. On `Finish` it sends its latency histogram and its own
//! peak RSS, and exits.
//!
//! With `--one ITEM` it runs a single attempt of one item (the `process-per-item` backend, which
//! retries by starting a fresh process) and writes one `Done` and one `Stats` frame.
//!
//! A worker asks the kernel to kill it when its parent dies, so a killed parent leaves none.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::driver::{Attempt, LocalRunner};
use super::protocol::{cap_message, encode_done, mono_ns, FrameReader, FrameWriter, FromWorker};
use super::protocol::{ItemDone, Next, ToWorker, PROTOCOL_VERSION};
use super::retry::RetryPolicy;
use crate::child::PARENT_ENV;
use crate::measure::memory::rss_and_peak;
use crate::workload::{ItemResult, Registry, Transfer, Workload, WorkloadSpec};

/// Latencies above a day are recorded as a day, as in the parent's records.
const MAX_LATENCY_US: u64 = 86_400_000_000;

/// Runs the worker subcommand: a pool worker, or a single item with `one`.
pub fn run(one: Option<u64>, spec: Option<&str>, registry: &Registry) -> anyhow::Result<()> {
    die_with_parent();
    // A panicking item is reported as a failed item; the hook must not write to the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    match one {
        Some(item) => {
            let spec = spec.context("worker --one needs --spec")?;
            run_one(item, spec.as_bytes(), registry, output)
        }
        None => {
            let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
            serve(registry, input, output)
        }
    }
}

/// Runs the worker when the binary was started as `throttlebench worker …`, before the full
/// command-line parser: an idle worker then touches, and keeps resident, less code. Returns
/// `None` for any other command line (or an unexpected worker one, which clap then reports).
pub fn run_if_worker() -> Option<std::process::ExitCode> {
    run_if_worker_with(&Registry::builtin())
}

/// As [`run_if_worker`], with the kinds of `registry`: a program that registers kinds of its
/// own and sweeps them on the process backends calls this first thing in `main`, so the
/// workers it starts (itself, again) know those kinds and speak the worker protocol instead of
/// running the program's `main`.
pub fn run_if_worker_with(registry: &Registry) -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != "worker" {
        return None;
    }
    let (mut one, mut spec) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next()?.into_string().ok()?;
        match flag.to_str()? {
            "--one" => one = Some(value.parse::<u64>().ok()?),
            "--spec" => spec = Some(value),
            _ => return None,
        }
    }
    Some(match run(one, spec.as_deref(), registry) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            std::process::ExitCode::from(2)
        }
    })
}

fn die_with_parent() {
    let expected = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    die_with(expected);
}

/// Asks the kernel to kill this process when its parent dies, and exits at once if the parent
/// is no longer `expected` (it died before the request took effect).
pub(crate) fn die_with(expected: Option<i32>) {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    if expected.is_some_and(|pid| pid != parent) {
        std::process::exit(0);
    }
}

fn build(spec_json: &[u8], registry: &Registry) -> Result<Arc<dyn Workload>, String> {
    let spec: WorkloadSpec =
        serde_json::from_slice(spec_json).map_err(|e| format!("bad workload spec: {e}"))?;
    registry.build(&spec).map_err(|e| e.to_string())
}

/// This worker's peak, with the peaks of the programs its `command` items started.
fn peak_rss() -> u64 {
    rss_and_peak().map(|(_, hwm)| hwm).unwrap_or(0) + crate::workload::child_peak::take()
}

fn done(item: u64, begin_ns: u64, end_ns: u64, outcome: ItemResult) -> ItemDone {
    ItemDone::once(
        item,
        begin_ns,
        end_ns,
        outcome.err().map(|e| (e.kind.into_owned(), e.message)),
    )
}

/// Runs `item` with the retry policy; the answer spans every attempt and lists the failed ones.
/// A workload that could not be built is not retried (as on the thread backend).
fn run_with_retries(runner: &mut LocalRunner, retry: &RetryPolicy, item: u64) -> ItemDone {
    // The parent keeps the timeout (it kills this process) and Ctrl-C: no deadline here, and
    // nothing to stop the waits between attempts.
    static NOT_STOPPED: AtomicBool = AtomicBool::new(false);
    let begin_ns = mono_ns();
    let mut failed_attempts = Vec::new();
    let (ended, attempts) = retry.attempt_blocking(
        item,
        None,
        &NOT_STOPPED,
        |deadline| runner.attempt(item, deadline),
        |_, err| failed_attempts.push((err.kind.into_owned(), cap_message(err.message))),
    );
    let mut answer = done(item, begin_ns, mono_ns(), ended.into_result(item));
    answer.attempts = attempts;
    answer.failed_attempts = failed_attempts;
    answer
}

fn serve(registry: &Registry, input: File, output: File) -> anyhow::Result<()> {
    let mut reader = FrameReader::new(input);
    let mut writer = FrameWriter::new(output);
    let pid = std::process::id();
    let (spec_json, warmup, retry) = match reader.next(ToWorker::decode)? {
        Next::Frame(ToWorker::Start {
            spec_json,
            warmup,
            retry,
        }) => (spec_json, warmup, retry),
        _ => return Ok(()), // the parent went away before saying anything
    };
    let workload = match build(&spec_json, registry) {
        Ok(w) => w,
        Err(why) => {
            FromWorker::Ready {
                pid,
                setup_error: Some(why),
                protocol: PROTOCOL_VERSION,
                setup_cpu_us: 0,
                resident: 0,
            }
            .encode(&mut writer.buf);
            writer.flush()?;
            return Ok(());
        }
    };
    let mut runner = LocalRunner::build(workload.as_ref());
    let mut warmups = 0..warmup;
    runner.warm_up(|| warmups.next().is_some());
    // The record the items go into is the worker's, made before it says what it holds.
    let mut latency: Histogram<u64> =
        Histogram::new(3).context("cannot create a latency histogram")?;
    let own = crate::measure::cpu::CpuTimes::of_self();
    FromWorker::Ready {
        pid,
        setup_error: None,
        protocol: PROTOCOL_VERSION,
        setup_cpu_us: (own.user + own.sys).as_micros() as u64,
        // The most this worker has held before any measured item: its own cost, apart from
        // what its items add later.
        resident: rss_and_peak().map_or(0, |(_, hwm)| hwm),
    }
    .encode(&mut writer.buf);
    writer.flush()?;

    loop {
        let frame = match reader.buffered(ToWorker::decode)? {
            Some(frame) => frame,
            None => {
                // Nothing more queued: send the answers gathered so far, then wait.
                writer.flush()?;
                match reader.next(ToWorker::decode)? {
                    Next::Frame(frame) => frame,
                    _ => return Ok(()),
                }
            }
        };
        match frame {
            ToWorker::Item(item) => {
                let answer = run_with_retries(&mut runner, &retry, item);
                if answer.error.is_none() {
                    let took_ns = answer.end_ns.saturating_sub(answer.begin_ns);
                    let _ = latency.record((took_ns / 1000).min(MAX_LATENCY_US));
                }
                encode_done(&mut writer.buf, &answer);
            }
            ToWorker::Finish => {
                finish(&mut writer, &latency, runner.take_transfer())?;
                return Ok(());
            }
            ToWorker::Start { .. } => anyhow::bail!("worker was started twice"),
        }
    }
}

fn finish<W: Write>(
    writer: &mut FrameWriter<W>,
    latency: &Histogram<u64>,
    transfer: Option<Transfer>,
) -> io::Result<()> {
    // Read before the histogram is compressed: the compressor's buffers are the report's, not
    // the items'.
    let peak_rss = peak_rss();
    let mut histogram = Vec::new();
    if V2DeflateSerializer::new()
        .serialize(latency, &mut histogram)
        .is_err()
    {
        histogram.clear();
    }
    FromWorker::Stats {
        histogram,
        peak_rss,
        transfer,
    }
    .encode(&mut writer.buf);
    writer.flush()
}

fn run_one(item: u64, spec_json: &[u8], registry: &Registry, output: File) -> anyhow::Result<()> {
    let mut writer = FrameWriter::new(output);
    let mut runner = LocalRunner::from_built(
        build(spec_json, registry).and_then(|w| w.runner().map_err(|e| e.to_string())),
    );
    let begin_ns = mono_ns();
    let outcome = runner.attempt(item, None).into_result(item);
    let end_ns = mono_ns();
    encode_done(&mut writer.buf, &done(item, begin_ns, end_ns, outcome));
    let empty: Histogram<u64> = Histogram::new(3).context("cannot create a histogram")?;
    finish(&mut writer, &empty, runner.take_transfer())?;
    Ok(())
}
