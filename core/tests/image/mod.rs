//! Test images built byte by byte: an ELF header, a GOT, a dynamic array and every table the
//! decoder reads, with a chosen part placed last in the only PT_LOAD and the segment cut short
//! or a size tag grown on request.  Shared by the bounds tests and the mutation fuzz test.
#![allow(dead_code)]

use gothook_core::dynamic::{Dynamic, DECODE_ELF32, DECODE_ELF64};
use gothook_core::elf::{self, dt};
use gothook_core::{Error, FileImage};

/// Where the image's first byte is linked (vaddr of file offset 0).
pub const VBASE: u64 = 0x10000;
/// Bytes of the backing buffer; the segment is always much shorter.
pub const BUFFER: usize = 4096;
/// The ELF header occupies the first 64 bytes; the GOT follows it.
pub const GOT: usize = 64;
pub const GOT_SLOTS: usize = 4;
pub const STRTAB: &[u8] = b"\0malloc\0free\0getpid\0libbounds.so\0";
pub const NAME_MALLOC: u32 = 1;
pub const NAME_FREE: u32 = 8;
pub const NAME_GETPID: u32 = 13;
pub const NAME_SONAME: u32 = 20;

/// The parts of an image whose extent the decoder must check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Dynamic,
    Strtab,
    Symtab,
    SysvHash,
    GnuHash,
    Versym,
    Rela,
    JmpRel,
    Rel,
    Relr,
}

pub const PARTS: [Part; 10] = [
    Part::Dynamic,
    Part::Strtab,
    Part::Symtab,
    Part::SysvHash,
    Part::GnuHash,
    Part::Versym,
    Part::Rela,
    Part::JmpRel,
    Part::Rel,
    Part::Relr,
];

/// Which symbol hash table the image carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashStyle {
    /// DT_HASH only.
    Sysv,
    /// DT_GNU_HASH with getpid in it: the table ends with its chain array.
    Gnu,
    /// DT_GNU_HASH covering no symbol: the table ends with its bucket array.
    GnuNoChains,
    /// DT_GNU_HASH from symoffset 2: free and getpid share the one bucket's two-entry chain.
    GnuTwoChained,
    /// Neither table: the symbol table runs up to the string table that follows it.
    NoHash,
}

#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub is64: bool,
    pub style: HashStyle,
    /// Placed last in the segment.
    pub last: Part,
    /// Bytes by which the segment ends before the last part does.
    pub shrink: usize,
    /// A size tag and how much to add to its true value.
    pub grow: Option<(i64, u64)>,
    /// One dynamic entry changed after layout.
    pub patch: Option<(i64, Patch)>,
    /// A u32 written at this byte offset of a part after layout.
    pub poke: Option<(Part, usize, u32)>,
}

/// A change to one dynamic entry.
#[derive(Clone, Copy, Debug)]
pub enum Patch {
    /// The value becomes this.
    Set(u64),
    /// This is added to the value.
    Add(u64),
    /// The entry's tag becomes DT_LOOS, which the decoder ignores: the tag is absent.
    Remove,
}

/// A built image: the buffer holding it, its program headers, and what to pass to `decode`.
pub struct Image {
    pub buf: Vec<u64>,
    pub bytes: Vec<u8>,
    pub phdrs: Vec<u8>,
    pub flags: u32,
    /// File offset of each part, for the tests that look at what was decoded.
    pub got: usize,
}

impl Image {
    pub fn bias(&self) -> usize {
        (self.buf.as_ptr() as usize).wrapping_sub(VBASE as usize)
    }

    pub fn decode(&self) -> Result<Dynamic, Error> {
        // SAFETY: the segment lies inside `buf`, which outlives every use of the result.
        unsafe { Dynamic::decode(self.bias(), &self.phdrs, self.flags) }
    }

    pub fn decode_file(&self) -> Result<Dynamic<FileImage<'_>>, Error> {
        Dynamic::from_image(&self.bytes, &self.phdrs, self.flags)
    }

    /// The check that refused the image, the same from both readers.
    pub fn refusal(&self) -> Option<&'static str> {
        let mapped = self.decode().err();
        let file = self.decode_file().err();
        assert_eq!(mapped, file, "both readers agree");
        match mapped {
            Some(Error::Malformed(check)) => Some(check),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
}

pub struct W {
    is64: bool,
    out: Vec<u8>,
}

impl W {
    fn new(is64: bool) -> W {
        W {
            is64,
            out: Vec::new(),
        }
    }
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// An ELF word of the class: 4 or 8 bytes.
    fn word(&mut self, v: u64) {
        if self.is64 {
            self.u64(v)
        } else {
            self.u32(v as u32)
        }
    }
}

