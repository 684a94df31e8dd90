//! Slot swaps on this very process, checked against the kernel's view of page protections
//! (`/proc/self/maps`): a swap writes only an aligned slot of its owner holding the expected
//! value, and leaves every page with the protection it had.

use std::sync::Mutex;

use gothook_core::slot::{self, Batch};
use gothook_core::Error;

mod pages;
mod seccomp;
use pages::{page_size, writable};

mod this_binary;
use this_binary::{getppid_slot, read, this_binary};

/// Swaps change process-wide state (this binary's GOT, libc's RELRO pages): one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

#[test]
fn swap_redirects_a_relro_slot_and_leaves_its_page_read_only() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let slot = getppid_slot(&d);
    let real = read(slot);
    let real_ppid = unsafe { libc::getppid() };
    assert!(!writable(slot), "full RELRO: the GOT page is read-only");

    unsafe { slot::swap_if_ready(&d, true, slot, real, fake_getppid as *const () as usize) }
        .unwrap();
    assert_eq!(read(slot), fake_getppid as *const () as usize);
    assert_eq!(
        unsafe { libc::getppid() },
        -42,
        "calls reach the replacement"
    );
    assert!(
        !writable(slot),
        "the page is read-only again after the swap"
    );

    unsafe { slot::swap_if_ready(&d, true, slot, fake_getppid as *const () as usize, real) }
        .unwrap();
    assert_eq!(read(slot), real);
    assert_eq!(unsafe { libc::getppid() }, real_ppid);
    assert!(!writable(slot));
}

#[test]
fn swap_with_a_stale_expected_value_writes_nothing() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let slot = getppid_slot(&d);
    let real = read(slot);
    assert_eq!(
        unsafe {
            slot::swap_if_ready(
                &d,
                true,
                slot,
                real ^ 0x10,
                fake_getppid as *const () as usize,
            )
        },
        Err(Error::Changed)
    );
    assert_eq!(read(slot), real, "slot unchanged");
    assert!(!writable(slot), "page restored");
}

#[test]
fn swap_rejects_null_misaligned_and_foreign_slots_without_writing() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let slot = getppid_slot(&d);
    let real = read(slot);
    let ws = core::mem::size_of::<usize>();
    let local: usize = 7;
    let foreign = &local as *const usize as usize;
    for (what, addr) in [
        ("null", 0),
        ("one byte in", slot + 1),
        ("half a word in", slot + ws / 2),
        ("a word of another mapping", foreign),
    ] {
        assert_eq!(
            unsafe { slot::swap_if_ready(&d, true, addr, real, 1) },
            Err(Error::Range),
            "{what}: {addr:#x}"
        );
    }
    assert_eq!(read(slot), real);
    assert_eq!(local, 7);
    assert!(!writable(slot));
}

#[test]
fn swap_on_a_page_someone_made_writable_keeps_it_writable() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let slot = getppid_slot(&d);
    let real = read(slot);
    let page = slot & !(page_size() - 1);
    assert!(
        unsafe {
            libc::mprotect(
                page as *mut _,
                page_size(),
                libc::PROT_READ | libc::PROT_WRITE,
            )
        } == 0
    );
    unsafe { slot::swap_if_ready(&d, true, slot, real, fake_getppid as *const () as usize) }
        .unwrap();
    assert!(
        writable(slot),
        "gothook never re-protects a page it found writable"
    );
    unsafe { slot::swap_if_ready(&d, true, slot, fake_getppid as *const () as usize, real) }
        .unwrap();
    assert!(writable(slot));
    assert_eq!(read(slot), real);
    assert!(unsafe { libc::mprotect(page as *mut _, page_size(), libc::PROT_READ) } == 0);
}

#[test]
fn a_batch_keeps_adjacent_pages_open_as_one_run_and_restores_every_one() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let ps = page_size();
    // Six consecutive read-only pages of this binary's RELRO range (.data.rel.ro): a same-value
    // swap on the first word of each opens the page without changing anything.
    let first = (d.relro.0 + ps - 1) & !(ps - 1);
    let pages: Vec<usize> = (0..6).map(|i| first + i * ps).collect();
    assert!(
        pages[5] + ps <= d.relro.1 & !(ps - 1),
        "this binary's RELRO spans six whole pages: {:x?}",
        d.relro
    );
    for &p in &pages {
        assert!(!writable(p));
    }
    let mut batch = Batch::begin().unwrap();
    assert_eq!(
        Batch::begin().err(),
        Some(Error::Busy),
        "a second batch on this thread"
    );
    assert_eq!(
        unsafe { slot::swap_if_ready(&d, true, pages[0], 0, 0) },
        Err(Error::Busy),
        "a swap inside a batch on this thread"
    );
    for (n, &p) in pages.iter().enumerate() {
        let v = read(p);
        unsafe { batch.swap_ready(&d, p, v, v) }.unwrap();
        assert_eq!(read(p), v);
        let open: Vec<bool> = pages.iter().map(|&q| writable(q)).collect();
        let want: Vec<bool> = (0..pages.len()).map(|i| i <= n).collect();
        assert_eq!(
            open, want,
            "after the swap on page {n}: every page swapped so far stays open (one run)"
        );
    }
    batch.finish().unwrap();
    for &p in &pages {
        assert!(!writable(p), "{p:#x} restored");
    }
    // Dropping an unfinished batch restores too.
    let mut batch = Batch::begin().unwrap();
    let v = read(pages[0]);
    unsafe { batch.swap_ready(&d, pages[0], v, v) }.unwrap();
    assert!(writable(pages[0]));
    drop(batch);
    assert!(!writable(pages[0]));
    assert!(Batch::begin().is_ok(), "the lock is free again");
}

#[test]
fn peek_reads_aligned_words_of_the_owner_and_answers_none_otherwise() {
    static WORD: usize = 0x1234_5678;
    let d = this_binary();
    let addr = &WORD as *const usize as usize;
    assert_eq!(slot::peek(&d, addr), Some(0x1234_5678));
    assert_eq!(slot::peek(&d, 0), None);
    assert_eq!(slot::peek(&d, addr + 1), None);
    let local: usize = 7;
    assert_eq!(
        slot::peek(&d, &local as *const usize as usize),
        None,
        "a stack word is not the owner's"
    );
}

#[test]
fn a_batch_whose_page_cannot_be_restored_reports_protect() {
    let _g = SERIAL.lock().unwrap();
    let d = this_binary();
    let ps = page_size();
    let page = (d.relro.0 + ps - 1) & !(ps - 1);
    let slot = getppid_slot(&d);
    let real = read(slot);
    let (finished, refused) = std::thread::spawn(move || {
        let mut batch = Batch::begin().unwrap();
        let v = read(page);
        unsafe { batch.swap_ready(&d, page, v, v) }.unwrap();
        seccomp::refuse_on_this_thread(libc::SYS_mprotect, libc::EPERM, None);
        let finished = batch.finish();
        // A read-only page that cannot be opened is not written either.
        let refused = unsafe {
            slot::swap_if_ready(&d, true, slot, real, fake_getppid as *const () as usize)
        };
        (finished, refused)
    })
    .join()
    .unwrap();
    let left_writable = writable(page);
    assert!(unsafe { libc::mprotect(page as *mut _, ps, libc::PROT_READ) } == 0);
    assert_eq!(
        finished,
        Err(Error::Protect),
        "the restore failed and says so"
    );
    assert!(left_writable, "the kernel refused the restore");
    assert_eq!(refused, Err(Error::Protect));
    assert_eq!(read(slot), real, "slot unchanged");
    assert!(!writable(slot));
}
