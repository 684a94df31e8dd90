//! Table bounds of the decoder: images built byte by byte in which the table under test is the
//! last thing in the only PT_LOAD, so that "ends exactly at the segment end" (accepted) and
//! "ends one byte or one entry past it" (EMALFORMED) differ by a single byte.  The images live in
//! an ordinary buffer of this process, larger than the segment, so a decoder that read past the
//! segment would not fault: only the status tells whether the check held.  Each image is
//! decoded twice: as mapped memory of this process and as a file in a byte slice.

use gothook_core::dynamic::{Dynamic, Table, DECODE_ELF32, DECODE_ELF64};
use gothook_core::elf::{self, dt};
use gothook_core::{Error, FileImage, ImportKind, Memory};

/// Where the image's first byte is linked (vaddr of file offset 0).
const VBASE: u64 = 0x10000;
/// Bytes of the backing buffer; the segment is always much shorter.
const BUFFER: usize = 4096;
/// The ELF header occupies the first 64 bytes; the GOT follows it.
const GOT: usize = 64;
const GOT_SLOTS: usize = 4;
const STRTAB: &[u8] = b"\0malloc\0free\0getpid\0libbounds.so\0";
const NAME_MALLOC: u32 = 1;
const NAME_FREE: u32 = 8;
const NAME_GETPID: u32 = 13;
const NAME_SONAME: u32 = 20;

/// The parts of an image whose extent the decoder must check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
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

