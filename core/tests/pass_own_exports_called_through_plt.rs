//! A library that calls one of its own exported functions through its PLT (an interposable
//! call) imports it from its own symbol table's defined part: with a GNU hash table only,
//! that entry lies at or above `symoffset` and is found through the hash table, not by the
//! scan of the undefined symbols below it.  libgcc_s.so.1 (GNU hash only, loaded into every
//! Rust test binary) calls its own `_Unwind_GetRegionStart` that way: hooking it there must
//! patch that one slot, and uninstall must put back exactly what it held: libgcc_s is bound
//! lazily, so until the unwinder first runs that slot holds its lazy PLT stub.

use core::sync::atomic::{AtomicUsize, Ordering};

use gothook_core::hooks::{self, Filter, Hook, Report, REFRESH_FULL};
use gothook_core::loader;

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);

/// Forwards to the original: the unwinder may call it while the hook is in place.
extern "C" fn region_start(ctx: *mut core::ffi::c_void) -> usize {
    let f = ORIGINAL.load(Ordering::Acquire);
    // SAFETY: the original has this type; install stored it before patching any slot.
    let f: extern "C" fn(*mut core::ffi::c_void) -> usize = unsafe { core::mem::transmute(f) };
    f(ctx)
}

fn read(at: usize) -> usize {
    // SAFETY: a GOT slot of libgcc_s, mapped and aligned for the whole test.
    unsafe { (at as *const usize).read_volatile() }
}

#[test]
fn a_gnu_hash_only_library_calling_its_own_export_through_its_plt_gets_that_slot_patched() {
    // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
    let def = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_Unwind_GetRegionStart".as_ptr()) };
    // SAFETY: the definition lies in libgcc_s, mapped for the whole test.
    let lib = unsafe { loader::decode_containing(def as usize) }.unwrap();
    let mut at = 0;
    lib.for_each_import(|i| {
        if i.name == b"_Unwind_GetRegionStart" {
            at = i.reloc.slot;
        }
        true
    })
    .unwrap();
    assert_ne!(at, 0, "libgcc_s imports its own _Unwind_GetRegionStart");
    let before = read(at);
    let hooks = [Hook {
        symbol: b"_Unwind_GetRegionStart",
        replacement: region_start as *const () as usize,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    let filter = Filter {
        path_suffix: Some(b"/libgcc_s.so.1"),
        ..Filter::default()
    };
    let mut rep = Report::default();
    // SAFETY: region_start has _Unwind_GetRegionStart's type and forwards to the original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert_eq!(ORIGINAL.load(Ordering::Acquire), def as usize);
    assert_eq!(read(at), region_start as *const () as usize);
    assert_eq!(
        (rep.libs_patched, rep.slots_patched),
        (1, 1),
        "libgcc_s's own PLT slot for _Unwind_GetRegionStart is patched: {rep:?}"
    );
    let mut verify = Report::default();
    hooks::refresh(REFRESH_FULL, &mut verify).unwrap();
    assert_eq!(
        (verify.slots_already, verify.slots_patched),
        (1, 0),
        "{verify:?}"
    );
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!((un.libs_patched, un.slots_restored), (1, 1), "{un:?}");
    assert_eq!(
        read(at),
        before,
        "the slot's value before the install, stub or binding"
    );
}
