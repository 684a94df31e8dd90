//! A second install of an identical set re-runs that set's pass and counts a second owner, only
//! when it succeeds.  One that answers `Busy` (its pass had to write a slot while this thread
//! held the swap lock, as in a signal handler that interrupted a swap batch) leaves the owner
//! count as it was, so the one owner's uninstall still takes the set off.

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use gothook_core::hooks::{self, Filter, Report};
use gothook_core::slot::{self, Batch};
use gothook_core::Error;

mod this_binary;
use this_binary::{getppid_hook, getppid_slot, including_self, read, this_binary};

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
static OTHER_ORIGINAL: AtomicUsize = AtomicUsize::new(0);
/// Both tests rewrite this binary's `getppid` slot: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

fn install() -> Result<u32, Error> {
    let hooks = [getppid_hook(fake_getppid, &ORIGINAL)];
    // This test binary embeds gothook: only FILTER_INCLUDE_SELF lets a set patch its slots.
    let filter = including_self();
    // SAFETY: fake_getppid has getppid's type and needs no original.
    unsafe { hooks::install(&hooks, &filter, &mut Report::default()) }
}

#[test]
fn a_second_install_refused_busy_adds_no_owner() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let fake = fake_getppid as *const () as usize;
    let id = install().unwrap();
    assert_eq!(read(at), fake, "installed");
    assert_eq!(unsafe { libc::getppid() }, -42, "calls go to the hook");
    // Put the slot back by hand: the second install's pass has to write it again.
    unsafe { slot::swap_if_ready(&d, true, at, fake, real) }.unwrap();

    let batch = Batch::begin().unwrap();
    let again = install();
    drop(batch);
    assert_eq!(again, Err(Error::Busy), "the pass needed the swap lock");
    assert_eq!(read(at), real, "the refused install wrote nothing");

    // The one owner uninstalls once: the set is gone.
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(
        hooks::uninstall(id, &mut Report::default()),
        Err(Error::NotFound),
        "the refused install left a second owner behind: the set could never be taken off"
    );
    assert_eq!(read(at), real);
    assert_ne!(unsafe { libc::getppid() }, -42);
}

extern "C" fn unused_getppid() -> libc::pid_t {
    -1
}

#[test]
fn a_second_install_patches_again_what_its_set_lost_when_it_is_not_the_first_set() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Another set, which applies to no library, takes the first place in the set table.
    let nowhere = [getppid_hook(unused_getppid, &OTHER_ORIGINAL)];
    let no_library = Filter {
        path_suffix: Some(b"/no-such-library-anywhere.so"),
        ..Filter::default()
    };
    // SAFETY: unused_getppid has getppid's type; it is never patched in.
    let other = unsafe { hooks::install(&nowhere, &no_library, &mut Report::default()) }.unwrap();

    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let fake = fake_getppid as *const () as usize;
    let id = install().unwrap();
    assert_eq!(read(at), fake, "installed");
    unsafe { slot::swap_if_ready(&d, true, at, fake, real) }.unwrap();
    assert_eq!(install(), Ok(id), "the same handle");
    assert_eq!(
        read(at),
        fake,
        "the second install's pass patched the slot its set had lost"
    );
    assert_eq!(unsafe { libc::getppid() }, -42);

    // Two owners: the first uninstall keeps the set, the second takes it off.
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(read(at), fake, "one owner is left");
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(read(at), real, "the last owner took the set off");
    hooks::uninstall(other, &mut Report::default()).unwrap();
}
