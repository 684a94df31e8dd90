//! Fuzz target: the dynamic-section decoder over a synthesised in-memory image.
//!
//! The input is a small header that describes program headers, followed by the image bytes
//! (laid out by virtual address, offset 0 = `vbase`).  The harness copies the bytes into a
//! zeroed, 8-aligned buffer of `IMAGE` bytes, clamps every PT_LOAD to that buffer (the decoder
//! may read any byte of a PT_LOAD, so the segments must be real memory), leaves PT_DYNAMIC and
//! PT_GNU_RELRO unclamped (the decoder must check them), optionally rewrites the `d_ptr` values
//! of the dynamic array the way glibc does, then decodes and walks symbols, imports, relocations
//! and lookups through the gothook-core Rust API.  It asserts that everything the decoder hands
//! back lies inside the buffer, and lets ASan and debug assertions catch the rest.
//!
//! Header (little-endian, missing bytes read as 0):
//!   0      u8   mode: bit0 ELF64 program headers (only with the invalid flag pair); bits1-3 machine (index into MACHINES, passed
//!               as the e_machine hint); bit4 glibc-style rewrite of d_ptr values;
//!               bits6-7 decode class flag (0 default, 1 ELF32, 2 ELF64, 3 both = invalid)
//!   1      u8   number of PT_LOAD headers (low 3 bits; at most 4 used)
//!   2..42  4 x { u32 offset, u32 memsz, u16 p_flags }
//!   42     u64  PT_DYNAMIC vaddr (relative to vbase)     50  u64 PT_DYNAMIC memsz
//!   58     u32  PT_GNU_RELRO offset                      62  u32 PT_GNU_RELRO size (0: none)
//!   66     u64  vbase (the image's lowest vaddr; bias = buffer - vbase)
//!   74..        image bytes
#![no_main]

use gothook_core::dynamic::{Dynamic, ImportKind, DECODE_ELF32, DECODE_ELF64};
use gothook_core::elf;
use libfuzzer_sys::fuzz_target;

const IMAGE: usize = 64 * 1024;
const HEADER: usize = 74;
const MACHINES: [u16; 8] = [62, 183, 3, 40, 243, 21, 258, 0xbeef];
/// Tags whose value is a pointer that glibc rewrites in place.
const PTR_TAGS: [u64; 10] = [3, 4, 5, 6, 7, 17, 23, 36, 0x6fff_fef5, 0x6fff_fff0];

struct Cursor<'a>(&'a [u8]);
impl Cursor<'_> {
    fn get(&self, at: usize, n: usize) -> u64 {
        let mut w = [0u8; 8];
        for (i, b) in w.iter_mut().enumerate().take(n) {
            *b = self.0.get(at + i).copied().unwrap_or(0);
        }
        u64::from_le_bytes(w)
    }
}

fn put(out: &mut Vec<u8>, v: u64, n: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..n]);
}

fn phdr(out: &mut Vec<u8>, is64: bool, p_type: u32, flags: u32, offset: u64, vaddr: u64, memsz: u64) {
    if is64 {
        put(out, p_type as u64, 4);
        put(out, flags as u64, 4);
        put(out, offset, 8);
        put(out, vaddr, 8);
        put(out, vaddr, 8); // p_paddr
        put(out, memsz, 8); // p_filesz
        put(out, memsz, 8);
        put(out, 0x1000, 8);
    } else {
        put(out, p_type as u64, 4);
        put(out, offset, 4);
        put(out, vaddr, 4);
        put(out, vaddr, 4);
        put(out, memsz, 4);
        put(out, memsz, 4);
        put(out, flags as u64, 4);
        put(out, 0x1000, 4);
    }
}

struct Bounds {
    lo: usize,
    hi: usize,
}
impl Bounds {
    fn inside(&self, p: *const u8, len: usize) -> bool {
        let a = p as usize;
        a >= self.lo && a.checked_add(len).is_some_and(|e| e <= self.hi)
    }
}

/// `GOTHOOK_FUZZ_DEBUG=1` prints what each input decoded to (for checking seeds).
fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GOTHOOK_FUZZ_DEBUG").is_some())
}

