//! End-to-end tests of the `disk` workload's direct I/O: whole sweeps with O_DIRECT on a real
//! disk folder, and the one-line error where the filesystem refuses O_DIRECT.

mod common;

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::tb as throttlebench;

/// Whether `dir`'s filesystem accepts O_DIRECT (tmpfs before Linux 6.6, ramfs and some FUSE
/// filesystems refuse the open with EINVAL).
fn accepts_direct(dir: &Path) -> bool {
    let probe = tempfile::tempdir_in(dir).unwrap();
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(probe.path().join("probe"))
        .is_ok()
}

/// The system's temporary folder when it supports O_DIRECT, else a folder on the project's
/// disk (the one cargo gives integration tests).
fn disk_folder() -> PathBuf {
    let tmp = std::env::temp_dir();
    if accepts_direct(&tmp) {
        tmp
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    }
}

/// results.csv as (column name → value) rows, so that columns added later do not matter.
fn rows(run: &Path) -> Vec<Vec<(String, String)>> {
    let mut reader = csv::Reader::from_path(run.join("results.csv")).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn column<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    &row.iter().find(|(h, _)| h == name).expect(name).1
}

#[test]
fn direct_sweeps_complete_every_item_and_leave_nothing_behind() {
    let parent = tempfile::tempdir_in(disk_folder()).unwrap();
    let dir = parent.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    for (name, params) in [
        ("write", &["mode=write", "direct=true", "fsync=true"][..]),
        ("read", &["mode=read", "direct=true"]),
        ("readwrite", &["mode=readwrite", "direct=true"]),
        ("read-dropped", &["mode=read", "drop_cache=true"]),
    ] {
        let run = out.path().join(name);
        let mut cmd = throttlebench();
        cmd.args(["run", "--kind", "disk", "--param", "size=256KiB"])
            .args(["--param", "block_size=64KiB", "--param"])
            .arg(format!("dir={dir}"));
        for p in params {
            cmd.args(["--param", p]);
        }
        cmd.args(["--backend", "thread,process", "--limits", "1,2"])
            .args(["--items", "12", "--quiet", "--out"])
            .arg(&run)
            .assert()
            .success();
        let rows = rows(&run);
        assert_eq!(
            rows.len(),
            5,
            "{name}: sequential + 2 backends × 2 throttles"
        );
        for row in &rows {
            assert_eq!(column(row, "ok"), "12", "{name}: {row:?}");
            assert_eq!(column(row, "failed"), "0", "{name}");
            assert_eq!(column(row, "timed_out"), "0", "{name}");
        }
        let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(left.is_empty(), "{name}: left behind {left:?}");
    }
}

/// A disk point speaks the disk's units: MB/s (2^20 bytes, as fio's MiB/s) and IOPS from the
/// successful items, bytes per item, in the table, the CSV and results.json alike.
#[test]
fn disk_points_give_mb_per_s_and_iops() {
    let parent = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("rw");
    let assert = throttlebench()
        .args(["run", "--kind", "disk", "--param", "size=256KiB"])
        .args(["--param", "block_size=64KiB", "--param", "mode=readwrite"])
        .arg("--param")
        .arg(format!("dir={}", parent.path().display()))
        .args(["--backend", "thread,process", "--limits", "1,2"])
        .args(["--items", "40", "--out"])
        .arg(&run)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let heading = stdout.lines().find(|l| l.starts_with("backend")).unwrap();
    // The columns' widths follow the figures, so only their order is fixed.
    let last_two: Vec<&str> = heading.split_whitespace().rev().take(2).collect();
    assert_eq!(last_two, ["IOPS", "MB/s"], "{heading}");
    assert!(
        stdout.contains("disk: 512 KiB (524288 bytes) per item; MB/s counts 2^20 bytes"),
        "{stdout}"
    );
    let json = common::results(&run);
    for row in rows(&run) {
        let figure = |name: &str| column(&row, name).parse::<f64>().unwrap();
        // Read and written: 2 × 256 KiB in 2 × 4 calls of 64 KiB.
        assert_eq!(column(&row, "disk_bytes_per_item"), "524288");
        let ok_per_s = figure("ok") / figure("wall_s");
        let mb = figure("disk_mb_per_s");
        let iops = figure("disk_iops");
        assert!(
            (mb / (ok_per_s * 0.5) - 1.0).abs() < 1e-3,
            "{mb} vs {ok_per_s}"
        );
        assert!(
            (iops / (ok_per_s * 8.0) - 1.0).abs() < 1e-3,
            "{iops} vs {ok_per_s}"
        );
        let point = json["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                p["backend"] == column(&row, "backend")
                    && p["throttle"] == column(&row, "throttle").parse::<u64>().unwrap()
            })
            .unwrap();
        assert!((point["disk_iops"].as_f64().unwrap() / iops - 1.0).abs() < 1e-3);
    }
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("<th>MB/s</th><th>IOPS</th>"), "index.html");

    // Other workloads leave the disk columns empty and the table without them.
    let noop = out.path().join("noop");
    let assert = throttlebench()
        .args([
            "run",
            "--kind",
            "noop",
            "--backend",
            "thread",
            "--limits",
            "1",
        ])
        .args(["--items", "50", "--out"])
        .arg(&noop)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(!stdout.contains("IOPS"), "{stdout}");
    for row in rows(&noop) {
        assert_eq!(column(&row, "disk_mb_per_s"), "");
    }
    assert!(common::results(&noop)["points"][0]
        .get("disk_mb_per_s")
        .is_none());
}

