//! Checking a remote host before a sweep: `ssh host -- exec BINARY worker` is started as a
//! point's worker would be, given the sweep's workload, and must answer `Ready` within the
//! start limit. One handshake proves the host is reachable, trusts our key, runs a program at
//! BINARY that speaks the worker protocol — `throttlebench` itself, or a program of the user's
//! that hands its `worker` command line to `run_if_worker_with` — and that the program can
//! build the workload, its own registered kinds included. Whatever fails is one line naming the
//! host.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::hosts::{ssh_command, Host, RemoteSettings};
use super::protocol::{FrameReader, FrameWriter, FromWorker, Next, ToWorker};
use super::retry::RetryPolicy;
use super::worker_proc::SLICE;
use crate::child::{kill_and_reap, own_group};

/// How long a host's ssh gets to end once it has closed the worker's output.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Starts a worker on `host` with `spec_json` and waits for it to be ready within `limit`.
pub(crate) fn check_host(
    host: &Host,
    label: &str,
    settings: &RemoteSettings,
    spec_json: &[u8],
    limit: Duration,
) -> anyhow::Result<()> {
    let mut cmd = ssh_command(host, settings, &["worker"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = own_group(&mut cmd)
        .spawn()
        .context("cannot run ssh (is the OpenSSH client installed?)")?;
    let answer = handshake(&mut child, spec_json, limit);
    let binary = &settings.binary;
    let outcome = match answer {
        Ok(Answer::Ready) => Ok(()),
        Ok(Answer::SetupError(why)) => Err(anyhow::anyhow!(
            "host {label}: the worker cannot build the workload: {why}"
        )),
        Ok(Answer::Hung) => Err(anyhow::anyhow!(
            "host {label}: no worker ready within {} s (set {} to allow more)",
            limit.as_secs_f64(),
            super::worker_proc::START_LIMIT_ENV
        )),
        Ok(Answer::Closed) => Err(closed(&mut child, label, binary)),
        Err(e) => Err(anyhow::anyhow!(
            "host {label}: '{binary}' did not answer as a throttlebench worker ({e}); a program \
             of your own must call throttlebench::run_if_worker_with(&registry) first thing in \
             main"
        )),
    };
    kill_and_reap(&mut child);
    outcome
}

enum Answer {
    Ready,
    SetupError(String),
    Hung,
    /// The connection closed before any answer: ssh or the shell said why on stderr.
    Closed,
}

fn handshake(child: &mut Child, spec_json: &[u8], limit: Duration) -> std::io::Result<Answer> {
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Ok(Answer::Closed);
    };
    let mut writer = FrameWriter::new(stdin);
    ToWorker::Start {
        spec_json: spec_json.to_vec(),
        warmup: 0,
        retry: RetryPolicy::none(),
    }
    .encode(&mut writer.buf);
    // An ssh that could not connect has gone already: its exit status says why.
    if writer.flush().is_err() {
        return Ok(Answer::Closed);
    }
    let mut reader = FrameReader::new(stdout);
    let until = Instant::now() + limit;
    loop {
        match reader.next_within(SLICE, FromWorker::decode)? {
            Next::Frame(FromWorker::Ready {
                setup_error: None, ..
            }) => {
                ToWorker::Finish.encode(&mut writer.buf);
                let _ = writer.flush();
                return Ok(Answer::Ready);
            }
            Next::Frame(FromWorker::Ready {
                setup_error: Some(why),
                ..
            }) => return Ok(Answer::SetupError(why)),
            Next::Frame(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "it answered out of turn",
                ))
            }
            Next::Closed => return Ok(Answer::Closed),
            Next::Idle if Instant::now() >= until => return Ok(Answer::Hung),
            Next::Idle => {}
        }
    }
}

/// Why a host's ssh ended before a worker answered, from its exit status and last words.
fn closed(child: &mut Child, label: &str, binary: &str) -> anyhow::Error {
    let until = Instant::now() + EXIT_GRACE;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            _ => break None,
        }
    };
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.as_mut() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let said = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    match status.and_then(|s| s.code()) {
        Some(255) if stderr.contains("Permission denied") => {
            anyhow::anyhow!("host {label} refused the key ({said})")
        }
        Some(255) if stderr.contains("Host key verification failed") => {
            anyhow::anyhow!("host {label}: its host key is not trusted (check known_hosts; {said})")
        }
        Some(255) => anyhow::anyhow!("host {label} is unreachable ({said})"),
        Some(126 | 127) => anyhow::anyhow!(
            "host {label} has no throttlebench at '{binary}' (set --remote-binary; {said})"
        ),
        _ => anyhow::anyhow!(
            "host {label}: '{binary} worker' ended before it was ready ({}; {said}); a program \
             of your own must call throttlebench::run_if_worker_with(&registry) first thing in \
             main",
            crate::child::describe(status)
        ),
    }
}
