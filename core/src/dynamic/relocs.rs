//! Relocations of a decoded image: the raw entries of the tables that can hold imports, in
//! table order, and their classification into imports.  Reads through the image's [`Memory`].

use core::mem::size_of;

use super::{bad, Dynamic, Import, ImportKind, Reloc, Table};
use crate::elf::{Arch, Class, Elf32, Elf64, RelocEntry};
use crate::error::Result;
use crate::read::{Memory, Pod};

/// The kind of import slot a relocation type fills on `arch`, or None for every other type
/// (RELATIVE, IRELATIVE, TLS, COPY, ...).
#[inline(always)]
fn import_kind(arch: &Arch, r_type: u32) -> Option<ImportKind> {
    if r_type == arch.jump_slot {
        Some(ImportKind::Plt)
    } else if Some(r_type) == arch.glob_dat {
        Some(ImportKind::GlobDat)
    } else if r_type == arch.abs {
        Some(ImportKind::Abs)
    } else {
        None
    }
}

/// Where a resumable relocation scan is: entries still to pass over, entries counted so far.
struct Cursor {
    skip: usize,
    seen: usize,
}

impl<M: Memory> Dynamic<M> {
    /// Visits the raw entries of the relocation tables that can hold imports, in table order:
    /// DT_JMPREL first, then DT_RELA (after its DT_RELACOUNT leading RELATIVE entries) and DT_REL.
    /// Each table's range was checked at decode time and is read as one slice of typed entries,
    /// so an entry costs a few loads.  `f` gets (r_offset, symbol index, type, addend, table) and
    /// returns `false` to stop.
    pub fn for_each_raw_reloc(
        &self,
        mut f: impl FnMut(u64, u32, u32, i64, Table) -> bool,
    ) -> Result<()> {
        self.raw_relocs_from(0, &mut f).map(|_| ())
    }

    /// [`Dynamic::for_each_raw_reloc`] from the `from`-th entry on (counting in its order), so
    /// that a scan can stop, do work outside the iteration, and resume: `Some(n)` when `f`
    /// stopped at entry `n - 1` (resume with `from = n`), `None` when every entry was visited.
    pub fn raw_relocs_from(
        &self,
        from: usize,
        f: &mut impl FnMut(u64, u32, u32, i64, Table) -> bool,
    ) -> Result<Option<usize>> {
        let mut at = Cursor {
            skip: from,
            seen: 0,
        };
        let go = if self.is64() {
            self.raw_relocs::<Elf64>(&mut at, f)?
        } else {
            self.raw_relocs::<Elf32>(&mut at, f)?
        };
        Ok((!go).then_some(at.seen))
    }

    fn raw_relocs<C: Class>(
        &self,
        at: &mut Cursor,
        f: &mut impl FnMut(u64, u32, u32, i64, Table) -> bool,
    ) -> Result<bool> {
        let (j, jsz) = self.jmprel;
        let go = if self.plt_rela != 0 {
            self.entries::<C::Rela>(j, j + jsz, Table::JmpRel, at, f)?
        } else {
            self.entries::<C::Rel>(j, j + jsz, Table::JmpRel, at, f)?
        };
        let (r, rsz) = self.rela;
        let skip = self.relcount.0 * size_of::<C::Rela>();
        if !go || !self.entries::<C::Rela>(r + skip, r + rsz, Table::Rela, at, f)? {
            return Ok(false);
        }
        let (r, rsz) = self.rel;
        let skip = self.relcount.1 * size_of::<C::Rel>();
        self.entries::<C::Rel>(r + skip, r + rsz, Table::Rel, at, f)
    }

    /// Visits the entries of type `R` in `[start, end)` of `table`, past the ones `at` still
    /// skips; false when `f` asked to stop.  Some linkers make DT_RELASZ cover .rela.plt too:
    /// JMPREL is visited on its own, so its part of another table is left out.
    fn entries<R: RelocEntry + Pod>(
        &self,
        start: usize,
        end: usize,
        table: Table,
        at: &mut Cursor,
        f: &mut impl FnMut(u64, u32, u32, i64, Table) -> bool,
    ) -> Result<bool> {
        let (j, jsz) = self.jmprel;
        let ranges = if table != Table::JmpRel && jsz != 0 && j < end && j + jsz > start {
            [(start, j.max(start)), ((j + jsz).min(end), end)]
        } else {
            [(start, end), (end, end)]
        };
        for (a, b) in ranges {
            if b <= a {
                continue;
            }
            let all = self.segs.slice::<R>(a, (b - a) / size_of::<R>())?;
            let k = at.skip.min(all.len());
            at.skip -= k;
            for (i, e) in all[k..].iter().enumerate() {
                let r = e.fields();
                if !f(r.offset, r.sym, r.r_type, r.addend, table) {
                    at.seen += k + i + 1;
                    return Ok(false);
                }
            }
            at.seen += all.len();
        }
        Ok(true)
    }

