//! throttlebench: how many at once? Runs a workload one item at a time, then at a sweep of
//! throttle limits on several backends, and measures what each limit buys.
//!
//! Data flows one way: spec → plan → points → analysis → reports.
//!
//! ```no_run
//! use throttlebench::{backend::BackendKind, Sweep};
//! let result = Sweep::kind("sleep")
//!     .param("ms", 20)
//!     .backends([BackendKind::Thread])
//!     .limits([1, 2, 4, 8])
//!     .items(40)
//!     .run()
//!     .unwrap();
//! for p in &result.points {
//!     println!("{} x{}: {:.1} items/s", p.backend, p.throttle, p.throughput_per_s);
//! }
//! ```

pub mod analysis;
pub mod backend;
pub mod baseline;
pub mod cli;
pub mod commands;
#[cfg(feature = "criterion-integration")]
pub mod criterion;
pub mod error;
pub mod measure;
pub mod progress;
pub mod report;
pub mod results;
pub mod server;
pub mod spec;
pub mod sweep;
mod timer;
pub mod tls;
pub mod tune;
pub mod warning;
pub mod workload;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use backend::{BackendKind, Budget};
pub use error::SpecError;
pub use results::{PointResult, SweepResult};
pub use spec::{RunSpec, SweepSettings};
pub use workload::{ItemError, ItemResult, Registry, Runner, Workload, WorkloadKind, WorkloadSpec};

/// Builds and runs a sweep from code.
pub struct Sweep {
    spec: RunSpec,
    registry: Registry,
}

impl Sweep {
    /// A sweep of workload `kind` with default settings (thread and async, throttles 1…32).
    pub fn kind(kind: &str) -> Sweep {
        Sweep {
            spec: RunSpec {
                name: kind.to_string(),
                description: None,
                workload: WorkloadSpec {
                    kind: kind.to_string(),
                    params: Default::default(),
                },
                sweep: SweepSettings::default(),
            },
            registry: Registry::builtin(),
        }
    }

    /// Uses a registry holding kinds of your own.
    pub fn registry(mut self, registry: Registry) -> Sweep {
        self.registry = registry;
        self
    }

    pub fn param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Sweep {
        self.spec
            .workload
            .params
            .insert(name.to_string(), value.into());
        self
    }

    pub fn backends(mut self, backends: impl IntoIterator<Item = BackendKind>) -> Sweep {
        self.spec.sweep.backends = backends.into_iter().collect();
        self
    }

    pub fn limits(mut self, limits: impl IntoIterator<Item = usize>) -> Sweep {
        self.spec.sweep.limits = limits.into_iter().collect();
        self.spec.sweep.limits.sort_unstable();
        self.spec.sweep.limits.dedup();
        self
    }

    pub fn items(mut self, items: u64) -> Sweep {
        self.spec.sweep.budget = Budget::Items(items);
        self
    }

    pub fn repeat(mut self, repeat: u32) -> Sweep {
        self.spec.sweep.repeat = repeat.max(1);
        self
    }

    pub fn timeout(mut self, timeout: std::time::Duration) -> Sweep {
        self.spec.sweep.timeout = Some(timeout);
        self
    }

    /// Runs it, without progress output or files. Before the baseline, a worker process is
    /// started and given the workload when a process backend is in the sweep, so a worker that
    /// cannot build it is one error up front. A sweep that stopped (no item of the baseline
    /// succeeded) is an error, as it is on the command line.
    pub fn run(self) -> anyhow::Result<SweepResult> {
        if self.spec.sweep.limits.contains(&0) || self.spec.sweep.limits.is_empty() {
            return Err(SpecError::invalid("throttle limits must be at least 1").into());
        }
        if started_as_worker() {
            anyhow::bail!(
                "this program was started as a throttlebench worker but ran a sweep: call \
                 throttlebench::run_if_worker_with(&registry) first thing in main"
            );
        }
        self.registry.validate(&self.spec.workload)?;
        let workload = self.registry.build(&self.spec.workload)?;
        let local_workers = [BackendKind::Process, BackendKind::ProcessPerItem];
        if self
            .spec
            .sweep
            .backends
            .iter()
            .any(|b| local_workers.contains(b))
        {
            let spec = workload
                .spec_for_workers()
                .unwrap_or_else(|| self.spec.workload.clone());
            backend::process::check_worker(&spec)?;
        }
        drop(workload);
        let result = sweep::run(
            &self.spec,
            &self.registry,
            &mut sweep::Listeners::default(),
            Arc::new(AtomicBool::new(false)),
        )?;
        match &result.stopped {
            Some(why) => Err(anyhow::anyhow!("{why}")),
            None => Ok(result),
        }
    }
}

/// Runs the worker side of the process backends when this program was started as one
/// (`PROGRAM worker …`), with the kinds of `registry`, and returns its exit code; `None` for
/// any other command line. A program that registers kinds of its own and runs them on
/// `process` or `process-per-item` calls this first thing in `main`:
///
/// ```no_run
/// # fn registry() -> throttlebench::Registry { throttlebench::Registry::builtin() }
/// fn main() -> std::process::ExitCode {
///     let registry = registry();
///     if let Some(code) = throttlebench::run_if_worker_with(&registry) {
///         return code;
///     }
///     // … build and run the sweep …
///     std::process::ExitCode::SUCCESS
/// }
/// ```
pub fn run_if_worker_with(registry: &Registry) -> Option<std::process::ExitCode> {
    backend::worker::run_if_worker_with(registry)
}

/// Whether this process's command line is a worker's, which `run_if_worker_with` would have
/// taken: a sweep started here would start workers that start sweeps.
fn started_as_worker() -> bool {
    std::env::args_os().nth(1).is_some_and(|a| a == "worker")
        && std::env::var_os(backend::worker::PARENT_ENV).is_some()
}
