//! Registering a workload kind of your own and sweeping it from code.
//!
//! `cargo run --release --example custom_workload`
//!
//! The kind here, `collatz`, walks Collatz sequences for a range of numbers per item: CPU-bound
//! work with a parameter, declared once so that spec files, `--param` and worker processes can
//! all build it by name.

use std::sync::Arc;

use throttlebench::workload::{ParamDef, ParamType, Params};
use throttlebench::{
    BackendKind, ItemResult, Registry, Runner, SpecError, Sweep, Workload, WorkloadKind,
};

const PARAMS: &[ParamDef] = &[ParamDef::new(
    "numbers",
    ParamType::Int,
    Some("20000"),
    "numbers walked per item",
)];

struct Collatz {
    numbers: u64,
}

impl Workload for Collatz {
    fn runner(&self) -> Result<Box<dyn Runner>, throttlebench::ItemError> {
        Ok(Box::new(CollatzRunner {
            numbers: self.numbers,
        }))
    }

    fn nature(&self) -> throttlebench::workload::Nature {
        throttlebench::workload::Nature::CpuBound
    }
}

struct CollatzRunner {
    numbers: u64,
}

impl Runner for CollatzRunner {
    fn run(&mut self, item: u64) -> ItemResult {
        let first = item * self.numbers + 1;
        let mut steps = 0u64;
        for start in first..first + self.numbers {
            let mut n = start;
            while n != 1 {
                n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
                steps += 1;
            }
        }
        std::hint::black_box(steps);
        Ok(())
    }
}

fn build(params: &Params) -> Result<Arc<dyn Workload>, SpecError> {
    let numbers = params.u64("numbers")?;
    if numbers == 0 {
        return Err(params.invalid("numbers", "must be at least 1"));
    }
    Ok(Arc::new(Collatz { numbers }))
}

fn main() -> anyhow::Result<()> {
    let mut registry = Registry::builtin();
    registry.register(WorkloadKind::new(
        "collatz",
        "walks Collatz sequences",
        PARAMS,
        build,
    ));

    let result = Sweep::kind("collatz")
        .registry(registry)
        .param("numbers", 5000)
        .backends([BackendKind::Thread])
        .limits([1, 2, 4])
        .items(64)
        .run()?;

    println!(
        "{:<12} {:>8} {:>10} {:>8}",
        "backend", "throttle", "ok/s", "speedup"
    );
    for p in &result.points {
        // Speedup is absent (not 0) where no item succeeded.
        let speedup = p.speedup.map_or("–".to_string(), |s| format!("{s:.2}×"));
        println!(
            "{:<12} {:>8} {:>10.1} {:>8}",
            p.backend.to_string(),
            p.throttle,
            p.goodput_per_s,
            speedup
        );
    }
    Ok(())
}
