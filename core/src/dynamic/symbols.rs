//! Symbols of a decoded image: by index, by name through the hash tables, and by a single
//! pass over the names for many wanted names at once.  Reads through the image's [`Memory`] only.

use core::mem::size_of;

use super::{bad, Dynamic, Symbol};
use crate::elf::{self, Class, Elf32, Elf64};
use crate::error::Result;
use crate::read::Memory;

impl<M: Memory> Dynamic<M> {
    /// The symbol at `index`.
    pub fn symbol(&self, index: u32) -> Result<Symbol<'_>> {
        if index >= self.nsyms {
            return Err(bad("symbol index past the symbol table"));
        }
        let s = if self.is64() {
            self.symbol_fields::<Elf64>(index)?
        } else {
            self.symbol_fields::<Elf32>(index)?
        };
        let versym = if self.versym != 0 {
            self.segs.u16(self.versym + index as usize * 2)?
        } else {
            1
        };
        Ok(Symbol {
            index,
            name: self.string(s.name)?,
            value: s.value,
            size: s.size,
            info: s.info,
            other: s.other,
            shndx: s.shndx,
            versym,
        })
    }

    fn symbol_fields<C: Class>(&self, index: u32) -> Result<elf::SymbolFields> {
        let at = self.symtab + index as usize * size_of::<C::Sym>();
        self.segs.read::<C::Sym>(at).map(C::sym)
    }

    /// The string at offset `off` of the string table.
    pub fn string(&self, off: u32) -> Result<&[u8]> {
        let off = off as usize;
        if off >= self.strsz {
            return Err(bad("string offset past DT_STRSZ"));
        }
        self.segs.cstr(self.strtab + off, self.strtab + self.strsz)
    }

    fn dyn_string(&self, addr: usize) -> Option<&[u8]> {
        if addr == 0 {
            return None;
        }
        self.segs.cstr(addr, self.strtab + self.strsz).ok()
    }

    /// DT_SONAME, if any.
    pub fn soname(&self) -> Option<&[u8]> {
        self.dyn_string(self.soname)
    }

    /// The library search path the loader uses for this object's own dlopen calls and
    /// dependencies: DT_RUNPATH, else DT_RPATH (unexpanded, colon-separated).
    pub fn search_path(&self) -> Option<&[u8]> {
        self.dyn_string(self.runpath)
            .or_else(|| self.dyn_string(self.rpath))
    }

    /// Visits every dynamic symbol from index 1 in table order; `f` returns `false` to stop.
    pub fn for_each_symbol(&self, mut f: impl FnMut(&Symbol<'_>) -> bool) -> Result<()> {
        for i in 1..self.nsyms {
            if !f(&self.symbol(i)?) {
                break;
            }
        }
        Ok(())
    }

    /// The default-version definition of `name`, through DT_GNU_HASH (bloom filter first) or
    /// DT_HASH, else a linear scan.  `Ok(None)` when the object does not define it.
    pub fn lookup(&self, name: &[u8]) -> Result<Option<Symbol<'_>>> {
        let mut found = None;
        self.find_named(name, true, |s| {
            found = Some(*s);
            false
        })?;
        Ok(found)
    }

    /// Visits every symbol named `name` (with `definitions_only`, only default-version
    /// definitions); `f` returns `false` to stop.  Uses the hash tables where they cover the
    /// symbols asked for: GNU hash covers indices from `symoffset` on, so undefined symbols below
    /// it are found by a linear scan when `definitions_only` is false.
    pub fn find_named<'s>(
        &'s self,
        name: &[u8],
        definitions_only: bool,
        f: impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<()> {
        self.find_named_in(name, definitions_only, !definitions_only, f)
    }

    /// Visits the symbols named `name` that the hash tables cover (DT_HASH: all of them;
    /// DT_GNU_HASH: indices from `symoffset` on; neither: none), defined or not.
    pub fn find_hashed<'s>(
        &'s self,
        name: &[u8],
        f: impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<()> {
        if self.gnu_hash == 0 && self.hash == 0 {
            return Ok(());
        }
        self.find_named_in(name, false, false, f)
    }

    fn find_named_in<'s>(
        &'s self,
        name: &[u8],
        definitions_only: bool,
        linear: bool,
        mut f: impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<()> {
        // `visit` answers whether to go on: a symbol that does not match never stops the walk.
        let mut visit = |s: &Symbol<'s>| {
            s.name != name || (definitions_only && !s.is_default_definition()) || f(s)
        };
        if self.gnu_hash != 0 {
            let below = if linear { self.symoffset } else { 1 };
            if self.scan(1..below.min(self.nsyms), &mut visit)? {
                self.gnu_chain(name, &mut visit)?;
            }
            return Ok(());
        }
        if self.hash != 0 {
            return self.sysv_chain(name, &mut visit);
        }
        self.scan(1..self.nsyms, &mut visit).map(|_| ())
    }

    /// Visits the symbols with indices in `range`; false when `visit` asked to stop.
    fn scan<'s>(
        &'s self,
        range: core::ops::Range<u32>,
        visit: &mut impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<bool> {
        for i in range {
            if !visit(&self.symbol(i)?) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Visits the symbols of `name`'s GNU hash chain (after the bloom filter lets it pass).
    /// Not inlined: its reads' state is kept off the frames of the callers' loops.
    #[inline(never)]
    fn gnu_chain<'s>(
        &'s self,
        name: &[u8],
        visit: &mut impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<()> {
        let g = &self.gnu;
        let h = elf::gnu_hash(name);
        let ws = self.word_size();
        let bits = (ws * 8) as u32;
        let word_at = g.bloom + ((h / bits) as usize & (g.bloom_words as usize - 1)) * ws;
        let word = self.segs.word(word_at, self.is64())?;
        let mask = (1u64 << (h % bits)) | (1u64 << ((h >> (g.bloom_shift % 32)) % bits));
        if word & mask != mask {
            return Ok(());
        }
        let mut i = self
            .segs
            .u32(g.buckets + (h as usize % g.nbuckets as usize) * 4)?;
        if i == 0 {
            return Ok(());
        }
        if i < g.symoffset {
            return Err(bad("GNU hash bucket below symoffset"));
        }
        while i < self.nsyms {
            let c = self.segs.u32(g.chains + (i - g.symoffset) as usize * 4)?;
            if c | 1 == h | 1 && !visit(&self.symbol(i)?) {
                return Ok(());
            }
            if c & 1 != 0 {
                return Ok(());
            }
            i += 1;
        }
        Err(bad("GNU hash chain runs past the symbol table"))
    }

    /// Visits the symbols of `name`'s DT_HASH chain.
    /// Not inlined: its reads' state is kept off the frames of the callers' loops.
    #[inline(never)]
    fn sysv_chain<'s>(
        &'s self,
        name: &[u8],
        visit: &mut impl FnMut(&Symbol<'s>) -> bool,
    ) -> Result<()> {
        let s = &self.sysv;
        let h = elf::sysv_hash(name) as usize;
        let mut i = self.segs.u32(s.buckets + (h % s.nbucket as usize) * 4)?;
        // A chain visits each index at most once; more steps than entries means a cycle.
        for _ in 0..=s.nchain {
            if i == 0 {
                return Ok(());
            }
            if i >= s.nchain {
                return Err(bad("DT_HASH chain index past nchain"));
            }
            if !visit(&self.symbol(i)?) {
                return Ok(());
            }
            i = self.segs.u32(s.chains + i as usize * 4)?;
        }
        Err(bad("DT_HASH chain has a cycle"))
    }

    /// Calls `f(k, index)` for each symbol index below `end` whose name equals `names[k]`: one
    /// pass over the symbol and string tables read as slices (no per-symbol string scan).
    pub fn find_names_below(
        &self,
        end: u32,
        names: &[&[u8]],
        mut f: impl FnMut(usize, u32),
    ) -> Result<()> {
        if self.is64() {
            self.names_below::<Elf64>(end, names, &mut f)
        } else {
            self.names_below::<Elf32>(end, names, &mut f)
        }
    }

    fn names_below<C: Class>(
        &self,
        end: u32,
        names: &[&[u8]],
        f: &mut impl FnMut(usize, u32),
    ) -> Result<()> {
        let end = end.min(self.nsyms);
        if end <= 1 {
            return Ok(());
        }
        let syms = self.segs.slice::<C::Sym>(self.symtab, end as usize)?;
        let strtab = self.segs.bytes(self.strtab, self.strsz)?;
        // The first bytes of the names, as a 256-bit set (32 bytes of stack, not 256).
        let mut first = [0u64; 4];
        for n in names {
            if let Some(&c) = n.first() {
                first[c as usize >> 6] |= 1 << (c & 63);
            }
        }
        // Almost every symbol is rejected by the first byte of its name: the loop reads that
        // byte alone (an offset at the very end of the table is an empty name) and leaves the
        // name compares to an out-of-line call, so that it keeps its few values in registers.
        let len = strtab.len();
        for (i, s) in syms.iter().enumerate().skip(1) {
            let off = C::sym_name(s) as usize;
            if off < len {
                let c = strtab[off];
                if first[c as usize >> 6] & (1 << (c & 63)) != 0 {
                    match_names(&strtab[off..], names, i as u32, f);
                }
            } else if off != len {
                return Err(bad("symbol name offset past DT_STRSZ"));
            }
        }
        Ok(())
    }
}

/// Calls `f(k, index)` for each `names[k]` that `tail` (a string table from a symbol's name on)
/// starts with, NUL-terminated.
#[inline(never)]
fn match_names(tail: &[u8], names: &[&[u8]], index: u32, f: &mut impl FnMut(usize, u32)) {
    for (k, n) in names.iter().enumerate() {
        if tail.len() > n.len() && tail[n.len()] == 0 && tail[..n.len()] == **n {
            f(k, index);
        }
    }
}
