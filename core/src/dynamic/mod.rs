//! PT_DYNAMIC decoding of one image: collect the tags, validate each table once, then answer
//! symbols, imports and hash lookups, over any [`Memory`] (a library mapped in this process or
//! an ELF file in a byte slice).  Never reads outside the segments: every table is checked at
//! decode time and every read again by the reader; malformed input gives
//! `Error::Malformed(check)`, never a fault, an out-of-bounds read or an endless loop.

mod relocs;
mod symbols;

use core::mem::size_of;

use crate::elf::{self, dt, Arch, Class, Elf32, Elf64};
use crate::error::{Error, Result};
use crate::mem::Segments;
pub use crate::read::phdr_bytes;
use crate::read::{self, FileImage, Memory, ProcessImage};

/// Decode flag: the program headers and the image are ELF32 (default: the host's class).
pub const DECODE_ELF32: u32 = 1;
/// Decode flag: the image is ELF64 even on a 32-bit host.
pub const DECODE_ELF64: u32 = 2;
/// Mask of the valid decode flags (the high 16 bits may carry an `e_machine` hint).
pub const DECODE_FLAGS: u32 = DECODE_ELF32 | DECODE_ELF64;

/// Most program headers accepted (the kernel's own limit is 64 KiB of headers).
pub(crate) const MAX_PHNUM: usize = 4096;
/// Most dynamic entries read before giving up on a missing DT_NULL.
const MAX_DYN: usize = 4096;

/// Shorthand for the error of a failed check.
pub(crate) const fn bad(check: &'static str) -> Error {
    Error::Malformed(check)
}

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

/// DT_GNU_HASH, parsed once at decode time (absolute addresses of its parts).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnuHash {
    /// Number of bucket words.
    pub nbuckets: u32,
    /// First symbol index the table covers.
    pub symoffset: u32,
    /// Number of bloom words (a power of two).
    pub bloom_words: u32,
    /// Bloom filter's second shift.
    pub bloom_shift: u32,
    /// The bloom words.
    pub bloom: usize,
    /// The bucket words.
    pub buckets: usize,
    /// The chain words (one per symbol from `symoffset`).
    pub chains: usize,
}

/// DT_HASH, parsed once at decode time (absolute addresses of its parts).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysvHash {
    /// Number of bucket words.
    pub nbucket: u32,
    /// Number of chain words: the number of symbols.
    pub nchain: u32,
    /// The bucket words.
    pub buckets: usize,
    /// The chain words.
    pub chains: usize,
}

/// A decoded dynamic section: a plain, copyable value over the image's memory `M`.  All
/// addresses are as the image is addressed (absolute in this process for a [`ProcessImage`],
/// virtual addresses for a [`FileImage`]).  A `Dynamic<ProcessImage>` reads the library's
/// memory, so it is meaningful only while the library stays mapped: inside the walk callback,
/// or for an image that is never unloaded (see [`ProcessImage::new`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Dynamic<M = ProcessImage> {
    /// Load bias (`dlpi_addr`, `l_addr`).
    pub bias: usize,
    /// The memory of the image: its mapped PT_LOAD ranges and the reader over them.
    pub segs: M,
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
    /// DT_GNU_HASH's parts (all zero without it).
    pub gnu: GnuHash,
    /// DT_HASH's parts (all zero without it).
    pub sysv: SysvHash,
}

/// A library decoded inside the walk callback that reported it: derefs to its [`Dynamic`] and
/// borrows the callback's [`crate::LibInfo`], so it cannot outlive the callback (the library
/// may be unmapped after it), and the `Dynamic` inside cannot be copied out.
#[derive(Debug)]
pub struct Mapped<'lib> {
    d: Dynamic,
    _lib: core::marker::PhantomData<&'lib ()>,
}

impl Mapped<'_> {
    /// Binds a decoded process image to a borrow no longer than the one it was decoded under.
    pub(crate) fn new(d: Dynamic) -> Self {
        Mapped {
            d,
            _lib: core::marker::PhantomData,
        }
    }
}

