//! PT_DYNAMIC decoding: symbols, imports and hash lookup of an image mapped in this process.
//! Every table and every entry is checked against the mapped segments before it is read;
//! malformed input gives `Error::Malformed`, never a fault, an out-of-bounds read or a loop.

use crate::elf::{self, dt, Arch};
use crate::error::{Error, Result};
use crate::mem::{self, Segments};

/// Decode flag: the program headers and the image are ELF32 (default: the host's class).
pub const DECODE_ELF32: u32 = 1;
/// Decode flag: the image is ELF64 even on a 32-bit host.
pub const DECODE_ELF64: u32 = 2;
/// Mask of the valid decode flags (the high 16 bits may carry an `e_machine` hint).
pub const DECODE_FLAGS: u32 = DECODE_ELF32 | DECODE_ELF64;

/// Most program headers accepted (the kernel's own limit is 64 KiB of headers).
const MAX_PHNUM: usize = 4096;
/// Most dynamic entries read before giving up on a missing DT_NULL.
const MAX_DYN: usize = 4096;

/// Which relocation table an import came from.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// DT_JMPREL (PLT relocations).
    JmpRel = 0,
    /// DT_RELA.
    Rela = 1,
    /// DT_REL.
    Rel = 2,
}

/// What kind of slot an import relocation fills.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// A PLT slot (`*_JUMP_SLOT`).
    Plt = 0,
    /// A GOT data slot (`*_GLOB_DAT`).
    GlobDat = 1,
    /// A word-sized absolute data slot (`R_X86_64_64`, `R_AARCH64_ABS64`, ...).
    Abs = 2,
}

/// A decoded dynamic section: a plain, copyable value.  All addresses are absolute in this
/// process.  It holds addresses into the image, so it is meaningful only while the image stays
/// mapped (inside the walk callback, or for an image that is never unloaded).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Dynamic {
    /// Load bias (`dlpi_addr`, `l_addr`).
    pub bias: usize,
    /// The mapped PT_LOAD ranges.
    pub segs: Segments,
    /// PT_GNU_RELRO range, absolute, unrounded (0, 0 when absent).
    pub relro: (usize, usize),
    /// Address of the dynamic array.
    pub dynamic: usize,
    /// DT_SYMTAB.
    pub symtab: usize,
    /// DT_STRTAB.
    pub strtab: usize,
    /// DT_STRSZ.
    pub strsz: usize,
    /// DT_HASH (0 if absent).
    pub hash: usize,
    /// DT_GNU_HASH (0 if absent).
    pub gnu_hash: usize,
    /// DT_VERSYM (0 if absent).
    pub versym: usize,
    /// DT_JMPREL and DT_PLTRELSZ.
    pub jmprel: (usize, usize),
    /// DT_RELA and DT_RELASZ.
    pub rela: (usize, usize),
    /// DT_REL and DT_RELSZ.
    pub rel: (usize, usize),
    /// DT_RELR and DT_RELRSZ.
    pub relr: (usize, usize),
    /// DT_RELACOUNT / DT_RELCOUNT: leading RELATIVE entries, never imports.
    pub relcount: (usize, usize),
    /// DT_SONAME string address (0 if absent).
    pub soname: usize,
    /// DT_RUNPATH string address (0 if absent).
    pub runpath: usize,
    /// DT_RPATH string address (0 if absent).
    pub rpath: usize,
    /// Number of dynamic symbols (from DT_HASH or a DT_GNU_HASH walk; 0 if unknown).
    pub nsyms: u32,
    /// DT_GNU_HASH `symoffset`: symbols below it are not in the hash table (0 without GNU hash).
    pub symoffset: u32,
    /// `e_machine`.
    pub machine: u16,
    /// `ELFCLASS32` or `ELFCLASS64`.
    pub class: u8,
    /// Whether DT_JMPREL holds RELA (1) or REL (0) entries.
    pub plt_rela: u8,
    /// Whether the object asks for BIND_NOW (no lazy PLT binding).
    pub bind_now: u8,
    /// Reserved, zero.
    pub reserved: [u8; 7],
}

