//! ELF constants, per-architecture relocation numbers and the on-disk structures, as plain data.
//! Owns no state and reads no memory; the decoder consults it so foreign files decode anywhere.
//! Every structure is made of alignment-1 little-endian integers, so it can be viewed in place
//! at any address by [`crate::read`], the only code that turns bytes into these types.

/// Program header types.
pub const PT_LOAD: u32 = 1;
/// Dynamic linking information.
pub const PT_DYNAMIC: u32 = 2;
/// Read-only-after-relocation range.
pub const PT_GNU_RELRO: u32 = 0x6474_e552;

/// Segment flags.
pub const PF_X: u32 = 1;
/// Writable segment.
pub const PF_W: u32 = 2;
/// Readable segment.
pub const PF_R: u32 = 4;

/// Dynamic tags used by the decoder.
pub mod dt {
    #![allow(missing_docs)]
    pub const NULL: i64 = 0;
    pub const NEEDED: i64 = 1;
    pub const PLTRELSZ: i64 = 2;
    pub const HASH: i64 = 4;
    pub const STRTAB: i64 = 5;
    pub const SYMTAB: i64 = 6;
    pub const RELA: i64 = 7;
    pub const RELASZ: i64 = 8;
    pub const RELAENT: i64 = 9;
    pub const STRSZ: i64 = 10;
    pub const SYMENT: i64 = 11;
    pub const SONAME: i64 = 14;
    pub const RPATH: i64 = 15;
    pub const RUNPATH: i64 = 29;
    pub const REL: i64 = 17;
    pub const RELSZ: i64 = 18;
    pub const RELENT: i64 = 19;
    pub const PLTREL: i64 = 20;
    pub const BIND_NOW: i64 = 24;
    pub const FLAGS: i64 = 30;
    pub const JMPREL: i64 = 23;
    pub const RELRSZ: i64 = 35;
    pub const RELR: i64 = 36;
    pub const RELRENT: i64 = 37;
    pub const GNU_HASH: i64 = 0x6fff_fef5;
    pub const VERSYM: i64 = 0x6fff_fff0;
    pub const RELACOUNT: i64 = 0x6fff_fff9;
    pub const RELCOUNT: i64 = 0x6fff_fffa;
    pub const FLAGS_1: i64 = 0x6fff_fffb;
}

/// `DT_FLAGS` bit: bind all symbols at load time.
pub const DF_BIND_NOW: u64 = 0x8;
/// `DT_FLAGS_1` bit: bind all symbols at load time.
pub const DF_1_NOW: u64 = 0x1;

/// `e_ident` indices and values.
pub const ELFCLASS32: u8 = 1;
/// 64-bit objects.
pub const ELFCLASS64: u8 = 2;
/// Little-endian data encoding (the only one gothook decodes).
pub const ELFDATA2LSB: u8 = 1;

/// Symbol types and bindings (`st_info`).
pub const STT_TLS: u8 = 6;
/// Indirect function: the value is a resolver.
pub const STT_GNU_IFUNC: u8 = 10;
/// Local binding.
pub const STB_LOCAL: u8 = 0;
/// Undefined section index.
pub const SHN_UNDEF: u16 = 0;
/// Absolute section index: the value is not relocated.
pub const SHN_ABS: u16 = 0xfff1;
/// `versym` bit marking a non-default (hidden) version.
pub const VERSYM_HIDDEN: u16 = 0x8000;

/// ELF machine numbers (`e_machine`).
pub mod em {
    #![allow(missing_docs)]
    pub const I386: u16 = 3;
    pub const ARM: u16 = 40;
    pub const PPC64: u16 = 21;
    pub const X86_64: u16 = 62;
    pub const AARCH64: u16 = 183;
    pub const RISCV: u16 = 243;
    pub const LOONGARCH: u16 = 258;
}

