//! The only code that turns addresses into bytes and bytes into ELF structures: a [`Memory`]
//! trait with two implementations, the mapped image of a library in this process
//! ([`ProcessImage`], unsafe to create) and an ELF file held in a byte slice ([`FileImage`]).
//! Reads only, never writes; every read is checked against the image's PT_LOAD segments.
#![deny(clippy::undocumented_unsafe_blocks)]

use core::mem::size_of;

use crate::dynamic::{self, Dynamic};
use crate::elf::{self, Class, ProgramHeader};
use crate::error::{Error, Result};
use crate::mem::{Segments, MAX_LOADS};

/// A type that may be viewed in place over any bytes.
///
/// # Safety
/// The implementing type must have alignment 1, no padding, and be valid for every bit pattern:
/// it is `u8`, a byte array, or a `#[repr(C)]`/`#[repr(transparent)]` struct of such fields.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: every field of these types is `u8`, `[u8; N]` or one of elf's alignment-1
            // integers (`[u8; N]` newtypes); `structures_have_the_gabi_sizes_and_alignment_one`
            // in elf.rs checks their sizes equal the sum of their fields.
            unsafe impl Pod for $t {}
        )*
    };
}
pod!(
    u8,
    elf::U16,
    elf::U32,
    elf::U64,
    elf::Ident,
    elf::Ehdr32,
    elf::Ehdr64,
    elf::Phdr32,
    elf::Phdr64,
    elf::Dyn32,
    elf::Dyn64,
    elf::Sym32,
    elf::Sym64,
    elf::Rel32,
    elf::Rela32,
    elf::Rel64,
    elf::Rela64,
    elf::SysvHashHeader,
    elf::GnuHashHeader
);

/// A read past the checked bytes.
const OUTSIDE: Error = Error::Malformed("read outside the mapped segments");

/// The `T` at the start of `bytes`.
pub fn view<T: Pod>(bytes: &[u8]) -> Result<&T> {
    const { assert!(core::mem::align_of::<T>() == 1) };
    if bytes.len() < size_of::<T>() {
        return Err(OUTSIDE);
    }
    // SAFETY: `T: Pod` has alignment 1 (asserted above) and is valid for any bytes; the slice
    // holds at least `size_of::<T>()` bytes, and the reference borrows from it.
    Ok(unsafe { &*(bytes.as_ptr() as *const T) })
}

/// The whole `T`s at the start of `bytes` (a trailing partial entry is left out).
pub fn view_slice<T: Pod>(bytes: &[u8]) -> &[T] {
    const { assert!(core::mem::align_of::<T>() == 1 && size_of::<T>() > 0) };
    let n = bytes.len() / size_of::<T>();
    // SAFETY: alignment 1, any bit pattern valid (`Pod`); `n * size_of::<T>()` bytes lie inside
    // `bytes`, and the slice borrows from it.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr() as *const T, n) }
}

/// Memory of one image, addressed as the loaded image is (by bias + vaddr).
pub trait Memory {
    /// The image's PT_LOAD ranges: the only addresses [`Memory::bytes`] answers.
    fn segments(&self) -> &Segments;

    /// `len` bytes at `addr`, if they lie inside one segment.
    fn bytes(&self, addr: usize, len: usize) -> Result<&[u8]>;

    /// Whether `[addr, addr + len)` lies inside one segment.
    fn contains(&self, addr: usize, len: usize) -> bool {
        self.segments().contains(addr, len)
    }

    /// The structure at `addr`.
    fn read<T: Pod>(&self, addr: usize) -> Result<&T> {
        view(self.bytes(addr, size_of::<T>())?)
    }

    /// `n` consecutive structures at `addr`.
    fn slice<T: Pod>(&self, addr: usize, n: usize) -> Result<&[T]> {
        let len = n.checked_mul(size_of::<T>()).ok_or(OUTSIDE)?;
        Ok(view_slice(self.bytes(addr, len)?))
    }

    /// A little-endian u16 at `addr`.
    fn u16(&self, addr: usize) -> Result<u16> {
        self.read::<elf::U16>(addr).map(|v| v.get())
    }

    /// A little-endian u32 at `addr`.
    fn u32(&self, addr: usize) -> Result<u32> {
        self.read::<elf::U32>(addr).map(|v| v.get())
    }

    /// A little-endian u64 at `addr`.
    fn u64(&self, addr: usize) -> Result<u64> {
        self.read::<elf::U64>(addr).map(|v| v.get())
    }

