//! The decoder fuzz harness, shared by the cargo-fuzz target (`fuzz_targets/decode.rs`) and the
//! bounded mutation test (`core/tests/fuzz_decode.rs`).  It decodes an image described by the
//! input through the byte-slice reader ([`Dynamic::from_image`]), so it needs no process memory:
//! any program headers are fair input.  Then it walks symbols, imports, relocations and lookups
//! and asserts that everything handed back lies inside the input.
//!
//! Input (little-endian, missing bytes read as 0):
//!   0      u8   mode: bits1-3 machine (index into MACHINES, passed as the e_machine hint);
//!               bits6-7 decode class flag (0 default, 1 ELF32, 2 ELF64, 3 both = invalid),
//!               bit0 the class of the program headers when bits6-7 are 3
//!   1      u8   number of PT_LOAD headers (low 3 bits; at most 4 used)
//!   2..42  4 x { u32 offset, u32 memsz, u16 p_flags }  (PT_LOAD at vbase + offset)
//!   42     u64  PT_DYNAMIC vaddr (relative to vbase)     50  u64 PT_DYNAMIC memsz
//!   58     u32  PT_GNU_RELRO offset                      62  u32 PT_GNU_RELRO size (0: none)
//!   66     u64  vbase (the image's lowest vaddr)
//!   74..        image bytes (file offset 0 = vbase)
#![allow(dead_code)]

use gothook_core::dynamic::{Dynamic, ImportKind, DECODE_ELF32, DECODE_ELF64};
use gothook_core::{elf, FileImage, Memory};

/// Bytes of header before the image.
pub const HEADER: usize = 74;
/// Machines selectable by mode bits 1-3 (the last is unsupported on purpose).
pub const MACHINES: [u16; 8] = [62, 183, 3, 40, 243, 21, 258, 0xbeef];

/// What one input did, for the test's statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Whether it decoded.
    pub decoded: bool,
    /// Symbols visited.
    pub symbols: u32,
    /// Imports visited.
    pub imports: u32,
    /// Lookups that found a definition.
    pub found: u32,
}

fn get(data: &[u8], at: usize, n: usize) -> u64 {
    let mut w = [0u8; 8];
    for (i, b) in w.iter_mut().enumerate().take(n) {
        *b = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(w)
}

fn put(out: &mut Vec<u8>, v: u64, n: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..n]);
}

fn phdr(
    out: &mut Vec<u8>,
    is64: bool,
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    memsz: u64,
) {
    if is64 {
        put(out, p_type as u64, 4);
        put(out, flags as u64, 4);
        for v in [offset, vaddr, vaddr, memsz, memsz, 0x1000] {
            put(out, v, 8);
        }
    } else {
        for v in [
            p_type as u64,
            offset,
            vaddr,
            vaddr,
            memsz,
            memsz,
            flags as u64,
            0x1000,
        ] {
            put(out, v, 4);
        }
    }
}

/// The program headers and decode flags an input describes.
pub fn describe(data: &[u8]) -> (Vec<u8>, u32) {
    let mode = get(data, 0, 1) as u8;
    let class_flag = match mode >> 6 {
        0 => 0,
        1 => DECODE_ELF32,
        2 => DECODE_ELF64,
        _ => DECODE_ELF32 | DECODE_ELF64,
    };
    let is64 = match mode >> 6 {
        1 => false,
        2 => true,
        0 => cfg!(target_pointer_width = "64"),
        _ => mode & 1 != 0,
    };
    let machine = MACHINES[((mode >> 1) & 7) as usize];
    let vbase = get(data, 66, 8);
    let mut ph = Vec::new();
    for i in 0..(get(data, 1, 1) & 7).min(4) as usize {
        let at = 2 + i * 10;
        let off = get(data, at, 4);
        phdr(
            &mut ph,
            is64,
            elf::PT_LOAD,
            get(data, at + 8, 2) as u32,
            off,
            vbase.wrapping_add(off),
            get(data, at + 4, 4),
        );
    }
    phdr(
        &mut ph,
        is64,
        elf::PT_DYNAMIC,
        6,
        0,
        vbase.wrapping_add(get(data, 42, 8)),
        get(data, 50, 8),
    );
    let relro_len = get(data, 62, 4);
    if relro_len != 0 {
        phdr(
            &mut ph,
            is64,
            elf::PT_GNU_RELRO,
            4,
            0,
            vbase.wrapping_add(get(data, 58, 4)),
            relro_len,
        );
    }
    (ph, class_flag | ((machine as u32) << 16))
}

/// Whether `s` is a sub-slice of `image`.
fn inside(image: &[u8], s: &[u8]) -> bool {
    let (lo, hi) = (
        image.as_ptr() as usize,
        image.as_ptr() as usize + image.len(),
    );
    let p = s.as_ptr() as usize;
    p >= lo && p + s.len() <= hi
}

/// Decodes one input and checks what the decoder hands back; panics on a violation.
pub fn run(data: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let image = data.get(HEADER..).unwrap_or(&[]);
    let (ph, flags) = describe(data);
    let Ok(d) = Dynamic::from_image(image, &ph, flags) else {
        return out;
    };
    out.decoded = true;
    walk(&d, image, &mut out);
    out
}

