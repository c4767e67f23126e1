//! `disk`: real file I/O in a temporary folder that is removed when the workload is dropped.
//! Each in-flight slot owns one file that every item rewrites (or reads), so a long sweep does
//! not fill the disk with one file per item.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tempfile::TempDir;

use super::{ItemError, ItemResult, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind};
use crate::error::SpecError;

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "size",
        ParamType::Size,
        Some("1MiB"),
        "bytes written or read per item",
    ),
    ParamDef::new(
        "mode",
        ParamType::Choice(&["write", "read", "readwrite"]),
        Some("write"),
        "what one item does",
    ),
    ParamDef::new(
        "fsync",
        ParamType::Bool,
        Some("false"),
        "fsync after each write (measures the device, not the page cache)",
    ),
    ParamDef::new(
        "dir",
        ParamType::Str,
        None,
        "folder in which the temporary folder is made (default: the system's)",
    ),
];

pub fn kind() -> WorkloadKind {
    WorkloadKind::new(
        "disk",
        "file I/O: writes and/or reads a file of `size` per item in a temporary folder",
        PARAMS,
        |p| Ok(Arc::new(Disk::from_params(p)?)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Read,
    ReadWrite,
}

pub struct Disk {
    size: usize,
    mode: Mode,
    fsync: bool,
    folder: TempDir,
    next_slot: AtomicU64,
}

impl Disk {
    pub fn from_params(p: &Params) -> Result<Self, SpecError> {
        let size = p.u64("size")?;
        if size == 0 || size > 1 << 30 {
            return Err(p.invalid(
                "size",
                format!("must be between 1 byte and 1GiB, got {size}"),
            ));
        }
        let mode = match p.str("mode")? {
            "read" => Mode::Read,
            "readwrite" => Mode::ReadWrite,
            _ => Mode::Write,
        };
        let builder = tempfile::Builder::new()
            .prefix("throttlebench-disk-")
            .tempdir_in(
                p.opt_str("dir")
                    .map(PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir),
            );
        let folder = builder
            .map_err(|e| p.invalid("dir", format!("cannot make a temporary folder there: {e}")))?;
        Ok(Disk {
            size: size as usize,
            mode,
            fsync: p.bool("fsync")?,
            folder,
            next_slot: AtomicU64::new(0),
        })
    }

    /// Where the files live; removed with the workload.
    pub fn folder(&self) -> &Path {
        self.folder.path()
    }
}

impl Workload for Disk {
    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let path = self.folder.path().join(format!("slot-{slot}.dat"));
        let data: Vec<u8> = (0..self.size)
            .map(|i| (i as u64).wrapping_mul(2_654_435_761) as u8)
            .collect();
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| ItemError::io(&e))?;
        let mut runner = DiskRunner {
            file,
            path,
            data,
            read_buffer: Vec::new(),
            mode: self.mode,
            fsync: self.fsync,
        };
        if self.mode == Mode::Read {
            // Reads need something to read: the file is written once, outside the clock.
            runner.write().map_err(|e| ItemError::io(&e))?;
        }
        if self.mode != Mode::Write {
            runner.read_buffer = vec![0u8; self.size];
        }
        Ok(Box::new(runner))
    }
}

struct DiskRunner {
    file: File,
    path: PathBuf,
    data: Vec<u8>,
    read_buffer: Vec<u8>,
    mode: Mode,
    fsync: bool,
}

impl DiskRunner {
    fn write(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&self.data)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn read(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_exact(&mut self.read_buffer)
    }
}

impl Runner for DiskRunner {
    fn run(&mut self, item: u64) -> ItemResult {
        let _ = item;
        let result = match self.mode {
            Mode::Write => self.write(),
            Mode::Read => self.read(),
            Mode::ReadWrite => self.write().and_then(|_| self.read()),
        };
        result.map_err(|e| ItemError::io(&e))
    }
}

impl Drop for DiskRunner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Registry, WorkloadSpec};
    use serde_json::json;

    fn disk(params: serde_json::Value) -> Disk {
        let spec: WorkloadSpec =
            serde_json::from_value(json!({ "kind": "disk", "params": params })).unwrap();
        Disk::from_params(&Registry::builtin().validate(&spec).unwrap()).unwrap()
    }

    #[test]
    fn every_mode_writes_real_bytes_and_the_folder_is_removed() {
        for mode in ["write", "read", "readwrite"] {
            let d = disk(json!({ "size": "8KiB", "mode": mode, "fsync": true }));
            let folder = d.folder().to_path_buf();
            let mut runner = d.runner().unwrap();
            runner.run(0).unwrap();
            runner.run(1).unwrap();
            assert_eq!(
                std::fs::metadata(folder.join("slot-0.dat")).unwrap().len(),
                8192,
                "{mode}"
            );
            drop(runner);
            drop(d);
            assert!(!folder.exists(), "{mode}: temporary folder left behind");
        }
    }

    #[test]
    fn an_unusable_dir_is_a_parameter_error() {
        let spec: WorkloadSpec = serde_json::from_value(
            json!({ "kind": "disk", "params": { "dir": "/proc/definitely/not/here" } }),
        )
        .unwrap();
        let err = Registry::builtin().build(&spec).err().unwrap().to_string();
        assert!(err.contains("dir"), "{err}");
    }
}
