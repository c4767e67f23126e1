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

    /// Runs it, without progress output or files.
    pub fn run(self) -> anyhow::Result<SweepResult> {
        if self.spec.sweep.limits.contains(&0) || self.spec.sweep.limits.is_empty() {
            return Err(SpecError::invalid("throttle limits must be at least 1").into());
        }
        self.registry.validate(&self.spec.workload)?;
        sweep::run(
            &self.spec,
            &self.registry,
            &mut sweep::Listeners::default(),
            Arc::new(AtomicBool::new(false)),
        )
    }
}