impl core::ops::Deref for Mapped<'_> {
    type Target = Dynamic;
    fn deref(&self) -> &Dynamic {
        &self.d
    }
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
pub use elf::ProgramHeader as Phdr;

/// Iterates program headers given as raw bytes of `phnum` entries.
pub fn phdrs(raw: &[u8], is64: bool) -> impl Iterator<Item = Phdr> + '_ {
    let (wide, narrow): (&[u8], &[u8]) = if is64 { (raw, &[]) } else { (&[], raw) };
    read::program_headers::<Elf64>(wide).chain(read::program_headers::<Elf32>(narrow))
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
        size_of::<elf::Phdr64>()
    } else {
        size_of::<elf::Phdr32>()
    }
}

/// Checks decode `flags` and answers whether they select ELF64.
pub(crate) fn decode_class(flags: u32) -> Result<bool> {
    if flags & 0xffff & !DECODE_FLAGS != 0 || flags & DECODE_FLAGS == DECODE_FLAGS {
        return Err(Error::Invalid);
    }
    Ok(class_is64(flags))
}

/// The PT_LOAD ranges of an image loaded at `bias`.
pub fn load_segments(bias: usize, raw_phdrs: &[u8], is64: bool) -> Result<Segments> {
    let mut segs = Segments::default();
    fill_segments(&mut segs, bias, raw_phdrs, is64)?;
    Ok(segs)
}

/// [`load_segments`] into `segs` (emptied first), for a decode in place.
pub(crate) fn fill_segments(
    segs: &mut Segments,
    bias: usize,
    raw_phdrs: &[u8],
    is64: bool,
) -> Result<()> {
    segs.count = 0;
    for r in segs.ranges.iter_mut() {
        *r = crate::mem::Range::default();
    }
    for p in phdrs(raw_phdrs, is64).filter(|p| p.p_type == elf::PT_LOAD) {
        let len =
            usize::try_from(p.memsz).map_err(|_| bad("PT_LOAD larger than the address space"))?;
        segs.push(bias.wrapping_add(p.vaddr as usize), len, p.flags)?;
    }
    Ok(())
}

/// Index under which a dynamic tag is collected (`None`: not read).  Only the tags the decoder
/// reads: the values sit in the decoder's frame, which runs inside malloc hooks.
fn tag_slot(tag: i64) -> Option<usize> {
    Some(match tag {
        dt::PLTRELSZ => 0,
        dt::HASH => 1,
        dt::STRTAB => 2,
        dt::SYMTAB => 3,
        dt::RELA => 4,
        dt::RELASZ => 5,
        dt::RELAENT => 6,
        dt::STRSZ => 7,
        dt::SYMENT => 8,
        dt::SONAME => 9,
        dt::RPATH => 10,
        dt::REL => 11,
        dt::RELSZ => 12,
        dt::RELENT => 13,
        dt::PLTREL => 14,
        dt::JMPREL => 15,
        dt::BIND_NOW => 16,
        dt::RUNPATH => 17,
        dt::FLAGS => 18,
        dt::RELRSZ => 19,
        dt::RELR => 20,
        dt::RELRENT => 21,
        dt::GNU_HASH => 22,
        dt::VERSYM => 23,
        dt::RELACOUNT => 24,
        dt::RELCOUNT => 25,
        dt::FLAGS_1 => 26,
        _ => return None,
    })
}

/// Number of tags [`tag_slot`] collects.
const TAGS_READ: usize = 27;

/// The values of the tags gothook reads, collected in one pass over the dynamic array (the
/// last entry of a repeated tag wins, as in glibc and musl).
struct Tags {
    val: [u64; TAGS_READ],
    seen: u32,
}

impl Tags {
    /// Collects into `t` (in place: the caller's frame holds the only copy).
    fn collect<C: Class, M: Memory>(t: &mut Tags, mem: &M, addr: usize, size: usize) -> Result<()> {
        let ent = size_of::<C::Dyn>();
        for i in 0..(size / ent).min(MAX_DYN) {
            let at = addr
                .checked_add(i * ent)
                .ok_or(bad("dynamic array wraps around"))?;
            let (tag, val) = C::dyn_entry(mem.read::<C::Dyn>(at)?);
            if tag == dt::NULL {
                return Ok(());
            }
            if let Some(s) = tag_slot(tag) {
                t.val[s] = val;
                t.seen |= 1 << s;
            }
        }
        Err(bad("dynamic array without DT_NULL"))
    }

