//! What a refresh does when no library was loaded or unloaded: an unknown flag is refused, a
//! plain refresh reports nothing (it walks nothing), and `REFRESH_FULL` verifies every slot and
//! repairs one that lost its hook.

use std::sync::Mutex;

use gothook_core::hooks::{self, Report, REFRESH_CACHED, REFRESH_FLAGS, REFRESH_FULL};
use gothook_core::slot;
use gothook_core::Error;

mod this_binary;
use this_binary::{getppid_slot, install_getppid_here, read, this_binary};

/// Every test rewrites this binary's `getppid` slot: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

extern "C" fn fake_getppid() -> libc::pid_t {
    -7
}

fn install() -> u32 {
    install_getppid_here(fake_getppid)
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_refresh_with_an_unknown_flag_is_refused() {
    let _g = serial();
    for flags in [REFRESH_FLAGS + 1, 4, 1 << 31] {
        let mut rep = Report::default();
        assert_eq!(
            hooks::refresh(flags, &mut rep),
            Err(Error::Invalid),
            "{flags:#x}"
        );
        assert_eq!(rep, Report::default());
    }
    for flags in [0, REFRESH_FULL, REFRESH_CACHED, REFRESH_FLAGS] {
        assert_eq!(
            hooks::refresh(flags, &mut Report::default()),
            Ok(()),
            "{flags:#x}"
        );
    }
}

#[test]
fn a_full_refresh_repairs_a_slot_that_lost_its_hook_and_a_plain_one_reports_nothing() {
    let _g = serial();
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let fake = fake_getppid as *const () as usize;
    let id = install();
    assert_eq!(read(at), fake);
    // The first refreshes after an install publish what the loader looks like; from then on a
    // plain refresh with nothing loaded or unloaded walks nothing.
    hooks::refresh(0, &mut Report::default()).unwrap();
    hooks::refresh(0, &mut Report::default()).unwrap();
    for flags in [0, REFRESH_CACHED] {
        let mut rep = Report::default();
        hooks::refresh(flags, &mut rep).unwrap();
        assert_eq!(rep, Report::default(), "flags {flags}: nothing changed");
    }
    for flags in [REFRESH_FULL, REFRESH_FULL | REFRESH_CACHED] {
        // SAFETY: the slot of this binary's getppid import; `real` is what it held before.
        unsafe { slot::swap_if_ready(&d, true, at, fake, real) }.unwrap();
        let mut rep = Report::default();
        hooks::refresh(flags, &mut rep).unwrap();
        assert_eq!(read(at), fake, "flags {flags}: repaired {rep:?}");
        assert_eq!(rep.slots_repaired, 1, "flags {flags}: {rep:?}");
        assert_eq!(unsafe { libc::getppid() }, -7);
        // A full refresh with nothing lost verifies the slot again.
        let mut rep = Report::default();
        hooks::refresh(flags, &mut rep).unwrap();
        assert_eq!(
            (rep.slots_repaired, rep.slots_already),
            (0, 1),
            "flags {flags}: {rep:?}"
        );
    }
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(read(at), real);
}
