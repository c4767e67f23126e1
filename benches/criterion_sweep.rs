//! A throttle sweep of ordinary Rust code under `cargo bench`, through
//! `throttlebench::criterion`: simulated I/O (a 2 ms sleep) scales with the throttle, hashing
//! stops at the core count.
//!
//! `cargo bench --features criterion-integration --bench criterion_sweep`

use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};
use throttlebench::criterion::throttle_sweep;

fn sweeps(c: &mut Criterion) {
    throttle_sweep(c, "sleep_2ms", &[1, 2, 4, 8], 16, |_| {
        std::thread::sleep(std::time::Duration::from_millis(2))
    });
    let buffer = vec![7u8; 64 * 1024];
    throttle_sweep(c, "sha256_64KiB", &[1, 2, 4], 16, |item| {
        let mut h = Sha256::new();
        h.update(item.to_le_bytes());
        h.update(&buffer);
        h.finalize()
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = sweeps
}
criterion_main!(benches);