    fn get(&self, tag: i64) -> Option<u64> {
        debug_assert!(tag_slot(tag).is_some(), "tag {tag:#x} is not in TAGS_READ");
        let s = tag_slot(tag)?;
        (self.seen & (1 << s) != 0).then_some(self.val[s])
    }

    /// A size tag's value, 0 when absent.
    fn size(&self, tag: i64) -> Result<usize> {
        usize::try_from(self.get(tag).unwrap_or(0)).map_err(|_| bad("table size too large"))
    }

    fn bind_now(&self) -> bool {
        self.get(dt::BIND_NOW).is_some()
            || self.get(dt::FLAGS).unwrap_or(0) & elf::DF_BIND_NOW != 0
            || self.get(dt::FLAGS_1).unwrap_or(0) & elf::DF_1_NOW != 0
    }
}

impl<'a> Dynamic<FileImage<'a>> {
    /// Decodes an ELF file held in `data`, as if loaded at bias 0 (addresses are vaddrs).
    pub fn from_file(data: &'a [u8]) -> Result<Self> {
        let (img, class) = FileImage::parse(data)?;
        let (raw, flags) = if class == elf::ELFCLASS64 {
            (read::phdr_table::<Elf64>(data)?, DECODE_ELF64)
        } else {
            (read::phdr_table::<Elf32>(data)?, DECODE_ELF32)
        };
        Dynamic::decode_in(img, 0, raw, flags)
    }

    /// Decodes an image held in `data` at the file offsets of the program headers `raw_phdrs`
    /// (bias 0), with decode `flags` as for [`Dynamic::decode`]: a fuzz input or a test image.
    pub fn from_image(data: &'a [u8], raw_phdrs: &[u8], flags: u32) -> Result<Self> {
        let img = FileImage::new(data, phdrs(raw_phdrs, decode_class(flags)?))?;
        Dynamic::decode_in(img, 0, raw_phdrs, flags)
    }
}

impl<M: Memory> Dynamic<M> {
    fn empty(segs: M, bias: usize, class: u8) -> Self {
        Dynamic {
            bias,
            segs,
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
            gnu: GnuHash::default(),
            sysv: SysvHash::default(),
        }
    }

    /// Every field but the memory back to what [`Dynamic::empty`] gives, for a decode in place.
    pub(crate) fn reset(&mut self, bias: usize, class: u8) {
        self.bias = bias;
        self.relro = (0, 0);
        self.dynamic = 0;
        self.symtab = 0;
        self.strtab = 0;
        self.strsz = 0;
        self.hash = 0;
        self.gnu_hash = 0;
        self.versym = 0;
        self.jmprel = (0, 0);
        self.rela = (0, 0);
        self.rel = (0, 0);
        self.relr = (0, 0);
        self.relcount = (0, 0);
        self.soname = 0;
        self.runpath = 0;
        self.rpath = 0;
        self.nsyms = 0;
        self.symoffset = 0;
        self.machine = 0;
        self.class = class;
        self.plt_rela = 0;
        self.bind_now = 0;
        self.reserved = [0; 7];
        self.gnu = GnuHash::default();
        self.sysv = SysvHash::default();
    }

    /// Decodes the image in `mem`, loaded at `bias`: program headers, then the dynamic tags,
    /// then each table.
    pub(crate) fn decode_in(mem: M, bias: usize, raw_phdrs: &[u8], flags: u32) -> Result<Self> {
        let is64 = decode_class(flags)?;
        let class = if is64 {
            elf::ELFCLASS64
        } else {
            elf::ELFCLASS32
        };
        let mut d = Dynamic::empty(mem, bias, class);
        d.fill(raw_phdrs, flags, true)?;
        Ok(d)
    }