pub fn ws(is64: bool) -> usize {
    if is64 {
        8
    } else {
        4
    }
}
pub fn sym_ent(is64: bool) -> usize {
    if is64 {
        24
    } else {
        16
    }
}
pub fn rela_ent(is64: bool) -> usize {
    if is64 {
        24
    } else {
        12
    }
}
pub fn rel_ent(is64: bool) -> usize {
    if is64 {
        16
    } else {
        8
    }
}

/// The size of one entry of `part`: the step by which a table can overrun its segment.
pub fn entry_size(part: Part, is64: bool) -> usize {
    match part {
        Part::Dynamic => 2 * ws(is64),
        Part::Strtab => 1,
        Part::Symtab => sym_ent(is64),
        Part::SysvHash | Part::GnuHash => 4,
        Part::Versym => 2,
        Part::Rela | Part::JmpRel => rela_ent(is64),
        Part::Rel => rel_ent(is64),
        Part::Relr => ws(is64),
    }
}

/// Relocation numbers of the machine the class stands for (x86_64 or i386: the same here).
pub const R_NONE: u32 = 0;
pub const R_GLOB_DAT: u32 = 6;
pub const R_JUMP_SLOT: u32 = 7;
pub const R_RELATIVE: u32 = 8;

pub fn reloc(w: &mut W, slot: usize, sym: u32, r_type: u32, addend: Option<i64>) {
    let offset = VBASE + slot as u64;
    if w.is64 {
        w.u64(offset);
        w.u64((sym as u64) << 32 | r_type as u64);
        if let Some(a) = addend {
            w.u64(a as u64);
        }
    } else {
        w.u32(offset as u32);
        w.u32(sym << 8 | r_type);
        if let Some(a) = addend {
            w.u32(a as i32 as u32);
        }
    }
}

/// The bytes of every part but the dynamic array (which needs the others' addresses).
pub fn part_bytes(part: Part, is64: bool, style: HashStyle) -> Vec<u8> {
    let mut w = W::new(is64);
    let slot = |i: usize| GOT + i * ws(is64);
    match part {
        Part::Dynamic => unreachable!("built last"),
        Part::Strtab => w.out.extend_from_slice(STRTAB),
        Part::Symtab => {
            // 0: null; 1: malloc (undefined); 2: free (undefined); 3: getpid (defined function).
            let syms: [(u32, u64, u8, u16); 4] = [
                (0, 0, 0, 0),
                (NAME_MALLOC, 0, 0x12, 0),
                (NAME_FREE, 0, 0x12, 0),
                (NAME_GETPID, VBASE + 0x40, 0x12, 1),
            ];
            for (name, value, info, shndx) in syms {
                w.u32(name);
                if is64 {
                    w.u8(info);
                    w.u8(0);
                    w.u16(shndx);
                    w.u64(value);
                    w.u64(16);
                } else {
                    w.u32(value as u32);
                    w.u32(16);
                    w.u8(info);
                    w.u8(0);
                    w.u16(shndx);
                }
            }
        }
        Part::SysvHash => {
            // One bucket holding the chain 3 -> 2 -> 1.
            for v in [1u32, 4, 3, 0, 0, 1, 2] {
                w.u32(v);
            }
        }
        Part::GnuHash if style == HashStyle::GnuTwoChained => {
            for v in [1u32, 2, 1, 6] {
                w.u32(v); // nbuckets, symoffset, bloom words, bloom shift
            }
            w.word(u64::MAX);
            w.u32(2); // the bucket starts at free
            w.u32(elf::gnu_hash(b"free") & !1);
            w.u32(elf::gnu_hash(b"getpid") | 1);
        }
        Part::GnuHash => {
            let covers_getpid = style == HashStyle::Gnu;
            let symoffset = if covers_getpid { 3 } else { 4 };
            w.u32(1); // nbuckets
            w.u32(symoffset);
            w.u32(1); // bloom words
            w.u32(6); // bloom shift
            w.word(u64::MAX); // every bloom bit set
            w.u32(if covers_getpid { 3 } else { 0 });
            if covers_getpid {
                w.u32(elf::gnu_hash(b"getpid") | 1);
            }
        }
        Part::Versym => {
            for v in [0u16, 1, 1, 1] {
                w.u16(v);
            }
        }
        Part::Rela => {
            reloc(&mut w, slot(0), 0, R_RELATIVE, Some(0x40));
            reloc(&mut w, slot(1), 1, R_GLOB_DAT, Some(0));
        }
        // Each table has two entries, so that cutting one off leaves its start inside the
        // segment; R_NONE entries are never imports.
        Part::JmpRel => {
            reloc(&mut w, slot(2), 0, R_NONE, Some(0));
            reloc(&mut w, slot(2), 2, R_JUMP_SLOT, Some(0));
        }
        Part::Rel => {
            reloc(&mut w, slot(3), 0, R_NONE, None);
            reloc(&mut w, slot(3), 1, R_GLOB_DAT, None);
        }
        Part::Relr => {
            w.word(VBASE + GOT as u64);
            w.word(1); // an empty bitmap word
        }
    }
    w.out
}

