//! `disk`: real file I/O in a temporary folder that is removed when the workload is dropped.
//! Each in-flight slot owns one file that every item rewrites (or reads), so a long sweep does
//! not fill the disk with one file per item. An item moves `size` bytes in calls of
//! `block_size`; with `direct` they bypass the page cache (O_DIRECT), and `drop_cache` makes
//! buffered reads come from the device.

mod aligned;
mod direct;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tempfile::TempDir;

use super::{
    DiskIo, ItemError, ItemResult, ParamDef, ParamType, Params, Runner, Workload, WorkloadKind,
};
use crate::error::SpecError;
use aligned::{AlignedBuf, ALIGN};

const PARAMS: &[ParamDef] = &[
    ParamDef::new(
        "size",
        ParamType::Size,
        Some("1MiB"),
        "bytes written or read per item (the size of each slot's file)",
    ),
    ParamDef::new(
        "block_size",
        ParamType::Size,
        None,
        "bytes per read or write call (default: `size`, one call per item)",
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
        "direct",
        ParamType::Bool,
        Some("false"),
        "O_DIRECT: every read and write goes to the device, bypassing the page cache \
         (`size` and `block_size` multiples of 4096)",
    ),
    ParamDef::new(
        "drop_cache",
        ParamType::Bool,
        Some("false"),
        "drop the file's pages from the page cache before each read (posix_fadvise \
         DONTNEED), so buffered reads come from the device",
    ),
    ParamDef::new(
        "dir",
        ParamType::Str,
        None,
        "folder in which the temporary folder is made (default: the system's)",
    ),
];

