//! Cost of one HTTP item against the built-in server on 127.0.0.1 (no simulated latency):
//! a thread-backend runner (blocking socket) and async runners at a few concurrencies,
//! each owning its keep-alive connection as in a sweep; and a thread runner following one
//! redirect per item (two requests on the one connection, the hop resolved once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use throttlebench::server::{Server, ServerConfig};
use throttlebench::workload::{Registry, Workload, WorkloadSpec};

fn workload(server: &Server) -> Arc<dyn Workload> {
    build(json!({ "url": server.url() }))
}

fn build(params: serde_json::Value) -> Arc<dyn Workload> {
    let spec: WorkloadSpec =
        serde_json::from_value(json!({ "kind": "http", "params": params })).expect("spec");
    Registry::builtin().build(&spec).expect("workload")
}

fn http(c: &mut Criterion) {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    let server = Server::start(([127, 0, 0, 1], 0).into(), config, None).expect("server");
    let workload = workload(&server);
    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Elements(1));

    let mut runner = workload.runner().expect("runner");
    group.bench_function("thread runner, 1 in flight", |b| {
        let mut item = 0;
        b.iter(|| {
            item += 1;
            runner.run(item).expect("request")
        })
    });

    let redirected = build(json!({
        "url": format!("{}redirect/1", server.url()),
        "follow_redirects": 1,
    }));
    let mut runner = redirected.runner().expect("runner");
    group.bench_function("thread runner, 1 in flight, one redirect followed", |b| {
        let mut item = 0;
        b.iter(|| {
            item += 1;
            runner.run(item).expect("request")
        })
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for concurrency in [1u64, 8, 32] {
        let mut runners: Vec<_> = (0..concurrency)
            .map(|_| Some(workload.runner().expect("runner")))
            .collect();
        group.bench_function(format!("async runners, {concurrency} in flight"), |b| {
            b.iter_custom(|iters| {
                let per_task = iters.div_ceil(concurrency);
                let begin = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = runners
                        .iter_mut()
                        .map(|slot| {
                            let mut runner = slot.take().expect("runner");
                            tokio::spawn(async move {
                                for item in 0..per_task {
                                    runner.run_async(item).await.expect("request");
                                }
                                runner
                            })
                        })
                        .collect();
                    for (slot, task) in runners.iter_mut().zip(tasks) {
                        *slot = Some(task.await.expect("task"));
                    }
                });
                // Normalised to the iterations asked for (rounding up may run a few more).
                begin
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * concurrency) as f64)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = http
}
criterion_main!(benches);
