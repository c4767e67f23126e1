//! Workloads: what one item does. A workload is built from a serializable spec (kind + params)
//! through a registry, so the same spec can be rebuilt in a worker process, and library users
//! can register kinds of their own.

pub mod child_peak;
pub mod command;
pub mod cpu;
pub mod disk;
pub mod http;
pub mod params;
pub mod sleep;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SpecError;
pub use params::{ParamDef, ParamType, Params};

/// A boxed future, as the async path of a runner returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the workload is bound by; used for warnings (CPU-bound work on the async backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nature {
    CpuBound,
    IoBound,
}

/// Why one item failed. `kind` is a short stable word used for counting ("io", "http-503").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub kind: Cow<'static, str>,
    pub message: String,
}

impl ItemError {
    pub fn new(kind: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ItemError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// An I/O error, kinded by `std::io::ErrorKind` so a full disk and a missing file count apart.
    pub fn io(err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::StorageFull => "disk-full",
            std::io::ErrorKind::PermissionDenied => "permission-denied",
            std::io::ErrorKind::NotFound => "not-found",
            _ => "io",
        };
        ItemError::new(kind, err.to_string())
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The result of one item.
pub type ItemResult = Result<(), ItemError>;

/// Bytes a runner moved over the network: received (`rx`) and sent (`tx`), as the protocol
/// saw them (an HTTP answer's head and body, a request's bytes; TLS records are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub rx: u64,
    pub tx: u64,
}

impl Transfer {
    /// The sum of two counts, either of which may not exist (a workload that moves no bytes).
    pub fn add(a: Option<Transfer>, b: Option<Transfer>) -> Option<Transfer> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Transfer {
                rx: a.rx + b.rx,
                tx: a.tx + b.tx,
            }),
            (a, b) => a.or(b),
        }
    }
}

/// A workload: builds one runner per in-flight slot.
pub trait Workload: Send + Sync {
    /// State for one in-flight slot (a buffer, a connection). Built before the clock starts.
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError>;

    /// Whether the work is CPU-bound; only used for advice.
    fn nature(&self) -> Nature {
        Nature::IoBound
    }

    /// The spec a worker process should rebuild this workload from, when it differs from the
    /// one the user wrote (e.g. an HTTP workload whose built-in server was started here and
    /// whose URL workers must be given). `None`: the user's spec as it is.
    fn spec_for_workers(&self) -> Option<WorkloadSpec> {
        None
    }

    /// What one successful item moves through files, for workloads that do file I/O: the
    /// point's MB/s and IOPS follow from its goodput. `None` for the others.
    fn disk_io_per_item(&self) -> Option<DiskIo> {
        None
    }
}

/// The file I/O of one successful item: bytes read and written, and the read and write calls
/// that moved them (each call one I/O operation, as fio counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskIo {
    pub bytes: u64,
    pub calls: u64,
}

/// Runs items, one at a time, for one in-flight slot.
pub trait Runner: Send {
    /// Runs item number `item` to completion on the calling thread.
    fn run(&mut self, item: u64) -> ItemResult;

    /// Runs the item on an async executor. The default runs the blocking path inline, which
    /// blocks an executor thread for the item's duration: for CPU-bound work that is a finding
    /// the async backend reports, not something to hide.
    fn run_async(&mut self, item: u64) -> BoxFuture<'_, ItemResult> {
        let outcome = self.run(item);
        Box::pin(std::future::ready(outcome))
    }

    /// The bytes moved since the last call, and the count starts again from zero; `None` for
    /// a workload that moves none. Backends call it after the warm-up (to drop its bytes) and
    /// when the runner's last item of the point has ended — never per item — so a runner counts
    /// in its own fields and an item that moves nothing pays nothing.
    fn take_transfer(&mut self) -> Option<Transfer> {
        None
    }
}

/// A workload as the user wrote it: a kind and its parameters. Serializable so that a worker
/// process can rebuild the same workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    pub kind: String,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

type Builder = Arc<dyn Fn(&Params) -> Result<Arc<dyn Workload>, SpecError> + Send + Sync>;

/// One registered kind: its parameters and how to build it.
#[derive(Clone)]
pub struct WorkloadKind {
    pub name: &'static str,
    pub about: &'static str,
    pub params: &'static [ParamDef],
    pub build: Builder,
}

