//! throttlebench: how many at once? Runs a workload one item at a time, then at a sweep of
//! throttle limits on several backends, and measures what each limit buys.
//!
//! [`Sweep`] runs one from code and returns the [`SweepResult`]: one [`PointResult`] per
//! (backend, throttle, repetition) and what the [`analysis`] concluded from them.
//!
//! ```
//! use throttlebench::{BackendKind, Sweep};
//!
//! let result = Sweep::kind("sleep")
//!     .param("ms", 5)
//!     .backends([BackendKind::Thread])
//!     .limits([1, 4])
//!     .items(16)
//!     .run()?;
//! // The sequential baseline first, then the thread backend at each throttle.
//! let throttles: Vec<_> = result.points.iter().map(|p| (p.backend, p.throttle)).collect();
//! assert_eq!(
//!     throttles,
//!     [(BackendKind::Sequential, 1), (BackendKind::Thread, 1), (BackendKind::Thread, 4)]
//! );
//! // Four sleeps at once finish far sooner than one after another.
//! let at_4 = &result.points[2];
//! assert!(at_4.speedup.unwrap() > 2.0, "{:?}", at_4.speedup);
//! let analysis = result.analysis.as_ref().unwrap();
//! assert_eq!(analysis.backends[0].backend, BackendKind::Thread);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! # Layout
//!
//! Data flows one way: spec → plan → points → analysis → reports. Each folder under `src/` is
//! one step and imports only the steps below it, never one above (`tests/layering.rs` checks
//! that no import circle crosses folders). From the top:
//!
//! | folder | what it is for |
//! |---|---|
//! | `src/*.rs` | this crate's face: [`Sweep`], [`command_line`], the criterion integration |
//! | `commands` | the command line: its arguments and one module per subcommand |
//! | [`report`] | every file a run writes, the console table and progress, saved baselines |
//! | `tune` | the adaptive search of `throttlebench tune` |
//! | [`sweep`] | runs the plan: the baseline, then every backend at every throttle |
//! | [`analysis`] | what the points mean: the scalability fit, knee, SLO, recommendation, comparison |
//! | [`results`] | what a sweep produced: points, warnings, and the analysis's findings as data |
//! | [`spec`] | what to run: a TOML file and flags, validated into a [`RunSpec`] |
//! | [`backend`] | how items are run at a given throttle |
//! | [`measure`] | what is measured in and around a point: latency, CPU, memory, the machine |
//! | [`workload`] | what one item does, and the [`Registry`] of kinds |
//! | [`server`] | the built-in HTTP target |
//! | `child`, `tls`, `timer`, `format`, `error` | leaves: child processes, TLS settings, precise async sleeps, numbers and units, the bad-input [`SpecError`] |

pub mod analysis;
pub mod backend;
mod child;
mod commands;
#[cfg(feature = "criterion-integration")]
pub mod criterion;
mod error;
mod format;
pub mod measure;
pub mod report;
pub mod results;
pub mod server;
pub mod spec;
pub mod sweep;
mod timer;
mod tls;
mod tune;
pub mod workload;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use backend::{BackendKind, Budget};
pub use error::SpecError;
pub use results::{PointResult, SweepResult};
pub use spec::{RunSpec, SweepSettings};
pub use workload::{ItemError, ItemResult, Registry, Runner, Workload, WorkloadKind, WorkloadSpec};

/// The `throttlebench` command line: parses the process's arguments, runs the subcommand, and
/// returns its exit code (0 ok, 1 regression or SLO failure, 2 bad input or error, 130
/// interrupted). The binary is this one call.
pub fn command_line() -> std::process::ExitCode {
    commands::main()
}

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

    /// Sets a parameter of the workload (`ms` for `sleep`; `throttlebench workloads` lists
    /// each kind's).
    pub fn param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Sweep {
        self.spec
            .workload
            .params
            .insert(name.to_string(), value.into());
        self
    }

    /// The backends compared against the sequential baseline, which always runs too.
    pub fn backends(mut self, backends: impl IntoIterator<Item = BackendKind>) -> Sweep {
        self.spec.sweep.backends = backends.into_iter().collect();
        self
    }

    /// The throttles to measure each backend at (sorted, repeats dropped).
    pub fn limits(mut self, limits: impl IntoIterator<Item = usize>) -> Sweep {
        self.spec.sweep.limits = limits.into_iter().collect();
        self.spec.sweep.limits.sort_unstable();
        self.spec.sweep.limits.dedup();
        self
    }

    /// Items per point.
    pub fn items(mut self, items: u64) -> Sweep {
        self.spec.sweep.budget = Budget::Items(items);
        self
    }

    /// Repetitions of every point, interleaved (at least 1).
    pub fn repeat(mut self, repeat: u32) -> Sweep {
        self.spec.sweep.repeat = repeat.max(1);
        self
    }

    /// Where the `remote` backend's workers run: the hosts, the program on them that serves
    /// `worker` (this program itself, put there by you, when it registers kinds of its own and
    /// calls [`run_if_worker_with`]) and ssh options.
    pub fn remote(mut self, settings: backend::hosts::RemoteSettings) -> Sweep {
        self.spec.sweep.remote = Some(settings);
        self
    }

    /// Per-item timeout: an item past it counts as timed out.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Sweep {
        self.spec.sweep.timeout = Some(timeout);
        self
    }

    /// Runs it, without progress output or files: the baseline, every point, then the
    /// analysis. A workload kind or parameter the registry does not know is a [`SpecError`].
    /// Before the baseline, a worker process is started and given the workload when a process
    /// backend is in the sweep, so a worker that cannot build it is one error up front. A
    /// sweep that stopped (no item of the baseline succeeded) is an error, as it is on the
    /// command line.
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
        // The sweep checks its backends' workers before the baseline.
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
        && std::env::var_os(child::PARENT_ENV).is_some()
}
