//! Sharded runs for real: shard processes on loopback against one built-in server with a
//! capacity, started on the same schedule, then `merge`; and every reason `merge` refuses.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{bin, results, tb};
use hdrhistogram::Histogram;
use serde_json::Value;
use throttlebench::measure::latency::decode_histogram;

/// A `throttlebench serve` child, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(capacity: usize, latency_ms: u32) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--capacity"])
            .arg(capacity.to_string())
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The capacity test's figures move when sibling tests start processes on the same two cores:
/// each test in this file runs alone.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs one process per folder of `dirs` at once, each `run ARGS --shard K/N --out DIR`, then
/// `merge`s them into `merged`.
fn shards_then_merge(dirs: &[std::path::PathBuf], args: &[&str], merged: &Path) {
    let mut shards: Vec<Child> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            Command::new(bin())
                .args(args)
                .args(["--shard", &format!("{}/{}", i + 1, dirs.len()), "--out"])
                .arg(dir)
                .spawn()
                .unwrap()
        })
        .collect();
    for shard in &mut shards {
        assert!(shard.wait().unwrap().success());
    }
    tb().arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(merged)
        .assert()
        .success();
}

fn point<'a>(sweep: &'a Value, backend: &str, throttle: u64) -> &'a Value {
    sweep["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["backend"] == backend && p["throttle"] == throttle)
        .unwrap_or_else(|| panic!("no {backend} x{throttle}"))
}

fn histogram(encoded: &Value) -> Histogram<u64> {
    decode_histogram(encoded.as_str().unwrap()).expect("a histogram")
}

fn recorded(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn recommended(sweep: &Value) -> (String, u64) {
    let r = &sweep["analysis"]["recommendation"];
    (
        r["backend"].as_str().unwrap().to_string(),
        r["throttle"].as_u64().unwrap(),
    )
}

#[test]
fn two_shards_on_one_schedule_add_up_to_a_single_run() {
    let _alone = alone();
    let server = Server::start(8, 20);
    let tmp = tempfile::tempdir().unwrap();
    let common_args = [
        "run",
        "--kind",
        "http",
        "--backend",
        "thread",
        "--limits",
        "2,8,16",
        "--duration",
        "1s",
        // At 16 every request waits a whole item behind the 8 served (40 ms and more); at 8
        // none does (about 20 ms). Without an SLO, 8 and 16 are one plateau whose first point within
        // 95 % of the best is noise's choice.
        "--slo",
        "p99=38ms",
        "--quiet",
    ];
    let url = format!("url={}", server.url);
    let single_dir = tmp.path().join("single");
    tb().args(common_args)
        .args(["--param", &url, "--out"])
        .arg(&single_dir)
        .assert()
        .success();
    // Far enough ahead that both shards are ready before the first window opens.
    let start = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shard_dirs: Vec<_> = (1..=2)
        .map(|k| tmp.path().join(format!("shard{k}")))
        .collect();
    let merged = tmp.path().join("merged");
    let scheduled = ["--param", &url, "--start-at", &start, "--gap", "1s"];
    let args: Vec<&str> = common_args.iter().copied().chain(scheduled).collect();
    shards_then_merge(&shard_dirs, &args, &merged);

    let parts: Vec<Value> = shard_dirs.iter().map(|d| results(d)).collect();
    let (single, merged_json) = (results(&single_dir), results(&merged));
    assert!(merged_json["spec"]["sweep"].get("shard").is_none());
    for throttle in [2, 8, 16] {
        let m = point(&merged_json, "thread", throttle);
        let shard_points: Vec<&Value> =
            parts.iter().map(|s| point(s, "thread", throttle)).collect();
        for count in ["items", "ok", "failed", "timed_out"] {
            let sum: u64 = shard_points
                .iter()
                .map(|p| p[count].as_u64().unwrap())
                .sum();
            assert_eq!(m[count].as_u64().unwrap(), sum, "{count} at {throttle}");
        }
        let slots: u64 = shard_points
            .iter()
            .map(|p| p["slots"].as_u64().unwrap())
            .sum();
        assert_eq!(slots, throttle);
        let mut sum = Histogram::<u64>::new(3).unwrap();
        for p in &shard_points {
            sum.add(histogram(&p["histogram"])).unwrap();
        }
        let merged_histogram = histogram(&m["histogram"]);
        assert_eq!(merged_histogram.len(), m["ok"].as_u64().unwrap());
        assert_eq!(recorded(&merged_histogram), recorded(&sum), "at {throttle}");
        assert_eq!(m["shards"].as_array().unwrap().len(), 2);
        for p in &shard_points {
            assert_eq!(p["overran"], false, "{p}");
        }
    }
    // The 10% agreement is a benchmark for a quiet machine (BENCHMARKS.md); here the band
    // only catches a merge that counts a shard twice or not at all.
    let goodput = |sweep: &Value| point(sweep, "thread", 8)["goodput_per_s"].as_f64().unwrap();
    let ratio = goodput(&merged_json) / goodput(&single);
    assert!(
        (0.7..1.4).contains(&ratio),
        "merged/single goodput at 8: {ratio}"
    );
    assert_eq!(recommended(&merged_json), recommended(&single));
    // Capacity 8: at 16 the requests queue for a whole item time, past the SLO.
    assert_eq!(recommended(&single), ("thread".to_string(), 8));
    // The merged folder is an ordinary run: compare reads it like any other.
    tb().args(["compare", "--fail-on", "never"])
        .arg(&single_dir)
        .arg(&merged)
        .assert()
        .success();
    assert!(merged.join("shards.md").exists());
    assert!(merged.join("index.html").exists());
}

/// A quick shard of a sleep run (no schedule unless `extra` gives one).
fn shard(dir: &Path, shard: &str, extra: &[&str]) {
    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=1",
        "--backend",
        "thread",
    ])
    .args([
        "--limits", "1,3", "--items", "9", "--quiet", "--shard", shard,
    ])
    .args(extra)
    .arg("--out")
    .arg(dir)
    .assert()
    .success();
}

