//! ELF constants and per-architecture relocation numbers, as plain data.
//! Owns no state and reads no memory; the decoder consults it so foreign files decode anywhere.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_reference_values() {
        // Reference values from the ELF gABI and glibc's dl_new_hash.
        assert_eq!(gnu_hash(b""), 5381);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        assert_eq!(sysv_hash(b"printf"), 0x0779_05a6);
    }
}
