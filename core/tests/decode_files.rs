//! The decoder over ELF files read from disk: every library of this process decoded from its
//! file agrees with the same library decoded from memory, and the cross-architecture fixtures the C suite
//! builds (`build/tests-c/cross/fixtures`, read only if present) decode into the shapes they
//! were linked with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gothook_core::dynamic::Table;
use gothook_core::elf::{self, em};
use gothook_core::{loader, Dynamic, FileImage, ImportKind, Memory};

/// Everything the decoder says about symbols and imports, with addresses made bias-relative.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    nsyms: u32,
    soname: Option<Vec<u8>>,
    symbols: Vec<(Vec<u8>, u64, u64, u8, u16, u16)>,
    imports: Vec<(Vec<u8>, ImportKind, Table, usize, i64)>,
}

fn summary<M: Memory>(d: &Dynamic<M>) -> Summary {
    let mut symbols = Vec::new();
    d.for_each_symbol(|s| {
        symbols.push((s.name.to_vec(), s.value, s.size, s.info, s.shndx, s.versym));
        true
    })
    .unwrap();
    let mut imports = Vec::new();
    d.for_each_import(|i| {
        let r = &i.reloc;
        imports.push((i.name.to_vec(), r.kind, r.table, r.slot - d.bias, r.addend));
        true
    })
    .unwrap();
    Summary {
        nsyms: d.nsyms,
        soname: d.soname().map(<[u8]>::to_vec),
        symbols,
        imports,
    }
}

#[test]
fn every_library_decoded_from_its_file_equals_its_decode_from_memory() {
    let (mut compared, mut libc_seen) = (Vec::new(), false);
    loader::each(loader::LIBS_ALL, |lib| {
        let path = match (lib.kind, std::str::from_utf8(lib.name).unwrap()) {
            (loader::LibKind::Vdso, _) => return true, // no file behind it
            // The main program has no name in the walk (this test binary embeds gothook, so it
            // is reported as SELF rather than MAIN).
            (_, "") => "/proc/self/exe".to_owned(),
            (_, p) => p.to_owned(),
        };
        let mapped_dyn = lib.decode().unwrap();
        let mapped = summary(&mapped_dyn);
        let bytes = std::fs::read(&path).unwrap();
        let file = Dynamic::from_file(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(file.bias, 0);
        assert_eq!(summary(&file), mapped, "{path}");
        if lib.name.ends_with(b"/libc.so.6") {
            assert!(mapped.nsyms > 1000, "{path}: only {} symbols", mapped.nsyms);
            assert!(
                !mapped.imports.is_empty(),
                "{path}: libc imports through its PLT"
            );
            let malloc = file
                .lookup(b"malloc")
                .unwrap()
                .expect("libc defines malloc");
            let in_memory = mapped_dyn.lookup(b"malloc").unwrap().unwrap();
            assert_eq!(malloc.value, in_memory.value);
            libc_seen = true;
        }
        compared.push(path);
        true
    })
    .unwrap();
    assert!(libc_seen, "libc.so.6 is loaded in every test process");
    eprintln!("file and memory decodes agree for {compared:?}");
}

/// Checks a shape fixture the way `tests-c/fixtures/check_shape.cmake` checks it with readelf.
fn check_shape(shape: &str, d: &Dynamic<FileImage<'_>>) {
    let mut malloc_kinds = Vec::new();
    let mut abs_data = 0;
    d.for_each_import(|i| {
        if i.name == b"malloc" {
            malloc_kinds.push(i.reloc.kind);
        }
        if i.reloc.kind == ImportKind::Abs && i.name.contains(&b'_') {
            abs_data += 1;
        }
        true
    })
    .unwrap();
    let (gnu, sysv) = (d.gnu_hash != 0, d.hash != 0);
    match shape {
        "now" => assert_eq!(d.bind_now, 1, "{shape}"),
        "lazy" => {
            assert_eq!(d.bind_now, 0, "{shape}");
            assert!(
                malloc_kinds.contains(&ImportKind::Plt),
                "{shape}: {malloc_kinds:?}"
            );
        }
        "relro" => assert!(d.relro.1 > d.relro.0, "{shape}"),
        "norelro" => assert_eq!(d.relro, (0, 0), "{shape}"),
        "noplt" => {
            assert!(
                !malloc_kinds.contains(&ImportKind::Plt),
                "{shape}: {malloc_kinds:?}"
            );
            assert!(
                malloc_kinds.contains(&ImportKind::GlobDat),
                "{shape}: {malloc_kinds:?}"
            );
        }
        "gnuhash" => assert_eq!((gnu, sysv), (true, false), "{shape}"),
        "sysvhash" => assert_eq!((gnu, sysv), (false, true), "{shape}"),
        "bothhash" => assert_eq!((gnu, sysv), (true, true), "{shape}"),
        "relr" => assert!(d.relr.1 > 0, "{shape}"),
        "big" => assert!(
            abs_data >= 20_000,
            "{shape}: {abs_data} symbolic data relocations"
        ),
        _ => panic!("unknown shape {shape}"),
    }
}

#[test]
fn shape_fixtures_decode_the_same_from_file_and_memory_with_their_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/tests-c/fixtures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no shape fixtures (build the C suite first); nothing checked");
        return;
    };
    let mut checked = Vec::new();
    for path in entries.map(|e| e.unwrap().path()) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(shape) = name
            .strip_prefix("libgothook_fixture_")
            .and_then(|n| n.strip_suffix(".so"))
        else {
            continue;
        };
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: dlopen of a test library; it stays loaded (never closed) for the process.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_LAZY) };
        assert!(!h.is_null(), "dlopen {path:?}");
        let bytes = std::fs::read(&path).unwrap();
        let file = Dynamic::from_file(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut mapped = None;
        loader::each(0, |lib| {
            if lib.name == path.to_str().unwrap().as_bytes() {
                mapped = Some(summary(&lib.decode().unwrap()));
                return false;
            }
            true
        })
        .unwrap();
        assert_eq!(Some(summary(&file)), mapped, "{shape}");
        check_shape(shape, &file);
        checked.push(shape.to_owned());
    }
    eprintln!("checked {} shape fixtures: {checked:?}", checked.len());
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/tests-c/cross/fixtures")
}

