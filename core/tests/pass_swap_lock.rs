//! A pass takes the swap lock only to write: a refresh that finds every slot already hooked
//! succeeds even while this thread holds the swap lock (a signal handler that interrupted a
//! swap batch, say), and one that must write answers `Busy` there, leaving the slot alone.

use core::sync::atomic::{AtomicUsize, Ordering};

use gothook_core::hooks::{self, Report, REFRESH_FULL};
use gothook_core::slot::Batch;
use gothook_core::Error;

mod pages;
use pages::maps_descriptors;
mod this_binary;
use this_binary::{getppid_hook, including_self};

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

#[test]
fn a_pass_with_nothing_to_write_does_not_need_the_swap_lock() {
    let hooks = [getppid_hook(fake_getppid, &ORIGINAL)];
    // This test binary embeds gothook (its own object) and imports getppid.
    let filter = including_self();
    let maps_before = maps_descriptors();
    let mut rep = Report::default();
    // SAFETY: fake_getppid has getppid's type and needs no original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert!(rep.slots_patched >= 1, "{rep:?}");
    assert_ne!(
        ORIGINAL.load(Ordering::Acquire),
        0,
        "the original was published"
    );
    assert_eq!(unsafe { libc::getppid() }, -42, "hooked");

    let batch = Batch::begin().unwrap();
    let mut again = Report::default();
    let full = hooks::refresh(REFRESH_FULL, &mut again);
    drop(batch);
    assert_eq!(
        full,
        Ok(()),
        "nothing to write, no swap lock needed: {again:?}"
    );
    assert!(again.slots_already >= 1, "{again:?}");

    let batch = Batch::begin().unwrap();
    let mut un = Report::default();
    let refused = hooks::uninstall(id, &mut un);
    drop(batch);
    assert_eq!(refused, Err(Error::Busy), "a write needs the lock: {un:?}");
    assert_eq!(
        unsafe { libc::getppid() },
        -42,
        "the refused uninstall wrote nothing"
    );

    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert!(un.slots_restored >= 1, "{un:?}");
    assert_ne!(unsafe { libc::getppid() }, -42, "restored");
    // The passes that wrote (install, uninstall) asked page permissions through a descriptor
    // onto /proc/self/maps: each closed it when it ended.
    assert_eq!(
        maps_descriptors(),
        maps_before,
        "a pass left a descriptor open"
    );
}
