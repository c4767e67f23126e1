//! Helpers the end-to-end tests share: the binary under test, and the files a run leaves.

// Each test file is a crate of its own and uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `throttlebench` binary, ready for arguments.
pub fn tb() -> Command {
    Command::cargo_bin("throttlebench").expect("binary is built")
}

/// The path of the `throttlebench` binary, for tests that start it themselves.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("throttlebench").to_path_buf()
}

/// A run folder's `results.json`.
pub fn results(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Each row of a run folder's `results.csv` as column → cell.
pub fn csv_rows(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(str::to_string)
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The row of `backend` (`thread`, `async+vegas`, …) among `rows`; a panic that shows them all.
pub fn row<'a>(
    rows: &'a [BTreeMap<String, String>],
    backend: &str,
) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["backend"] == backend)
        .unwrap_or_else(|| panic!("no {backend} row in {rows:?}"))
}