/// A dynamic symbol.
#[derive(Clone, Copy, Debug)]
pub struct Symbol<'a> {
    /// Index in the dynamic symbol table.
    pub index: u32,
    /// Name bytes, without the NUL (inside the image's string table).
    pub name: &'a [u8],
    /// Raw `st_value`; 0 for most undefined symbols.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// `st_info` (binding << 4 | type).
    pub info: u8,
    /// `st_other` (visibility).
    pub other: u8,
    /// `st_shndx`; 0 means undefined.
    pub shndx: u16,
    /// `versym` entry, or 1 (global) when the object has no DT_VERSYM.
    pub versym: u16,
}

impl Symbol<'_> {
    /// `st_info` type.
    pub fn kind(&self) -> u8 {
        self.info & 0xf
    }
    /// `st_info` binding.
    pub fn binding(&self) -> u8 {
        self.info >> 4
    }
    /// Defined in this object.
    pub fn is_defined(&self) -> bool {
        self.shndx != elf::SHN_UNDEF
    }
    /// The run-time address of a defined symbol: `bias + st_value`, except for SHN_ABS symbols,
    /// whose value is absolute (glibc >= 2.28 does not relocate them either); 0 when undefined.
    pub fn address(&self, bias: usize) -> usize {
        match self.shndx {
            elf::SHN_UNDEF => 0,
            elf::SHN_ABS => self.value as usize,
            _ => bias.wrapping_add(self.value as usize),
        }
    }

    /// A definition an unversioned lookup may bind to: defined, not local, default version.
    pub fn is_default_definition(&self) -> bool {
        self.is_defined()
            && self.binding() != elf::STB_LOCAL
            && self.kind() != elf::STT_TLS
            && self.versym & elf::VERSYM_HIDDEN == 0
            && self.versym != 0
    }
}

/// One relocation as read from a table, before names are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Absolute address of the slot (bias + r_offset), checked to lie in the image and aligned.
    pub slot: usize,
    /// Symbol index.
    pub sym: u32,
    /// Raw relocation type.
    pub r_type: u32,
    /// Addend (0 for REL).
    pub addend: i64,
    /// Kind of import slot.
    pub kind: ImportKind,
    /// Table it came from.
    pub table: Table,
}

/// An import: a relocation that fills a slot with a named symbol's address.
#[derive(Clone, Copy, Debug)]
pub struct Import<'a> {
    /// The relocation.
    pub reloc: Reloc,
    /// Symbol name.
    pub name: &'a [u8],
}

/// Program header fields gothook uses, read for either ELF class.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phdr {
    /// p_type.
    pub p_type: u32,
    /// p_flags.
    pub flags: u32,
    /// p_offset.
    pub offset: u64,
    /// p_vaddr.
    pub vaddr: u64,
    /// p_memsz.
    pub memsz: u64,
}

/// Iterates program headers given as raw bytes of `phnum` entries.
pub fn phdrs(raw: &[u8], is64: bool) -> impl Iterator<Item = Phdr> + '_ {
    let ent = if is64 { 56 } else { 32 };
    raw.chunks_exact(ent).map(move |p| {
        let u32at = |o: usize| u32::from_le_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]]);
        let u64at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&p[o..o + 8]);
            u64::from_le_bytes(w)
        };
        if is64 {
            Phdr {
                p_type: u32at(0),
                flags: u32at(4),
                offset: u64at(8),
                vaddr: u64at(16),
                memsz: u64at(40),
            }
        } else {
            Phdr {
                p_type: u32at(0),
                offset: u32at(4) as u64,
                vaddr: u32at(8) as u64,
                memsz: u32at(20) as u64,
                flags: u32at(24),
            }
        }
    })
}

/// Whether decode `flags` select ELF64 (explicitly, or by default on a 64-bit host).
pub fn class_is64(flags: u32) -> bool {
    if flags & DECODE_ELF32 != 0 {
        return false;
    }
    flags & DECODE_ELF64 != 0 || cfg!(target_pointer_width = "64")
}

/// Size of one program header entry for the class.
pub fn phent(is64: bool) -> usize {
    if is64 {
        56
    } else {
        32
    }
}

