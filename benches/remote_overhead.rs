//! Per-item overhead of the `remote` backend against `process`: the no-op workload at throttle
//! 2, one point of `ITEMS` items per iteration, timed by the point's own wall clock (workers
//! ready → last answer), so ssh's connection setup is not counted. `remote` runs over a real
//! OpenSSH server on loopback: start one with `scripts/ci-sshd.sh start DIR` and source
//! `DIR/env`; without it only `process` is measured.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throttlebench::backend::hosts::RemoteSettings;
use throttlebench::backend::{Backend, BackendKind, Budget, PointJob};
use throttlebench::spec::SweepSettings;
use throttlebench::workload::{Registry, WorkloadSpec};

const ITEMS: u64 = 20_000;
const THROTTLE: usize = 2;

fn remote_settings() -> Option<RemoteSettings> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let port = var("TB_TEST_SSH_PORT")?;
    let port2 = var("TB_TEST_SSH_PORT2").unwrap_or_else(|| port.clone());
    Some(RemoteSettings {
        hosts: vec![format!("127.0.0.1:{port}"), format!("127.0.0.1:{port2}")],
        binary: env!("CARGO_BIN_EXE_throttlebench").to_string(),
        ssh_options: vec![
            format!("IdentityFile={}", var("TB_TEST_SSH_KEY")?),
            "IdentitiesOnly=yes".to_string(),
            format!("UserKnownHostsFile={}", var("TB_TEST_SSH_KNOWN_HOSTS")?),
        ],
    })
}

fn overhead(c: &mut Criterion) {
    // Local workers are the built CLI, not this bench binary.
    std::env::set_var("THROTTLEBENCH_EXE", env!("CARGO_BIN_EXE_throttlebench"));
    let registry = Registry::builtin();
    let spec = WorkloadSpec {
        kind: "noop".to_string(),
        params: BTreeMap::new(),
    };
    let workload = registry.build(&spec).expect("the noop workload builds");
    let mut backends: Vec<(&str, Box<dyn Backend>)> = vec![(
        "process",
        BackendKind::Process.create().expect("process backend"),
    )];
    match remote_settings() {
        Some(settings) => {
            let sweep = SweepSettings {
                backends: vec![BackendKind::Remote],
                remote: Some(settings),
                ..SweepSettings::default()
            };
            let remote = BackendKind::Remote
                .create_for(&sweep)
                .expect("the test sshd answers");
            backends.push(("remote", remote));
        }
        None => eprintln!("skipped: remote: no sshd (see scripts/ci-sshd.sh)"),
    }
    let mut group = c.benchmark_group("remote_overhead");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ITEMS));
    for (name, backend) in &backends {
        group.bench_function(format!("{name}/noop/x{THROTTLE}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let job = PointJob::plain(&workload, &spec, THROTTLE, Budget::Items(ITEMS));
                    let ex = backend.execute(&job).expect("the point runs");
                    assert_eq!(ex.stats.completed(), ITEMS);
                    total += ex.wall;
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
