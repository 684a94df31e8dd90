//! What a pass counts: the library whose slot it patched, verified, repaired or restored (one
//! library here: this test binary, the only object importing `getppid`), and each slot once,
//! under the right heading; a slot bound to something else than the set's original is left
//! alone and counted foreign.  The set under test is the second one installed (a first set,
//! hooking a name nobody here imports, holds position 0), so set positions other than 0 are
//! what the passes work with.

use core::sync::atomic::AtomicUsize;

use gothook_core::hooks::{self, Filter, Hook, Report, FILTER_INCLUDE_SELF, REFRESH_FULL};
use gothook_core::slot;

mod this_binary;
use this_binary::{getppid_slot, including_self, read, this_binary};

/// The tests install sets side by side otherwise: one at a time keeps each report its own.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
static PAD_ORIGINAL: AtomicUsize = AtomicUsize::new(0);

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

extern "C" fn other_getppid() -> libc::pid_t {
    -7
}

extern "C" fn fake_getpgid(_: libc::pid_t) -> libc::pid_t {
    -1
}

#[test]
fn patch_verify_repair_and_restore_each_count_one_slot_in_one_library() {
    let _g = SERIAL.lock().unwrap();
    let real_ppid = unsafe { libc::getppid() };
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let fake = fake_getppid as *const () as usize;
    let pad = [Hook {
        symbol: b"getpgid",
        replacement: fake_getpgid as *const () as usize,
        original: Some(&PAD_ORIGINAL),
        flags: 0,
    }];
    let hooks = [Hook {
        symbol: b"getppid",
        replacement: fake,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    // Every library is accepted (this binary included); only this binary imports getppid.
    let filter = including_self();
    // SAFETY: fake_getpgid has getpgid's type (and nothing here calls getpgid).
    let pad_id = unsafe { hooks::install(&pad, &filter, &mut Report::default()) }.unwrap();
    let mut rep = Report::default();
    // SAFETY: fake_getppid has getppid's type and needs no original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert_eq!(
        (rep.libs_patched, rep.slots_patched, rep.slots_repaired),
        (1, 1, 0),
        "install: {rep:?}"
    );
    assert_eq!(read(at), fake);
    assert_eq!(unsafe { libc::getppid() }, -42);

    let mut verify = Report::default();
    hooks::refresh(REFRESH_FULL, &mut verify).unwrap();
    assert_eq!(
        (
            verify.libs_patched,
            verify.slots_already,
            verify.slots_patched,
            verify.slots_foreign
        ),
        (1, 1, 0, 0),
        "a full refresh verifies the one hooked slot: {verify:?}"
    );

    // Put the slot back by hand, as a reload or lazy binding would: the next full refresh
    // repairs it.
    unsafe { slot::swap_if_ready(&d, true, at, fake, real) }.unwrap();
    let mut repair = Report::default();
    hooks::refresh(REFRESH_FULL, &mut repair).unwrap();
    assert_eq!(
        (
            repair.libs_patched,
            repair.slots_repaired,
            repair.slots_patched,
            repair.slots_already
        ),
        (1, 1, 0, 0),
        "a full refresh repairs the reverted slot: {repair:?}"
    );
    assert_eq!(read(at), fake);

    // Bind the slot elsewhere by hand: a full refresh leaves it there and counts it foreign.
    let other = other_getppid as *const () as usize;
    unsafe { slot::swap_if_ready(&d, true, at, fake, other) }.unwrap();
    let mut foreign = Report::default();
    hooks::refresh(REFRESH_FULL, &mut foreign).unwrap();
    assert_eq!(
        (
            foreign.slots_foreign,
            foreign.slots_repaired + foreign.slots_patched + foreign.slots_already
        ),
        (1, 0),
        "a full refresh leaves a slot bound elsewhere: {foreign:?}"
    );
    assert_eq!(read(at), other);

    // Revert it by hand, then install another set: its pass repairs the slot too, but counts
    // only the new set's slots (none).
    unsafe { slot::swap_if_ready(&d, true, at, other, real) }.unwrap();
    let pad2 = [Hook {
        symbol: b"getsid",
        replacement: fake_getpgid as *const () as usize,
        original: Some(&PAD_ORIGINAL),
        flags: 0,
    }];
    let mut quiet = Report::default();
    // SAFETY: getsid has getpgid's type (and nothing here calls it).
    let pad2_id = unsafe { hooks::install(&pad2, &filter, &mut quiet) }.unwrap();
    assert_eq!(read(at), fake, "the other set's pass repaired the slot");
    assert_eq!(
        (
            quiet.slots_repaired,
            quiet.slots_patched,
            quiet.slots_already
        ),
        (0, 0, 0),
        "another set's repair is not counted for the new set: {quiet:?}"
    );
    hooks::uninstall(pad2_id, &mut Report::default()).unwrap();

    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        (un.libs_patched, un.slots_restored, un.slots_changed),
        (1, 1, 0),
        "uninstall: {un:?}"
    );
    assert_eq!(read(at), real);
    assert_eq!(unsafe { libc::getppid() }, real_ppid);
    hooks::uninstall(pad_id, &mut Report::default()).unwrap();
}

/// Objects `dl_iterate_phdr` lists (the main program, the vDSO, the loader, every library).
fn listed_objects() -> u32 {
    unsafe extern "C" fn count(
        _: *mut libc::dl_phdr_info,
        _: libc::size_t,
        n: *mut libc::c_void,
    ) -> libc::c_int {
        unsafe { *(n as *mut u32) += 1 };
        0
    }
    let mut n = 0u32;
    unsafe { libc::dl_iterate_phdr(Some(count), &mut n as *mut u32 as *mut libc::c_void) };
    n
}

#[test]
fn an_install_counts_every_listed_object_its_filter_refuses_as_filtered() {
    let _g = SERIAL.lock().unwrap();
    static FILTERED_ORIGINAL: AtomicUsize = AtomicUsize::new(0);
    // Only this test binary: the object containing this function.
    let filter = Filter {
        flags: FILTER_INCLUDE_SELF,
        contains: this_binary as *const () as usize,
        ..Filter::default()
    };
    let hooks = [Hook {
        symbol: b"getpgid",
        replacement: fake_getpgid as *const () as usize,
        original: Some(&FILTERED_ORIGINAL),
        flags: 0,
    }];
    let listed = listed_objects();
    assert!(
        listed >= 3,
        "the main program, the vDSO and the loader at least"
    );
    let mut rep = Report::default();
    // SAFETY: fake_getpgid has getpgid's type (and nothing here calls getpgid).
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(
        rep.libs_filtered,
        listed - 1,
        "every object but this binary is filtered: {rep:?}"
    );
}