/// Reads `phnum` program headers at `phdr`.
///
/// # Safety
/// `phdr` must point to `phnum` readable program headers of the given class.
pub unsafe fn phdr_bytes<'a>(phdr: usize, phnum: usize, is64: bool) -> Result<&'a [u8]> {
    if phdr == 0 || phnum == 0 || phnum > MAX_PHNUM || !phdr.is_multiple_of(4) {
        return Err(Error::Invalid);
    }
    // SAFETY: forwarded from the caller's contract.
    Ok(unsafe { mem::raw_bytes(phdr, phnum * phent(is64)) })
}

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

/// Decodes every `N`-byte relocation entry of `bytes` (N fixes class and RELA/REL, so the
/// compiler drops the bounds checks); returns false when `f` asked to stop.
#[inline(always)]
fn entries<const N: usize>(
    bytes: &[u8],
    is64: bool,
    rela: bool,
    table: Table,
    f: &mut impl FnMut(u64, u32, u32, i64, Table) -> bool,
) -> bool {
    for e in bytes.chunks_exact(N) {
        let Ok(e) = <&[u8; N]>::try_from(e) else {
            return false;
        };
        let w64 = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&e[o..o + 8]);
            u64::from_le_bytes(w)
        };
        let w32 = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
        let (offset, sym, r_type, addend) = if is64 {
            let info = w64(8);
            (
                w64(0),
                (info >> 32) as u32,
                info as u32,
                if rela { w64(16) as i64 } else { 0 },
            )
        } else {
            let info = w32(4);
            (
                w32(0) as u64,
                info >> 8,
                info & 0xff,
                if rela { w32(8) as i32 as i64 } else { 0 },
            )
        };
        if !f(offset, sym, r_type, addend, table) {
            return false;
        }
    }
    true
}

impl Dynamic {
    /// Decodes the image at `bias` from its program headers (`raw_phdrs`, as returned by
    /// [`phdr_bytes`]).  `flags` are `DECODE_*`, with an optional `e_machine` hint in the high
    /// 16 bits for images whose ELF header is not mapped.
    pub fn decode(bias: usize, raw_phdrs: &[u8], flags: u32) -> Result<Dynamic> {
        if flags & 0xffff & !DECODE_FLAGS != 0 || flags & DECODE_FLAGS == DECODE_FLAGS {
            return Err(Error::Invalid);
        }
        let is64 = class_is64(flags);
        let class = if is64 {
            elf::ELFCLASS64
        } else {
            elf::ELFCLASS32
        };
        let mut d = Dynamic {
            bias,
            segs: Segments::default(),
            relro: (0, 0),
            dynamic: 0,
            symtab: 0,
            strtab: 0,
            strsz: 0,
            hash: 0,
            gnu_hash: 0,
            versym: 0,
            jmprel: (0, 0),
            rela: (0, 0),
            rel: (0, 0),
            relr: (0, 0),
            relcount: (0, 0),
            soname: 0,
            runpath: 0,
            rpath: 0,
            nsyms: 0,
            symoffset: 0,
            machine: 0,
            class,
            plt_rela: 0,
            bind_now: 0,
            reserved: [0; 7],
        };
        let mut dyn_seg: Option<(usize, usize)> = None;
        let mut header: Option<usize> = None;
        for p in phdrs(raw_phdrs, is64) {
            let start = bias.wrapping_add(p.vaddr as usize);
            match p.p_type {
                elf::PT_LOAD => {
                    d.segs.push(
                        start,
                        usize::try_from(p.memsz).map_err(|_| Error::Malformed)?,
                        p.flags,
                    )?;
                    if p.offset == 0 {
                        header = header.or(Some(start));
                    }
                }
                elf::PT_DYNAMIC => dyn_seg = Some((start, p.memsz as usize)),
                elf::PT_GNU_RELRO => d.relro = (start, start.wrapping_add(p.memsz as usize)),
                _ => {}
            }
        }
        if d.segs.count == 0 {
            return Err(Error::Malformed);
        }
        let (dyn_addr, dyn_size) = dyn_seg.ok_or(Error::NoDynamic)?;
        d.machine = Self::machine_of(&d.segs, header, class, flags)?;
        let arch = elf::arch(d.machine, class).ok_or(Error::Unsupported)?;
        d.dynamic = dyn_addr;
        d.read_dynamic(dyn_addr, dyn_size, arch)?;
        Ok(d)
    }