/// The word size and relocation numbers one architecture uses for imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    /// `e_machine`.
    pub machine: u16,
    /// `ELFCLASS32` or `ELFCLASS64`.
    pub class: u8,
    /// Whether the ABI's dynamic relocations carry addends (RELA) or not (REL).
    pub rela: bool,
    /// PLT slot relocation (`*_JUMP_SLOT`).
    pub jump_slot: u32,
    /// GOT data relocation (`*_GLOB_DAT`), if the architecture has one.
    pub glob_dat: Option<u32>,
    /// Word-sized absolute relocation (`*_64` / `*_ABS64` / `*_32`), used by -fno-plt and data.
    pub abs: u32,
    /// `*_RELATIVE`.
    pub relative: u32,
    /// `*_IRELATIVE`.
    pub irelative: u32,
}

/// The architectures gothook decodes.  Adding one is adding a row.
pub const ARCHES: &[Arch] = &[
    Arch {
        machine: em::X86_64,
        class: ELFCLASS64,
        rela: true,
        jump_slot: 7,
        glob_dat: Some(6),
        abs: 1,
        relative: 8,
        irelative: 37,
    },
    Arch {
        machine: em::AARCH64,
        class: ELFCLASS64,
        rela: true,
        jump_slot: 1026,
        glob_dat: Some(1025),
        abs: 257,
        relative: 1027,
        irelative: 1032,
    },
    Arch {
        machine: em::I386,
        class: ELFCLASS32,
        rela: false,
        jump_slot: 7,
        glob_dat: Some(6),
        abs: 1,
        relative: 8,
        irelative: 42,
    },
    Arch {
        machine: em::ARM,
        class: ELFCLASS32,
        rela: false,
        jump_slot: 22,
        glob_dat: Some(21),
        abs: 2,
        relative: 23,
        irelative: 160,
    },
    Arch {
        machine: em::RISCV,
        class: ELFCLASS64,
        rela: true,
        jump_slot: 5,
        glob_dat: None,
        abs: 2,
        relative: 3,
        irelative: 58,
    },
    Arch {
        machine: em::PPC64,
        class: ELFCLASS64,
        rela: true,
        jump_slot: 21,
        glob_dat: Some(20),
        abs: 38,
        relative: 22,
        irelative: 248,
    },
    Arch {
        machine: em::LOONGARCH,
        class: ELFCLASS64,
        rela: true,
        jump_slot: 5,
        glob_dat: None,
        abs: 2,
        relative: 3,
        irelative: 12,
    },
];

/// The row for `machine` in `class`, or `None` when gothook does not support it.
pub fn arch(machine: u16, class: u8) -> Option<&'static Arch> {
    ARCHES
        .iter()
        .find(|a| a.machine == machine && a.class == class)
}

/// The architecture of the running process.
pub fn host_arch() -> Option<&'static Arch> {
    let class = if cfg!(target_pointer_width = "64") {
        ELFCLASS64
    } else {
        ELFCLASS32
    };
    let machine = if cfg!(target_arch = "x86_64") {
        em::X86_64
    } else if cfg!(target_arch = "aarch64") {
        em::AARCH64
    } else if cfg!(target_arch = "x86") {
        em::I386
    } else if cfg!(target_arch = "arm") {
        em::ARM
    } else if cfg!(target_arch = "riscv64") {
        em::RISCV
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        em::PPC64
    } else if cfg!(target_arch = "loongarch64") {
        em::LOONGARCH
    } else {
        0
    };
    arch(machine, class)
}

/// The GNU hash function (`dl_new_hash`).
pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter()
        .fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(c as u32))
}

/// The System V ELF hash function.
pub fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(c as u32);
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// A little-endian `u16` with alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U16(pub [u8; 2]);
/// A little-endian `u32` with alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U32(pub [u8; 4]);
/// A little-endian `u64` with alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U64(pub [u8; 8]);

impl U16 {
    /// The value.
    pub const fn get(self) -> u16 {
        u16::from_le_bytes(self.0)
    }
}
impl U32 {
    /// The value.
    pub const fn get(self) -> u32 {
        u32::from_le_bytes(self.0)
    }
}
impl U64 {
    /// The value.
    pub const fn get(self) -> u64 {
        u64::from_le_bytes(self.0)
    }
}