    /// Decodes the tables of an image whose memory, bias and class are set and every other
    /// field empty (see [`Dynamic::reset`]); `tables` false stops after the string table.
    /// Not inlined: the tag values it collects are on the stack only here, not in the frames
    /// of the decoders that place the result (in place, for gothook's own passes).
    #[inline(never)]
    pub(crate) fn fill(&mut self, raw_phdrs: &[u8], flags: u32, tables: bool) -> Result<()> {
        let is64 = self.is64();
        let class = self.class;
        let bias = self.bias;
        if self.segs.segments().iter().next().is_none() {
            return Err(bad("no PT_LOAD segment"));
        }
        let d = self;
        let (mut dyn_seg, mut header) = (None, None);
        for p in phdrs(raw_phdrs, is64) {
            let start = bias.wrapping_add(p.vaddr as usize);
            match p.p_type {
                elf::PT_LOAD if p.offset == 0 => header = header.or(Some(start)),
                elf::PT_DYNAMIC => dyn_seg = Some((start, p.memsz as usize)),
                elf::PT_GNU_RELRO => d.relro = (start, start.wrapping_add(p.memsz as usize)),
                _ => {}
            }
        }
        let (dyn_addr, dyn_size) = dyn_seg.ok_or(Error::NoDynamic)?;
        d.machine = d.machine_of(header, flags)?;
        let arch = elf::arch(d.machine, class).ok_or(Error::Unsupported)?;
        d.dynamic = dyn_addr;
        let mut tags = Tags {
            val: [0; TAGS_READ],
            seen: 0,
        };
        if is64 {
            Tags::collect::<Elf64, M>(&mut tags, &d.segs, dyn_addr, dyn_size)?;
        } else {
            Tags::collect::<Elf32, M>(&mut tags, &d.segs, dyn_addr, dyn_size)?;
        }
        d.bind_now = tags.bind_now() as u8;
        d.strings(&tags)?;
        if !tables {
            return Ok(());
        }
        d.symbols(&tags)?;
        d.relocations(&tags, arch)?;
        d.cover_unhashed_imports()?;
        Ok(())
    }

    /// An object that exports nothing can carry an empty DT_GNU_HASH (no bucket used) whose
    /// `symoffset` lies below its imports (GNU ld for aarch64 writes 1 for an executable with
    /// no exports): the hash table then gives no symbol count and the imports sit above
    /// `symoffset`.  Count the symbols up to the largest one a relocation names, so the imports
    /// are iterated and found by the linear pass below `symoffset`.
    fn cover_unhashed_imports(&mut self) -> Result<()> {
        if self.hash != 0 || self.gnu_hash == 0 {
            return Ok(());
        }
        let buckets = self
            .segs
            .slice::<elf::U32>(self.gnu.buckets, self.gnu.nbuckets as usize)?;
        if buckets.iter().any(|b| b.get() != 0) {
            return Ok(());
        }
        let mut top = self.nsyms;
        self.for_each_raw_reloc(|_, sym, _, _, _| {
            top = top.max(sym.saturating_add(1));
            true
        })?;
        if top == self.nsyms {
            return Ok(());
        }
        if !self
            .segs
            .contains(self.symtab, top as usize * self.sym_size())
            || (self.versym != 0 && !self.segs.contains(self.versym, top as usize * 2))
        {
            return Err(bad("relocation names a symbol past the symbol table"));
        }
        self.nsyms = top;
        self.symoffset = top;
        Ok(())
    }

    /// `e_machine` from the mapped ELF header, else the caller's hint, else the host's.
    fn machine_of(&self, header: Option<usize>, flags: u32) -> Result<u16> {
        if let Some(id) = header.and_then(|h| self.segs.read::<elf::Ident>(h).ok()) {
            if id.magic == elf::ELFMAG {
                if id.class != self.class {
                    return Err(bad("ELF header class differs from the decode class"));
                }
                if id.data != elf::ELFDATA2LSB {
                    return Err(Error::Unsupported);
                }
                return Ok(id.e_machine.get());
            }
        }
        let hint = (flags >> 16) as u16;
        if hint != 0 {
            return Ok(hint);
        }
        match elf::host_arch() {
            Some(a) if a.class == self.class => Ok(a.machine),
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
            size_of::<elf::Sym64>()
        } else {
            size_of::<elf::Sym32>()
        }
    }

