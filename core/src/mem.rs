//! The PT_LOAD ranges of one image: plain numbers, with containment checks.
//! Reads nothing: turning an address into bytes is [`crate::read`]'s job.

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

/// The PT_LOAD ranges of an image: the only memory the decoder may read.  Holding a value of
/// this type proves nothing about what is mapped; [`crate::read::ProcessImage`] does.
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
        let end = start
            .checked_add(len)
            .ok_or(Error::Malformed("segment end overflows"))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_is_inside_one_range_only() {
        let mut s = Segments::default();
        s.push(0x1000, 4, 4).unwrap();
        s.push(0x1004, 6, 4).unwrap();
        assert!(s.contains(0x1000, 4));
        assert!(s.contains(0x1004, 6), "exactly to the end");
        assert!(!s.contains(0x1003, 2), "straddles two ranges");
        assert!(!s.contains(0x1008, 4), "runs past the end");
        assert!(!s.contains(usize::MAX - 1, 4), "address overflow");
        assert_eq!(
            s.push(usize::MAX, 2, 4),
            Err(Error::Malformed("segment end overflows"))
        );
    }

    #[test]
    fn a_ninth_segment_is_unsupported() {
        let mut s = Segments::default();
        for i in 0..MAX_LOADS {
            s.push(0x1000 * (i + 1), 16, 4).unwrap();
        }
        assert_eq!(s.push(0x100_000, 16, 4), Err(Error::Unsupported));
        assert_eq!(s.iter().count(), MAX_LOADS);
    }
}
