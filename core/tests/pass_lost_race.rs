//! A pass decides a slot's new value from what it read, then writes it by compare-and-swap once
//! it holds the swap lock.  When another writer changes the slot in between, the pass leaves
//! the slot alone and says so in its report: `slots_conflict` for a patch, `slots_changed` for
//! an uninstall.
//!
//! The interleaving is made, not waited for: this thread holds the swap lock (a `Batch`), a
//! second thread runs the pass until it blocks in the kernel on that lock (its
//! `/proc/self/task/TID/syscall` shows `futex`), this thread then changes the slot through its
//! own batch and lets the pass go on.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

use gothook_core::hooks::{self, Report, SetId, REFRESH_FULL};
use gothook_core::slot::{self, Batch};

mod this_binary;
use this_binary::{getppid_hook, getppid_slot, including_self, read, this_binary};

/// Both tests rewrite this binary's `getppid` slot: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

static ORIGINAL: AtomicUsize = AtomicUsize::new(0);

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

extern "C" fn other_getppid() -> libc::pid_t {
    -7
}

fn install_fake() -> SetId {
    let hooks = [getppid_hook(fake_getppid, &ORIGINAL)];
    // This test binary embeds gothook: only FILTER_INCLUDE_SELF lets a set patch its slots.
    let filter = including_self();
    let mut rep = Report::default();
    // SAFETY: fake_getppid has getppid's type and needs no original.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert_eq!(unsafe { libc::getppid() }, -42, "installed: {rep:?}");
    id
}

/// Runs `pass` on a new thread and returns once that thread is blocked in a futex wait (the
/// swap lock this thread holds), or has finished without blocking (then the caller's checks
/// fail on its report).
fn run_until_blocked(pass: fn() -> Report) -> JoinHandle<Report> {
    static TID: AtomicI64 = AtomicI64::new(0);
    TID.store(0, Ordering::Release);
    let h = std::thread::spawn(move || {
        TID.store(
            unsafe { libc::syscall(libc::SYS_gettid) },
            Ordering::Release,
        );
        pass()
    });
    let tid = loop {
        match TID.load(Ordering::Acquire) {
            0 => std::thread::yield_now(),
            t => break t,
        }
    };
    let path = format!("/proc/self/task/{tid}/syscall");
    while !h.is_finished() {
        let now = std::fs::read_to_string(&path).unwrap_or_default();
        if now.split(' ').next() == Some(libc::SYS_futex.to_string().as_str()) {
            break;
        }
        std::thread::yield_now();
    }
    h
}

#[test]
fn a_patch_that_loses_its_slot_to_another_writer_counts_a_conflict_and_leaves_it() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let id = install_fake();
    let (fake, other) = (
        fake_getppid as *const () as usize,
        other_getppid as *const () as usize,
    );
    // Revert the slot by hand: the next full refresh decides to patch it again.
    unsafe { slot::swap_if_ready(&d, true, at, fake, real) }.unwrap();

    let mut batch = Batch::begin().unwrap();
    let pass = run_until_blocked(|| {
        let mut rep = Report::default();
        hooks::refresh(REFRESH_FULL, &mut rep).unwrap();
        rep
    });
    unsafe { batch.swap_ready(&d, at, real, other) }.unwrap();
    drop(batch);
    let rep = pass.join().unwrap();

    assert_eq!(rep.slots_conflict, 1, "{rep:?}");
    assert_eq!(rep.slots_repaired + rep.slots_patched, 0, "{rep:?}");
    assert_eq!(read(at), other, "the other writer's value stays");
    assert_eq!(unsafe { libc::getppid() }, -7);

    unsafe { slot::swap_if_ready(&d, true, at, other, fake) }.unwrap();
    hooks::uninstall(id, &mut Report::default()).unwrap();
    assert_eq!(read(at), real);
}

#[test]
fn an_uninstall_that_loses_its_slot_to_another_writer_counts_it_changed_and_leaves_it() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    let id = install_fake();
    let (fake, other) = (
        fake_getppid as *const () as usize,
        other_getppid as *const () as usize,
    );
    static ID: AtomicU32 = AtomicU32::new(0);
    ID.store(id, Ordering::Release);

    let mut batch = Batch::begin().unwrap();
    let pass = run_until_blocked(|| {
        let mut rep = Report::default();
        hooks::uninstall(ID.load(Ordering::Acquire), &mut rep).unwrap();
        rep
    });
    unsafe { batch.swap_ready(&d, at, fake, other) }.unwrap();
    drop(batch);
    let rep = pass.join().unwrap();

    assert_eq!(rep.slots_changed, 1, "{rep:?}");
    assert_eq!(rep.slots_restored, 0, "{rep:?}");
    assert_eq!(
        rep.libs_patched, 0,
        "nothing restored in any library: {rep:?}"
    );
    assert_eq!(read(at), other, "the other writer's value stays");

    unsafe { slot::swap_if_ready(&d, true, at, other, real) }.unwrap();
    assert_eq!(read(at), real);
}
