//! This test binary as gothook sees it: shared by the tests that rewrite its `getppid` slot.
#![allow(dead_code)] // each test crate uses some of these

use gothook_core::{loader, Dynamic};

/// This test binary, decoded (it embeds gothook and is linked with full RELRO).
pub fn this_binary() -> Dynamic {
    // SAFETY: the address is in this binary's code, which stays mapped for the whole test.
    unsafe { loader::decode_containing(this_binary as *const () as usize) }.unwrap()
}

/// The GOT slot through which this binary calls `getppid`.
pub fn getppid_slot(d: &Dynamic) -> usize {
    let mut slot = 0;
    d.for_each_import(|i| {
        if i.name == b"getppid" {
            slot = i.reloc.slot;
        }
        slot == 0
    })
    .unwrap();
    assert_ne!(slot, 0, "this binary imports getppid");
    slot
}

/// The word at `addr` (a slot of this binary), read once.
pub fn read(addr: usize) -> usize {
    // SAFETY: callers pass slots of this binary, mapped and aligned.
    unsafe { (addr as *const usize).read_volatile() }
}

/// A hook of this binary's `getppid` import: `replacement` (a function of getppid's type), the
/// original published into `original`, no flags.
pub fn getppid_hook(
    replacement: extern "C" fn() -> libc::pid_t,
    original: &'static core::sync::atomic::AtomicUsize,
) -> gothook_core::hooks::Hook {
    gothook_core::hooks::Hook {
        symbol: b"getppid",
        replacement: replacement as *const () as usize,
        original: Some(original),
        flags: 0,
    }
}

/// The filter that lets a set patch this test binary: it embeds gothook, whose own object a set
/// skips unless `FILTER_INCLUDE_SELF` says otherwise.
pub fn including_self() -> gothook_core::hooks::Filter {
    gothook_core::hooks::Filter {
        flags: gothook_core::hooks::FILTER_INCLUDE_SELF,
        ..Default::default()
    }
}

/// Installs a set that hooks `getppid` in this test binary alone (no original published) and
/// returns its handle.
pub fn install_getppid_here(replacement: extern "C" fn() -> libc::pid_t) -> u32 {
    let hooks = [gothook_core::hooks::Hook {
        symbol: b"getppid",
        replacement: replacement as *const () as usize,
        original: None,
        flags: 0,
    }];
    let filter = gothook_core::hooks::Filter {
        contains: this_binary as *const () as usize,
        ..including_self()
    };
    let mut rep = gothook_core::hooks::Report::default();
    // SAFETY: the callers' replacements have getppid's type and call no original.
    unsafe { gothook_core::hooks::install(&hooks, &filter, &mut rep) }.unwrap()
}
