//! How the disk workload reaches the device rather than the page cache: opening a file with
//! O_DIRECT, checking once, before any item runs, that the filesystem accepts it, and dropping a
//! file's cached pages so that a buffered read has to go to the disk.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::aligned::{AlignedBuf, ALIGN};

/// Opens (creating it when missing) `path` for reading and writing; with `direct`, O_DIRECT.
pub fn open(path: &Path, direct: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    options.open(path)
}

/// Writes and reads back one aligned block with O_DIRECT in `folder`. Filesystems without direct
/// I/O refuse the open (or the transfer) with EINVAL: finding that out here turns it into one
/// error before the sweep, instead of every item failing the same way.
pub fn probe(folder: &Path) -> io::Result<()> {
    let path = folder.join("direct-probe.dat");
    let outcome = (|| {
        let file = open(&path, true)?;
        let mut block = AlignedBuf::filled(ALIGN, |i| i as u8)?;
        file.write_all_at(block.as_slice(), 0)?;
        file.read_exact_at(block.as_mut_slice(), 0)
    })();
    let _ = std::fs::remove_file(&path);
    outcome
}

/// Whether an error from `probe` means "this filesystem has no direct I/O", as opposed to a
/// full disk or a permission problem, which keep their own message.
pub fn is_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
    )
}

/// Drops the file's clean pages from the page cache (POSIX_FADV_DONTNEED), so the next read
/// comes from the device. Dirty pages cannot be dropped: the file must have been synced.
pub fn drop_cached_pages(file: &File) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor `file` keeps open; offset 0, length 0 = whole file.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    // posix_fadvise returns the error number instead of setting errno.
    match rc {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// How many of the file's pages are in the page cache (what `fincore` prints).
    fn resident_pages(file: &File, len: usize) -> usize {
        // SAFETY: a read-only shared mapping of `len` bytes of an open file, unmapped below;
        // `mincore` writes one byte per page into a vector of that many bytes.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED);
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            let mut present = vec![0u8; len.div_ceil(page)];
            assert_eq!(libc::mincore(addr, len, present.as_mut_ptr()), 0);
            libc::munmap(addr, len);
            present.iter().filter(|&&p| p & 1 == 1).count()
        }
    }

    #[test]
    fn dropping_the_cache_empties_it_for_a_synced_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = 64 * 1024;
        let mut file = open(&path, false).unwrap();
        file.write_all(&vec![7u8; len]).unwrap();
        file.sync_data().unwrap();
        let mut back = vec![0u8; len];
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(resident_pages(&file, len) > 0, "a file just read is cached");
        drop_cached_pages(&file).unwrap();
        assert_eq!(resident_pages(&file, len), 0);
    }

    #[test]
    fn einval_means_no_direct_io_and_other_errors_keep_their_meaning() {
        assert!(is_unsupported(&io::Error::from_raw_os_error(libc::EINVAL)));
        assert!(!is_unsupported(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!is_unsupported(&io::Error::from_raw_os_error(libc::EACCES)));
    }
}
