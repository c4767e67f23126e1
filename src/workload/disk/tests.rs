//! Unit tests of the disk workload: real files, every mode, buffered and direct.

use super::*;
use crate::workload::{Registry, WorkloadSpec};
use serde_json::json;

fn spec(params: serde_json::Value) -> WorkloadSpec {
    serde_json::from_value(json!({ "kind": "disk", "params": params })).unwrap()
}

fn disk(params: serde_json::Value) -> Disk {
    Disk::from_params(&Registry::builtin().validate(&spec(params)).unwrap()).unwrap()
}

fn refused(params: serde_json::Value) -> String {
    Registry::builtin()
        .build(&spec(params))
        .err()
        .expect("refused")
        .to_string()
}

/// A folder where O_DIRECT works: the system's temporary folder unless it is on a filesystem
/// without direct I/O, else the build's target folder (on the project's disk).
fn direct_capable_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    [std::env::temp_dir(), target]
        .into_iter()
        .find(|dir| {
            tempfile::tempdir_in(dir)
                .map(|t| direct::probe(t.path()).is_ok())
                .unwrap_or(false)
        })
        .expect("neither the temporary folder nor target/ supports O_DIRECT")
}

/// The bytes an item writes: the block's pattern, repeated.
fn expected_bytes(size: usize, block: usize) -> Vec<u8> {
    (0..size)
        .map(|i| ((i % block) as u64).wrapping_mul(2_654_435_761) as u8)
        .collect()
}

#[test]
fn every_mode_writes_real_bytes_and_the_folder_is_removed() {
    for (mode, extra) in [
        ("write", json!({})),
        ("read", json!({})),
        ("read", json!({ "drop_cache": true })),
        ("readwrite", json!({ "drop_cache": true })),
    ] {
        let mut params = json!({ "size": "8KiB", "mode": mode, "fsync": true });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let d = disk(params);
        let folder = d.folder().to_path_buf();
        let mut runner = d.runner().unwrap();
        runner.run(0).unwrap();
        runner.run(1).unwrap();
        let written = std::fs::read(folder.join("slot-0.dat")).unwrap();
        assert_eq!(written, expected_bytes(8192, 8192), "{mode}");
        drop(runner);
        drop(d);
        assert!(!folder.exists(), "{mode}: temporary folder left behind");
    }
}

#[test]
fn a_block_size_that_does_not_divide_size_ends_with_a_short_call() {
    let io = |size, block_size| Io {
        size,
        block_size,
        mode: Mode::Write,
        fsync: false,
        direct: false,
        drop_cache: false,
    };
    assert_eq!(
        calls(io(10_000, 4096)).collect::<Vec<_>>(),
        [(0, 4096), (4096, 4096), (8192, 1808)]
    );
    assert_eq!(calls(io(4096, 4096)).collect::<Vec<_>>(), [(0, 4096)]);

    let d = disk(json!({ "size": 10_000, "block_size": "4KiB" }));
    let mut runner = d.runner().unwrap();
    runner.run(0).unwrap();
    let written = std::fs::read(d.folder().join("slot-0.dat")).unwrap();
    assert_eq!(written, expected_bytes(10_000, 4096));
}

#[test]
fn direct_io_opens_with_o_direct_and_moves_every_byte() {
    let dir = direct_capable_dir();
    for mode in ["write", "read", "readwrite"] {
        let d = disk(json!({
            "size": "64KiB", "block_size": "16KiB", "mode": mode, "direct": true,
            "dir": dir.to_str().unwrap(),
        }));
        let folder = d.folder().to_path_buf();
        let mut runner = d.runner().unwrap();
        for item in 0..3 {
            runner.run(item).unwrap();
        }
        let path = folder.join("slot-0.dat");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            expected_bytes(65_536, 16_384)
        );
        // The runner's file really is open with O_DIRECT: find its descriptor through /proc.
        let flags = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter(|e| std::fs::read_link(e.path()).ok().as_deref() == Some(path.as_path()))
            .map(|e| {
                let fd: i32 = e.file_name().to_str().unwrap().parse().unwrap();
                // SAFETY: F_GETFL only reads the flags of a descriptor this process holds.
                unsafe { libc::fcntl(fd, libc::F_GETFL) }
            })
            .collect::<Vec<_>>();
        assert!(
            !flags.is_empty() && flags.iter().all(|f| f & libc::O_DIRECT != 0),
            "{mode}: {flags:?}"
        );
        drop(runner);
        drop(d);
        assert!(!folder.exists(), "{mode}: temporary folder left behind");
    }
}

#[test]
fn the_direct_io_probe_leaves_no_file_behind() {
    let dir = direct_capable_dir();
    let d = disk(json!({ "size": "4KiB", "direct": true, "dir": dir.to_str().unwrap() }));
    assert_eq!(std::fs::read_dir(d.folder()).unwrap().count(), 0);
    d.runner().unwrap().run(0).unwrap();
}

#[test]
fn parameters_that_contradict_each_other_are_refused_with_the_reason() {
    let cases = [
        (
            json!({ "size": "4KiB", "block_size": "8KiB" }),
            "block_size",
        ),
        (json!({ "block_size": 0 }), "block_size"),
        (json!({ "size": 6000, "direct": true }), "multiple of 4096"),
        (
            json!({ "size": "8KiB", "block_size": 1000, "direct": true }),
            "multiple of 4096",
        ),
        (json!({ "drop_cache": true }), "only applies to reads"),
        (
            json!({ "drop_cache": true, "mode": "readwrite" }),
            "needs fsync = true",
        ),
        (json!({ "directio": true }), "unknown parameter 'directio'"),
    ];
    for (params, expected) in cases {
        let err = refused(params.clone());
        assert!(err.contains(expected), "{params}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn an_unusable_dir_is_a_parameter_error() {
    let err = refused(json!({ "dir": "/proc/definitely/not/here" }));
    assert!(err.contains("dir"), "{err}");
}

#[test]
fn an_item_counts_its_bytes_and_calls_in_every_mode() {
    let io = |mode: &str| {
        disk(json!({ "size": 100, "block_size": 30, "mode": mode }))
            .disk_io_per_item()
            .unwrap()
    };
    // 100 bytes in calls of 30: three whole blocks and a short one.
    assert_eq!(
        io("write"),
        DiskIo {
            bytes: 100,
            calls: 4
        }
    );
    assert_eq!(
        io("read"),
        DiskIo {
            bytes: 100,
            calls: 4
        }
    );
    assert_eq!(
        io("readwrite"),
        DiskIo {
            bytes: 200,
            calls: 8
        }
    );
    let whole = disk(json!({ "size": "1MiB" })).disk_io_per_item().unwrap();
    assert_eq!(
        whole,
        DiskIo {
            bytes: 1 << 20,
            calls: 1
        }
    );
}
