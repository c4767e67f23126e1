//! Reports: every file a run writes, each produced by an exporter that turns results into bytes
//! (so each is testable and `-` can mean stdout), plus the run folder that streams them to disk,
//! and what a run prints on the console.
//!
//! ```
//! use throttlebench::report::{json, render, table, Exporter};
//! use throttlebench::{BackendKind, Sweep};
//!
//! let result = Sweep::kind("noop").backends([BackendKind::Thread]).limits([1, 2]).items(50).run()?;
//! // Every report is bytes first, for a file or for stdout.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("results.json"), json::ResultsJson.serialize(&result)?)?;
//! let back = json::load(dir.path())?;
//! let key = |p: &throttlebench::PointResult| (p.backend, p.throttle, p.ok);
//! assert!(back.points.iter().map(key).eq(result.points.iter().map(key)));
//! // The table files, rebuilt from the results alone.
//! let files = render::rewrite_tables(dir.path(), &result)?;
//! assert!(files.iter().any(|f| f.ends_with("results.csv")));
//! assert!(table::console(&result).starts_with("backend"));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub(crate) mod baseline;
pub mod charts;
pub mod ci;
pub mod comparison;
pub mod costs;
pub mod csv;
pub mod folder;
pub mod history;
pub mod history_html;
pub mod history_lines;
pub mod html;
pub mod items;
pub mod json;
pub mod limiters;
pub mod open_loop;
pub(crate) mod progress;
pub mod render;
pub mod shards;
// Whole sweeps on the fake backend, analysed and summarised: above both, so here.
#[cfg(test)]
mod sweep_tests;
pub mod table;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::results::SweepResult;

/// Turns a sweep into the bytes of one file.
pub trait Exporter {
    /// The file's name inside the run folder.
    fn file_name(&self) -> &'static str;
    /// The file's bytes.
    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>>;
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file and a crash leaves the old one intact. On any error (a full
/// disk, a file-size limit) the temporary file is removed and the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(folder)
        .with_context(|| format!("cannot write in {}", folder.display()))?;
    // Through the plain file: the temporary file's own writer would add its throwaway name to
    // the error, which the user never sees on disk.
    temp.as_file_mut()
        .write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.as_file()
        .sync_data()
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Reports are for reading: not the owner-only mode temporary files are created with.
    set_readable(temp.as_file())?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn set_readable(file: &std::fs::File) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .context("cannot set the permissions of a report file")
}