    /// An ELF word (4 bytes in ELF32, 8 in ELF64) at `addr`, widened to u64.
    fn word(&self, addr: usize, is64: bool) -> Result<u64> {
        if is64 {
            self.u64(addr)
        } else {
            self.u32(addr).map(u64::from)
        }
    }

    /// The NUL-terminated string starting at `addr` and ending before `limit`, without its NUL.
    fn cstr(&self, addr: usize, limit: usize) -> Result<&[u8]> {
        let r = self.segments().containing(addr, 1).ok_or(OUTSIDE)?;
        let end = limit.min(r.end);
        if end <= addr {
            return Err(Error::Malformed("string starts past its table"));
        }
        let b = self.bytes(addr, end - addr)?;
        let n = b
            .iter()
            .position(|&c| c == 0)
            .ok_or(Error::Malformed("string without NUL inside its table"))?;
        Ok(&b[..n])
    }
}

/// A library mapped in this process: reads go straight to memory, after the segment check.
///
/// Creating one is `unsafe` (the caller vouches the ranges are mapped); gothook creates them
/// inside the `dl_iterate_phdr` callback that reported the library, which keeps it mapped.
///
/// Neither `Copy` nor `Clone`: a decoded library handed out by the walk is borrowed for the
/// callback ([`crate::dynamic::Mapped`]), and a copy would outlive it.
#[repr(C)]
#[derive(Debug)]
pub struct ProcessImage {
    segs: Segments,
}

impl ProcessImage {
    /// An image whose PT_LOAD ranges are `segs`.
    ///
    /// # Safety
    /// Every byte of every range in `segs` is mapped readable in this process, and stays mapped
    /// while the returned value, any copy of it, or anything holding one (a decoded
    /// [`crate::Dynamic`]) is used.  The loader guarantees this for a library inside the
    /// `dl_iterate_phdr` callback that reported it, and for images never unloaded (the main
    /// program, libc, RTLD_NODELETE objects, everything on musl).
    pub unsafe fn new(segs: Segments) -> ProcessImage {
        ProcessImage { segs }
    }
}

impl core::ops::Deref for ProcessImage {
    type Target = Segments;
    fn deref(&self) -> &Segments {
        &self.segs
    }
}

// The range checks are not inlined: inside the decoder's and the passes' loops, the compiler
// would keep every segment's bounds in stack slots of their frames (which run inside malloc
// hooks), for a check that costs a few nanoseconds as a call.
impl Memory for ProcessImage {
    fn segments(&self) -> &Segments {
        &self.segs
    }

    #[inline(never)]
    fn contains(&self, addr: usize, len: usize) -> bool {
        self.segs.contains(addr, len)
    }

    #[inline(never)]
    fn bytes(&self, addr: usize, len: usize) -> Result<&[u8]> {
        if !self.segs.contains(addr, len) {
            return Err(OUTSIDE);
        }
        // SAFETY: `[addr, addr + len)` lies inside one range of `segs`, which the creator of
        // this value vouched is mapped readable while it is used (`ProcessImage::new`); u8 has
        // no alignment or validity requirement; nothing writes through the slice.
        Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
    }
}

/// An ELF file held in a byte slice, addressed by virtual address (bias 0): each PT_LOAD's
/// `[p_vaddr, p_vaddr + p_memsz)` maps to the file bytes at `p_offset`; the zero-filled tail
/// past `p_filesz` is not in the file and reads of it fail.
#[derive(Clone, Copy, Debug)]
pub struct FileImage<'a> {
    data: &'a [u8],
    segs: Segments,
    /// Per segment: (file offset, bytes present in the file).
    file: [(usize, usize); MAX_LOADS],
}

impl<'a> FileImage<'a> {
    /// The image of `data` laid out by the PT_LOAD entries of `phdrs`.
    pub fn new(data: &'a [u8], phdrs: impl Iterator<Item = ProgramHeader>) -> Result<Self> {
        let mut img = FileImage {
            data,
            segs: Segments::default(),
            file: [(0, 0); MAX_LOADS],
        };
        let too_big = Error::Malformed("segment does not fit the address space");
        for p in phdrs.filter(|p| p.p_type == elf::PT_LOAD && p.memsz != 0) {
            let i = img.segs.iter().count();
            let start = usize::try_from(p.vaddr).map_err(|_| too_big)?;
            let len = usize::try_from(p.memsz).map_err(|_| too_big)?;
            img.segs.push(start, len, p.flags)?;
            let offset = usize::try_from(p.offset).map_err(|_| too_big)?;
            let filesz = usize::try_from(p.filesz.min(p.memsz)).map_err(|_| too_big)?;
            img.file[i] = (offset, filesz);
        }
        Ok(img)
    }