fuzz_target!(|data: &[u8]| {
    let c = Cursor(data);
    let mode = c.get(0, 1) as u8;
    // Program headers are written in the class the decoder is told to read (the caller's
    // contract: they must describe mapped memory); bit 0 only matters for the invalid flag pair.
    let is64 = match mode >> 6 {
        1 => false,
        2 => true,
        0 => cfg!(target_pointer_width = "64"),
        _ => mode & 1 != 0,
    };
    let machine = MACHINES[((mode >> 1) & 7) as usize];
    let rewrite = mode & 0x10 != 0;
    let class_flag = match mode >> 6 {
        0 => 0,
        1 => DECODE_ELF32,
        2 => DECODE_ELF64,
        _ => DECODE_ELF32 | DECODE_ELF64,
    };
    let vbase = c.get(66, 8);
    // ELF32 vaddrs are 32-bit: keep the whole image below 4 GiB of vaddr so they never wrap.
    let vbase = if is64 { vbase } else { vbase % (0x1_0000_0000 - IMAGE as u64) };

    let mut buf = vec![0u64; IMAGE / 8];
    let base = buf.as_mut_ptr() as usize;
    let bias = base.wrapping_sub(vbase as usize);
    {
        // SAFETY: a u64 buffer viewed as bytes.
        let bytes = unsafe { core::slice::from_raw_parts_mut(base as *mut u8, IMAGE) };
        let img = data.get(HEADER..).unwrap_or(&[]);
        let n = img.len().min(IMAGE);
        bytes[..n].copy_from_slice(&img[..n]);
    }

    let mut ph = Vec::new();
    let nloads = (c.get(1, 1) & 7).min(4) as usize;
    for i in 0..nloads {
        let at = 2 + i * 10;
        let off = (c.get(at, 4) as usize).min(IMAGE);
        let len = (c.get(at + 4, 4) as usize).min(IMAGE - off);
        let flags = c.get(at + 8, 2) as u32;
        phdr(&mut ph, is64, elf::PT_LOAD, flags, off as u64, vbase.wrapping_add(off as u64), len as u64);
    }
    let dyn_vaddr = vbase.wrapping_add(c.get(42, 8));
    let dyn_size = c.get(50, 8);
    phdr(&mut ph, is64, elf::PT_DYNAMIC, 6, 0, dyn_vaddr, dyn_size);
    let relro_len = c.get(62, 4);
    if relro_len != 0 {
        phdr(&mut ph, is64, elf::PT_GNU_RELRO, 4, 0, vbase.wrapping_add(c.get(58, 4)), relro_len);
    }

    if rewrite {
        // glibc's in-place rewrite: add the bias to every pointer entry it knows.
        let off = (dyn_vaddr.wrapping_sub(vbase)) as usize;
        let ws = if is64 { 8 } else { 4 };
        let mut e = off;
        while e < IMAGE && e + 2 * ws <= IMAGE && e % ws == 0 {
            // SAFETY: inside the buffer, aligned to the word size.
            unsafe {
                let p = (base + e) as *mut u8;
                if is64 {
                    let t = (p as *const u64).read();
                    if t == 0 {
                        break;
                    }
                    if PTR_TAGS.contains(&t) {
                        let v = (p as *mut u64).add(1);
                        v.write(v.read().wrapping_add(bias as u64));
                    }
                } else {
                    let t = (p as *const u32).read() as u64;
                    if t == 0 {
                        break;
                    }
                    if PTR_TAGS.contains(&t) {
                        let v = (p as *mut u32).add(1);
                        v.write(v.read().wrapping_add(bias as u32));
                    }
                }
            }
            e += 2 * ws;
        }
    }

    let phnum = ph.len() / if is64 { 56 } else { 32 };
    // The decoder reads phnum entries of *its* class; pad so a class mismatch stays in bounds.
    ph.resize(phnum * 56, 0);
    let raw = &ph[..phnum * if class_flag == DECODE_ELF32 || (class_flag == 0 && cfg!(target_pointer_width = "32")) { 32 } else { 56 }];
    let flags = class_flag | ((machine as u32) << 16);
    let bounds = Bounds { lo: base, hi: base + IMAGE };

    let decoded = Dynamic::decode(bias, raw, flags);
    if debug() {
        eprintln!("decode: {:?}", decoded.as_ref().map(|d| (d.nsyms, d.machine, d.jmprel.1, d.rela.1, d.rel.1)));
    }
    let d = match decoded {
        Ok(d) => d,
        Err(_) => return,
    };
    for r in d.segs.iter() {
        assert!(r.start >= base && r.end <= base + IMAGE, "segment outside the buffer");
    }
    let ws = if d.class == elf::ELFCLASS64 { 8 } else { 4 };
    let _ = d.soname().map(|s| assert!(bounds.inside(s.as_ptr(), s.len() + 1)));

    // Symbols: every name lies inside the string table, which lies inside the buffer.
    let mut defined: Vec<u32> = Vec::new();
    let mut nsym = 0u32;
    let _ = d.for_each_symbol(|s| {
        assert!(bounds.inside(s.name.as_ptr(), s.name.len() + 1), "symbol name outside the image");
        assert!(s.name.as_ptr() as usize >= d.strtab && (s.name.as_ptr() as usize) + s.name.len() < d.strtab + d.strsz);
        if s.is_default_definition() && defined.len() < 64 {
            defined.push(s.index);
        }
        nsym += 1;
        nsym < 100_000
    });

    // Imports: slot in the image and aligned, kind consistent with the architecture row.
    let arch = d.arch().ok();
    let _ = d.for_each_import(|imp| {
        let r = &imp.reloc;
        assert!(r.slot % ws == 0 && bounds.inside(r.slot as *const u8, ws), "slot outside the image");
        assert!(d.contains(r.slot));
        assert!(bounds.inside(imp.name.as_ptr(), imp.name.len() + 1), "import name outside the image");
        let a = arch.expect("imports without an architecture");
        match r.kind {
            ImportKind::Plt => assert_eq!(r.r_type, a.jump_slot),
            ImportKind::GlobDat => assert_eq!(Some(r.r_type), a.glob_dat),
            ImportKind::Abs => assert_eq!(r.r_type, a.abs),
        }
        true
    });
    let _ = d.for_each_reloc(|r| {
        assert!(bounds.inside(r.slot as *const u8, ws));
        true
    });

    // Lookups: of defined names, and of a name taken from the input.
    let tail = data.get(data.len().saturating_sub(12)..).unwrap_or(&[]);
    let extra: &[u8] = match tail.iter().position(|&b| b == 0) {
        Some(n) => &tail[..n],
        None => tail,
    };
    let names: Vec<&[u8]> = defined.iter().filter_map(|&i| d.symbol(i).ok().map(|s| s.name)).collect();
    for name in names.iter().copied().chain(core::iter::once(extra)) {
        if let Ok(Some(s)) = d.lookup(name) {
            assert_eq!(s.name, name, "lookup returned another name");
            assert!(s.is_default_definition(), "lookup returned a non-default definition");
            assert!(s.index < d.nsyms);
        }
        let _ = d.find_named(name, false, |s| {
            assert_eq!(s.name, name);
            true
        });
    }
    for r in d.segs.iter() {
        let _ = d.page_protection(r.start & !0xfff, 0x1000);
    }
});