impl WorkloadKind {
    pub fn new<F>(
        name: &'static str,
        about: &'static str,
        params: &'static [ParamDef],
        build: F,
    ) -> Self
    where
        F: Fn(&Params) -> Result<Arc<dyn Workload>, SpecError> + Send + Sync + 'static,
    {
        WorkloadKind {
            name,
            about,
            params,
            build: Arc::new(build),
        }
    }
}

/// The workload kinds known by name: the built-in ones, and any of your own. A kind declares
/// its parameters once, so spec files, `--param` and worker processes all build it by name.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use throttlebench::workload::{ParamDef, ParamType};
/// use throttlebench::{BackendKind, ItemResult, Registry, Runner, Sweep, Workload, WorkloadKind};
///
/// static ITEMS_RUN: AtomicU64 = AtomicU64::new(0);
///
/// struct Count;
/// impl Workload for Count {
///     fn runner(&self) -> Result<Box<dyn Runner>, throttlebench::ItemError> {
///         Ok(Box::new(Count))
///     }
/// }
/// impl Runner for Count {
///     fn run(&mut self, _item: u64) -> ItemResult {
///         ITEMS_RUN.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// const PARAMS: &[ParamDef] = &[ParamDef::new("unused", ParamType::Int, Some("0"), "nothing")];
/// let mut registry = Registry::builtin();
/// registry.register(WorkloadKind::new("count", "counts its items", PARAMS, |_| {
///     Ok(Arc::new(Count))
/// }));
/// let result = Sweep::kind("count")
///     .registry(registry)
///     .backends([BackendKind::Thread])
///     .limits([2])
///     .items(10)
///     .run()?;
/// // The baseline and throttle 2, ten items each, and the first point's warm-up.
/// let warmup = throttlebench::sweep::FIRST_POINT_WARMUP;
/// assert_eq!(ITEMS_RUN.load(Ordering::Relaxed), 20 + warmup);
/// assert!(result.points.iter().all(|p| p.ok == 10));
/// # Ok::<(), anyhow::Error>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    kinds: BTreeMap<&'static str, WorkloadKind>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// A registry with the built-in kinds.
    pub fn builtin() -> Self {
        let mut registry = Registry {
            kinds: BTreeMap::new(),
        };
        registry.register(sleep::kind());
        registry.register(cpu::kind());
        registry.register(disk::kind());
        registry.register(noop_kind());
        registry.register(command::kind());
        registry.register(http::kind());
        registry
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, kind: WorkloadKind) {
        self.kinds.insert(kind.name, kind);
    }

    /// Every kind, by name.
    pub fn kinds(&self) -> impl Iterator<Item = &WorkloadKind> {
        self.kinds.values()
    }

    /// The kind called `name`; an unknown one is bad input that lists the known kinds.
    pub fn get(&self, name: &str) -> Result<&WorkloadKind, SpecError> {
        self.kinds.get(name).ok_or_else(|| SpecError::UnknownKind {
            kind: name.to_string(),
            known: self.kinds.keys().copied().collect::<Vec<_>>().join(", "),
        })
    }

    /// Checks a spec's parameters against its kind, filling in defaults.
    pub fn validate(&self, spec: &WorkloadSpec) -> Result<Params, SpecError> {
        let kind = self.get(&spec.kind)?;
        Params::validate(kind.name, kind.params, &spec.params)
    }

    /// Builds a runnable workload from a spec.
    pub fn build(&self, spec: &WorkloadSpec) -> Result<Arc<dyn Workload>, SpecError> {
        let params = self.validate(spec)?;
        (self.get(&spec.kind)?.build)(&params)
    }
}

/// `noop`: an item that does nothing; measures the harness itself.
struct Noop;

impl Workload for Noop {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        Ok(Box::new(Noop))
    }
}

impl Runner for Noop {
    #[inline]
    fn run(&mut self, item: u64) -> ItemResult {
        std::hint::black_box(item);
        Ok(())
    }
}

fn noop_kind() -> WorkloadKind {
    WorkloadKind::new(
        "noop",
        "does nothing: measures the harness's own per-item cost",
        &[],
        |_| Ok(Arc::new(Noop)),
    )
}