    /// The image of an ELF file: its class, program headers and PT_LOADs from its own headers.
    pub fn parse(data: &'a [u8]) -> Result<(Self, u8)> {
        let id: &elf::Ident = view(data)?;
        if id.magic != elf::ELFMAG {
            return Err(Error::Malformed("no ELF magic"));
        }
        if id.data != elf::ELFDATA2LSB {
            return Err(Error::Unsupported);
        }
        let img = match id.class {
            elf::ELFCLASS32 => Self::parse_class::<elf::Elf32>(data)?,
            elf::ELFCLASS64 => Self::parse_class::<elf::Elf64>(data)?,
            _ => return Err(Error::Unsupported),
        };
        Ok((img, id.class))
    }

    fn parse_class<C: Class>(data: &'a [u8]) -> Result<Self> {
        Self::new(data, program_headers::<C>(phdr_table::<C>(data)?))
    }

    /// The file bytes, for callers that need the program header table itself.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// The program header table of an ELF file in `data`.
pub fn phdr_table<C: Class>(data: &[u8]) -> Result<&[u8]> {
    let e: &C::Ehdr = view(data)?;
    let (off, num, ent) = C::program_headers(e);
    if ent as usize != size_of::<C::Phdr>() {
        return Err(Error::Malformed("e_phentsize is not the class's"));
    }
    let start = usize::try_from(off).map_err(|_| OUTSIDE)?;
    data.get(start..)
        .and_then(|t| t.get(..num as usize * size_of::<C::Phdr>()))
        .ok_or(Error::Malformed("program headers outside the file"))
}

/// The program headers in `raw` (whole entries only).
pub fn program_headers<C: Class>(raw: &[u8]) -> impl Iterator<Item = ProgramHeader> + '_ {
    view_slice::<C::Phdr>(raw).iter().map(C::phdr)
}

impl Memory for FileImage<'_> {
    fn segments(&self) -> &Segments {
        &self.segs
    }

    fn bytes(&self, addr: usize, len: usize) -> Result<&[u8]> {
        let end = addr.checked_add(len).ok_or(OUTSIDE)?;
        let (i, r) = self
            .segs
            .iter()
            .enumerate()
            .find(|(_, r)| addr >= r.start && end <= r.end)
            .ok_or(OUTSIDE)?;
        let (offset, filesz) = self.file[i];
        let inner = addr - r.start;
        if inner + len > filesz {
            return Err(Error::Malformed("read of a segment's zero-filled tail"));
        }
        self.data
            .get(offset + inner..)
            .and_then(|t| t.get(..len))
            .ok_or(Error::Malformed("segment outside the file"))
    }
}