    /// Classifies a raw relocation as an import, checking its slot lies in the image and is
    /// aligned.  `Ok(None)` for relocations that are not imports (RELATIVE, IRELATIVE, TLS, ...).
    pub fn import_reloc(
        &self,
        arch: &Arch,
        offset: u64,
        sym: u32,
        r_type: u32,
        addend: i64,
        table: Table,
    ) -> Result<Option<Reloc>> {
        let Some(kind) = import_kind(arch, r_type) else {
            return Ok(None);
        };
        if sym == 0 {
            return Ok(None);
        }
        let ws = self.word_size();
        let slot = self.bias.wrapping_add(offset as usize);
        if slot & (ws - 1) != 0 || !self.segs.contains(slot, ws) {
            return Err(bad("import slot misaligned or outside the mapped segments"));
        }
        Ok(Some(Reloc {
            slot,
            sym,
            r_type,
            addend,
            kind,
            table,
        }))
    }

    /// Visits every import relocation in table order: DT_JMPREL first, then DT_RELA (after its
    /// DT_RELACOUNT leading RELATIVE entries) and DT_REL.  RELATIVE, IRELATIVE and every other
    /// relocation type are skipped; DT_RELR carries no imports.  `f` returns `false` to stop.
    pub fn for_each_reloc(&self, mut f: impl FnMut(&Reloc) -> bool) -> Result<()> {
        let arch = self.arch()?;
        let ws = self.word_size();
        // Import slots cluster in one segment: check against the last one that held a slot
        // before searching them all.
        let (mut lo, mut hi) = (1usize, 0usize);
        let mut err = None;
        self.for_each_raw_reloc(|offset, sym, r_type, addend, table| {
            let slot = self.bias.wrapping_add(offset as usize);
            if sym != 0 && (slot < lo || slot.wrapping_add(ws) > hi) && slot & (ws - 1) == 0 {
                if let Some(r) = self.segs.segments().containing(slot, ws) {
                    (lo, hi) = (r.start, r.end);
                }
            }
            let in_hot_range = slot >= lo && slot.wrapping_add(ws) <= hi && slot & (ws - 1) == 0;
            if in_hot_range && sym != 0 {
                let Some(kind) = import_kind(arch, r_type) else {
                    return true;
                };
                return f(&Reloc {
                    slot,
                    sym,
                    r_type,
                    addend,
                    kind,
                    table,
                });
            }
            // Not an import, or a bad slot: the general path decides which.
            match self.import_reloc(arch, offset, sym, r_type, addend, table) {
                Ok(Some(r)) => f(&r),
                Ok(None) => true,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        })?;
        err.map_or(Ok(()), Err)
    }

    /// Visits every import (relocation plus symbol name) in table order.
    pub fn for_each_import(&self, mut f: impl FnMut(&Import<'_>) -> bool) -> Result<()> {
        let mut err = None;
        self.for_each_reloc(|r| match self.symbol(r.sym) {
            Ok(s) => f(&Import {
                reloc: *r,
                name: s.name,
            }),
            Err(e) => {
                err = Some(e);
                false
            }
        })?;
        err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_relocation_scan_resumed_where_it_stopped_visits_every_entry_once_in_order() {
        let mut libs = 0;
        crate::loader::each(0, |lib| {
            let d = lib.decode().unwrap();
            // The whole scan, as a count and an order-sensitive digest.
            let digest = |h: u64, offset: u64, sym: u32| {
                (h ^ offset ^ ((sym as u64) << 40)).wrapping_mul(0x100_0000_01b3)
            };
            let (mut n, mut h) = (0usize, 0u64);
            d.for_each_raw_reloc(|offset, sym, _, _, _| {
                (n, h) = (n + 1, digest(h, offset, sym));
                true
            })
            .unwrap();
            // The same scan in rounds of 7 entries, each resumed where the last one stopped.
            let (mut m, mut g, mut from, mut rounds) = (0usize, 0u64, 0usize, 0usize);
            loop {
                let mut k = 0;
                let stopped = d
                    .raw_relocs_from(from, &mut |offset, sym, _, _, _| {
                        (m, g, k) = (m + 1, digest(g, offset, sym), k + 1);
                        k < 7
                    })
                    .unwrap();
                rounds += 1;
                match stopped {
                    Some(next) => {
                        assert_eq!(next, m, "resumes after the entry it stopped at");
                        from = next;
                    }
                    None => break,
                }
            }
            assert_eq!((m, g), (n, h), "{:?}", lib.name);
            assert!(rounds > n / 7, "{rounds} rounds for {n} entries");
            libs += (n > 7) as u32;
            true
        })
        .unwrap();
        assert!(libs >= 2, "{libs} libraries with more than 7 relocations");
    }
}