/// The `disk` kind, to register under its name.
pub fn kind() -> WorkloadKind {
    WorkloadKind::new(
        "disk",
        "file I/O: writes and/or reads a file of `size` per item, `block_size` per call, in a \
         temporary folder",
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

/// How every slot's file is written and read; copied into each runner.
#[derive(Debug, Clone, Copy)]
struct Io {
    size: u64,
    block_size: usize,
    mode: Mode,
    fsync: bool,
    direct: bool,
    drop_cache: bool,
}

pub struct Disk {
    io: Io,
    folder: TempDir,
    next_slot: AtomicU64,
}

impl Disk {
    pub fn from_params(p: &Params) -> Result<Self, SpecError> {
        let io = checked_io(p)?;
        let parent = p
            .opt_str("dir")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let folder = tempfile::Builder::new()
            .prefix("throttlebench-disk-")
            .tempdir_in(&parent)
            .map_err(|e| p.invalid("dir", format!("cannot make a temporary folder there: {e}")))?;
        if io.direct {
            direct::probe(folder.path()).map_err(|e| {
                let at = parent.display();
                if direct::is_unsupported(&e) {
                    p.invalid(
                        "direct",
                        format!(
                            "the filesystem at {at} does not support direct I/O (O_DIRECT); \
                             set `dir` to a folder on a disk or drop `direct`"
                        ),
                    )
                } else {
                    p.invalid("direct", format!("cannot do direct I/O in {at}: {e}"))
                }
            })?;
        }
        Ok(Disk {
            io,
            folder,
            next_slot: AtomicU64::new(0),
        })
    }

    /// Where the files live; removed with the workload.
    pub fn folder(&self) -> &Path {
        self.folder.path()
    }
}

/// The parameters, checked against each other.
fn checked_io(p: &Params) -> Result<Io, SpecError> {
    let size = p.u64("size")?;
    if size == 0 || size > 1 << 30 {
        return Err(p.invalid(
            "size",
            format!("must be between 1 byte and 1GiB, got {size}"),
        ));
    }
    let block_size = if p.has("block_size") {
        p.u64("block_size")?
    } else {
        size
    };
    if block_size == 0 || block_size > size {
        return Err(p.invalid(
            "block_size",
            format!("must be between 1 byte and `size` ({size}), got {block_size}"),
        ));
    }
    let mode = match p.str("mode")? {
        "read" => Mode::Read,
        "readwrite" => Mode::ReadWrite,
        _ => Mode::Write,
    };
    let io = Io {
        size,
        block_size: block_size as usize,
        mode,
        fsync: p.bool("fsync")?,
        direct: p.bool("direct")?,
        drop_cache: p.bool("drop_cache")?,
    };
    if io.direct {
        for (name, value) in [("size", size), ("block_size", block_size)] {
            if value % ALIGN as u64 != 0 {
                return Err(p.invalid(
                    name,
                    format!(
                        "with `direct`, must be a multiple of {ALIGN} bytes (direct I/O moves \
                         whole disk blocks), got {value}"
                    ),
                ));
            }
        }
    }
    if io.drop_cache && mode == Mode::Write {
        return Err(p.invalid(
            "drop_cache",
            "only applies to reads: use it with mode = read or readwrite",
        ));
    }
    if io.drop_cache && mode == Mode::ReadWrite && !io.fsync && !io.direct {
        // Pages just written are dirty until they reach the disk, and dirty pages stay cached.
        return Err(p.invalid(
            "drop_cache",
            "with mode = readwrite, needs fsync = true: pages not yet on disk cannot be dropped",
        ));
    }
    Ok(io)
}

impl Workload for Disk {
    fn disk_io_per_item(&self) -> Option<DiskIo> {
        let io = self.io;
        let passes = if io.mode == Mode::ReadWrite { 2 } else { 1 };
        Some(DiskIo {
            bytes: io.size * passes,
            calls: io.size.div_ceil(io.block_size as u64) * passes,
        })
    }

    fn runner(&self) -> Result<Box<dyn Runner>, ItemError> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let path = self.folder.path().join(format!("slot-{slot}.dat"));
        let io = self.io;
        let setup = || -> std::io::Result<DiskRunner> {
            let block = AlignedBuf::filled(io.block_size, |i| {
                (i as u64).wrapping_mul(2_654_435_761) as u8
            })?;
            let file = direct::open(&path, io.direct)?;
            let mut runner = DiskRunner {
                file,
                path: path.clone(),
                block,
                io,
            };
            // Reads need something to read, and direct writes overwrite a file laid out in
            // advance (as fio does), so that block allocation is not part of what is measured.
            // Either way the file is written once here, outside the clock.
            if io.mode == Mode::Read || io.direct {
                runner.write()?;
                if io.drop_cache {
                    // Clean pages only can be dropped.
                    runner.file.sync_data()?;
                }
            }
            Ok(runner)
        };
        match setup() {
            Ok(runner) => Ok(Box::new(runner)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(ItemError::io(&e))
            }
        }
    }
}

struct DiskRunner {
    file: File,
    path: PathBuf,
    /// One block, written at every offset and read into; aligned for O_DIRECT.
    block: AlignedBuf,
    io: Io,
}

/// The offsets and lengths of the calls one item makes: `size` in blocks, the last one short
/// when `block_size` does not divide `size`.
fn calls(io: Io) -> impl Iterator<Item = (u64, usize)> {
    let (size, block) = (io.size, io.block_size as u64);
    (0..size.div_ceil(block)).map(move |i| (i * block, block.min(size - i * block) as usize))
}

impl DiskRunner {
    fn write(&mut self) -> std::io::Result<()> {
        if !self.io.direct {
            // Buffered writes make a fresh file each item: allocation and all.
            self.file.set_len(0)?;
        }
        for (offset, len) in calls(self.io) {
            self.file
                .write_all_at(&self.block.as_slice()[..len], offset)?;
        }
        if self.io.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn read(&mut self) -> std::io::Result<()> {
        if self.io.drop_cache {
            direct::drop_cached_pages(&self.file)?;
        }
        for (offset, len) in calls(self.io) {
            self.file
                .read_exact_at(&mut self.block.as_mut_slice()[..len], offset)?;
        }
        Ok(())
    }
}

impl Runner for DiskRunner {
    fn run(&mut self, item: u64) -> ItemResult {
        let _ = item;
        let result = match self.io.mode {
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
mod tests;
