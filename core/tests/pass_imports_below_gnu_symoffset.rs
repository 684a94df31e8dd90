//! A library that carries both a GNU and a System V hash table (glibc's libc.so.6) keeps its
//! undefined symbols below GNU `symoffset`, where no GNU hash chain reaches: a pass must scan
//! that part of the symbol table for the wanted names, or libc's imports are never hooked.
//! libc imports `_dl_rtld_di_serinfo` from the dynamic loader (for `dlinfo`'s
//! `RTLD_DI_SERINFO`, which nothing here asks for); hooking it in libc must patch that slot.

use core::sync::atomic::{AtomicUsize, Ordering};

use gothook_core::hooks::{self, Filter, Hook, Report};

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);

type SerInfo = extern "C" fn(*mut core::ffi::c_void, *mut core::ffi::c_void, bool);

/// Forwards to the original (nothing in this test calls it).
extern "C" fn serinfo(map: *mut core::ffi::c_void, si: *mut core::ffi::c_void, counting: bool) {
    // SAFETY: the original has this type; install stored it before patching any slot.
    let f: SerInfo = unsafe { core::mem::transmute(ORIGINAL.load(Ordering::Acquire)) };
    f(map, si, counting)
}

#[test]
fn an_undefined_import_of_a_library_with_both_hash_tables_is_hooked() {
    let hooks = [Hook {
        symbol: b"_dl_rtld_di_serinfo",
        replacement: serinfo as *const () as usize,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    let filter = Filter {
        path_suffix: Some(b"/libc.so.6"),
        ..Filter::default()
    };
    let mut rep = Report::default();
    // SAFETY: serinfo has _dl_rtld_di_serinfo's type and forwards to the original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert_ne!(ORIGINAL.load(Ordering::Acquire), 0);
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        (rep.libs_patched, rep.slots_patched),
        (1, 1),
        "libc's slot for _dl_rtld_di_serinfo is patched: {rep:?}"
    );
    assert_eq!(un.slots_restored, 1, "{un:?}");
}