pub fn uses(part: Part, style: HashStyle) -> bool {
    match part {
        Part::SysvHash => style == HashStyle::Sysv,
        Part::GnuHash if style == HashStyle::NoHash => false,
        Part::GnuHash => style != HashStyle::Sysv,
        _ => true,
    }
}

pub fn phdr(w: &mut W, p_type: u32, flags: u32, offset: u64, vaddr: u64, memsz: u64) {
    if w.is64 {
        w.u32(p_type);
        w.u32(flags);
        for v in [offset, vaddr, vaddr, memsz, memsz, 0x1000] {
            w.u64(v);
        }
    } else {
        for v in [
            p_type,
            offset as u32,
            vaddr as u32,
            vaddr as u32,
            memsz as u32,
        ] {
            w.u32(v);
        }
        w.u32(memsz as u32);
        w.u32(flags);
        w.u32(0x1000);
    }
}

pub fn align8(x: usize) -> usize {
    (x + 7) & !7
}

pub fn build(spec: Spec) -> Image {
    let is64 = spec.is64;
    let mut order: Vec<Part> = PARTS
        .iter()
        .copied()
        .filter(|&p| p != spec.last && uses(p, spec.style))
        .collect();
    order.push(spec.last);
    if spec.style == HashStyle::NoHash {
        // Without a hash table the symbol count comes from the string table following symtab.
        let (a, b) = (
            order.iter().position(|&p| p == Part::Strtab).unwrap(),
            order.iter().position(|&p| p == Part::Symtab).unwrap(),
        );
        order.swap(a, b);
    }
    let bytes = |p: Part| {
        if p == Part::Dynamic {
            Vec::new()
        } else {
            part_bytes(p, is64, spec.style)
        }
    };
    // The dynamic array has a fixed number of entries: lay it out by its length first.
    let n_dyn = 22;
    let dyn_len = n_dyn * 2 * ws(is64);
    let mut at = GOT + GOT_SLOTS * ws(is64);
    let mut offsets = Vec::new();
    let mut contents = Vec::new();
    for &p in &order {
        at = align8(at);
        let b = bytes(p);
        let len = if p == Part::Dynamic { dyn_len } else { b.len() };
        offsets.push((p, at, len));
        contents.push(b);
        at += len;
    }
    let end = at;
    let off = |p: Part| offsets.iter().find(|o| o.0 == p).map(|o| o.1).unwrap();
    let len = |p: Part| offsets.iter().find(|o| o.0 == p).map(|o| o.2).unwrap();
    let vaddr = |p: Part| VBASE + off(p) as u64;
    let grown = |tag: i64, v: u64| match spec.grow {
        Some((t, by)) if t == tag => v + by,
        _ => v,
    };

    let hash_entry = match spec.style {
        HashStyle::Sysv => (dt::HASH, vaddr(Part::SysvHash)),
        HashStyle::NoHash => (0x6000_000d, 0), // an OS-specific tag the decoder ignores
        _ => (dt::GNU_HASH, vaddr(Part::GnuHash)),
    };
    let entries: [(i64, u64); 22] = [
        (dt::STRTAB, vaddr(Part::Strtab)),
        (dt::STRSZ, grown(dt::STRSZ, len(Part::Strtab) as u64)),
        (dt::SYMTAB, vaddr(Part::Symtab)),
        (dt::SYMENT, sym_ent(is64) as u64),
        hash_entry,
        (dt::VERSYM, vaddr(Part::Versym)),
        (dt::SONAME, NAME_SONAME as u64),
        (dt::RELA, vaddr(Part::Rela)),
        (dt::RELASZ, grown(dt::RELASZ, len(Part::Rela) as u64)),
        (dt::RELAENT, rela_ent(is64) as u64),
        (dt::RELACOUNT, 1),
        (dt::RELCOUNT, 0),
        (dt::JMPREL, vaddr(Part::JmpRel)),
        (dt::PLTRELSZ, grown(dt::PLTRELSZ, len(Part::JmpRel) as u64)),
        (dt::PLTREL, dt::RELA as u64),
        (dt::REL, vaddr(Part::Rel)),
        (dt::RELSZ, grown(dt::RELSZ, len(Part::Rel) as u64)),
        (dt::RELENT, rel_ent(is64) as u64),
        (dt::RELR, vaddr(Part::Relr)),
        (dt::RELRSZ, grown(dt::RELRSZ, len(Part::Relr) as u64)),
        (dt::RELRENT, ws(is64) as u64),
        (dt::NULL, 0),
    ];
    assert_eq!(entries.len(), n_dyn);
    let mut d = W::new(is64);
    for (tag, val) in entries {
        let (tag, val) = match spec.patch {
            Some((t, Patch::Set(v))) if t == tag => (tag, v),
            Some((t, Patch::Add(v))) if t == tag => (tag, val.wrapping_add(v)),
            Some((t, Patch::Remove)) if t == tag => (0x6000_000d, val),
            _ => (tag, val),
        };
        d.word(tag as u64);
        d.word(val);
    }
    let di = order.iter().position(|&p| p == Part::Dynamic).unwrap();
    contents[di] = d.out;

    let mut image = vec![0u8; BUFFER];
    image[..4].copy_from_slice(b"\x7fELF");
    image[4] = if is64 {
        elf::ELFCLASS64
    } else {
        elf::ELFCLASS32
    };
    image[5] = elf::ELFDATA2LSB;
    image[6] = 1;
    let machine = if is64 { elf::em::X86_64 } else { elf::em::I386 };
    image[18..20].copy_from_slice(&machine.to_le_bytes());
    for ((_, at, len), b) in offsets.iter().zip(&contents) {
        assert_eq!(*len, b.len());
        image[*at..at + len].copy_from_slice(b);
    }
    if let Some((part, k, v)) = spec.poke {
        let at = off(part) + k;
        image[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    let seg_len = end.checked_sub(spec.shrink).unwrap();
    let mut ph = W::new(is64);
    phdr(
        &mut ph,
        elf::PT_LOAD,
        elf::PF_R | elf::PF_W,
        0,
        VBASE,
        seg_len as u64,
    );
    phdr(
        &mut ph,
        elf::PT_DYNAMIC,
        elf::PF_R | elf::PF_W,
        off(Part::Dynamic) as u64,
        vaddr(Part::Dynamic),
        dyn_len as u64,
    );
    // The program headers also go at the end of the file, past the segment, with the ELF
    // header pointing at them, so the image is a complete ELF file as well.
    let phoff = BUFFER - ph.out.len();
    image[phoff..].copy_from_slice(&ph.out);
    if is64 {
        image[32..40].copy_from_slice(&(phoff as u64).to_le_bytes());
        image[54..56].copy_from_slice(&56u16.to_le_bytes());
        image[56..58].copy_from_slice(&2u16.to_le_bytes());
    } else {
        image[28..32].copy_from_slice(&(phoff as u32).to_le_bytes());
        image[42..44].copy_from_slice(&32u16.to_le_bytes());
        image[44..46].copy_from_slice(&2u16.to_le_bytes());
    }
    let mut buf = vec![0u64; BUFFER / 8];
    for (i, w) in buf.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&image[i * 8..i * 8 + 8]);
        *w = u64::from_le_bytes(b);
    }
    Image {
        buf,
        bytes: image,
        phdrs: ph.out,
        flags: if is64 { DECODE_ELF64 } else { DECODE_ELF32 },
        got: GOT,
    }
}