/// The class-independent start of every ELF header: `e_ident`, `e_type`, `e_machine`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub struct Ident {
    pub magic: [u8; 4],
    pub class: u8,
    pub data: u8,
    pub version: u8,
    pub osabi: u8,
    pub pad: [u8; 8],
    pub e_type: U16,
    pub e_machine: U16,
}

/// The ELF magic bytes.
pub const ELFMAG: [u8; 4] = *b"\x7fELF";

macro_rules! plain {
    ($(#[$m:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default)]
        #[allow(missing_docs)]
        pub struct $name { $(pub $field: $ty),* }
    };
}

plain!(/// ELF32 file header.
    Ehdr32 { e_ident: [u8; 16], e_type: U16, e_machine: U16, e_version: U32, e_entry: U32,
    e_phoff: U32, e_shoff: U32, e_flags: U32, e_ehsize: U16, e_phentsize: U16, e_phnum: U16,
    e_shentsize: U16, e_shnum: U16, e_shstrndx: U16 });
plain!(/// ELF64 file header.
    Ehdr64 { e_ident: [u8; 16], e_type: U16, e_machine: U16, e_version: U32, e_entry: U64,
    e_phoff: U64, e_shoff: U64, e_flags: U32, e_ehsize: U16, e_phentsize: U16, e_phnum: U16,
    e_shentsize: U16, e_shnum: U16, e_shstrndx: U16 });
plain!(/// ELF32 program header.
    Phdr32 { p_type: U32, p_offset: U32, p_vaddr: U32, p_paddr: U32, p_filesz: U32,
    p_memsz: U32, p_flags: U32, p_align: U32 });
plain!(/// ELF64 program header.
    Phdr64 { p_type: U32, p_flags: U32, p_offset: U64, p_vaddr: U64, p_paddr: U64,
    p_filesz: U64, p_memsz: U64, p_align: U64 });
plain!(/// ELF32 dynamic entry.
    Dyn32 { d_tag: U32, d_val: U32 });
plain!(/// ELF64 dynamic entry.
    Dyn64 { d_tag: U64, d_val: U64 });
plain!(/// ELF32 symbol.
    Sym32 { st_name: U32, st_value: U32, st_size: U32, st_info: u8, st_other: u8,
    st_shndx: U16 });
plain!(/// ELF64 symbol.
    Sym64 { st_name: U32, st_info: u8, st_other: u8, st_shndx: U16, st_value: U64,
    st_size: U64 });
plain!(/// ELF32 relocation without addend.
    Rel32 { r_offset: U32, r_info: U32 });
plain!(/// ELF32 relocation with addend.
    Rela32 { r_offset: U32, r_info: U32, r_addend: U32 });
plain!(/// ELF64 relocation without addend.
    Rel64 { r_offset: U64, r_info: U64 });
plain!(/// ELF64 relocation with addend.
    Rela64 { r_offset: U64, r_info: U64, r_addend: U64 });
plain!(/// DT_HASH header; `nbucket` bucket words and `nchain` chain words follow.
    SysvHashHeader { nbucket: U32, nchain: U32 });
plain!(/// DT_GNU_HASH header; bloom words, bucket words and chain words follow.
    GnuHashHeader { nbuckets: U32, symoffset: U32, bloom_size: U32, bloom_shift: U32 });

/// A program header's fields, for either class.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgramHeader {
    /// p_type.
    pub p_type: u32,
    /// p_flags.
    pub flags: u32,
    /// p_offset.
    pub offset: u64,
    /// p_vaddr.
    pub vaddr: u64,
    /// p_filesz.
    pub filesz: u64,
    /// p_memsz.
    pub memsz: u64,
}

/// A symbol's fields, for either class.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct SymbolFields {
    pub name: u32,
    pub value: u64,
    pub size: u64,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
}

/// A relocation entry's fields, for either class and with or without addend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelocFields {
    /// r_offset.
    pub offset: u64,
    /// Symbol index from r_info.
    pub sym: u32,
    /// Type from r_info.
    pub r_type: u32,
    /// r_addend, 0 for REL entries.
    pub addend: i64,
}

