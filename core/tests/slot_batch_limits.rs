//! The limits of a swap batch's page runs: how many runs it opens ahead of its swaps, and what
//! happens to the pages beyond them.  `mprotect` calls are counted by an `mprotect` of this
//! test binary, which the linker prefers to libc's for every call gothook makes; the kernel's
//! view of each page (`/proc/self/maps`) says the protection is right before, during and after.

use std::sync::Mutex;

use gothook_core::slot::{Batch, PageQuery};

mod counted_mprotect;
mod pages;
use counted_mprotect::calls;
use pages::{page_size, read, relro_pages, writable};

/// Swaps change this binary's RELRO pages: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_batch_opens_at_most_four_runs_ahead_and_its_swaps_open_the_rest() {
    let _g = SERIAL.lock().unwrap();
    // Five pages with a page between each: five runs (no page query, so nothing bridges them).
    let (d, all) = relro_pages(9);
    let pages: Vec<usize> = all.iter().copied().step_by(2).collect();
    let before = calls();
    let mut batch = Batch::begin().unwrap();
    unsafe { batch.open_ready(&d, &pages) };
    assert_eq!(calls() - before, 4, "four runs opened ahead, one call each");
    let open: Vec<bool> = all.iter().map(|&p| writable(p)).collect();
    assert_eq!(
        open,
        [true, false, true, false, true, false, true, false, false],
        "the first four pages are open, nothing else"
    );
    // The fifth page's swap opens it, restoring the oldest run to make room.
    let v = read(pages[4]);
    unsafe { batch.swap_ready(&d, pages[4], v, v) }.unwrap();
    assert_eq!(
        calls() - before,
        6,
        "one call opens the fifth, one restores the first"
    );
    assert!(!writable(pages[0]) && writable(pages[4]));
    batch.finish().unwrap();
    assert_eq!(
        calls() - before,
        10,
        "one call restores each of the four runs left"
    );
    assert!(all.iter().all(|&p| !writable(p)), "every page restored");
}

/// Whether this kernel answers `PROCMAP_QUERY` (Linux >= 6.11).
fn supports_procmap_query() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 11)
}

fn madvise(start: usize, len: usize, advice: libc::c_int) {
    assert_eq!(
        unsafe { libc::madvise(start as *mut libc::c_void, len, advice) },
        0,
        "madvise {start:#x}"
    );
}

#[test]
fn a_run_that_starts_where_the_last_mapping_ended_is_asked_about_and_bridged() {
    let _g = SERIAL.lock().unwrap();
    if !supports_procmap_query() {
        return;
    }
    let (d, all) = relro_pages(6);
    let ps = page_size();
    // Pages 2..5 become a mapping of their own (excluded from core dumps: the kernel splits
    // the mapping there, the protection stays read-only).  Planned: page 0, whose mapping
    // ends at page 2, then pages 2 and 4, which one run opens with page 3 between.
    madvise(all[2], 3 * ps, libc::MADV_DONTDUMP);
    let planned = [all[0], all[2], all[4]];
    let mut query = PageQuery::new();
    let before = calls();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    unsafe { batch.open_ready(&d, &planned) };
    let opened = calls() - before;
    let open: Vec<bool> = all.iter().map(|&p| writable(p)).collect();
    batch.finish().unwrap();
    let restored = all.iter().all(|&p| !writable(p));
    madvise(all[2], 3 * ps, libc::MADV_DODUMP);
    assert_eq!(
        open,
        [true, false, true, true, true, false],
        "page 0, and pages 2 to 4 as one run"
    );
    assert_eq!(
        opened, 2,
        "one call for page 0, one for the run in the next mapping"
    );
    assert!(restored, "every page restored");
}

#[test]
fn asking_whether_a_page_is_writable_changes_none_of_its_words() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(3);
    let ps = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    assert_eq!(unsafe { libc::mprotect(pages[1] as *mut _, ps, rw) }, 0);
    let words: Vec<usize> = pages.iter().map(|&p| read(p)).collect();
    // Without a page query every page is asked about with the probing system call, which
    // touches the page's first word (adding 0) to learn whether it is writable.
    let mut batch = Batch::begin().unwrap();
    unsafe { batch.open_ready(&d, &pages) };
    let open: Vec<bool> = pages.iter().map(|&p| writable(p)).collect();
    batch.finish().unwrap();
    let after: Vec<usize> = pages.iter().map(|&p| read(p)).collect();
    assert_eq!(
        unsafe { libc::mprotect(pages[1] as *mut _, ps, libc::PROT_READ) },
        0
    );
    assert_eq!(open, [true, true, true]);
    assert_eq!(after, words, "the first word of each page kept its value");
}
