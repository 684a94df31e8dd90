//! No filter ever lets a set patch the dynamic loader's own import slots: ld.so calls them
//! (`_dl_catch_error` and friends, bound to libc) while it holds its locks, in the middle of
//! dlopen and dlclose.

use core::sync::atomic::{AtomicUsize, Ordering};

use gothook_core::hooks::{self, Filter, Hook, Report, FILTER_INCLUDE_SELF};
use gothook_core::{loader, slot, LibKind};

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);

type CatchError = unsafe extern "C" fn(
    *mut *const libc::c_char,
    *mut *const libc::c_char,
    *mut bool,
    unsafe extern "C" fn(*mut libc::c_void),
    *mut libc::c_void,
) -> libc::c_int;

/// Forwards to the original, so any library that does get patched keeps working.
unsafe extern "C" fn forward_catch_error(
    objname: *mut *const libc::c_char,
    errstring: *mut *const libc::c_char,
    mallocedp: *mut bool,
    operate: unsafe extern "C" fn(*mut libc::c_void),
    args: *mut libc::c_void,
) -> libc::c_int {
    let real: CatchError = unsafe { core::mem::transmute(ORIGINAL.load(Ordering::Acquire)) };
    unsafe { real(objname, errstring, mallocedp, operate, args) }
}

/// The value of the loader's import slot for `name`, if the loader imports it.
fn loader_slot(name: &[u8]) -> Option<usize> {
    let mut value = None;
    loader::each(loader::LIBS_ALL, |lib| {
        if lib.kind == LibKind::Loader {
            let d = lib.decode().unwrap();
            d.for_each_import(|imp| {
                if imp.name == name {
                    value = slot::peek(&d, imp.reloc.slot);
                }
                value.is_none()
            })
            .unwrap();
            return false;
        }
        true
    })
    .unwrap();
    value
}

#[test]
fn the_broadest_filter_leaves_the_loaders_own_imports_alone() {
    let name = b"_dl_catch_error";
    let Some(before) = loader_slot(name) else {
        eprintln!("this loader does not import _dl_catch_error: nothing to check");
        return;
    };
    let hooks = [Hook {
        symbol: name,
        replacement: forward_catch_error as *const () as usize,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    // Everything a filter can include: the main program and gothook's own object too.
    let filter = Filter {
        flags: FILTER_INCLUDE_SELF,
        ..Filter::default()
    };
    let mut rep = Report::default();
    // The replacement has _dl_catch_error's type and forwards to the original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    let during = loader_slot(name);
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        during,
        Some(before),
        "the loader's _dl_catch_error slot changed while the set was installed: {rep:?}"
    );
    assert_ne!(
        ORIGINAL.load(Ordering::Acquire),
        0,
        "the original was found"
    );
}