fn merge_fails(dirs: &[&Path], out: &Path, expected: &str) {
    let assert = tb()
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!out.join("results.json").exists());
}

#[test]
fn merge_refuses_shards_that_do_not_belong_together() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let d = |name: &str| tmp.path().join(name);
    shard(&d("a1"), "1/3", &[]);
    shard(&d("a2"), "2/3", &[]);
    shard(&d("a3"), "3/3", &[]);
    shard(&d("again2"), "2/3", &[]);
    let out = d("merged");
    merge_fails(&[&d("a1"), &d("a3")], &out, "shard 2/3 missing");
    merge_fails(
        &[&d("a1"), &d("a2"), &d("again2")],
        &out,
        "shard 2/3 is given twice",
    );

    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=2",
        "--backend",
        "thread",
    ])
    .args([
        "--limits", "1,3", "--items", "9", "--quiet", "--shard", "3/3", "--out",
    ])
    .arg(d("other3"))
    .assert()
    .success();
    merge_fails(
        &[&d("a1"), &d("a2"), &d("other3")],
        &out,
        "workload.params.ms differs",
    );

    shard(&d("half"), "2/2", &[]);
    merge_fails(&[&d("a1"), &d("half")], &out, "split the run differently");

    tb().args([
        "run",
        "--kind",
        "sleep",
        "--param",
        "ms=1",
        "--backend",
        "thread",
    ])
    .args(["--limits", "1,3", "--items", "9", "--quiet", "--out"])
    .arg(d("whole"))
    .assert()
    .success();
    merge_fails(&[&d("a1"), &d("whole")], &out, "is not a shard");

    // Two schedules already past: the points run at once, but the shards are not one run.
    let scheduled = |dir: &str, k: &str, start: &str| {
        tb().args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--backend",
            "thread",
        ])
        .args([
            "--limits",
            "2",
            "--duration",
            "100ms",
            "--quiet",
            "--shard",
            k,
        ])
        .args(["--start-at", start, "--out"])
        .arg(d(dir))
        .assert()
        .success();
    };
    scheduled("s1", "1/2", "2026-01-01T00:00:00Z");
    scheduled("s2", "2/2", "2026-01-01T00:01:00Z");
    merge_fails(&[&d("s1"), &d("s2")], &out, "different schedules");

    tb().arg("merge")
        .args([d("a1"), d("a2"), d("a3")])
        .arg("--out")
        .arg(&out)
        .args(["--quiet"])
        .assert()
        .success();
    let merged = results(&out);
    let at3 = point(&merged, "thread", 3);
    assert_eq!(at3["items"], 9);
    assert_eq!(at3["shards"].as_array().unwrap().len(), 3);
    let baseline = point(&merged, "sequential", 1);
    assert_eq!(baseline["items"], 9, "the baseline is shard 1's, whole");
    // Throttle 1 over 3 shards: shards 2 and 3 have no slot and ran nothing.
    let at1 = point(&merged, "thread", 1);
    assert_eq!(at1["items"], 9);
    let slots: Vec<u64> = at1["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slots"].as_u64().unwrap())
        .collect();
    assert_eq!(slots, [1, 0, 0]);
}

#[test]
fn bad_shard_flags_are_one_line_and_exit_2() {
    let _alone = alone();
    for (args, expected) in [
        (vec!["--shard", "3/2"], "is not K/N"),
        (
            vec!["--shard-index-env", "TB_NO_SUCH_VAR", "--shard-count", "2"],
            "TB_NO_SUCH_VAR is not set",
        ),
        (
            vec!["--shard-index-env", "TB_NO_SUCH_VAR"],
            "needs --shard-count",
        ),
        (
            vec!["--start-at", "+1s", "--items", "5"],
            "--start-at needs --duration",
        ),
        (
            vec!["--start-at", "noon", "--duration", "1s"],
            "neither an RFC 3339 time",
        ),
        (vec!["--gap", "1s"], "--gap needs --start-at"),
    ] {
        let assert = tb()
            .args(["run", "--kind", "sleep", "--limits", "2", "--quiet"])
            .args(&args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn the_shard_index_can_come_from_the_environment_zero_based() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    tb().env("JOB_COMPLETION_INDEX", "1")
        .args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1",
            "--backend",
            "thread",
        ])
        .args(["--limits", "4", "--items", "10", "--quiet"])
        .args([
            "--shard-index-env",
            "JOB_COMPLETION_INDEX",
            "--shard-count",
            "3",
            "--out",
        ])
        .arg(tmp.path())
        .assert()
        .success();
    let sweep = results(tmp.path());
    assert_eq!(sweep["spec"]["sweep"]["shard"]["index"], 2);
    let points = sweep["points"].as_array().unwrap();
    assert!(
        points.iter().all(|p| p["backend"] != "sequential"),
        "baseline on shard 1 only"
    );
    // Shard 2 of 3: 4 slots → 1 (4 mod 3 = 1 extra, to shard 1), 10 items → 3.
    assert_eq!(points[0]["slots"], 1);
    assert_eq!(points[0]["items"], 3);
}