    fn rela_size(&self) -> usize {
        if self.is64() {
            size_of::<elf::Rela64>()
        } else {
            size_of::<elf::Rela32>()
        }
    }

    fn rel_size(&self) -> usize {
        if self.is64() {
            size_of::<elf::Rel64>()
        } else {
            size_of::<elf::Rel32>()
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
            Err(bad("dynamic pointer outside the mapped segments"))
        }
    }

    /// DT_STRTAB / DT_STRSZ (required: every name goes through them) and the names in them.
    fn strings(&mut self, t: &Tags) -> Result<()> {
        self.strtab = self.pointer(t.get(dt::STRTAB).ok_or(bad("no DT_STRTAB"))?)?;
        self.strsz = usize::try_from(t.get(dt::STRSZ).ok_or(bad("no DT_STRSZ"))?)
            .map_err(|_| bad("DT_STRSZ too large"))?;
        if self.strsz == 0 || !self.segs.contains(self.strtab, self.strsz) {
            return Err(bad("string table ends outside its segment"));
        }
        let name = |tag: i64| match t.get(tag) {
            None => Ok(0),
            Some(off) if (off as usize) < self.strsz => Ok(self.strtab + off as usize),
            Some(_) => Err(bad("DT_SONAME, DT_RUNPATH or DT_RPATH past DT_STRSZ")),
        };
        (self.soname, self.runpath, self.rpath) =
            (name(dt::SONAME)?, name(dt::RUNPATH)?, name(dt::RPATH)?);
        Ok(())
    }

    /// DT_SYMTAB, the hash tables, the symbol count they imply, and DT_VERSYM.
    fn symbols(&mut self, t: &Tags) -> Result<()> {
        self.symtab = self.pointer(t.get(dt::SYMTAB).ok_or(bad("no DT_SYMTAB"))?)?;
        if t.get(dt::SYMENT)
            .is_some_and(|s| s as usize != self.sym_size())
        {
            return Err(bad("DT_SYMENT is not the class's symbol size"));
        }
        if !self.symtab.is_multiple_of(4) {
            return Err(bad("misaligned DT_SYMTAB"));
        }
        if let Some(h) = t.get(dt::HASH) {
            self.hash = self.pointer(h)?;
            self.sysv = self.parse_sysv_hash()?;
        }
        if let Some(g) = t.get(dt::GNU_HASH) {
            self.gnu_hash = self.pointer(g)?;
            self.gnu = self.parse_gnu_hash()?;
            self.symoffset = self.gnu.symoffset;
        }
        self.nsyms = self.count_symbols()?;
        if !self
            .segs
            .contains(self.symtab, self.nsyms as usize * self.sym_size())
        {
            return Err(bad("symbol table ends outside its segment"));
        }
        if let Some(v) = t.get(dt::VERSYM) {
            self.versym = self.pointer(v)?;
            if !self.versym.is_multiple_of(2)
                || !self.segs.contains(self.versym, self.nsyms as usize * 2)
            {
                return Err(bad("DT_VERSYM misaligned or ending outside its segment"));
            }
        }
        Ok(())
    }

    fn parse_sysv_hash(&self) -> Result<SysvHash> {
        if !self.hash.is_multiple_of(4) {
            return Err(bad("misaligned DT_HASH"));
        }
        let h = self.segs.read::<elf::SysvHashHeader>(self.hash)?;
        let (nbucket, nchain) = (h.nbucket.get(), h.nchain.get());
        if nbucket == 0 {
            return Err(bad("DT_HASH without buckets"));
        }
        let buckets = self.hash + size_of::<elf::SysvHashHeader>();
        let len = (nbucket as usize)
            .checked_add(nchain as usize)
            .and_then(|n| n.checked_mul(4))
            .ok_or(bad("DT_HASH sizes overflow"))?;
        if !self.segs.contains(buckets, len) {
            return Err(bad("DT_HASH buckets or chains end outside the segment"));
        }
        Ok(SysvHash {
            nbucket,
            nchain,
            buckets,
            chains: buckets + nbucket as usize * 4,
        })
    }

