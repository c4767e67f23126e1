//! Saved baselines: a run's `results.json` kept under a name (`baselines/<name>.json`, beside
//! the default `reports/` folder) so later runs and `compare` can refer to it. Wherever a run
//! is expected, a run folder, a results file or a baseline name will do. The file is
//! `results.json` plus the run's machine-noise probe (`noise_probe`), which readers of
//! `results.json` ignore. A history folder holds such files too, one per run, only ever added
//! to.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::folder::sanitize;
use super::json::ResultsJson;
use super::{write_atomic, Exporter};
use crate::error::SpecError;
use crate::results::SweepResult;

pub use crate::analysis::noise::StoredRun;

const NOISE_KEY: &str = "noise_probe";

impl StoredRun {
    /// `results.json` with the probe added.
    pub fn to_json(&self) -> anyhow::Result<Vec<u8>> {
        let mut value: serde_json::Value =
            serde_json::from_slice(&ResultsJson.serialize(&self.sweep)?)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(NOISE_KEY.into(), serde_json::to_value(&self.noise)?);
        }
        let mut bytes = serde_json::to_vec_pretty(&value)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads a results file, with or without a probe.
    pub fn read(path: &Path) -> anyhow::Result<StoredRun> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let not_results = || format!("{} is not a throttlebench results file", path.display());
        let mut value: serde_json::Value = serde_json::from_str(&text).with_context(not_results)?;
        let noise = value
            .as_object_mut()
            .and_then(|m| m.remove(NOISE_KEY))
            .map(serde_json::from_value)
            .transpose()
            .with_context(not_results)?
            .unwrap_or_default();
        let mut sweep: SweepResult = serde_json::from_value(value).with_context(not_results)?;
        super::json::upgrade(&mut sweep);
        Ok(StoredRun { sweep, noise })
    }
}

/// The default folder of named baselines, relative to where throttlebench runs.
pub const DEFAULT_DIR: &str = "baselines";

/// A folder of named baselines.
#[derive(Debug, Clone)]
pub struct Baselines {
    dir: PathBuf,
}

/// A name with a slash or a `.json` ending is a path, not a name.
fn is_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".json")
}

impl Baselines {
    pub fn new(dir: Option<&Path>) -> Baselines {
        Baselines {
            dir: dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf),
        }
    }

    /// Where baseline `name` lives: `<dir>/<name>.json`, or `name` itself when it is a path.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, SpecError> {
        if is_path(name) {
            return Ok(PathBuf::from(name));
        }
        if name.is_empty() || sanitize(name) != name {
            return Err(SpecError::invalid(format!(
                "baseline name '{name}' may hold only letters, digits, '-', '_' and '.' \
                 (or give a path ending in .json)"
            )));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Stores `sweep` as baseline `name` (replacing an older one) and returns where.
    pub fn save(&self, name: &str, run: &StoredRun) -> anyhow::Result<PathBuf> {
        let path = self.path_of(name)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create baseline folder {}", parent.display()))?;
        }
        write_atomic(&path, &run.to_json()?)?;
        Ok(path)
    }

    /// The names saved so far, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().to_string();
                        name.strip_suffix(".json").map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Finds what `arg` names: a run folder, a results file, or a saved baseline.
    pub fn resolve(&self, arg: &str) -> Result<PathBuf, SpecError> {
        let direct = Path::new(arg);
        if direct.is_dir() {
            if direct.join("results.json").is_file() {
                return Ok(direct.join("results.json"));
            }
            return Err(SpecError::invalid(format!(
                "{arg} is a folder without results.json (not a run folder)"
            )));
        }
        if direct.is_file() {
            return Ok(direct.to_path_buf());
        }
        if !is_path(arg) {
            if let Ok(path) = self.path_of(arg) {
                if path.is_file() {
                    return Ok(path);
                }
            }
        }
        let saved = self.names();
        let known = if saved.is_empty() {
            format!("no baselines saved in {}", self.dir.display())
        } else {
            format!("saved baselines: {}", saved.join(", "))
        };
        Err(SpecError::invalid(format!(
            "'{arg}' is neither a run folder, a results file nor a saved baseline ({known})"
        )))
    }

    /// Loads what `arg` names.
    pub fn load(&self, arg: &str) -> anyhow::Result<StoredRun> {
        StoredRun::read(&self.resolve(arg)?)
    }
}

/// Adds `run` to a history folder as a file of its own, named by its start time and commit
/// (`20261203T105047-abc123456789.json`), never replacing an earlier one; returns its path.
pub fn append_to_history(dir: &Path, run: &StoredRun) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create history folder {}", dir.display()))?;
    let sweep = &run.sweep;
    let time: String = sweep
        .started_at
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let stem = format!(
        "{time}-{}",
        sanitize(sweep.environment.git_commit.as_deref().unwrap_or("run"))
    );
    let path = (1..)
        .map(|n| match n {
            1 => dir.join(format!("{stem}.json")),
            n => dir.join(format!("{stem}-{n}.json")),
        })
        .find(|p| !p.exists())
        .expect("some numbered name is free");
    write_atomic(&path, &run.to_json()?)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture;

    #[test]
    fn saved_baselines_load_by_name_folder_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Baselines::new(Some(&dir.path().join("baselines")));
        let run = fixture::sweep(20.0, 3);
        let noise = vec![crate::analysis::noise::probe()];
        let stored = StoredRun {
            sweep: run.clone(),
            noise: noise.clone(),
        };
        let path = store.save("main", &stored).unwrap();
        assert_eq!(path, dir.path().join("baselines/main.json"));
        // JSON keeps the numbers to the last digit or so; the spec and points must survive.
        let same = |loaded: StoredRun| {
            assert_eq!(loaded.sweep.spec, run.spec);
            assert_eq!(loaded.sweep.points.len(), run.points.len());
            assert_eq!(loaded.noise.len(), 1);
        };
        same(store.load("main").unwrap());
        same(store.load(path.to_str().unwrap()).unwrap());
        let folder = dir.path().join("run");
        std::fs::create_dir(&folder).unwrap();
        std::fs::copy(&path, folder.join("results.json")).unwrap();
        same(store.load(folder.to_str().unwrap()).unwrap());
        assert_eq!(store.names(), ["main"]);
    }

    #[test]
    fn a_history_folder_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let history = dir.path().join("history");
        let run = StoredRun {
            sweep: fixture::sweep(20.0, 1),
            noise: Vec::new(),
        };
        let first = append_to_history(&history, &run).unwrap();
        let second = append_to_history(&history, &run).unwrap();
        assert_eq!(first, history.join("20260101T000000-abc123.json"));
        assert_eq!(second, history.join("20260101T000000-abc123-2.json"));
        assert_eq!(StoredRun::read(&second).unwrap().sweep.spec, run.sweep.spec);
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Baselines::new(Some(dir.path()));
        let run = StoredRun {
            sweep: fixture::sweep(20.0, 1),
            noise: Vec::new(),
        };
        store.save("v1", &run).unwrap();
        let err = store.resolve("v2").unwrap_err().to_string();
        assert!(err.contains("saved baselines: v1"), "{err}");
        let err = store.path_of("a b").unwrap_err().to_string();
        assert!(err.contains("baseline name"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = store
            .resolve(empty.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("without results.json"), "{err}");
    }
}
