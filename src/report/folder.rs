//! The run folder: created (and proven writable) before anything runs, then filled as the sweep
//! goes — a flushed CSV row, the histogram and an atomically rewritten `results.json` after every
//! point — and completed with the final files when the sweep ends.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::csv::{row, FailuresCsv, ResultsCsv, COLUMNS};
use super::json::ResultsJson;
use super::table::SummaryMarkdown;
use super::{write_atomic, Exporter};
use crate::backend::BackendKind;
use crate::measure::latency::{decode_histogram, hgrm_text};
use crate::results::{PointResult, SweepResult};
use crate::spec::RunSpec;
use crate::sweep::{PlannedPoint, SweepListener};

/// Makes a name safe to use in a file name: letters, digits, `-`, `_` and `.` only.
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.').to_string();
    if trimmed.is_empty() {
        "run".to_string()
    } else {
        trimmed.chars().take(64).collect()
    }
}

/// `reports/<name>-<YYYYmmdd-HHMMSS>`, with `-2`, `-3`… when two runs start in the same second.
pub fn default_folder(root: &Path, name: &str) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = root.join(format!("{}-{stamp}", sanitize(name)));
    let mut candidate = base.clone();
    let mut n = 2;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    candidate
}

/// Writes one run's files.
pub struct RunFolder {
    dir: PathBuf,
    csv: Option<File>,
    items_jsonl: Option<File>,
}

impl RunFolder {
    /// Appends `point`'s row to `results.csv`, on disk before the next point starts.
    fn append_row(&mut self, point: &PointResult) -> anyhow::Result<()> {
        if let Some(file) = self.csv.as_mut() {
            let mut line = ::csv::Writer::from_writer(Vec::new());
            line.write_record(row(point))?;
            let bytes = line.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
            let whole = file.metadata().map(|m| m.len());
            if let Err(e) = file.write_all(&bytes) {
                // A full disk can take half a row: cut it off so the file still parses.
                if let Ok(len) = whole {
                    let _ = file.set_len(len);
                }
                return Err(anyhow::Error::new(e).context("cannot append to results.csv"));
            }
            // On disk before the next point starts: a crash loses at most the point in progress.
            file.sync_data().context("cannot append to results.csv")?;
        }
        Ok(())
    }

    /// Creates the folder and checks that it can be written, before any measuring starts. An
    /// existing folder that already holds a run is refused rather than overwritten.
    pub fn create(dir: &Path, force: bool) -> anyhow::Result<RunFolder> {
        let holds_run = dir.join("results.csv").exists() || dir.join("results.json").exists();
        if holds_run && !force {
            anyhow::bail!(
                "output folder {} already holds a run; choose another --out, --resume it, or replace it with --force",
                dir.display()
            );
        }
        if holds_run {
            remove_run_files(dir)?;
        }
        std::fs::create_dir_all(dir.join("histograms"))
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"ok")
            .with_context(|| format!("output folder {} is not writable", dir.display()))?;
        let _ = std::fs::remove_file(probe);
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            csv: None,
            items_jsonl: None,
        })
    }

    /// Reopens the folder of an interrupted run to continue it: `results.csv` is first rewritten
    /// from the points in `results.json` (dropping a row whose point never reached the JSON),
    /// then appended to as usual.
    pub fn reopen(dir: &Path, previous: &SweepResult) -> anyhow::Result<RunFolder> {
        let folder = RunFolder {
            dir: dir.to_path_buf(),
            csv: None,
            items_jsonl: None,
        };
        folder.write(&ResultsCsv, previous)?;
        let path = dir.join("results.csv");
        let csv = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunFolder {
            csv: Some(csv),
            ..folder
        })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, exporter: &dyn Exporter, sweep: &SweepResult) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join(exporter.file_name()),
            &exporter.serialize(sweep)?,
        )
    }

    /// Rewrites the merged histogram of every repetition of (backend, throttle).
    fn write_histogram(
        &self,
        backend: BackendKind,
        throttle: usize,
        sweep: &SweepResult,
    ) -> anyhow::Result<()> {
        let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
        for p in sweep
            .points
            .iter()
            .filter(|p| p.backend == backend && p.throttle == throttle)
        {
            if let Some(h) = decode_histogram(&p.histogram) {
                match merged.as_mut() {
                    Some(m) => {
                        let _ = m.add(&h);
                    }
                    None => merged = Some(h),
                }
            }
        }
        if let Some(h) = merged {
            let path = self
                .dir
                .join("histograms")
                .join(format!("{backend}-{throttle}.hgrm"));
            write_atomic(&path, hgrm_text(&h).as_bytes())?;
        }
        Ok(())
    }

    fn append_trace(&mut self, point: &PointResult) -> anyhow::Result<()> {
        if point.trace.is_empty() {
            return Ok(());
        }
        if self.items_jsonl.is_none() {
            let path = self.dir.join("items.jsonl");
            self.items_jsonl = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            );
        }
        let file = self.items_jsonl.as_mut().expect("opened above");
        let mut buffer = Vec::with_capacity(point.trace.len() * 120);
        for event in &point.trace {
            let mut line = serde_json::to_value(event)?;
            if let Some(map) = line.as_object_mut() {
                map.insert("backend".into(), point.backend.name().into());
                map.insert("throttle".into(), point.throttle.into());
                map.insert("repetition".into(), point.repetition.into());
            }
            serde_json::to_writer(&mut buffer, &line)?;
            buffer.push(b'\n');
        }
        file.write_all(&buffer)?;
        file.flush()?;
        Ok(())
    }
}

