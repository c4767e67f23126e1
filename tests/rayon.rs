//! The `rayon` backend end to end: N pool threads run N items at once, and it shares the item
//! driver's retries, timeouts and trace with the other backends.

mod common;

use common::{csv_rows, tb};

fn row<'a>(
    rows: &'a [std::collections::BTreeMap<String, String>],
    backend: &str,
    throttle: &str,
) -> &'a std::collections::BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["backend"] == backend && r["throttle"] == throttle)
        .unwrap_or_else(|| panic!("no {backend} at {throttle} in {rows:?}"))
}

#[test]
fn four_pool_threads_run_four_sleeps_at_once() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args(["run", "--kind", "sleep", "--param", "ms=20"])
        .args(["--backend", "rayon", "--limits", "1,4", "--items", "80"])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = csv_rows(&dir);
    let four = row(&rows, "rayon", "4");
    assert_eq!(four["max_inflight"], "4", "{four:?}");
    assert_eq!(four["ok"], "80", "{four:?}");
    let speedup: f64 = four["speedup"].parse().unwrap();
    assert!(speedup >= 3.0, "speedup at 4 is {speedup}");
    assert_eq!(row(&rows, "rayon", "1")["max_inflight"], "1");
}

#[test]
fn retries_timeouts_and_trace_come_through_the_driver() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // A quarter of the attempts fail; with eight retries an item failing them all is a
    // one-in-250 000 chance.
    tb().args(["run", "--kind", "sleep", "--param", "ms=5"])
        .args(["--param", "flaky_rate=0.25"])
        .args(["--backend", "rayon", "--limits", "2", "--items", "40"])
        .args(["--retries", "8", "--retry-backoff", "1ms", "--trace"])
        .args(["--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = csv_rows(&dir);
    let two = row(&rows, "rayon", "2");
    assert_eq!(two["ok"], "40", "{two:?}");
    let retried: u64 = two["retried"].parse().unwrap();
    assert!(retried > 0, "{two:?}");
    let items = std::fs::read_to_string(dir.join("items.jsonl")).unwrap();
    let rayon_items = items.lines().filter(|l| l.contains("\"rayon\"")).count();
    assert_eq!(rayon_items, 40, "one trace line per item");
}

#[test]
fn an_item_past_the_timeout_is_recorded_timed_out() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    tb().args(["run", "--kind", "sleep", "--param", "ms=60"])
        .args(["--backend", "rayon", "--limits", "2", "--items", "4"])
        .args(["--timeout", "20ms", "--ignore-failures", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let rows = csv_rows(&dir);
    let two = row(&rows, "rayon", "2");
    assert_eq!(two["timed_out"], "4", "{two:?}");
    assert_eq!(two["ok"], "0", "{two:?}");
}