    fn parse_gnu_hash(&self) -> Result<GnuHash> {
        if !self.gnu_hash.is_multiple_of(4) {
            return Err(bad("misaligned DT_GNU_HASH"));
        }
        let h = self.segs.read::<elf::GnuHashHeader>(self.gnu_hash)?;
        let (nbuckets, bloom_words) = (h.nbuckets.get(), h.bloom_size.get());
        if nbuckets == 0 || !bloom_words.is_power_of_two() {
            return Err(bad(
                "GNU hash without buckets or with a bloom size not a power of 2",
            ));
        }
        let bloom = self.gnu_hash + size_of::<elf::GnuHashHeader>();
        let bloom_len = bloom_words as usize * self.word_size();
        let buckets_len = nbuckets as usize * 4;
        if !self.segs.contains(bloom, bloom_len) {
            return Err(bad("GNU hash bloom filter ends outside the segment"));
        }
        if !self.segs.contains(bloom + bloom_len, buckets_len) {
            return Err(bad("GNU hash buckets end outside the segment"));
        }
        Ok(GnuHash {
            nbuckets,
            symoffset: h.symoffset.get(),
            bloom_words,
            bloom_shift: h.bloom_shift.get(),
            bloom,
            buckets: bloom + bloom_len,
            chains: bloom + bloom_len + buckets_len,
        })
    }

    /// The number of dynamic symbols: DT_HASH's `nchain`, else the end of the GNU hash chain
    /// that starts highest, else (no hash table) up to the string table that conventionally
    /// follows the symbol table.
    fn count_symbols(&self) -> Result<u32> {
        if self.hash != 0 {
            return Ok(self.sysv.nchain);
        }
        if self.gnu_hash != 0 {
            let g = &self.gnu;
            let buckets = self
                .segs
                .slice::<elf::U32>(g.buckets, g.nbuckets as usize)?;
            let last = buckets.iter().map(|b| b.get()).max().unwrap_or(0);
            if last == 0 {
                return Ok(g.symoffset);
            }
            if last < g.symoffset {
                return Err(bad("GNU hash bucket below symoffset"));
            }
            // Walk the last chain to its terminator; each read is bounds-checked, so a chain
            // without a terminator ends at the end of its segment.
            let mut i = last;
            loop {
                let c = self
                    .segs
                    .u32(g.chains + (i - g.symoffset) as usize * 4)
                    .map_err(|_| bad("GNU hash chain ends outside the segment"))?;
                i = i.checked_add(1).ok_or(bad("GNU hash chain too long"))?;
                if c & 1 != 0 {
                    return Ok(i);
                }
            }
        }
        if self.strtab > self.symtab {
            let r = self
                .segs
                .segments()
                .containing(self.symtab, 1)
                .ok_or(bad("DT_SYMTAB outside the mapped segments"))?;
            let end = self.strtab.min(r.end);
            return u32::try_from((end - self.symtab) / self.sym_size())
                .map_err(|_| bad("symbol table too large"));
        }
        Ok(0)
    }

