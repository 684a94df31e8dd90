//! `Dynamic::find_names_below`, the index pass of install: which symbols it reports for a list of
//! wanted names, where it stops, and how it treats a name offset at or past the end of the
//! string table.  On the byte-built test images (4 symbols: null, malloc, free, getpid), read
//! both as mapped memory and as a file.

mod image;

use gothook_core::dynamic::Dynamic;
use gothook_core::{Error, Memory};
use image::*;

const WANTED: [&[u8]; 5] = [b"getpid", b"fre", b"free", b"malloc", b"freee"];

fn spec(is64: bool, poke: Option<(Part, usize, u32)>) -> Spec {
    Spec {
        is64,
        style: HashStyle::Sysv,
        last: Part::Relr,
        shrink: 0,
        grow: None,
        patch: None,
        poke,
    }
}

/// (wanted position, symbol index) pairs reported below `end`, in report order.
fn below<M: Memory>(d: &Dynamic<M>, end: u32) -> Result<Vec<(usize, u32)>, Error> {
    let mut got = Vec::new();
    d.find_names_below(end, &WANTED, |k, i| got.push((k, i)))?;
    Ok(got)
}

#[test]
fn each_wanted_name_is_reported_with_its_symbol_index_below_the_bound_only() {
    for is64 in [true, false] {
        let img = build(spec(is64, None));
        let (d, f) = (img.decode().unwrap(), img.decode_file().unwrap());
        for end in [0, 1, 2, 3, 4, 99] {
            // Prefixes and extensions of a name ("fre", "freee") are other names.
            let expected: Vec<(usize, u32)> = [(3, 1), (2, 2), (0, 3)]
                .into_iter()
                .filter(|&(_, i)| i < end)
                .collect();
            assert_eq!(below(&d, end).unwrap(), expected, "is64 {is64}, end {end}");
            assert_eq!(
                below(&f, end).unwrap(),
                expected,
                "is64 {is64}, end {end} (file)"
            );
        }
    }
}

#[test]
fn a_name_offset_at_the_string_table_end_is_an_empty_name_and_past_it_is_refused() {
    for is64 in [true, false] {
        // Symbol 1 (malloc) gets the name offset under test.
        let at = sym_ent(is64);
        let end = STRTAB.len() as u32;
        let img = build(spec(is64, Some((Part::Symtab, at, end))));
        let (d, f) = (img.decode().unwrap(), img.decode_file().unwrap());
        assert_eq!(below(&d, 4).unwrap(), [(2, 2), (0, 3)], "is64 {is64}");
        assert_eq!(
            below(&f, 4).unwrap(),
            [(2, 2), (0, 3)],
            "is64 {is64} (file)"
        );
        let img = build(spec(is64, Some((Part::Symtab, at, end + 1))));
        let (d, f) = (img.decode().unwrap(), img.decode_file().unwrap());
        let refused = Err(Error::Malformed("symbol name offset past DT_STRSZ"));
        assert_eq!(below(&d, 4), refused, "is64 {is64}");
        assert_eq!(below(&f, 4), refused, "is64 {is64} (file)");
        // Below the bound the bad offset is never read.
        assert_eq!(below(&d, 1).unwrap(), [], "is64 {is64}");
    }
}