#[test]
fn merge_reads_the_shards_from_a_log_of_results_lines() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let mut log = String::from("pod started\n");
    for k in 1..=2 {
        let output = tb()
            .args([
                "run",
                "--kind",
                "sleep",
                "--param",
                "ms=1",
                "--backend",
                "thread",
            ])
            .args([
                "--limits",
                "4",
                "--items",
                "12",
                "--quiet",
                "--results-line",
            ])
            .args(["--shard", &format!("{k}/2"), "--out"])
            .arg(tmp.path().join(format!("pod{k}")))
            .output()
            .unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        log.push_str(&stdout);
        log.push_str("{not a result}\n");
    }
    let log_file = tmp.path().join("job.log");
    std::fs::write(&log_file, log).unwrap();
    let out = tmp.path().join("merged");
    tb().arg("merge")
        .arg(&log_file)
        .args(["--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let merged = results(&out);
    assert_eq!(point(&merged, "thread", 4)["items"], 12);
    let empty = tmp.path().join("empty.log");
    std::fs::write(&empty, "nothing here\n").unwrap();
    merge_fails(&[&empty], &tmp.path().join("none"), "holds no results line");
}

/// An open-loop rate is shared out: each of two shards offers half of it, and the merged point
/// offers the whole, with the counts, late items and both latencies' histograms summed.
#[test]
fn shards_of_an_open_loop_offer_their_share_and_merge_to_the_whole_rate() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (1..=2).map(|k| tmp.path().join(format!("s{k}"))).collect();
    for (k, dir) in dirs.iter().enumerate() {
        tb().args([
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=5",
            "--backend",
            "thread",
        ])
        .args([
            "--rates",
            "80",
            "--arrival",
            "poisson",
            "--duration",
            "1s",
            "--quiet",
        ])
        .args(["--shard", &format!("{}/2", k + 1), "--out"])
        .arg(dir)
        .assert()
        .success();
    }
    let merged = tmp.path().join("merged");
    tb().arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&merged)
        .assert()
        .success();
    let open = |sweep: &Value| sweep["open_loop"][0].clone();
    let parts: Vec<Value> = dirs.iter().map(|d| open(&results(d))).collect();
    let whole = open(&results(&merged));
    for part in &parts {
        assert_eq!(part["offered_per_s"].as_f64(), Some(40.0), "{part}");
    }
    assert_eq!(whole["offered_per_s"].as_f64(), Some(80.0), "{whole}");
    for count in ["items", "ok", "late"] {
        let sum: u64 = parts.iter().map(|p| p[count].as_u64().unwrap()).sum();
        assert_eq!(whole[count].as_u64().unwrap(), sum, "{count}");
    }
    for name in ["histogram", "svc_histogram"] {
        let mut sum = Histogram::<u64>::new(3).unwrap();
        for p in &parts {
            sum.add(histogram(&p[name])).unwrap();
        }
        assert_eq!(recorded(&histogram(&whole[name])), recorded(&sum), "{name}");
        assert_eq!(sum.len(), whole["ok"].as_u64().unwrap(), "{name}");
    }
}

/// A shard whose point runs past its window (items longer than the window and the gap) records
/// it, and the merged run names the shard and the point.
#[test]
fn a_shard_that_overran_its_window_is_named_in_the_merge() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let dirs: Vec<_> = (1..=2).map(|k| tmp.path().join(format!("s{k}"))).collect();
    let merged = tmp.path().join("merged");
    // 1.5 s items in 1 s windows 0.2 s apart: every point runs into the next window.
    shards_then_merge(
        &dirs,
        &[
            "run",
            "--kind",
            "sleep",
            "--param",
            "ms=1500",
            "--backend",
            "thread",
            "--limits",
            "2",
            "--duration",
            "1s",
            "--start-at",
            &start,
            "--gap",
            "200ms",
            "--quiet",
        ],
        &merged,
    );
    let sweep = results(&merged);
    let point = point(&sweep, "thread", 2);
    assert_eq!(point["overran"], true, "{point}");
    let warnings: Vec<&str> = sweep["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("shard 2/2 overran its window at thread at throttle 2")),
        "{warnings:?}"
    );
    let summary = std::fs::read_to_string(merged.join("summary.md")).unwrap();
    assert!(summary.contains("overran its window"), "{summary}");
}