/// A relocation entry of some class, with or without addend.
pub trait RelocEntry: Copy {
    /// Its fields.
    fn fields(&self) -> RelocFields;
}

impl RelocEntry for Rel32 {
    fn fields(&self) -> RelocFields {
        let info = self.r_info.get();
        RelocFields {
            offset: self.r_offset.get() as u64,
            sym: info >> 8,
            r_type: info & 0xff,
            addend: 0,
        }
    }
}
impl RelocEntry for Rela32 {
    fn fields(&self) -> RelocFields {
        let info = self.r_info.get();
        RelocFields {
            offset: self.r_offset.get() as u64,
            sym: info >> 8,
            r_type: info & 0xff,
            addend: self.r_addend.get() as i32 as i64,
        }
    }
}
impl RelocEntry for Rel64 {
    fn fields(&self) -> RelocFields {
        let info = self.r_info.get();
        RelocFields {
            offset: self.r_offset.get(),
            sym: (info >> 32) as u32,
            r_type: info as u32,
            addend: 0,
        }
    }
}
impl RelocEntry for Rela64 {
    fn fields(&self) -> RelocFields {
        let info = self.r_info.get();
        RelocFields {
            offset: self.r_offset.get(),
            sym: (info >> 32) as u32,
            r_type: info as u32,
            addend: self.r_addend.get() as i64,
        }
    }
}

/// The 32/64-bit class: which structures an image uses and how their fields widen.
pub trait Class: 'static {
    /// `ELFCLASS32` or `ELFCLASS64`.
    const CLASS: u8;
    /// Bytes in an address-sized word.
    const WORD: usize;
    /// File header.
    type Ehdr: crate::read::Pod;
    /// Program header.
    type Phdr: crate::read::Pod;
    /// Dynamic entry.
    type Dyn: crate::read::Pod;
    /// Symbol.
    type Sym: crate::read::Pod;
    /// Relocation without addend.
    type Rel: RelocEntry + crate::read::Pod;
    /// Relocation with addend.
    type Rela: RelocEntry + crate::read::Pod;
    /// The program header's fields.
    fn phdr(p: &Self::Phdr) -> ProgramHeader;
    /// The dynamic entry's (tag, value); the tag sign-extended as the gABI's `Elf32_Sword`.
    fn dyn_entry(d: &Self::Dyn) -> (i64, u64);
    /// The symbol's fields.
    fn sym(s: &Self::Sym) -> SymbolFields;
    /// `st_name` alone (the hot path of a name scan).
    fn sym_name(s: &Self::Sym) -> u32;
    /// (e_phoff, e_phnum, e_phentsize) of a file header.
    fn program_headers(e: &Self::Ehdr) -> (u64, u16, u16);
}

/// ELFCLASS32.
#[derive(Clone, Copy, Debug)]
pub struct Elf32;
/// ELFCLASS64.
#[derive(Clone, Copy, Debug)]
pub struct Elf64;

impl Class for Elf32 {
    const CLASS: u8 = ELFCLASS32;
    const WORD: usize = 4;
    type Ehdr = Ehdr32;
    type Phdr = Phdr32;
    type Dyn = Dyn32;
    type Sym = Sym32;
    type Rel = Rel32;
    type Rela = Rela32;
    fn phdr(p: &Phdr32) -> ProgramHeader {
        ProgramHeader {
            p_type: p.p_type.get(),
            flags: p.p_flags.get(),
            offset: p.p_offset.get() as u64,
            vaddr: p.p_vaddr.get() as u64,
            filesz: p.p_filesz.get() as u64,
            memsz: p.p_memsz.get() as u64,
        }
    }
    fn dyn_entry(d: &Dyn32) -> (i64, u64) {
        (d.d_tag.get() as i32 as i64, d.d_val.get() as u64)
    }
    fn sym(s: &Sym32) -> SymbolFields {
        SymbolFields {
            name: s.st_name.get(),
            value: s.st_value.get() as u64,
            size: s.st_size.get() as u64,
            info: s.st_info,
            other: s.st_other,
            shndx: s.st_shndx.get(),
        }
    }
    fn sym_name(s: &Sym32) -> u32 {
        s.st_name.get()
    }
    fn program_headers(e: &Ehdr32) -> (u64, u16, u16) {
        (e.e_phoff.get() as u64, e.e_phnum.get(), e.e_phentsize.get())
    }
}

