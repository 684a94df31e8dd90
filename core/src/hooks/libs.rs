//! The table of tracked libraries: which sets were applied to each listed object, so that a
//! refresh patches only new or changed ones.  Fixed capacity; never keeps a pointer into a library.

use crate::loader::LibInfo;

use super::*;

#[derive(Clone, Copy, Default)]
pub(super) struct LibRec {
    /// 0 marks a free entry.
    pub(super) used: bool,
    pub(super) bias: usize,
    /// Hash of what else identifies a listed object: program headers, name string, first segment.
    pub(super) key: u32,
    /// Walk epoch in which the library was last listed.
    pub(super) seen: u32,
    /// Bit i: set in table position i has been applied.
    pub(super) applied: u32,
    /// Not READY when last seen.
    pub(super) pending: bool,
    /// Lazily bound: re-check this many more refreshes.
    pub(super) rechecks: u8,
    /// One patched slot and the value written, to notice a library reloaded at the same place.
    pub(super) sentinel: (usize, usize),
}

impl State {
    pub(super) fn find_lib(&self, lib: &LibInfo<'_>) -> Option<usize> {
        let key = key_of(lib);
        let h = home(lib.bias, key);
        (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .take_while(|&i| self.libs[i].used)
            .find(|&i| self.libs[i].bias == lib.bias && self.libs[i].key == key)
    }

    pub(super) fn insert_lib(&mut self, lib: &LibInfo<'_>) -> Option<usize> {
        let key = key_of(lib);
        let h = home(lib.bias, key);
        let i = (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .find(|&i| !self.libs[i].used)?;
        self.libs[i] = LibRec {
            used: true,
            bias: lib.bias,
            key,
            ..LibRec::default()
        };
        Some(i)
    }

    /// Drops records of libraries not listed in the current epoch (linear probing, backward shift).
    pub(super) fn sweep(&mut self) {
        let mut i = 0;
        while i < MAX_LIBS {
            if self.libs[i].used && self.libs[i].seen != self.epoch {
                self.remove_at(i);
                // The shift may have moved another stale entry into `i`: look again.
                continue;
            }
            i += 1;
        }
    }

    pub(super) fn remove_at(&mut self, mut hole: usize) {
        self.libs[hole] = LibRec::default();
        let mut j = hole;
        loop {
            j = (j + 1) % MAX_LIBS;
            if !self.libs[j].used {
                return;
            }
            let h = home(self.libs[j].bias, self.libs[j].key);
            // Move j into the hole if its home is not cyclically in (hole, j].
            let in_range = if hole <= j {
                h > hole && h <= j
            } else {
                h > hole || h <= j
            };
            if !in_range {
                self.libs[hole] = self.libs[j];
                self.libs[j] = LibRec::default();
                hole = j;
            }
        }
    }
}

pub(super) fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

pub(super) fn home(bias: usize, key: u32) -> usize {
    (mix(bias as u64 ^ ((key as u64) << 32)) % MAX_LIBS as u64) as usize
}

/// What identifies a listed object besides its bias: a library unloaded and replaced by another
/// at the same address differs in at least one of these (or, if not, its sentinel slot reverted).
pub(super) fn key_of(lib: &LibInfo<'_>) -> u32 {
    let seg_end = lib.segs.iter().next().map_or(0, |r| r.end);
    mix(mix(lib.phdr as u64) ^ mix(lib.name_ptr as u64).rotate_left(21) ^ seg_end as u64) as u32
}
