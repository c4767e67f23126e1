//! A report that cannot be written for lack of room is one clear error, and the points measured
//! before it stay intact on disk. "No room" is made real without mounting anything: the run gets
//! a file-size limit (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored), so any write past it fails with
//! EFBIG ("File too large") just as a full disk fails with ENOSPC.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;

/// Three throttles of a 1 ms sleep on the thread backend (plus the baseline): four points.
const ARGS: &[&str] = &[
    "run",
    "--kind",
    "sleep",
    "--param",
    "ms=1",
    "--limits",
    "1,2,4",
    "--items",
    "20",
    "--backend",
    "thread",
    "--quiet",
    "--out",
];

/// Runs the sweep into `out`, with every file it writes limited to `limit` bytes when given.
fn run(out: &Path, limit: Option<u64>) -> Output {
    let mut cmd = Command::cargo_bin("throttlebench").unwrap();
    cmd.args(ARGS).arg(out);
    if let Some(limit) = limit {
        // SAFETY: between fork and exec only async-signal-safe calls are made (signal,
        // setrlimit), and nothing is allocated.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let rlim = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rlim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.output().unwrap()
}

/// Every file under `dir`, with its size.
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.clone(), entry.metadata().unwrap().len()));
        }
    }
    found
}

/// (backend, throttle) of every results.csv row; each row must be whole.
fn csv_points(dir: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let width = reader.headers().unwrap().len();
    reader
        .records()
        .map(|r| {
            let r = r.expect("every results.csv row parses");
            assert_eq!(r.len(), width, "a whole row: {r:?}");
            (r[1].to_string(), r[2].to_string())
        })
        .collect()
}

fn json_points(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).expect("results.json is whole");
    json["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["backend"].as_str().unwrap().to_string(),
                p["throttle"].to_string(),
            )
        })
        .collect()
}

/// Exit code 2 and one line on stderr that names `file` and the cause, without a panic.
fn one_clear_error(output: &Output, file: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(file), "names {file}: {stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains(".tmp-"),
        "{stderr}"
    );
    stderr
}

fn no_temporary_files(dir: &Path) {
    let stray: Vec<_> = files(dir)
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .collect();
    assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
}

#[test]
fn no_room_for_the_charts_keeps_every_point_and_names_the_file() {
    let out = tempfile::tempdir().unwrap();
    // A run without a limit gives the sizes: the tables must fit, a chart must not.
    let free = out.path().join("free");
    assert!(run(&free, None).status.success());
    let sizes = files(&free);
    let largest_table = sizes
        .iter()
        .filter(|(p, _)| !p.starts_with(free.join("charts")) && !p.ends_with("index.html"))
        .map(|&(_, n)| n)
        .max()
        .unwrap();
    // Room for a table that comes out a little longer this time (other numbers).
    let limit = largest_table + 2048;
    assert!(
        sizes
            .iter()
            .any(|(p, n)| p.starts_with(free.join("charts")) && *n > limit),
        "a chart larger than {limit} bytes: {sizes:?}"
    );

    let full = out.path().join("full");
    let output = run(&full, Some(limit));
    let stderr = one_clear_error(&output, &full.join("charts").display().to_string());
    assert!(stderr.contains("results are saved"), "{stderr}");
    let points = csv_points(&full);
    assert_eq!(points.len(), 4, "every point is in results.csv");
    assert_eq!(json_points(&full), points, "and in results.json");
    no_temporary_files(&full);
}

#[test]
fn no_room_for_results_json_mid_sweep_keeps_the_points_measured() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    // results.json grows with every point; at 4 KiB it outgrows the limit before the end,
    // while results.csv (under 1 KiB for four rows) never does.
    let output = run(&dir, Some(4096));
    one_clear_error(&output, &dir.join("results.json").display().to_string());
    let measured = csv_points(&dir);
    assert!(!measured.is_empty());
    // The last results.json that could be written is whole, and lists points of results.csv.
    let saved = json_points(&dir);
    assert!(saved.len() < 4, "results.json outgrew the limit: {saved:?}");
    assert_eq!(
        saved[..],
        measured[..saved.len()],
        "{saved:?} vs {measured:?}"
    );
    no_temporary_files(&dir);
}
