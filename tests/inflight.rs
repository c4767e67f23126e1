//! `max_inflight` end to end: the most items really running at once. On `thread` (and
//! `sequential`) an item abandoned at `--timeout` keeps its thread busy beside its replacement,
//! so it counts until it ends; on `async` the timeout cancels the item, so it stops counting.

use std::collections::BTreeMap;

use assert_cmd::Command;

#[test]
fn abandoned_items_count_in_flight_until_they_really_end() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // Every item sleeps 1 s against a 50 ms limit: each round of the throttle is abandoned and
    // replaced about every 50 ms, so all six items start long before the first one ends.
    Command::cargo_bin("throttlebench")
        .unwrap()
        .args(["run", "--kind", "sleep", "--param", "ms=1000"])
        .args([
            "--timeout",
            "50ms",
            "--limits",
            "2",
            "--items",
            "6",
            "--ignore-failures",
        ])
        .args(["--backend", "thread,async", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            headers
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let max_inflight = |backend: &str| -> usize {
        let row = rows
            .iter()
            .find(|r| r["backend"] == backend)
            .unwrap_or_else(|| panic!("no {backend} row in {rows:?}"));
        assert_eq!(row["timed_out"], "6", "{row:?}");
        row["max_inflight"].parse().unwrap()
    };
    // Threads: six sleeping at once, three times the throttle (six times for one thread).
    assert_eq!(max_inflight("sequential"), 6, "{rows:?}");
    assert_eq!(max_inflight("thread"), 6, "{rows:?}");
    // Tasks: a cancelled item is over, so never more than the throttle.
    assert_eq!(max_inflight("async"), 2, "{rows:?}");
}