fn walk(d: &Dynamic<FileImage<'_>>, image: &[u8], out: &mut Outcome) {
    let ws = if d.class == elf::ELFCLASS64 { 8 } else { 4 };
    if let Some(s) = d.soname() {
        assert!(inside(image, s), "soname outside the image");
    }
    if let Some(s) = d.search_path() {
        assert!(inside(image, s), "search path outside the image");
    }
    let mut defined: Vec<u32> = Vec::new();
    let _ = d.for_each_symbol(|s| {
        assert!(inside(image, s.name), "symbol name outside the image");
        if s.is_default_definition() && defined.len() < 64 {
            defined.push(s.index);
        }
        out.symbols += 1;
        out.symbols < 100_000
    });
    let arch = d.arch().ok();
    let _ = d.for_each_import(|imp| {
        let r = &imp.reloc;
        assert!(
            r.slot % ws == 0 && d.segs.contains(r.slot, ws),
            "slot outside the segments"
        );
        assert!(inside(image, imp.name), "import name outside the image");
        let a = arch.expect("imports without an architecture");
        match r.kind {
            ImportKind::Plt => assert_eq!(r.r_type, a.jump_slot),
            ImportKind::GlobDat => assert_eq!(Some(r.r_type), a.glob_dat),
            ImportKind::Abs => assert_eq!(r.r_type, a.abs),
        }
        out.imports += 1;
        out.imports < 100_000
    });
    let mut names: Vec<&[u8]> = defined
        .iter()
        .filter_map(|&i| d.symbol(i).ok().map(|s| s.name))
        .collect();
    names.push(b"malloc");
    for name in names.iter().copied() {
        if let Ok(Some(s)) = d.lookup(name) {
            assert_eq!(s.name, name, "lookup returned another name");
            assert!(
                s.is_default_definition(),
                "lookup returned a non-default definition"
            );
            assert!(s.index < d.nsyms);
            out.found += 1;
        }
        let _ = d.find_named(name, false, |s| {
            assert_eq!(s.name, name);
            true
        });
        let _ = d.find_hashed(name, |s| {
            assert_eq!(s.name, name);
            true
        });
    }
    let _ = d.find_names_below(d.nsyms.min(100_000), &names, |k, i| {
        // symbol(i) also reads DT_VERSYM, which may lie in a part of a segment the file lacks.
        if let Ok(s) = d.symbol(i) {
            assert_eq!(s.name, names[k], "find_names_below reported another name");
        }
    });
    for r in d.segs.segments().iter() {
        let _ = d.page_protection(r.start & !0xfff, 0x1000);
    }
}

/// Turns a small ELF file into an input: its PT_LOADs, PT_DYNAMIC and PT_GNU_RELRO become the
/// header, its bytes laid out by virtual address the image.  None when it does not fit (more
/// than 4 PT_LOADs, or a vaddr span above `max_span`).
pub fn seed_from_elf(f: &[u8], max_span: usize) -> Option<Vec<u8>> {
    let is64 = *f.get(4)? == 2;
    let machine = get(f, 18, 2) as u16;
    let (phoff, phnum, ent) = if is64 {
        (get(f, 32, 8), get(f, 56, 2), 56)
    } else {
        (get(f, 28, 4), get(f, 44, 2), 32)
    };
    let (mut loads, mut dynamic, mut relro) = (Vec::new(), (0, 0), (0, 0));
    for i in 0..phnum as usize {
        let at = phoff as usize + i * ent;
        let (t, off, va, fs, ms, fl) = if is64 {
            (
                get(f, at, 4),
                get(f, at + 8, 8),
                get(f, at + 16, 8),
                get(f, at + 32, 8),
                get(f, at + 40, 8),
                get(f, at + 4, 4),
            )
        } else {
            (
                get(f, at, 4),
                get(f, at + 4, 4),
                get(f, at + 8, 4),
                get(f, at + 16, 4),
                get(f, at + 20, 4),
                get(f, at + 24, 4),
            )
        };
        match t as u32 {
            elf::PT_LOAD => loads.push((off, va, fs, ms, fl)),
            elf::PT_DYNAMIC => dynamic = (va, ms),
            elf::PT_GNU_RELRO => relro = (va, ms),
            _ => {}
        }
    }
    let vbase = loads.iter().map(|l| l.1 & !0xfff).min()?;
    let span = (loads.iter().map(|l| l.1 + l.3).max()? - vbase) as usize;
    if span > max_span || loads.len() > 4 {
        return None;
    }
    let mut img = vec![0u8; span];
    for &(off, va, fs, _, _) in &loads {
        let start = (off & !0xfff) as usize;
        let chunk = f.get(start..(off + fs) as usize)?;
        let at = ((va & !0xfff) - vbase) as usize;
        img.get_mut(at..at + chunk.len())?.copy_from_slice(chunk);
    }
    let m = MACHINES.iter().position(|&x| x == machine)? as u8;
    let mut out = vec![
        (m << 1) | if is64 { 2 << 6 } else { 1 << 6 },
        loads.len() as u8,
    ];
    for i in 0..4 {
        let (_, va, _, ms, fl) = loads.get(i).copied().unwrap_or((0, vbase, 0, 0, 0));
        put(&mut out, va - vbase, 4);
        put(&mut out, ms, 4);
        put(&mut out, fl, 2);
    }
    put(&mut out, dynamic.0.wrapping_sub(vbase), 8);
    put(&mut out, dynamic.1, 8);
    put(&mut out, if relro.1 != 0 { relro.0 - vbase } else { 0 }, 4);
    put(&mut out, relro.1, 4);
    put(&mut out, vbase, 8);
    assert_eq!(out.len(), HEADER);
    out.extend_from_slice(&img);
    Some(out)
}
