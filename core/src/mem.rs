//! The mapped segments of one loaded image, and the only code that turns an address into bytes.
//! Every read of library memory in gothook goes through [`Segments::bytes`]; it never writes.

use crate::error::{Error, Result};

/// Most PT_LOAD segments an image may have (real libraries have 2 to 5); more answer Unsupported.
pub const MAX_LOADS: usize = 8;

/// One mapped range `[start, end)` in this process, with its PT_LOAD flags.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First mapped byte (bias + p_vaddr).
    pub start: usize,
    /// One past the last mapped byte (bias + p_vaddr + p_memsz).
    pub end: usize,
    /// `PF_R | PF_W | PF_X` of the segment.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// The PT_LOAD ranges of an image: the only memory the decoder may read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Segments {
    /// The ranges, in program-header order; entries past `count` are zero.
    pub ranges: [Range; MAX_LOADS],
    /// Number of valid ranges.
    pub count: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

impl Default for Segments {
    fn default() -> Self {
        Segments {
            ranges: [Range::default(); MAX_LOADS],
            count: 0,
            reserved: 0,
        }
    }
}

impl Segments {
    /// Adds a range; fails with `Unsupported` past [`MAX_LOADS`] and `Malformed` on overflow.
    pub fn push(&mut self, start: usize, len: usize, flags: u32) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let end = start.checked_add(len).ok_or(Error::Malformed)?;
        let slot = self
            .ranges
            .get_mut(self.count as usize)
            .ok_or(Error::Unsupported)?;
        *slot = Range {
            start,
            end,
            flags,
            reserved: 0,
        };
        self.count += 1;
        Ok(())
    }

    /// The valid ranges.
    pub fn iter(&self) -> impl Iterator<Item = &Range> {
        self.ranges[..(self.count as usize).min(MAX_LOADS)].iter()
    }

    /// The range containing `[addr, addr + len)` entirely, if any.
    pub fn containing(&self, addr: usize, len: usize) -> Option<&Range> {
        let end = addr.checked_add(len)?;
        self.iter().find(|r| addr >= r.start && end <= r.end)
    }

    /// Whether `[addr, addr + len)` lies entirely inside one mapped range.
    pub fn contains(&self, addr: usize, len: usize) -> bool {
        self.containing(addr, len).is_some()
    }

    /// `len` bytes at `addr`, after checking they lie inside one mapped range.
    ///
    /// The returned slice borrows memory of a loaded library.  It is valid while that library
    /// stays mapped: gothook only calls this inside the `dl_iterate_phdr` callback that reported
    /// the library (the loader cannot unmap it meanwhile), or on images the caller vouches for
    /// (the C API documents this).  Nothing in gothook writes through it.
    pub fn bytes(&self, addr: usize, len: usize) -> Result<&[u8]> {
        if !self.contains(addr, len) {
            return Err(Error::Malformed);
        }
        // SAFETY: `[addr, addr + len)` lies inside one PT_LOAD range of an image that is mapped
        // for the lifetime described above; every byte of a PT_LOAD range (p_memsz included) is
        // mapped readable by the loader.  u8 has no alignment or validity requirements.
        Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
    }

    /// A little-endian u16 at `addr`.
    pub fn u16(&self, addr: usize) -> Result<u16> {
        let b = self.bytes(addr, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A little-endian u32 at `addr`.
    pub fn u32(&self, addr: usize) -> Result<u32> {
        let b = self.bytes(addr, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64 at `addr`.
    pub fn u64(&self, addr: usize) -> Result<u64> {
        let b = self.bytes(addr, 8)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }

    /// An ELF word (4 bytes in ELF32, 8 in ELF64) at `addr`, widened to u64.
    pub fn word(&self, addr: usize, is64: bool) -> Result<u64> {
        if is64 {
            self.u64(addr)
        } else {
            self.u32(addr).map(u64::from)
        }
    }

    /// The NUL-terminated string starting at `addr` and ending before `limit`, without its NUL.
    pub fn cstr(&self, addr: usize, limit: usize) -> Result<&[u8]> {
        let r = self.containing(addr, 1).ok_or(Error::Malformed)?;
        let end = limit.min(r.end);
        if end <= addr {
            return Err(Error::Malformed);
        }
        let b = self.bytes(addr, end - addr)?;
        let n = b.iter().position(|&c| c == 0).ok_or(Error::Malformed)?;
        Ok(&b[..n])
    }
}

/// Reads program headers handed over by the loader or by a caller.
///
/// # Safety
/// `phdr` must point to `phnum` readable entries of `entsize` bytes (the loader's
/// `dlpi_phdr`/`dlpi_phnum`, or a caller's equivalent).
pub unsafe fn raw_bytes<'a>(phdr: usize, len: usize) -> &'a [u8] {
    // SAFETY: guaranteed by the caller, as documented above.
    unsafe { core::slice::from_raw_parts(phdr as *const u8, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside_and_across_ranges() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 0, 9];
        let base = buf.as_ptr() as usize;
        let mut s = Segments::default();
        s.push(base, 4, 4).unwrap();
        s.push(base + 4, 6, 4).unwrap();
        assert_eq!(s.u32(base).unwrap(), 0x0403_0201);
        assert_eq!(
            s.u16(base + 3),
            Err(Error::Malformed),
            "straddles two ranges"
        );
        assert_eq!(s.u32(base + 8), Err(Error::Malformed), "runs past the end");
        assert_eq!(
            s.u32(usize::MAX - 1),
            Err(Error::Malformed),
            "address overflow"
        );
        assert_eq!(s.cstr(base + 4, usize::MAX).unwrap(), &[5, 6, 7, 8]);
        assert_eq!(
            s.cstr(base + 9, usize::MAX),
            Err(Error::Malformed),
            "no NUL"
        );
        assert_eq!(
            s.cstr(base + 4, base + 6),
            Err(Error::Malformed),
            "NUL beyond limit"
        );
    }
}