/// Borrows `len` bytes at `addr` that the caller vouches for (program headers handed over by
/// the loader or a C caller).
///
/// # Safety
/// `[addr, addr + len)` is readable memory that stays valid and unmodified for `'a`.
pub unsafe fn raw_bytes<'a>(addr: usize, len: usize) -> &'a [u8] {
    // SAFETY: guaranteed by the caller, as documented above.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

/// Reads `phnum` program headers at `phdr`.
///
/// # Safety
/// `phdr` must point to `phnum` readable program headers of the given class that stay valid
/// for `'a`.
pub unsafe fn phdr_bytes<'a>(phdr: usize, phnum: usize, is64: bool) -> Result<&'a [u8]> {
    if phdr == 0 || phnum == 0 || phnum > dynamic::MAX_PHNUM || !phdr.is_multiple_of(4) {
        return Err(Error::Invalid);
    }
    // SAFETY: forwarded from the caller's contract.
    Ok(unsafe { raw_bytes(phdr, phnum * dynamic::phent(is64)) })
}

// The constructor from raw addresses lives here, beside `ProcessImage::new`, so that the
// decoder itself needs no `unsafe`.
impl Dynamic<ProcessImage> {
    /// Decodes the image loaded in this process at `bias` from its program headers
    /// (`raw_phdrs`, as returned by [`phdr_bytes`]).  `flags` are `DECODE_*`, with an optional
    /// `e_machine` hint in the high 16 bits for images whose ELF header is not mapped.
    ///
    /// # Safety
    /// Every PT_LOAD range the program headers describe at `bias` is mapped readable in this
    /// process and stays mapped while the returned value or any copy of it is used (see
    /// [`ProcessImage::new`]).  [`crate::LibInfo::decode`] is the safe way inside a walk.
    pub unsafe fn decode(bias: usize, raw_phdrs: &[u8], flags: u32) -> Result<Dynamic> {
        let segs = dynamic::load_segments(bias, raw_phdrs, dynamic::decode_class(flags)?)?;
        // SAFETY: the caller vouches these ranges are mapped while the result lives.
        let mem = unsafe { ProcessImage::new(segs) };
        Dynamic::decode_in(mem, bias, raw_phdrs, flags)
    }

    /// A decoded image with no segment: every read through it is refused.  The value of a
    /// place that [`Dynamic::decode_into`] fills, between decodes.
    pub(crate) const UNMAPPED: Dynamic = Dynamic {
        bias: 0,
        segs: ProcessImage {
            segs: Segments {
                ranges: [crate::mem::Range {
                    start: 0,
                    end: 0,
                    flags: 0,
                    reserved: 0,
                }; crate::mem::MAX_LOADS],
                count: 0,
                reserved: 0,
            },
        },
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
        class: 0,
        plt_rela: 0,
        bind_now: 0,
        reserved: [0; 7],
        gnu: dynamic::GnuHash {
            nbuckets: 0,
            symoffset: 0,
            bloom_words: 0,
            bloom_shift: 0,
            bloom: 0,
            buckets: 0,
            chains: 0,
        },
        sysv: dynamic::SysvHash {
            nbucket: 0,
            nchain: 0,
            buckets: 0,
            chains: 0,
        },
    };

    /// [`Dynamic::decode`] written into `out` in place: the passes that run inside malloc hooks
    /// keep the decoded image (half a kilobyte) in static memory, and the decoder's own frame
    /// then holds only the tag values.  With `tables` false it stops after the string table:
    /// enough for `soname`, `string` and the DT_NEEDED entries, at a fraction of the cost.  On
    /// error `out` is left unmapped ([`Dynamic::unmap`]).
    ///
    /// # Safety
    /// As [`Dynamic::decode`], while `out` is used: the caller unmaps it (or decodes another
    /// image into it) before the library may be unloaded.
    pub(crate) unsafe fn decode_into(
        out: &mut Dynamic,
        bias: usize,
        raw_phdrs: &[u8],
        flags: u32,
        tables: bool,
    ) -> Result<()> {
        let r = Dynamic::place(out, bias, raw_phdrs, flags, tables);
        if r.is_err() {
            out.unmap();
        }
        r
    }

    fn place(
        out: &mut Dynamic,
        bias: usize,
        raw_phdrs: &[u8],
        flags: u32,
        tables: bool,
    ) -> Result<()> {
        let is64 = dynamic::decode_class(flags)?;
        out.reset(
            bias,
            if is64 {
                elf::ELFCLASS64
            } else {
                elf::ELFCLASS32
            },
        );
        // The ranges are the caller's to vouch for (see `decode_into`), as for
        // `ProcessImage::new`.
        dynamic::fill_segments(&mut out.segs.segs, bias, raw_phdrs, is64)?;
        out.fill(raw_phdrs, flags, tables)
    }

    /// Forgets the image: every later read through `self` is refused (no segment is left).
    pub(crate) fn unmap(&mut self) {
        self.segs.segs.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(ranges: &[(usize, usize)]) -> Segments {
        let mut s = Segments::default();
        for &(a, l) in ranges {
            s.push(a, l, elf::PF_R).unwrap();
        }
        s
    }

    #[test]
    fn process_image_reads_inside_and_refuses_outside_and_across_ranges() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 0, 9];
        let base = buf.as_ptr() as usize;
        // SAFETY: both ranges lie inside `buf`, which outlives `m`.
        let m = unsafe { ProcessImage::new(segs(&[(base, 4), (base + 4, 6)])) };
        assert_eq!(m.u32(base).unwrap(), 0x0403_0201);
        assert!(m.u16(base + 3).unwrap_err().is_malformed(), "straddles");
        assert!(m.u32(base + 8).unwrap_err().is_malformed(), "past the end");
        assert!(
            m.u32(usize::MAX - 1).unwrap_err().is_malformed(),
            "overflow"
        );
        assert_eq!(m.cstr(base + 4, usize::MAX).unwrap(), &[5, 6, 7, 8]);
        assert!(m.cstr(base + 9, usize::MAX).is_err(), "no NUL");
        assert!(m.cstr(base + 4, base + 6).is_err(), "NUL beyond limit");
    }

    #[test]
    fn file_image_maps_vaddr_to_file_offset_and_refuses_the_bss_tail() {
        let data = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let ph = |vaddr, offset, filesz, memsz| ProgramHeader {
            p_type: elf::PT_LOAD,
            flags: elf::PF_R,
            offset,
            vaddr,
            filesz,
            memsz,
        };
        let f = FileImage::new(
            &data,
            [ph(0x1000, 0, 8, 8), ph(0x2000, 8, 4, 8)].into_iter(),
        )
        .unwrap();
        assert_eq!(f.bytes(0x1002, 2).unwrap(), &[2, 3]);
        assert_eq!(f.bytes(0x2000, 4).unwrap(), &[8, 9, 10, 11]);
        assert!(
            f.bytes(0x2001, 4).is_err(),
            "one byte into the zero-filled tail"
        );
        assert!(f.bytes(0x1006, 4).is_err(), "past the first segment");
        assert!(f.bytes(0x3000, 1).is_err(), "unmapped");
        let short = FileImage::new(&data[..10], [ph(0x2000, 8, 4, 4)].into_iter()).unwrap();
        assert!(
            short.bytes(0x2000, 4).is_err(),
            "segment runs past the file"
        );
    }

    #[test]
    fn a_library_decoded_in_place_is_the_one_decoded_by_value_and_unmapped_reads_nothing() {
        let mut image = Dynamic::UNMAPPED;
        let mut seen = 0;
        crate::loader::each(0, |lib| {
            let Ok(by_value) = lib.decode() else {
                return true;
            };
            lib.decode_into(&mut image).unwrap();
            // Every field (the decoder writes each one in both paths).
            let v = &*by_value;
            let i = &image;
            assert_eq!(v.segs.count, i.segs.count);
            assert_eq!(v.segs.ranges, i.segs.ranges);
            assert_eq!((v.bias, v.relro, v.dynamic), (i.bias, i.relro, i.dynamic));
            assert_eq!((v.symtab, v.strtab, v.strsz), (i.symtab, i.strtab, i.strsz));
            assert_eq!(
                (v.hash, v.gnu_hash, v.versym),
                (i.hash, i.gnu_hash, i.versym)
            );
            assert_eq!((v.jmprel, v.rela, v.rel), (i.jmprel, i.rela, i.rel));
            assert_eq!(
                (v.relr, v.relcount, v.soname),
                (i.relr, i.relcount, i.soname)
            );
            assert_eq!((v.runpath, v.rpath, v.nsyms), (i.runpath, i.rpath, i.nsyms));
            assert_eq!(
                (v.symoffset, v.machine, v.class),
                (i.symoffset, i.machine, i.class)
            );
            assert_eq!(
                (v.plt_rela, v.bind_now, v.reserved),
                (i.plt_rela, i.bind_now, i.reserved)
            );
            assert_eq!((v.gnu, v.sysv), (i.gnu, i.sysv));
            let first = image.segs.iter().next().unwrap().start;
            assert!(image.segs.bytes(first, 1).is_ok());
            image.unmap();
            assert!(
                image.segs.bytes(first, 1).is_err(),
                "an unmapped image reads nothing"
            );
            assert!(image.lookup(b"malloc").is_err() || image.lookup(b"malloc").unwrap().is_none());
            seen += 1;
            true
        })
        .unwrap();
        assert!(seen >= 3, "{seen} libraries decoded");
        // A failed decode leaves the place unmapped, not half filled.
        let bad = [0u8; 56];
        // SAFETY: program headers of zeros describe no segment: nothing is read through them.
        let r = unsafe { Dynamic::decode_into(&mut image, 0, &bad, 0, true) };
        assert!(r.is_err());
        assert_eq!(image.segs.iter().count(), 0);
    }

    #[test]
    fn views_need_whole_structures() {
        let b = [0u8; 23];
        assert!(view::<elf::Rela64>(&b).is_err());
        assert_eq!(view_slice::<elf::Rela64>(&[0u8; 50]).len(), 2);
    }
}