/// The check that must refuse an image whose last part runs past the segment.
pub fn bounds_check(spec: Spec) -> &'static str {
    match spec.last {
        Part::Dynamic => "read outside the mapped segments",
        Part::Strtab => "string table ends outside its segment",
        Part::Symtab => "symbol table ends outside its segment",
        Part::SysvHash => "DT_HASH buckets or chains end outside the segment",
        Part::GnuHash if spec.style == HashStyle::Gnu => "GNU hash chain ends outside the segment",
        Part::GnuHash => "GNU hash buckets end outside the segment",
        Part::Versym => "DT_VERSYM misaligned or ending outside its segment",
        Part::Rela | Part::JmpRel | Part::Rel | Part::Relr => {
            "relocation table ends outside its segment"
        }
    }
}

pub fn style_for(part: Part) -> &'static [HashStyle] {
    match part {
        Part::SysvHash => &[HashStyle::Sysv],
        Part::GnuHash => &[HashStyle::Gnu, HashStyle::GnuNoChains],
        _ => &[HashStyle::Sysv, HashStyle::Gnu],
    }
}

/// Every (class, hash style, last part) combination the tests run.
pub fn specs() -> Vec<Spec> {
    let mut v = Vec::new();
    for is64 in [true, false] {
        for last in PARTS {
            for &style in style_for(last) {
                v.push(Spec {
                    is64,
                    style,
                    last,
                    shrink: 0,
                    grow: None,
                    patch: None,
                    poke: None,
                });
            }
        }
    }
    v
}