    fn machine_of(segs: &Segments, header: Option<usize>, class: u8, flags: u32) -> Result<u16> {
        if let Some(h) = header {
            if let Ok(id) = segs.bytes(h, 20) {
                if id[..4] == *b"\x7fELF" {
                    if id[4] != class {
                        return Err(Error::Malformed);
                    }
                    if id[5] != elf::ELFDATA2LSB {
                        return Err(Error::Unsupported);
                    }
                    return Ok(u16::from_le_bytes([id[18], id[19]]));
                }
            }
        }
        let hint = (flags >> 16) as u16;
        if hint != 0 {
            return Ok(hint);
        }
        match elf::host_arch() {
            Some(a) if a.class == class => Ok(a.machine),
            _ => Err(Error::Unsupported),
        }
    }

    fn is64(&self) -> bool {
        self.class == elf::ELFCLASS64
    }

    fn word_size(&self) -> usize {
        if self.is64() {
            8
        } else {
            4
        }
    }

    fn sym_size(&self) -> usize {
        if self.is64() {
            24
        } else {
            16
        }
    }

    /// The architecture row this image decodes with.
    pub fn arch(&self) -> Result<&'static Arch> {
        elf::arch(self.machine, self.class).ok_or(Error::Unsupported)
    }

    /// Normalises a `d_ptr`: absolute when it lies in a mapped range (glibc rewrote it),
    /// relative when it lies there after adding the bias (musl, the vDSO, unrewritten files).
    fn pointer(&self, v: u64) -> Result<usize> {
        let v = v as usize;
        if self.segs.contains(v, 1) {
            Ok(v)
        } else if self.segs.contains(v.wrapping_add(self.bias), 1) {
            Ok(v.wrapping_add(self.bias))
        } else {
            Err(Error::Malformed)
        }
    }

    fn read_dynamic(&mut self, addr: usize, size: usize, arch: &Arch) -> Result<()> {
        let ws = self.word_size();
        let ent = 2 * ws;
        let is64 = self.is64();
        let (mut symtab, mut strtab, mut strsz, mut syment) = (None, None, None, None);
        let (mut hash, mut gnu_hash, mut versym, mut soname) = (None, None, None, None);
        let (mut runpath, mut rpath) = (None, None);
        let (mut jmprel, mut pltrelsz, mut pltrel) = (None, 0u64, None);
        let (mut rela, mut relasz, mut relaent) = (None, 0u64, None);
        let (mut rel, mut relsz, mut relent) = (None, 0u64, None);
        let (mut relr, mut relrsz, mut relrent) = (None, 0u64, None);
        let (mut relacount, mut relcount) = (0u64, 0u64);
        let mut found_null = false;
        let count = (size / ent).min(MAX_DYN);
        for i in 0..count {
            let e = addr + i * ent;
            let tag = self.segs.word(e, is64)?;
            let tag = if is64 {
                tag as i64
            } else {
                tag as u32 as i32 as i64
            };
            let val = self.segs.word(e + ws, is64)?;
            match tag {
                dt::NULL => {
                    found_null = true;
                    break;
                }
                dt::SYMTAB => symtab = Some(val),
                dt::STRTAB => strtab = Some(val),
                dt::STRSZ => strsz = Some(val),
                dt::SYMENT => syment = Some(val),
                dt::HASH => hash = Some(val),
                dt::GNU_HASH => gnu_hash = Some(val),
                dt::VERSYM => versym = Some(val),
                dt::SONAME => soname = Some(val),
                dt::RUNPATH => runpath = Some(val),
                dt::RPATH => rpath = Some(val),
                dt::JMPREL => jmprel = Some(val),
                dt::PLTRELSZ => pltrelsz = val,
                dt::PLTREL => pltrel = Some(val),
                dt::RELA => rela = Some(val),
                dt::RELASZ => relasz = val,
                dt::RELAENT => relaent = Some(val),
                dt::REL => rel = Some(val),
                dt::RELSZ => relsz = val,
                dt::RELENT => relent = Some(val),
                dt::RELR => relr = Some(val),
                dt::RELRSZ => relrsz = val,
                dt::RELRENT => relrent = Some(val),
                dt::RELACOUNT => relacount = val,
                dt::RELCOUNT => relcount = val,
                dt::BIND_NOW => self.bind_now = 1,
                dt::FLAGS if val & elf::DF_BIND_NOW != 0 => self.bind_now = 1,
                dt::FLAGS_1 if val & elf::DF_1_NOW != 0 => self.bind_now = 1,
                _ => {}
            }
        }
        if !found_null {
            return Err(Error::Malformed);
        }
        // String and symbol tables are required: every import and symbol names through them.
        self.strtab = self.pointer(strtab.ok_or(Error::Malformed)?)?;
        self.strsz =
            usize::try_from(strsz.ok_or(Error::Malformed)?).map_err(|_| Error::Malformed)?;
        if self.strsz == 0 || !self.segs.contains(self.strtab, self.strsz) {
            return Err(Error::Malformed);
        }
        self.symtab = self.pointer(symtab.ok_or(Error::Malformed)?)?;
        if syment.is_some_and(|s| s as usize != self.sym_size()) || !self.symtab.is_multiple_of(4) {
            return Err(Error::Malformed);
        }
        for (off, out) in [
            (soname, &mut self.soname),
            (runpath, &mut self.runpath),
            (rpath, &mut self.rpath),
        ] {
            if let Some(s) = off {
                if s as usize >= self.strsz {
                    return Err(Error::Malformed);
                }
                *out = self.strtab + s as usize;
            }
        }
        if let Some(h) = hash {
            self.hash = self.pointer(h)?;
            self.check_sysv_hash()?;
        }
        if let Some(g) = gnu_hash {
            self.gnu_hash = self.pointer(g)?;
            self.check_gnu_hash()?;
        }
        self.nsyms = self.count_symbols()?;
        if !self
            .segs
            .contains(self.symtab, self.nsyms as usize * self.sym_size())
        {
            return Err(Error::Malformed);
        }
        if let Some(v) = versym {
            self.versym = self.pointer(v)?;
            if !self.versym.is_multiple_of(2)
                || !self.segs.contains(self.versym, self.nsyms as usize * 2)
            {
                return Err(Error::Malformed);
            }
        }
        let rela_ent = if is64 { 24 } else { 12 };
        let rel_ent = if is64 { 16 } else { 8 };
        if let Some(j) = jmprel {
            let ent = match pltrel {
                Some(v) if v as i64 == dt::RELA => rela_ent,
                Some(v) if v as i64 == dt::REL => rel_ent,
                None if arch.rela => rela_ent,
                None => rel_ent,
                Some(_) => return Err(Error::Malformed),
            };
            self.plt_rela = (ent == rela_ent) as u8;
            self.jmprel = self.table(j, pltrelsz, ent)?;
        }
        if let Some(r) = rela {
            if relaent.is_some_and(|e| e as usize != rela_ent) {
                return Err(Error::Malformed);
            }
            self.rela = self.table(r, relasz, rela_ent)?;
        }
        if let Some(r) = rel {
            if relent.is_some_and(|e| e as usize != rel_ent) {
                return Err(Error::Malformed);
            }
            self.rel = self.table(r, relsz, rel_ent)?;
        }
        if let Some(r) = relr {
            if relrent.is_some_and(|e| e as usize != ws) {
                return Err(Error::Malformed);
            }
            self.relr = self.table(r, relrsz, ws)?;
        }
        let relacount = relacount as usize;
        let relcount = relcount as usize;
        if relacount > self.rela.1 / rela_ent || relcount > self.rel.1 / rel_ent {
            return Err(Error::Malformed);
        }
        self.relcount = (relacount, relcount);
        Ok(())
    }

    fn table(&self, addr: u64, size: u64, ent: usize) -> Result<(usize, usize)> {
        let size = usize::try_from(size).map_err(|_| Error::Malformed)?;
        if size == 0 {
            return Ok((0, 0));
        }
        let addr = self.pointer(addr)?;
        if size % ent != 0 || addr % 4 != 0 || !self.segs.contains(addr, size) {
            return Err(Error::Malformed);
        }
        Ok((addr, size))
    }

    fn check_sysv_hash(&self) -> Result<()> {
        let nbucket = self.segs.u32(self.hash)? as usize;
        let nchain = self.segs.u32(self.hash + 4)? as usize;
        let len = nbucket
            .checked_add(nchain)
            .and_then(|n| n.checked_mul(4))
            .ok_or(Error::Malformed)?;
        if !self.hash.is_multiple_of(4) || nbucket == 0 || !self.segs.contains(self.hash + 8, len) {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// GNU hash layout: (nbuckets, symoffset, bloom words, bloom shift, bloom, buckets, chains).
    fn gnu_parts(&self) -> Result<(usize, u32, usize, u32, usize, usize)> {
        let h = self.gnu_hash;
        let nbuckets = self.segs.u32(h)? as usize;
        let symoffset = self.segs.u32(h + 4)?;
        let nbloom = self.segs.u32(h + 8)? as usize;
        let shift = self.segs.u32(h + 12)?;
        let bloom = h + 16;
        let buckets = nbloom
            .checked_mul(self.word_size())
            .and_then(|b| bloom.checked_add(b))
            .ok_or(Error::Malformed)?;
        if !h.is_multiple_of(4) || nbuckets == 0 || nbloom == 0 || !nbloom.is_power_of_two() {
            return Err(Error::Malformed);
        }
        if !self.segs.contains(bloom, buckets - bloom)
            || !self
                .segs
                .contains(buckets, nbuckets.checked_mul(4).ok_or(Error::Malformed)?)
        {
            return Err(Error::Malformed);
        }
        Ok((nbuckets, symoffset, nbloom, shift, bloom, buckets))
    }

    fn check_gnu_hash(&mut self) -> Result<()> {
        let (_, symoffset, ..) = self.gnu_parts()?;
        self.symoffset = symoffset;
        Ok(())
    }

    fn count_symbols(&self) -> Result<u32> {
        if self.hash != 0 {
            return self.segs.u32(self.hash + 4);
        }
        if self.gnu_hash != 0 {
            let (nbuckets, symoffset, _, _, _, buckets) = self.gnu_parts()?;
            let chains = buckets + nbuckets * 4;
            let mut last = 0u32;
            for b in 0..nbuckets {
                last = last.max(self.segs.u32(buckets + b * 4)?);
            }
            if last == 0 {
                return Ok(symoffset);
            }
            if last < symoffset {
                return Err(Error::Malformed);
            }
            // Walk the last chain to its terminator; each read is bounds-checked, so a chain
            // without a terminator ends at the end of its segment with Malformed.
            let mut i = last;
            loop {
                let c = self.segs.u32(chains + (i - symoffset) as usize * 4)?;
                if c & 1 != 0 {
                    return i.checked_add(1).ok_or(Error::Malformed);
                }
                i = i.checked_add(1).ok_or(Error::Malformed)?;
            }
        }
        // No hash table: the symbol table conventionally ends where the string table starts.
        if self.strtab > self.symtab {
            let r = self
                .segs
                .containing(self.symtab, 1)
                .ok_or(Error::Malformed)?;
            let end = self.strtab.min(r.end);
            return u32::try_from((end - self.symtab) / self.sym_size())
                .map_err(|_| Error::Malformed);
        }
        Ok(0)
    }

    /// The symbol at `index`.
    pub fn symbol(&self, index: u32) -> Result<Symbol<'_>> {
        if index >= self.nsyms {
            return Err(Error::Malformed);
        }
        let a = self.symtab + index as usize * self.sym_size();
        let b = self.segs.bytes(a, self.sym_size())?;
        let u32at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let (st_name, value, size, info, other, shndx) = if self.is64() {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[8..16]);
            let mut s = [0u8; 8];
            s.copy_from_slice(&b[16..24]);
            (
                u32at(0),
                u64::from_le_bytes(v),
                u64::from_le_bytes(s),
                b[4],
                b[5],
                u16::from_le_bytes([b[6], b[7]]),
            )
        } else {
            (
                u32at(0),
                u32at(4) as u64,
                u32at(8) as u64,
                b[12],
                b[13],
                u16::from_le_bytes([b[14], b[15]]),
            )
        };
        let name = self.string(st_name)?;
        let versym = if self.versym != 0 {
            self.segs.u16(self.versym + index as usize * 2)?
        } else {
            1
        };
        Ok(Symbol {
            index,
            name,
            value,
            size,
            info,
            other,
            shndx,
            versym,
        })
    }

    /// The string at offset `off` of the string table.
    pub fn string(&self, off: u32) -> Result<&[u8]> {
        let off = off as usize;
        if off >= self.strsz {
            return Err(Error::Malformed);
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
        let matches =
            |s: &Symbol<'_>| s.name == name && (!definitions_only || s.is_default_definition());
        if self.gnu_hash != 0 {
            if linear {
                for i in 1..self.symoffset.min(self.nsyms) {
                    let s = self.symbol(i)?;
                    if s.name == name && !f(&s) {
                        return Ok(());
                    }
                }
            }
            let (nbuckets, symoffset, nbloom, shift, bloom, buckets) = self.gnu_parts()?;
            let h = elf::gnu_hash(name);
            let bits = (self.word_size() * 8) as u32;
            let word = self.segs.word(
                bloom + ((h / bits) as usize & (nbloom - 1)) * self.word_size(),
                self.is64(),
            )?;
            let mask = (1u64 << (h % bits)) | (1u64 << ((h >> (shift % 32)) % bits));
            if word & mask != mask {
                return Ok(());
            }
            let chains = buckets + nbuckets * 4;
            let mut i = self.segs.u32(buckets + (h as usize % nbuckets) * 4)?;
            if i == 0 {
                return Ok(());
            }
            if i < symoffset {
                return Err(Error::Malformed);
            }
            while i < self.nsyms {
                let c = self.segs.u32(chains + (i - symoffset) as usize * 4)?;
                if c | 1 == h | 1 {
                    let s = self.symbol(i)?;
                    if matches(&s) && !f(&s) {
                        return Ok(());
                    }
                }
                if c & 1 != 0 {
                    return Ok(());
                }
                i += 1;
            }
            return Err(Error::Malformed);
        }
        if self.hash != 0 {
            let nbucket = self.segs.u32(self.hash)? as usize;
            let nchain = self.segs.u32(self.hash + 4)?;
            let h = elf::sysv_hash(name) as usize;
            let mut i = self.segs.u32(self.hash + 8 + (h % nbucket) * 4)?;
            let chains = self.hash + 8 + nbucket * 4;
            // A chain visits each index at most once; more steps than entries means a cycle.
            for _ in 0..=nchain {
                if i == 0 {
                    return Ok(());
                }
                if i >= nchain {
                    return Err(Error::Malformed);
                }
                let s = self.symbol(i)?;
                if matches(&s) && !f(&s) {
                    return Ok(());
                }
                i = self.segs.u32(chains + i as usize * 4)?;
            }
            return Err(Error::Malformed);
        }
        for i in 1..self.nsyms {
            let s = self.symbol(i)?;
            if matches(&s) && !f(&s) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Visits the raw entries of the relocation tables that can hold imports, in table order:
    /// DT_JMPREL first, then DT_RELA (after its DT_RELACOUNT leading RELATIVE entries) and DT_REL.
    /// Each table's range was checked at decode time and is read as one slice, so an entry costs
    /// a few loads.  `f` gets (r_offset, symbol index, type, addend, table) and returns `false`
    /// to stop.
    pub fn for_each_raw_reloc(
        &self,
        mut f: impl FnMut(u64, u32, u32, i64, Table) -> bool,
    ) -> Result<()> {
        let is64 = self.is64();
        let rela_ent = if is64 { 24 } else { 12 };
        let rel_ent = if is64 { 16 } else { 8 };
        let plt_ent = if self.plt_rela != 0 {
            rela_ent
        } else {
            rel_ent
        };
        let (j, jsz) = self.jmprel;
        let mut go = true;
        let mut visit =
            |start: usize, end: usize, ent: usize, rela: bool, table: Table| -> Result<()> {
                // Some linkers make DT_RELASZ cover .rela.plt too; JMPREL is visited on its own.
                let ranges = if table != Table::JmpRel && jsz != 0 && j < end && j + jsz > start {
                    [(start, j.max(start)), ((j + jsz).min(end), end)]
                } else {
                    [(start, end), (end, end)]
                };
                for (a, b) in ranges {
                    if !go || b <= a {
                        continue;
                    }
                    let bytes = self.segs.bytes(a, (b - a) / ent * ent)?;
                    go = match (is64, rela) {
                        (true, true) => entries::<24>(bytes, true, true, table, &mut f),
                        (true, false) => entries::<16>(bytes, true, false, table, &mut f),
                        (false, true) => entries::<12>(bytes, false, true, table, &mut f),
                        (false, false) => entries::<8>(bytes, false, false, table, &mut f),
                    };
                }
                Ok(())
            };
        visit(j, j + jsz, plt_ent, self.plt_rela != 0, Table::JmpRel)?;
        let (r, rsz) = self.rela;
        visit(
            r + self.relcount.0 * rela_ent,
            r + rsz,
            rela_ent,
            true,
            Table::Rela,
        )?;
        let (r, rsz) = self.rel;
        visit(
            r + self.relcount.1 * rel_ent,
            r + rsz,
            rel_ent,
            false,
            Table::Rel,
        )?;
        Ok(())
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
            return Err(Error::Malformed);
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
                if let Some(r) = self.segs.containing(slot, ws) {
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

    /// Calls `f(k, index)` for each symbol index below `end` whose name equals `names[k]`: one
    /// pass over the symbol and string tables read as slices (no per-symbol string scan).
    pub fn find_names_below(
        &self,
        end: u32,
        names: &[&[u8]],
        mut f: impl FnMut(usize, u32),
    ) -> Result<()> {
        let end = end.min(self.nsyms);
        if end <= 1 {
            return Ok(());
        }
        let ent = self.sym_size();
        let syms = self.segs.bytes(self.symtab, end as usize * ent)?;
        let strtab = self.segs.bytes(self.strtab, self.strsz)?;
        let mut first = [false; 256];
        for n in names {
            if let Some(&c) = n.first() {
                first[c as usize] = true;
            }
        }
        for (i, e) in syms.chunks_exact(ent).enumerate().skip(1) {
            let off = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize;
            let tail = strtab.get(off..).ok_or(Error::Malformed)?;
            if !tail.first().is_some_and(|&c| first[c as usize]) {
                continue;
            }
            for (k, n) in names.iter().enumerate() {
                if tail.len() > n.len() && tail[n.len()] == 0 && tail[..n.len()] == **n {
                    f(k, i as u32);
                }
            }
        }
        Ok(())
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

    /// The protection a page of this image has once the image is fully loaded:
    /// read-only inside the page-rounded RELRO range, else the flags of the last PT_LOAD that
    /// maps the page (the loader maps segments in order, later ones over earlier ones).
    pub fn page_protection(&self, page: usize, page_size: usize) -> Option<u32> {
        let down = |a: usize| a & !(page_size - 1);
        if self.relro.1 > self.relro.0 && page >= down(self.relro.0) && page < down(self.relro.1) {
            return Some(elf::PF_R);
        }
        let up = |a: usize| a.checked_add(page_size - 1).map(|x| x & !(page_size - 1));
        self.segs
            .iter()
            .filter(|r| page >= down(r.start) && up(r.end).is_some_and(|e| page < e))
            .last()
            .map(|r| r.flags)
    }

    /// Whether `addr` lies inside one of the image's mapped segments.
    pub fn contains(&self, addr: usize) -> bool {
        self.segs.contains(addr, 1)
    }
}
