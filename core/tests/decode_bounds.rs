//! Table bounds of the decoder: images built byte by byte in which the table under test is the
//! last thing in the only PT_LOAD, so that "ends exactly at the segment end" (accepted) and
//! "ends one byte or one entry past it" (EMALFORMED) differ by a single byte.  The images live in
//! an ordinary buffer of this process, larger than the segment, so a decoder that read past the
//! segment would not fault: only the status tells whether the check held.  Each image is
//! decoded twice: as mapped memory of this process and as a file in a byte slice.

mod image;

use gothook_core::dynamic::{Dynamic, Table};
use gothook_core::elf::dt;
use gothook_core::{ImportKind, Memory};
use image::*;

/// What a decoded test image must show: its symbols, soname, lookup and imports.
fn check_decoded<M: Memory>(d: &Dynamic<M>, spec: Spec, got: usize) {
    assert_eq!(d.nsyms, 4, "{spec:?}");
    assert_eq!(d.soname(), Some(&b"libbounds.so"[..]), "{spec:?}");
    // A GNU hash table without chains covers no symbol, so lookups find nothing.
    let expected = (spec.style != HashStyle::GnuNoChains).then_some(3);
    let getpid = d.lookup(b"getpid").unwrap().map(|s| s.index);
    assert_eq!(getpid, expected, "{spec:?}");
    // Undefined symbols: DT_HASH finds them by walking the chain 3 -> 2 -> 1; GNU hash does
    // not cover them (they lie below symoffset), a linear scan does.
    let mut named = Vec::new();
    d.find_named(b"malloc", false, |s| {
        named.push(s.index);
        true
    })
    .unwrap();
    assert_eq!(named, [1], "{spec:?}");
    let mut hashed = Vec::new();
    d.find_hashed(b"free", |s| {
        hashed.push(s.index);
        true
    })
    .unwrap();
    let expected: &[u32] = if spec.style == HashStyle::Sysv {
        &[2]
    } else {
        &[]
    };
    assert_eq!(hashed, expected, "{spec:?}");
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

#[test]
fn each_malformed_dynamic_entry_is_refused_by_the_check_named_for_it() {
    use Patch::*;
    // An offset equal to DT_STRSZ is the first one past the table.
    let strsz = STRTAB.len() as u64;
    let cases: [(i64, Patch, &str); 19] = [
        (dt::NULL, Remove, "dynamic array without DT_NULL"),
        (dt::STRTAB, Remove, "no DT_STRTAB"),
        (dt::STRSZ, Remove, "no DT_STRSZ"),
        (dt::SYMTAB, Remove, "no DT_SYMTAB"),
        (dt::STRSZ, Set(0), "string table ends outside its segment"),
        (
            dt::STRTAB,
            Set(0x7000_0000),
            "dynamic pointer outside the mapped segments",
        ),
        (
            dt::SONAME,
            Set(strsz),
            "DT_SONAME, DT_RUNPATH or DT_RPATH past DT_STRSZ",
        ),
        (
            dt::SYMENT,
            Set(7),
            "DT_SYMENT is not the class's symbol size",
        ),
        (dt::SYMTAB, Add(2), "misaligned DT_SYMTAB"),
        (dt::HASH, Add(2), "misaligned DT_HASH"),
        (
            dt::VERSYM,
            Add(1),
            "DT_VERSYM misaligned or ending outside its segment",
        ),
        (
            dt::PLTREL,
            Set(99),
            "DT_PLTREL is neither DT_RELA nor DT_REL",
        ),
        (
            dt::RELAENT,
            Set(5),
            "DT_RELAENT, DT_RELENT or DT_RELRENT is not the class's",
        ),
        (
            dt::RELENT,
            Set(5),
            "DT_RELAENT, DT_RELENT or DT_RELRENT is not the class's",
        ),
        (
            dt::RELASZ,
            Add(1),
            "relocation table size not a multiple of its entry size",
        ),
        (dt::RELA, Add(2), "misaligned relocation table"),
        (
            dt::RELACOUNT,
            Set(3),
            "DT_RELACOUNT or DT_RELCOUNT larger than its table",
        ),
        (
            dt::RELCOUNT,
            Set(3),
            "DT_RELACOUNT or DT_RELCOUNT larger than its table",
        ),
        (
            dt::JMPREL,
            Set(0x7000_0000),
            "dynamic pointer outside the mapped segments",
        ),
    ];
    let mut n = 0;
    for is64 in [true, false] {
        for (tag, patch, check) in cases {
            let spec = Spec {
                is64,
                style: HashStyle::Sysv,
                last: Part::Relr,
                shrink: 0,
                grow: None,
                patch: Some((tag, patch)),
                poke: None,
            };
            assert_eq!(build(spec).refusal(), Some(check), "{spec:?}");
            n += 1;
        }
        let gnu = Spec {
            is64,
            style: HashStyle::Gnu,
            last: Part::Relr,
            shrink: 0,
            grow: None,
            patch: Some((dt::GNU_HASH, Add(2))),
            poke: None,
        };
        assert_eq!(
            build(gnu).refusal(),
            Some("misaligned DT_GNU_HASH"),
            "{gnu:?}"
        );
        n += 1;
    }
    assert_eq!(n, 40);
}

#[test]
fn malformed_hash_table_headers_are_refused_by_the_check_named_for_them() {
    let cases: [(HashStyle, usize, u32, &str); 6] = [
        (HashStyle::Sysv, 0, 0, "DT_HASH without buckets"),
        (
            HashStyle::Sysv,
            4,
            u32::MAX,
            "DT_HASH buckets or chains end outside the segment",
        ),
        (
            HashStyle::Gnu,
            0,
            0,
            "GNU hash without buckets or with a bloom size not a power of 2",
        ),
        (
            HashStyle::Gnu,
            8,
            3,
            "GNU hash without buckets or with a bloom size not a power of 2",
        ),
        // The only bucket points below symoffset (3).
        (HashStyle::Gnu, 16 + 8, 1, "GNU hash bucket below symoffset"),
        (
            HashStyle::Gnu,
            8,
            0x1000,
            "GNU hash bloom filter ends outside the segment",
        ),
    ];
    for is64 in [true, false] {
        for (style, at, value, check) in cases {
            // ELF32 bloom words are 4 bytes: the bucket follows 4 bytes earlier.
            let at = if !is64 && at == 24 { 20 } else { at };
            let part = if style == HashStyle::Sysv {
                Part::SysvHash
            } else {
                Part::GnuHash
            };
            let spec = Spec {
                is64,
                style,
                last: Part::Relr,
                shrink: 0,
                grow: None,
                patch: None,
                poke: Some((part, at, value)),
            };
            assert_eq!(build(spec).refusal(), Some(check), "{spec:?}");
        }
    }
}

#[test]
fn plt_relocations_declared_rel_are_read_as_rel_entries() {
    for is64 in [true, false] {
        let spec = Spec {
            is64,
            style: HashStyle::Sysv,
            last: Part::Relr,
            shrink: 0,
            grow: None,
            patch: Some((dt::PLTREL, Patch::Set(dt::REL as u64))),
            poke: None,
        };
        let img = build(spec);
        let d = img.decode().unwrap();
        assert_eq!(d.plt_rela, 0, "{spec:?}");
        let f = img.decode_file().unwrap();
        assert_eq!(f.plt_rela, 0, "{spec:?}");
    }
}

#[test]
fn leading_relative_counts_covering_a_whole_table_skip_all_its_imports() {
    for is64 in [true, false] {
        for (tag, table) in [(dt::RELACOUNT, Table::Rela), (dt::RELCOUNT, Table::Rel)] {
            let spec = Spec {
                is64,
                style: HashStyle::Sysv,
                last: Part::Relr,
                shrink: 0,
                grow: None,
                patch: Some((tag, Patch::Set(2))),
                poke: None,
            };
            let img = build(spec);
            let d = img.decode().unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            let mut tables = Vec::new();
            d.for_each_import(|i| {
                tables.push(i.reloc.table);
                true
            })
            .unwrap();
            assert!(!tables.contains(&table), "{spec:?}: {tables:?}");
            assert_eq!(tables.len(), 2, "{spec:?}: the other two imports stay");
        }
    }
}

#[test]
fn symbol_count_comes_from_a_multi_entry_gnu_chain_or_runs_to_the_string_table() {
    for is64 in [true, false] {
        for style in [HashStyle::GnuTwoChained, HashStyle::NoHash] {
            let spec = Spec {
                is64,
                style,
                last: Part::Relr,
                shrink: 0,
                grow: None,
                patch: None,
                poke: None,
            };
            let img = build(spec);
            for nsyms in [
                img.decode().map(|d| d.nsyms),
                img.decode_file().map(|d| d.nsyms),
            ] {
                assert_eq!(nsyms, Ok(4), "{spec:?}");
            }
            let d = img.decode().unwrap();
            let getpid = d.lookup(b"getpid").unwrap().map(|s| s.index);
            assert_eq!(getpid, Some(3), "{spec:?}");
            let mut hashed = Vec::new();
            d.find_hashed(b"free", |s| {
                hashed.push(s.index);
                true
            })
            .unwrap();
            let expected: &[u32] = if style == HashStyle::NoHash {
                &[]
            } else {
                &[2]
            };
            assert_eq!(hashed, expected, "{spec:?}");
        }
    }
}
