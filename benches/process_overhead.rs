//! What the process backends cost per item: a no-op workload through `process` worker pools
//! (pipe round trips, framing, recording; target ≤ 20 µs per item at throttle 2), and
//! `/bin/true` through `process-per-item` (one process start per item). Before the benches it
//! prints the resident memory of an idle worker (target ≤ 4 MB).
//!
//! `cargo bench --bench process_overhead` — per-item time is the reported time per element.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throttlebench::backend::protocol::{FrameReader, FromWorker, Next, ToWorker};
use throttlebench::backend::EXE_ENV;
use throttlebench::backend::{BackendKind, Budget, PointJob};
use throttlebench::workload::{Registry, WorkloadSpec};

const POOL_ITEMS: u64 = 100_000;
const PER_ITEM_ITEMS: u64 = 400;

fn use_built_binary() {
    // Workers re-execute the throttlebench binary, not this bench.
    std::env::set_var(EXE_ENV, env!("CARGO_BIN_EXE_throttlebench"));
}

fn spec(kind: &str, params: serde_json::Value) -> WorkloadSpec {
    serde_json::from_value(serde_json::json!({"kind": kind, "params": params}))
        .expect("a valid spec")
}

fn point(
    c: &mut Criterion,
    name: &str,
    kind: BackendKind,
    spec: &WorkloadSpec,
    throttle: usize,
    items: u64,
) {
    let workload = Registry::builtin().build(spec).expect("workload builds");
    let backend = kind.create().expect("backend starts");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(items));
    group.sample_size(10);
    group.bench_function(format!("{kind}/{throttle}"), |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let job = PointJob::plain(&workload, spec, throttle, Budget::Items(items));
                let execution = backend.execute(&job).expect("point runs");
                assert_eq!(execution.stats.ok, items);
                // The measured phase only: starting the pool is not a per-item cost.
                total += execution.wall;
            }
            total
        })
    });
    group.finish();
}

fn pool_overhead(c: &mut Criterion) {
    use_built_binary();
    let noop = spec("noop", serde_json::json!({}));
    for throttle in [2, 8] {
        point(
            c,
            "process_pool_noop",
            BackendKind::Process,
            &noop,
            throttle,
            POOL_ITEMS,
        );
    }
}

fn per_item_true(c: &mut Criterion) {
    use_built_binary();
    let true_cmd = spec("command", serde_json::json!({"program": "/bin/true"}));
    point(
        c,
        "per_item_true",
        BackendKind::ProcessPerItem,
        &true_cmd,
        8,
        PER_ITEM_ITEMS,
    );
}

/// Starts a worker, gives it the no-op workload, waits for `Ready`, and reads its RSS.
fn idle_worker_rss() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_throttlebench"))
        .arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("worker starts");
    let mut start = Vec::new();
    ToWorker::Start {
        spec_json: br#"{"kind":"noop","params":{}}"#.to_vec(),
        warmup: 100,
        retry: throttlebench::backend::retry::RetryPolicy::none(),
    }
    .encode(&mut start);
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(&start).expect("spec sent");
    stdin.flush().expect("spec sent");
    let mut reader = FrameReader::new(child.stdout.take().expect("piped stdout"));
    match reader.next(FromWorker::decode) {
        Ok(Next::Frame(FromWorker::Ready { .. })) => {}
        other => panic!("worker did not get ready: {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(100));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    };
    println!(
        "idle process worker (noop, after 100 warm-up items): {} / {}",
        field("VmRSS:"),
        field("VmHWM:")
    );
    drop(stdin); // end of input: the worker exits
    let _ = child.wait();
}

fn idle(_: &mut Criterion) {
    idle_worker_rss();
}

criterion_group!(benches, idle, pool_overhead, per_item_true);
criterion_main!(benches);