    /// JMPREL, RELA, REL and RELR: entry sizes, alignment, extent, leading RELATIVE counts.
    fn relocations(&mut self, t: &Tags, arch: &Arch) -> Result<()> {
        let (rela_ent, rel_ent, ws) = (self.rela_size(), self.rel_size(), self.word_size());
        if let Some(j) = t.get(dt::JMPREL) {
            let rela = match t.get(dt::PLTREL) {
                Some(v) if v == dt::RELA as u64 => true,
                Some(v) if v == dt::REL as u64 => false,
                None => arch.rela,
                Some(_) => return Err(bad("DT_PLTREL is neither DT_RELA nor DT_REL")),
            };
            self.plt_rela = rela as u8;
            let ent = if rela { rela_ent } else { rel_ent };
            self.jmprel = self.table(j, t.size(dt::PLTRELSZ)?, ent)?;
        }
        let entry_sizes = [
            (dt::RELAENT, rela_ent),
            (dt::RELENT, rel_ent),
            (dt::RELRENT, ws),
        ];
        if entry_sizes
            .iter()
            .any(|&(tag, ent)| t.get(tag).is_some_and(|e| e as usize != ent))
        {
            return Err(bad(
                "DT_RELAENT, DT_RELENT or DT_RELRENT is not the class's",
            ));
        }
        if let Some(r) = t.get(dt::RELA) {
            self.rela = self.table(r, t.size(dt::RELASZ)?, rela_ent)?;
        }
        if let Some(r) = t.get(dt::REL) {
            self.rel = self.table(r, t.size(dt::RELSZ)?, rel_ent)?;
        }
        if let Some(r) = t.get(dt::RELR) {
            self.relr = self.table(r, t.size(dt::RELRSZ)?, ws)?;
        }
        let relacount = t.get(dt::RELACOUNT).unwrap_or(0) as usize;
        let relcount = t.get(dt::RELCOUNT).unwrap_or(0) as usize;
        if relacount > self.rela.1 / rela_ent || relcount > self.rel.1 / rel_ent {
            return Err(bad("DT_RELACOUNT or DT_RELCOUNT larger than its table"));
        }
        self.relcount = (relacount, relcount);
        Ok(())
    }

    /// A relocation table of `size` bytes of `ent`-byte entries at the `d_ptr` `addr`.
    fn table(&self, addr: u64, size: usize, ent: usize) -> Result<(usize, usize)> {
        if size == 0 {
            return Ok((0, 0));
        }
        let addr = self.pointer(addr)?;
        if !size.is_multiple_of(ent) {
            return Err(bad(
                "relocation table size not a multiple of its entry size",
            ));
        }
        if !addr.is_multiple_of(4) {
            return Err(bad("misaligned relocation table"));
        }
        if !self.segs.contains(addr, size) {
            return Err(bad("relocation table ends outside its segment"));
        }
        Ok((addr, size))
    }

    /// The protection a page of this image has once the image is fully loaded:
    /// read-only inside the page-rounded RELRO range, else the flags of the last PT_LOAD that
    /// maps the page (the loader maps segments in order, later ones over earlier ones).
    /// Not inlined: inside the slot writer's loops, the compiler would keep every segment's
    /// rounded bounds in a stack slot of their frames.
    #[inline(never)]
    pub fn page_protection(&self, page: usize, page_size: usize) -> Option<u32> {
        let down = |a: usize| a & !(page_size - 1);
        if self.relro.1 > self.relro.0 && page >= down(self.relro.0) && page < down(self.relro.1) {
            return Some(elf::PF_R);
        }
        let up = |a: usize| a.checked_add(page_size - 1).map(|x| x & !(page_size - 1));
        self.segs
            .segments()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_the_decoder_reads_has_its_own_slot() {
        let read = [
            dt::PLTRELSZ,
            dt::HASH,
            dt::STRTAB,
            dt::SYMTAB,
            dt::RELA,
            dt::RELASZ,
            dt::RELAENT,
            dt::STRSZ,
            dt::SYMENT,
            dt::SONAME,
            dt::RPATH,
            dt::REL,
            dt::RELSZ,
            dt::RELENT,
            dt::PLTREL,
            dt::JMPREL,
            dt::BIND_NOW,
            dt::RUNPATH,
            dt::FLAGS,
            dt::RELRSZ,
            dt::RELR,
            dt::RELRENT,
            dt::GNU_HASH,
            dt::VERSYM,
            dt::RELACOUNT,
            dt::RELCOUNT,
            dt::FLAGS_1,
        ];
        assert_eq!(read.len(), TAGS_READ);
        let mut used = 0u32;
        for t in read {
            let s = tag_slot(t).unwrap();
            assert!(s < TAGS_READ && used & (1 << s) == 0, "tag {t:#x}");
            used |= 1 << s;
        }
        // Tags the decoder does not read are not collected.
        for t in [
            dt::NULL,
            dt::NEEDED,
            12,
            13,
            16,
            21,
            22,
            25,
            26,
            27,
            28,
            32,
            34,
        ] {
            assert_eq!(tag_slot(t), None, "tag {t:#x}");
        }
    }
}