/// The architecture labels of `tests-c/cross/CMakeLists.txt`.
const LABELS: [&str; 7] = [
    "x86_64",
    "aarch64",
    "i686",
    "armhf",
    "riscv64",
    "ppc64le",
    "loongarch64",
];

/// The machine a fixture label stands for.
fn machine_of(label: &str) -> Option<u16> {
    Some(match label {
        "x86_64" => em::X86_64,
        "aarch64" => em::AARCH64,
        "i686" => em::I386,
        "armhf" => em::ARM,
        "riscv64" => em::RISCV,
        "ppc64le" => em::PPC64,
        "loongarch64" => em::LOONGARCH,
        _ => return None,
    })
}

/// Checks one fixture against what `tests-c/cross/CMakeLists.txt` linked it with.
fn check_fixture(path: &Path, label: &str, variant: &str) {
    let bytes = std::fs::read(path).unwrap();
    let d: Dynamic<FileImage<'_>> =
        Dynamic::from_file(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let what = format!("{label}_{variant}");
    assert_eq!(Some(d.machine), machine_of(label), "{what}");
    let (gnu, sysv) = (d.gnu_hash != 0, d.hash != 0);
    match variant {
        "noplt_sysv_now" => assert_eq!((gnu, sysv), (false, true), "{what}"),
        "both_relro" => assert_eq!((gnu, sysv), (true, true), "{what}"),
        _ => assert_eq!((gnu, sysv), (true, false), "{what}"),
    }
    match variant {
        "noplt_sysv_now" | "relr" => assert_eq!(d.bind_now, 1, "{what}"),
        "plt_gnu_lazy" => assert_eq!(d.bind_now, 0, "{what}"),
        _ => {}
    }
    if variant == "both_relro" {
        assert_eq!(d.soname(), Some(&b"libcross_both.so.1"[..]), "{what}");
    }
    if variant == "relr" {
        assert!(d.relr.1 > 0, "{what}: DT_RELR table");
    }
    let mut names = BTreeSet::new();
    let mut abs_malloc = 0;
    d.for_each_import(|i| {
        names.insert(String::from_utf8(i.name.to_vec()).unwrap());
        if i.name == b"malloc" && i.reloc.kind == ImportKind::Abs {
            abs_malloc += 1;
        }
        assert!(d.contains(i.reloc.slot), "{what}: slot inside a segment");
        true
    })
    .unwrap();
    for n in ["malloc", "free", "calloc", "realloc", "environ"] {
        assert!(names.contains(n), "{what}: no import of {n} in {names:?}");
    }
    assert!(
        abs_malloc >= 1,
        "{what}: cross_malloc_ptr = malloc is a word-sized ABS import"
    );
    for f in ["cross_alloc", "cross_release", "cross_grow"] {
        let s = d
            .lookup(f.as_bytes())
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: {f} is exported"));
        let exec = d.segs.segments().iter().any(|r| {
            r.flags & elf::PF_X != 0 && r.start <= s.value as usize && (s.value as usize) < r.end
        });
        assert!(exec, "{what}: {f} lies in an executable segment");
    }
    assert!(
        d.lookup(b"cross_local_counter").unwrap().is_none(),
        "{what}: static"
    );
}

#[test]
fn cross_fixtures_decode_into_the_shapes_they_were_linked_with() {
    let Ok(dir) = std::fs::read_dir(fixture_dir()) else {
        eprintln!("no cross fixtures (build the C suite first); nothing checked");
        return;
    };
    let mut checked = Vec::new();
    for entry in dir {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".so") else {
            continue;
        };
        // Labels contain underscores themselves (x86_64): match them as prefixes.
        let Some((label, variant)) = LABELS
            .iter()
            .find_map(|l| Some((*l, stem.strip_prefix(l)?.strip_prefix('_')?)))
        else {
            continue;
        };
        check_fixture(&path, label, variant);
        checked.push(stem.to_owned());
    }
    eprintln!("checked {} cross fixtures: {checked:?}", checked.len());
}

#[test]
fn cross_libcs_decode_when_installed() {
    let mut n = 0;
    for triple in [
        "aarch64-linux-gnu",
        "i686-linux-gnu",
        "arm-linux-gnueabihf",
        "riscv64-linux-gnu",
        "powerpc64le-linux-gnu",
    ] {
        let path = PathBuf::from(format!("/usr/{triple}/lib/libc.so.6"));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let d = Dynamic::from_file(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(d.nsyms > 1000, "{path:?}: {} symbols", d.nsyms);
        let malloc = d.lookup(b"malloc").unwrap().expect("libc defines malloc");
        assert!(malloc.is_default_definition(), "{path:?}");
        n += 1;
    }
    eprintln!("decoded {n} cross libcs");
}
