//! `remote`: the `process` backend's worker pool, with each worker started on another host by
//! `ssh host -- exec throttlebench worker` and speaking the same protocol over the ssh channel.
//!
//! A throttle N is spread round-robin over the hosts' worker slots: slot i runs on host
//! i mod H, so with hosts a,b and throttle 3, a runs slots 0 and 2 and b runs slot 1.
//! Latency is measured by the worker where the item runs; the point's wall time by this
//! process, so the hosts' clocks never meet.
//!
//! BINARY is `throttlebench` on the host's PATH, or whatever `--remote-binary` (a hosts file's
//! `binary`) names: a program of the user's own that registers kinds and hands its `worker`
//! command line to `run_if_worker_with` runs them here as on `process`; it is not copied, the
//! user puts it on each host.
//!
//! Every host is checked before the sweep by a worker handshake with the sweep's workload (see
//! `remote_check`): an unreachable host, a refused key, a missing binary, a program that is no
//! worker or a workload the host cannot build is one error naming the host. A host that drops
//! during a point loses the items queued on it (kind `host-lost`); its slots are given up and
//! the other hosts finish the point.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use super::hosts::{ssh_command, Host, HostResult, RemoteSettings};
use super::process::{run_pool, Launch, SlotReport};
use super::remote_check::check_host;
use super::{Backend, BackendKind, Execution, PointJob};
use crate::measure::latency::{encode_histogram, us_to_ms};
use crate::measure::WorkerStats;
use crate::workload::WorkloadSpec;

/// Work kept queued in a remote worker: an ssh round trip costs far more than a pipe's, so
/// fast items travel in batches up to 16 times deeper than the `process` backend's.
const REMOTE_QUEUED_WORK_NS: u64 = 2_000_000;
const REMOTE_MAX_WINDOW: usize = 1024;

pub struct RemoteBackend {
    launcher: Remote,
    /// The per-host breakdown of the last point, taken by the sweep.
    last: Mutex<Vec<HostResult>>,
}

struct Remote {
    settings: RemoteSettings,
    hosts: Vec<Host>,
}

impl Launch for Remote {
    fn command(&self, slot: usize) -> anyhow::Result<Command> {
        let host = &self.hosts[slot % self.hosts.len()];
        let mut cmd = ssh_command(host, &self.settings, &["worker"]);
        // ssh's complaints about a dropped host would garble the progress display; the check
        // before the sweep shows them, and a lost host is named in the results.
        cmd.stderr(Stdio::null());
        Ok(cmd)
    }

    fn place(&self, slot: usize) -> String {
        format!("host {}", self.settings.hosts[slot % self.hosts.len()])
    }

    fn remote(&self) -> bool {
        true
    }

    fn window(&self) -> (u64, usize) {
        (REMOTE_QUEUED_WORK_NS, REMOTE_MAX_WINDOW)
    }
}

impl RemoteBackend {
    /// Parses the hosts; `check` reaches them.
    pub fn connect(settings: &RemoteSettings) -> anyhow::Result<RemoteBackend> {
        let hosts = settings
            .hosts
            .iter()
            .map(|h| Host::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            anyhow::bail!("the remote backend needs hosts (--hosts or --hosts-file)");
        }
        Ok(RemoteBackend {
            launcher: Remote {
                settings: settings.clone(),
                hosts,
            },
            last: Mutex::new(Vec::new()),
        })
    }
}

impl Backend for RemoteBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Remote
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        let (execution, slots) = run_pool(job, &self.launcher)?;
        let breakdown = breakdown(&self.launcher.settings.hosts, slots, execution.wall);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = breakdown;
        Ok(execution)
    }

    fn take_hosts(&self) -> Vec<HostResult> {
        std::mem::take(&mut *self.last.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Starts a worker on every host, in parallel, and gives it the workload.
    fn check(&self, spec: &WorkloadSpec) -> anyhow::Result<()> {
        let limit = super::worker_proc::start_limit()?;
        let spec_json = serde_json::to_vec(spec).context("cannot encode the workload spec")?;
        let (hosts, settings) = (&self.launcher.hosts, &self.launcher.settings);
        let checks: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = hosts
                .iter()
                .zip(&settings.hosts)
                .map(|(host, label)| {
                    let spec_json = &spec_json;
                    scope.spawn(move || check_host(host, label, settings, spec_json, limit))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a host check panicked")))
                })
                .collect()
        });
        checks.into_iter().collect()
    }
}

/// Folds the slots' records into one row per host (slot i belongs to host i mod H).
pub(crate) fn breakdown(
    labels: &[String],
    slots: Vec<SlotReport>,
    wall: Duration,
) -> Vec<HostResult> {
    let mut per_host: Vec<(usize, WorkerStats, Option<String>)> = labels
        .iter()
        .map(|_| (0, WorkerStats::new(), None))
        .collect();
    let count = per_host.len().max(1);
    for (slot, report) in slots.into_iter().enumerate() {
        if let Some(entry) = per_host.get_mut(slot % count) {
            entry.0 += 1;
            entry.1.merge(report.stats);
            if entry.2.is_none() {
                entry.2 = report.lost;
            }
        }
    }
    let wall_s = wall.as_secs_f64();
    labels
        .iter()
        .zip(per_host)
        .filter(|(_, (slots, _, _))| *slots > 0)
        .map(|(label, (slots, stats, lost))| {
            let items = stats.completed();
            let h = &stats.latency;
            HostResult {
                host: label.clone(),
                slots,
                items,
                ok: stats.ok,
                failed: stats.failed,
                timed_out: stats.timed_out,
                throughput_per_s: if wall_s > 0.0 {
                    items as f64 / wall_s
                } else {
                    0.0
                },
                goodput_per_s: if wall_s > 0.0 {
                    stats.ok as f64 / wall_s
                } else {
                    0.0
                },
                lat_p99_ms: (!h.is_empty()).then(|| us_to_ms(h.value_at_quantile(0.99))),
                errors: stats.errors.clone(),
                histogram: encode_histogram(h),
                lost,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::ItemError;

    fn slot(ok: &[u64], failed: usize) -> SlotReport {
        let mut stats = WorkerStats::new();
        for (i, &us) in ok.iter().enumerate() {
            stats.record(i as u64, Duration::from_micros(us), Ok(()));
        }
        for i in 0..failed {
            stats.record(
                i as u64,
                Duration::from_micros(5),
                Err(ItemError::new("host-lost", "gone")),
            );
        }
        SlotReport { stats, lost: None }
    }

    #[test]
    fn slots_fold_round_robin_into_hosts() {
        let labels = vec!["a".to_string(), "b:2222".to_string()];
        // Slots 0 and 2 are host a's, slot 1 is b's.
        let slots = vec![slot(&[100, 200], 0), slot(&[300], 2), slot(&[400], 0)];
        let rows = breakdown(&labels, slots, Duration::from_secs(2));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].slots, rows[0].items, rows[0].ok), (2, 3, 3));
        assert_eq!((rows[1].slots, rows[1].items, rows[1].failed), (1, 3, 2));
        assert_eq!(rows[1].errors.get("host-lost"), Some(&2));
        assert!((rows[0].throughput_per_s - 1.5).abs() < 1e-9);
        let a = crate::measure::latency::decode_histogram(&rows[0].histogram).unwrap();
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn a_host_without_slots_has_no_row() {
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let rows = breakdown(&labels, vec![slot(&[1], 0)], Duration::from_secs(1));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].host, "a");
    }
}