/// The example disk spec measures enough throttles for the scalability fit, each long enough to
/// trust: neither the "too short" warning nor the "fit needs more throttles" note.
#[test]
fn the_example_disk_spec_runs_long_enough_for_a_fit() {
    let out = tempfile::tempdir().unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/workloads/disk-write.toml");
    let assert = throttlebench()
        .args(["run", spec, "--out"])
        .arg(out.path().join("run"))
        .assert()
        .success();
    let output = assert.get_output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!text.contains("too short"), "{text}");
    assert!(!text.contains("needs at least"), "{text}");
    assert!(text.contains("IOPS"), "{text}");
    let json = common::results(&out.path().join("run"));
    for point in json["points"].as_array().unwrap() {
        assert!(point["wall_s"].as_f64().unwrap() >= 0.5, "{point}");
    }
}

/// Exit code 2 and one line on stderr that says what to do, and no report folder.
fn assert_refused(output: std::process::Output, out: &Path, dir: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let expected = format!(
        "the filesystem at {} does not support direct I/O (O_DIRECT); set `dir` to a folder on \
         a disk or drop `direct`",
        dir.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!out.join("results.csv").exists(), "nothing ran");
}

const REFUSED_RUN: &[&str] = &[
    "run",
    "--kind",
    "disk",
    "--param",
    "direct=true",
    "--limits",
    "1,2",
    "--items",
    "1000",
    "--quiet",
];

#[test]
fn a_filesystem_without_direct_io_is_one_clear_error_before_the_sweep() {
    let out = tempfile::tempdir().unwrap();
    let mut checked = false;
    // tmpfs refused O_DIRECT before Linux 6.6.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && !accepts_direct(shm) {
        let output = throttlebench()
            .args(REFUSED_RUN)
            .args(["--param", "dir=/dev/shm", "--out"])
            .arg(out.path().join("shm"))
            .output()
            .unwrap();
        assert_refused(output, &out.path().join("shm"), shm);
        checked = true;
    }
    // ramfs never supports it; mounting one needs a private mount namespace (root, `unshare`).
    let mount_point = out.path().join("ramfs");
    std::fs::create_dir(&mount_point).unwrap();
    let in_ramfs = |then: &[OsString]| {
        let script = r#"mount -t ramfs none "$1" || exit 99; shift; exec "$@""#;
        Std::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
            .arg(&mount_point)
            .args(then)
            .output()
    };
    let can_mount = in_ramfs(&["true".into()]).is_ok_and(|o| o.status.success());
    if can_mount {
        let run = out.path().join("ramfs-run");
        let dir = format!("dir={}", mount_point.display());
        let bin = assert_cmd::cargo::cargo_bin("throttlebench");
        let mut args: Vec<OsString> = vec![bin.into()];
        args.extend(REFUSED_RUN.iter().map(OsString::from));
        args.extend([
            "--param".into(),
            dir.into(),
            "--out".into(),
            run.clone().into(),
        ]);
        assert_refused(in_ramfs(&args).unwrap(), &run, &mount_point);
        checked = true;
    }
    if !checked {
        eprintln!(
            "no filesystem without O_DIRECT here (tmpfs supports it, ramfs cannot be mounted)"
        );
    }
}

#[test]
fn a_size_that_direct_io_cannot_move_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let output = throttlebench()
        .args(["run", "--kind", "disk", "--param", "direct=true"])
        .args([
            "--param",
            "size=1000",
            "--limits",
            "1",
            "--items",
            "4",
            "--out",
        ])
        .arg(out.path().join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("multiple of 4096"), "{stderr}");
}
