//! Registering a workload kind of your own and sweeping it from code.
//!
//! `cargo run --release --example custom_workload [BACKEND,…]`
//! `… custom_workload remote HOST,… PROGRAM [SSH_OPTION…]` — `remote` runs the kind on other
//! hosts, where PROGRAM is a copy of this very program.
//!
//! The kind here, `collatz`, walks Collatz sequences for a range of numbers per item: CPU-bound
//! work with a parameter, declared once so that spec files, `--param` and worker processes can
//! all build it by name. The process backends start this very program as their workers, so
//! `main` first hands a worker's command line to `run_if_worker_with`, with the same registry.

use std::process::ExitCode;
use std::sync::Arc;

use throttlebench::backend::hosts::RemoteSettings;
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
        // Item numbers are any u64 (warm-up items use the largest): fold them into a range
        // whose sequences stay far from overflow.
        let first = (item % 1_000_000) * self.numbers + 1;
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

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register(WorkloadKind::new(
        "collatz",
        "walks Collatz sequences",
        PARAMS,
        build,
    ));
    registry
}

fn main() -> ExitCode {
    let registry = registry();
    if let Some(code) = throttlebench::run_if_worker_with(&registry) {
        return code;
    }
    match sweep(registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn sweep(registry: Registry) -> anyhow::Result<()> {
    let backends: Vec<BackendKind> = match std::env::args().nth(1) {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![
            BackendKind::Thread,
            BackendKind::Async,
            BackendKind::Process,
            BackendKind::ProcessPerItem,
        ],
    };
    let mut sweep = Sweep::kind("collatz")
        .registry(registry)
        .param("numbers", 5000)
        .backends(backends)
        .limits([1, 2, 4])
        .items(64);
    let mut args = std::env::args().skip(2);
    if let (Some(hosts), Some(binary)) = (args.next(), args.next()) {
        sweep = sweep.remote(RemoteSettings {
            hosts: hosts.split(',').map(str::to_string).collect(),
            binary,
            ssh_options: args.collect(),
        });
    }
    let result = sweep.run()?;

    println!(
        "{:<17} {:>8} {:>6} {:>6} {:>10} {:>8}",
        "backend", "throttle", "ok", "failed", "ok/s", "speedup"
    );
    for p in &result.points {
        // Speedup is absent (not 0) where no item succeeded.
        let speedup = p.speedup.map_or("–".to_string(), |s| format!("{s:.2}×"));
        println!(
            "{:<17} {:>8} {:>6} {:>6} {:>10.1} {:>8}",
            p.backend.to_string(),
            p.throttle,
            p.ok,
            p.failed + p.timed_out,
            p.goodput_per_s,
            speedup
        );
    }
    Ok(())
}