const PARTS: [Part; 10] = [
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
enum HashStyle {
    /// DT_HASH only.
    Sysv,
    /// DT_GNU_HASH with getpid in it: the table ends with its chain array.
    Gnu,
    /// DT_GNU_HASH covering no symbol: the table ends with its bucket array.
    GnuNoChains,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    is64: bool,
    style: HashStyle,
    /// Placed last in the segment.
    last: Part,
    /// Bytes by which the segment ends before the last part does.
    shrink: usize,
    /// A size tag and how much to add to its true value.
    grow: Option<(i64, u64)>,
}

/// A built image: the buffer holding it, its program headers, and what to pass to `decode`.
struct Image {
    buf: Vec<u64>,
    bytes: Vec<u8>,
    phdrs: Vec<u8>,
    flags: u32,
    /// File offset of each part, for the tests that look at what was decoded.
    got: usize,
}

impl Image {
    fn bias(&self) -> usize {
        (self.buf.as_ptr() as usize).wrapping_sub(VBASE as usize)
    }

    fn decode(&self) -> Result<Dynamic, Error> {
        // SAFETY: the segment lies inside `buf`, which outlives every use of the result.
        unsafe { Dynamic::decode(self.bias(), &self.phdrs, self.flags) }
    }

    fn decode_file(&self) -> Result<Dynamic<FileImage<'_>>, Error> {
        Dynamic::from_image(&self.bytes, &self.phdrs, self.flags)
    }

    /// The check that refused the image, the same from both readers.
    fn refusal(&self) -> Option<&'static str> {
        let mapped = self.decode().err();
        let file = self.decode_file().err();
        assert_eq!(mapped, file, "both readers agree");
        match mapped {
            Some(Error::Malformed(check)) => Some(check),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
}

struct W {
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

fn ws(is64: bool) -> usize {
    if is64 {
        8
    } else {
        4
    }
}
fn sym_ent(is64: bool) -> usize {
    if is64 {
        24
    } else {
        16
    }
}
fn rela_ent(is64: bool) -> usize {
    if is64 {
        24
    } else {
        12
    }
}
fn rel_ent(is64: bool) -> usize {
    if is64 {
        16
    } else {
        8
    }
}

/// The size of one entry of `part`: the step by which a table can overrun its segment.
fn entry_size(part: Part, is64: bool) -> usize {
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
const R_NONE: u32 = 0;
const R_GLOB_DAT: u32 = 6;
const R_JUMP_SLOT: u32 = 7;
const R_RELATIVE: u32 = 8;

fn reloc(w: &mut W, slot: usize, sym: u32, r_type: u32, addend: Option<i64>) {
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
fn part_bytes(part: Part, is64: bool, style: HashStyle) -> Vec<u8> {
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

fn uses(part: Part, style: HashStyle) -> bool {
    match part {
        Part::SysvHash => style == HashStyle::Sysv,
        Part::GnuHash => style != HashStyle::Sysv,
        _ => true,
    }
}

fn phdr(w: &mut W, p_type: u32, flags: u32, offset: u64, vaddr: u64, memsz: u64) {
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

fn align8(x: usize) -> usize {
    (x + 7) & !7
}

fn build(spec: Spec) -> Image {
    let is64 = spec.is64;
    let mut order: Vec<Part> = PARTS
        .iter()
        .copied()
        .filter(|&p| p != spec.last && uses(p, spec.style))
        .collect();
    order.push(spec.last);
    let bytes = |p: Part| {
        if p == Part::Dynamic {
            Vec::new()
        } else {
            part_bytes(p, is64, spec.style)
        }
    };
    // The dynamic array has a fixed number of entries: lay it out by its length first.
    let n_dyn = 21;
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
        _ => (dt::GNU_HASH, vaddr(Part::GnuHash)),
    };
    let entries: [(i64, u64); 21] = [
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
fn bounds_check(spec: Spec) -> &'static str {
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

fn style_for(part: Part) -> &'static [HashStyle] {
    match part {
        Part::SysvHash => &[HashStyle::Sysv],
        Part::GnuHash => &[HashStyle::Gnu, HashStyle::GnuNoChains],
        _ => &[HashStyle::Sysv, HashStyle::Gnu],
    }
}

/// Every (class, hash style, last part) combination the tests run.
fn specs() -> Vec<Spec> {
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
                });
            }
        }
    }
    v
}

/// What a decoded test image must show: its symbols, soname, lookup and imports.
fn check_decoded<M: Memory>(d: &Dynamic<M>, spec: Spec, got: usize) {
    assert_eq!(d.nsyms, 4, "{spec:?}");
    assert_eq!(d.soname(), Some(&b"libbounds.so"[..]), "{spec:?}");
    // A GNU hash table without chains covers no symbol, so lookups find nothing.
    let expected = (spec.style != HashStyle::GnuNoChains).then_some(3);
    let getpid = d.lookup(b"getpid").unwrap().map(|s| s.index);
    assert_eq!(getpid, expected, "{spec:?}");
    let mut imports = Vec::new();
    d.for_each_import(|i| {
        imports.push((i.name.to_vec(), i.reloc.kind, i.reloc.table, i.reloc.slot));
        true
    })
    .unwrap();
    let slot = |i: usize| got + i * ws(spec.is64);
    assert_eq!(
        imports,
        vec![
            (b"free".to_vec(), ImportKind::Plt, Table::JmpRel, slot(2)),
            (
                b"malloc".to_vec(),
                ImportKind::GlobDat,
                Table::Rela,
                slot(1)
            ),
            (b"malloc".to_vec(), ImportKind::GlobDat, Table::Rel, slot(3)),
        ],
        "{spec:?}"
    );
}

#[test]
fn image_whose_last_table_ends_exactly_at_the_segment_end_decodes_fully() {
    let mut n = 0;
    for spec in specs() {
        let img = build(spec);
        let d = img.decode().unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
        check_decoded(&d, spec, img.buf.as_ptr() as usize + img.got);
        let f = img
            .decode_file()
            .unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
        check_decoded(&f, spec, VBASE as usize + img.got);
        n += 1;
    }
    assert_eq!(n, 38);
}

#[test]
fn table_ending_one_byte_past_its_segment_is_malformed() {
    for spec in specs() {
        let spec = Spec { shrink: 1, ..spec };
        assert_eq!(build(spec).refusal(), Some(bounds_check(spec)), "{spec:?}");
    }
}

#[test]
fn table_ending_one_entry_past_its_segment_is_malformed() {
    for spec in specs() {
        let spec = Spec {
            shrink: entry_size(spec.last, spec.is64),
            ..spec
        };
        assert_eq!(build(spec).refusal(), Some(bounds_check(spec)), "{spec:?}");
    }
}

#[test]
fn size_tag_claiming_one_entry_more_than_the_segment_holds_is_malformed() {
    let sized = [
        (Part::Strtab, dt::STRSZ),
        (Part::Rela, dt::RELASZ),
        (Part::JmpRel, dt::PLTRELSZ),
        (Part::Rel, dt::RELSZ),
        (Part::Relr, dt::RELRSZ),
    ];
    let mut n = 0;
    for spec in specs() {
        let Some(&(_, tag)) = sized.iter().find(|s| s.0 == spec.last) else {
            continue;
        };
        let spec = Spec {
            grow: Some((tag, entry_size(spec.last, spec.is64) as u64)),
            ..spec
        };
        assert_eq!(build(spec).refusal(), Some(bounds_check(spec)), "{spec:?}");
        n += 1;
    }
    assert_eq!(n, 20);
}