impl SweepListener for RunFolder {
    fn sweep_start(&mut self, _plan: &[PlannedPoint], _spec: &RunSpec) -> anyhow::Result<()> {
        if self.csv.is_some() {
            return Ok(()); // reopened to resume: the header and earlier rows are there
        }
        let path = self.dir.join("results.csv");
        let mut file =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut header = ::csv::Writer::from_writer(Vec::new());
        header.write_record(COLUMNS)?;
        file.write_all(&header.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        file.sync_data()?;
        self.csv = Some(file);
        Ok(())
    }

    fn point_done(&mut self, point: &PointResult, sweep: &SweepResult) -> anyhow::Result<()> {
        self.append_row(point)?;
        self.write_histogram(point.backend, point.throttle, sweep)?;
        self.append_trace(point)?;
        self.write(&ResultsJson, sweep)
    }

    fn limited_done(&mut self, point: &PointResult, sweep: &SweepResult) -> anyhow::Result<()> {
        self.append_row(point)?;
        self.write(&ResultsJson, sweep)
    }

    fn sweep_done(&mut self, sweep: &SweepResult) -> anyhow::Result<()> {
        self.csv = None;
        self.items_jsonl = None;
        // Final rows: later baseline repetitions may have moved every speedup.
        self.write(&ResultsCsv, sweep)?;
        self.write(&ResultsJson, sweep)?;
        self.write(&SummaryMarkdown, sweep)?;
        if sweep.points.iter().any(|p| !p.failures.is_empty()) {
            self.write(&FailuresCsv, sweep)?;
        }
        super::render::render_all(&self.dir, sweep, None).with_context(|| {
            format!(
                "results are saved, but the charts failed; retry with `throttlebench report {}`",
                self.dir.display()
            )
        })?;
        Ok(())
    }
}

/// Removes the files a run writes (and nothing else) from `dir`, for `--force`.
fn remove_run_files(dir: &Path) -> anyhow::Result<()> {
    const FILES: [&str; 7] = [
        "results.csv",
        "results.json",
        "summary.md",
        "failures.csv",
        "items.jsonl",
        "index.html",
        ".write-test",
    ];
    for name in FILES {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for sub in ["histograms", "charts"] {
        let path = dir.join(sub);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe_for_paths() {
        assert_eq!(sanitize("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize("<script>"), "_script_");
        assert_eq!(sanitize("demo-1.2"), "demo-1.2");
        assert_eq!(sanitize(".."), "run");
    }

    #[test]
    fn a_folder_holding_a_run_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.csv"), "x").unwrap();
        let err = RunFolder::create(dir.path(), false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("already holds a run"), "{err}");
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        RunFolder::create(dir.path(), true).unwrap();
        assert!(!dir.path().join("results.csv").exists());
        assert!(
            dir.path().join("keep.txt").exists(),
            "--force removes only run files"
        );
    }
}
