//! A fake backend and clock for tests, as hyperfine's `MockExecutor` fakes a command's time: at
//! throttle N items complete at a rate the test gives, with the latency and failures it
//! chooses, and time passes on a fake clock instead of a real one. What needs no real time —
//! the point runner, tune, resume, analysis, reports — is tested on exact, deterministic points
//! in milliseconds; the real backends keep their own end-to-end tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Backends, SweepListener};
use crate::backend::{Backend, BackendKind, Budget, Execution, PointJob};
use crate::measure::WorkerStats;
use crate::results::SweepResult;
use crate::spec::{RunSpec, SweepSettings};
use crate::workload::{ItemError, Registry, WorkloadSpec};

/// Time as the fake backend spends it: every point moves it on by its own length.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<Mutex<Duration>>);

impl FakeClock {
    pub fn now(&self) -> Duration {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

type Curve<T> = Arc<dyn Fn(usize) -> T + Send + Sync>;

/// A simulated system under test; every backend built from it measures the same curves.
#[derive(Clone)]
pub struct Fake {
    rate: Curve<f64>,
    latency: Option<Curve<Duration>>,
    failing: Curve<f64>,
    jitter: Vec<f64>,
    clock: FakeClock,
    interrupt_at: Option<Duration>,
    executed: Arc<Mutex<Vec<(BackendKind, usize)>>>,
    built: Arc<Mutex<Vec<BackendKind>>>,
}

impl Fake {
    /// Items (successful or not) complete at `rate(n)` per second at throttle n.
    pub fn new(rate: impl Fn(usize) -> f64 + Send + Sync + 'static) -> Fake {
        Fake {
            rate: Arc::new(rate),
            latency: None,
            failing: Arc::new(|_| 0.0),
            jitter: vec![1.0],
            clock: FakeClock::default(),
            interrupt_at: None,
            executed: Arc::default(),
            built: Arc::default(),
        }
    }

    /// A resource of `capacity` slots whose items take `item_ms` alone: linear up to the
    /// capacity, then flat, or falling by `thrash` of the peak per throttle beyond it.
    pub fn bounded(item_ms: f64, capacity: usize, thrash: f64) -> Fake {
        Fake::new(move |n| {
            let peak = capacity as f64 * 1000.0 / item_ms;
            let over = n.saturating_sub(capacity) as f64;
            (n.min(capacity) as f64 * 1000.0 / item_ms * (1.0 - thrash * over)).max(peak * 0.05)
        })
    }

    /// The mean latency at throttle n; by default Little's law's: n / rate(n).
    pub fn latency(mut self, mean: impl Fn(usize) -> Duration + Send + Sync + 'static) -> Fake {
        self.latency = Some(Arc::new(mean));
        self
    }

    /// The share of items that fail at throttle n, spread evenly over the point.
    pub fn failing(mut self, share: impl Fn(usize) -> f64 + Send + Sync + 'static) -> Fake {
        self.failing = Arc::new(share);
        self
    }

    /// Throughput factors of successive repetitions of a point, repeated as needed.
    pub fn jitter(mut self, factors: &[f64]) -> Fake {
        self.jitter = factors.to_vec();
        self
    }

    /// Ctrl-C arrives when the fake clock reaches `at`: the point running then is cut short.
    pub fn interrupt_at(mut self, at: Duration) -> Fake {
        self.interrupt_at = Some(at);
        self
    }

    /// Items per second at throttle n, before any jitter.
    pub fn rate(&self, n: usize) -> f64 {
        (self.rate)(n)
    }

    pub fn clock(&self) -> FakeClock {
        self.clock.clone()
    }

    /// Every point executed so far, cut ones included, in order.
    pub fn executed(&self) -> Vec<(BackendKind, usize)> {
        self.executed.lock().unwrap().clone()
    }

    /// The backends built so far, in order.
    pub fn built(&self) -> Vec<BackendKind> {
        self.built.lock().unwrap().clone()
    }

    /// Backends of every kind, all measuring this system.
    pub fn backends(&self) -> Backends {
        let fake = self.clone();
        Backends::from_fn(Box::new(move |kind| {
            fake.built.lock().unwrap().push(kind);
            Ok(Box::new(FakeBackend {
                kind,
                fake: fake.clone(),
            }) as Box<dyn Backend>)
        }))
    }

    /// Runs `spec` on this system to the end, or until its interruption.
    pub fn run(&self, spec: &RunSpec) -> SweepResult {
        self.run_heard(spec, &mut super::Listeners::default())
    }

    pub fn run_heard(&self, spec: &RunSpec, listener: &mut dyn SweepListener) -> SweepResult {
        self.resume_heard(super::fresh_sweep(spec), listener)
    }

    /// Continues `sweep` on this system.
    pub fn resume_heard(
        &self,
        sweep: SweepResult,
        listener: &mut dyn SweepListener,
    ) -> SweepResult {
        let stop = Arc::new(AtomicBool::new(false));
        super::resume_with(sweep, &Registry::builtin(), self.backends(), listener, stop)
            .expect("a fake sweep runs")
    }
}

/// A spec of the `noop` workload (the fake ignores the workload) on `backends`.
pub fn spec(backends: &[BackendKind], limits: &[usize], items: u64, repeat: u32) -> RunSpec {
    RunSpec {
        name: "fake".into(),
        description: None,
        workload: WorkloadSpec {
            kind: "noop".into(),
            params: Default::default(),
        },
        sweep: SweepSettings {
            backends: backends.to_vec(),
            limits: limits.to_vec(),
            budget: Budget::Items(items),
            repeat,
            ..SweepSettings::default()
        },
    }
}

struct FakeBackend {
    kind: BackendKind,
    fake: Fake,
}

impl Backend for FakeBackend {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        let fake = &self.fake;
        let n = if self.kind == BackendKind::Sequential {
            1
        } else {
            job.throttle
        };
        let repetition = {
            let mut executed = fake.executed.lock().unwrap();
            let earlier = executed.iter().filter(|&&e| e == (self.kind, n)).count();
            executed.push((self.kind, n));
            earlier
        };
        let rate = fake.rate(n) * fake.jitter[repetition % fake.jitter.len()];
        anyhow::ensure!(
            rate > 0.0,
            "the fake's rate at throttle {n} is not positive"
        );
        let items = match job.budget {
            Budget::Items(items) => items,
            Budget::Duration(d) => ((rate * d.as_secs_f64()).round() as u64).max(1),
        };
        let wall = Duration::from_secs_f64(items as f64 / rate);
        fake.clock
            .advance(Duration::from_secs_f64(job.warmup as f64 / rate));
        fake.clock.advance(wall);
        if fake.interrupt_at.is_some_and(|at| at < fake.clock.now()) {
            job.stop.store(true, Ordering::Relaxed);
        }
        let mean = match &fake.latency {
            Some(latency) => latency(n),
            None => Duration::from_secs_f64(n as f64 / rate),
        };
        let share = (fake.failing)(n).clamp(0.0, 1.0);
        let mut stats = WorkerStats::new();
        for item in 0..items {
            // Latencies spread evenly over ±10% of the mean, so percentiles differ as they do.
            let place = if items > 1 {
                item as f64 / (items - 1) as f64
            } else {
                0.5
            };
            let took = mean.mul_f64(0.9 + 0.2 * place);
            let fails = ((item + 1) as f64 * share).floor() > (item as f64 * share).floor();
            let outcome = if fails {
                Err(ItemError::new(
                    "fake",
                    format!("item {item} failed as told"),
                ))
            } else {
                Ok(())
            };
            stats.record(item, took, outcome);
        }
        job.progress.add(0, items);
        Ok(Execution {
            stats,
            wall,
            max_inflight: n.min(items as usize),
            startup: None,
            children_peak_rss: None,
        })
    }
}
