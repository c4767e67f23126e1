//! A heap buffer whose address is a multiple of 4096: what O_DIRECT asks of the memory it reads
//! into and writes from (the kernel refuses a misaligned buffer with EINVAL). A `Vec<u8>` only
//! promises an alignment of 1, so the buffer is allocated with an explicit `Layout`.

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;

/// The alignment of the buffer, and the granule O_DIRECT offsets and lengths are held to here:
/// no common disk has a logical block larger than 4096 bytes.
pub const ALIGN: usize = 4096;

pub struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer owns its allocation exclusively, as a `Vec<u8>` does.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `len` bytes (at least 1), filled by `fill(index)`.
    pub fn filled(len: usize, fill: impl Fn(usize) -> u8) -> io::Result<Self> {
        let layout = Layout::from_size_align(len.max(1), ALIGN)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout's size is non-zero.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("cannot allocate a {len}-byte buffer"),
            )
        })?;
        let mut buf = AlignedBuf { ptr, layout };
        for (i, byte) in buf.as_mut_slice().iter_mut().enumerate() {
            *byte = fill(i);
        }
        Ok(buf)
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` initialised (zeroed, then filled) bytes we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `filled` with this very layout, and freed only here.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_aligned_and_holds_what_it_was_filled_with() {
        for len in [1, 512, 4096, 12_288, 1 << 20] {
            let buf = AlignedBuf::filled(len, |i| i as u8).unwrap();
            assert_eq!(buf.as_slice().as_ptr() as usize % ALIGN, 0, "{len}");
            assert_eq!(buf.as_slice().len(), len);
            assert!(buf
                .as_slice()
                .iter()
                .enumerate()
                .all(|(i, &b)| b == i as u8));
        }
    }
}
