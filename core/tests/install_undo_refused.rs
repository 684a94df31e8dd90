//! An install whose pass fails after it patched one library, and whose undo the kernel refuses
//! as well, keeps its set: it answers with the handle (a later uninstall finishes) and counts the
//! slot it could not take back as a conflict, rather than answering as if nothing was installed.

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering};

use gothook_core::hooks::{self, Filter, Hook, Report, FILTER_INCLUDE_SELF};
use gothook_core::{loader, slot, LibInfo, LibKind};

mod seccomp;

static REAL_MALLOC: AtomicUsize = AtomicUsize::new(0);

/// Forwards to the real malloc: the test harness keeps allocating meanwhile.
extern "C" fn forward_malloc(size: usize) -> *mut libc::c_void {
    let f: extern "C" fn(usize) -> *mut libc::c_void =
        // SAFETY: a patched slot reaches this only after install published the real malloc.
        unsafe { core::mem::transmute(REAL_MALLOC.load(Ordering::Acquire)) };
    f(size)
}

thread_local! {
    /// On the installing thread: the address of this binary's `malloc` slot until the thread
    /// forbids itself `mprotect` (0 after, and on every other thread).
    static ARMED: Cell<usize> = const { Cell::new(0) };
}

/// Accepts this test binary (which embeds gothook) and libc, whose `malloc` slot is in its
/// read-only RELRO range.  On the armed thread, the first look at libc after this binary's slot
/// was patched (the pass walks the loader's list in order, the binary first) forbids `mprotect`
/// on that thread: libc's patch fails, and so does the undo of this binary's.
fn binary_then_libc(lib: &LibInfo<'_>, _: usize, _: usize) -> bool {
    if lib.kind == LibKind::SelfLib {
        return true;
    }
    if !lib.name.ends_with(b"/libc.so.6") {
        return false;
    }
    let armed = ARMED.with(|a| a.get());
    // SAFETY: an armed address is this binary's malloc slot: mapped, aligned, read once.
    if armed != 0
        && unsafe { (armed as *const usize).read_volatile() }
            == forward_malloc as *const () as usize
    {
        ARMED.with(|a| a.set(0));
        seccomp::refuse_on_this_thread(libc::SYS_mprotect, libc::EPERM, None);
    }
    true
}

/// The `malloc` import slot of this binary (`SelfLib`) or libc: its address and value.
fn malloc_slot_at(of_libc: bool) -> (usize, usize) {
    let mut found = None;
    loader::each(0, |lib| {
        let wanted = if of_libc {
            lib.name.ends_with(b"/libc.so.6")
        } else {
            lib.kind == LibKind::SelfLib
        };
        if wanted {
            let d = lib.decode().unwrap();
            d.for_each_import(|imp| {
                if imp.name == b"malloc" {
                    found = slot::peek(&d, imp.reloc.slot).map(|v| (imp.reloc.slot, v));
                }
                found.is_none()
            })
            .unwrap();
            return false;
        }
        true
    })
    .unwrap();
    found.expect("the library imports malloc")
}

/// The value of the `malloc` import slot of this binary or libc.
fn malloc_slot(of_libc: bool) -> usize {
    malloc_slot_at(of_libc).1
}

#[test]
fn an_install_whose_undo_is_refused_keeps_its_set_and_counts_the_conflict() {
    let (at, real) = malloc_slot_at(false);
    let libc_before = malloc_slot(true);
    let hook = forward_malloc as *const () as usize;
    let (installed, rep) = std::thread::spawn(move || {
        ARMED.with(|a| a.set(at));
        let hooks = [Hook {
            symbol: b"malloc",
            replacement: forward_malloc as *const () as usize,
            original: Some(&REAL_MALLOC),
            flags: 0,
        }];
        let filter = Filter {
            flags: FILTER_INCLUDE_SELF,
            accept: Some((binary_then_libc, 0, 0)),
            ..Filter::default()
        };
        let mut rep = Report::default();
        // SAFETY: forward_malloc has malloc's type and calls the published original.
        let r = unsafe { hooks::install(&hooks, &filter, &mut rep) };
        (r, rep)
    })
    .join()
    .unwrap();
    let kept = malloc_slot(false);
    let libc_after = malloc_slot(true);
    // Take the set off where mprotect is allowed, whatever the install answered.
    let id = installed.unwrap_or_else(|e| {
        panic!("a refused undo must leave the set installed with its handle: {e:?} {rep:?}")
    });
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        kept, hook,
        "this binary stays patched when its undo is refused"
    );
    assert_eq!(
        libc_after, libc_before,
        "libc's refused patch wrote nothing"
    );
    assert_eq!(
        rep.slots_conflict, 1,
        "the slot the undo could not take back is counted once: {rep:?}"
    );
    assert_eq!(
        malloc_slot(false),
        real,
        "a later uninstall finishes: {un:?}"
    );
}