impl Class for Elf64 {
    const CLASS: u8 = ELFCLASS64;
    const WORD: usize = 8;
    type Ehdr = Ehdr64;
    type Phdr = Phdr64;
    type Dyn = Dyn64;
    type Sym = Sym64;
    type Rel = Rel64;
    type Rela = Rela64;
    fn phdr(p: &Phdr64) -> ProgramHeader {
        ProgramHeader {
            p_type: p.p_type.get(),
            flags: p.p_flags.get(),
            offset: p.p_offset.get(),
            vaddr: p.p_vaddr.get(),
            filesz: p.p_filesz.get(),
            memsz: p.p_memsz.get(),
        }
    }
    fn dyn_entry(d: &Dyn64) -> (i64, u64) {
        (d.d_tag.get() as i64, d.d_val.get())
    }
    fn sym(s: &Sym64) -> SymbolFields {
        SymbolFields {
            name: s.st_name.get(),
            value: s.st_value.get(),
            size: s.st_size.get(),
            info: s.st_info,
            other: s.st_other,
            shndx: s.st_shndx.get(),
        }
    }
    fn sym_name(s: &Sym64) -> u32 {
        s.st_name.get()
    }
    fn program_headers(e: &Ehdr64) -> (u64, u16, u16) {
        (e.e_phoff.get(), e.e_phnum.get(), e.e_phentsize.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_have_the_gabi_sizes_and_alignment_one() {
        use core::mem::{align_of, size_of};
        let sizes = [
            (size_of::<Ident>(), 20),
            (size_of::<Ehdr32>(), 52),
            (size_of::<Ehdr64>(), 64),
            (size_of::<Phdr32>(), 32),
            (size_of::<Phdr64>(), 56),
            (size_of::<Dyn32>(), 8),
            (size_of::<Dyn64>(), 16),
            (size_of::<Sym32>(), 16),
            (size_of::<Sym64>(), 24),
            (size_of::<Rel32>(), 8),
            (size_of::<Rela32>(), 12),
            (size_of::<Rel64>(), 16),
            (size_of::<Rela64>(), 24),
            (size_of::<SysvHashHeader>(), 8),
            (size_of::<GnuHashHeader>(), 16),
        ];
        for (i, (got, want)) in sizes.into_iter().enumerate() {
            assert_eq!(got, want, "structure {i}");
        }
        assert_eq!(align_of::<Ehdr64>(), 1);
        assert_eq!(align_of::<Rela64>(), 1);
    }

    #[test]
    fn relocation_info_splits_by_class() {
        let r = Rela64 {
            r_offset: U64(0x1000u64.to_le_bytes()),
            r_info: U64(((5u64 << 32) | 7).to_le_bytes()),
            r_addend: U64((-8i64).to_le_bytes()),
        };
        assert_eq!(
            r.fields(),
            RelocFields {
                offset: 0x1000,
                sym: 5,
                r_type: 7,
                addend: -8
            }
        );
        let r = Rel32 {
            r_offset: U32(0x40u32.to_le_bytes()),
            r_info: U32(((3u32) << 8 | 6).to_le_bytes()),
        };
        assert_eq!(
            r.fields(),
            RelocFields {
                offset: 0x40,
                sym: 3,
                r_type: 6,
                addend: 0
            }
        );
    }

    #[test]
    fn hashes_match_reference_values() {
        // Reference values from the ELF gABI and glibc's dl_new_hash.
        assert_eq!(gnu_hash(b""), 5381);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        assert_eq!(sysv_hash(b"printf"), 0x0779_05a6);
    }
}
