//! Page protection in a swap batch costs one `mprotect` per run of adjacent pages each way:
//! counted by an `mprotect` of this test binary, which the linker prefers to libc's for every
//! call gothook makes (gothook is linked into this binary).  The kernel's view of each page
//! (`/proc/self/maps`) says the protection is right before, during and after.

use std::sync::Mutex;

use gothook_core::slot::{Batch, PageQuery};
use gothook_core::Dynamic;

mod counted_mprotect;
mod pages;
use counted_mprotect::calls;
use pages::{maps_descriptors, page_size, read, relro_pages, writable};

/// Swaps change this binary's RELRO pages: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Same-value swaps on the first word of each page (the protection is all that changes).
fn touch(batch: &mut Batch<'_>, d: &Dynamic, pages: &[usize]) {
    for &p in pages {
        let v = read(p);
        unsafe { batch.swap_ready(d, p, v, v) }.unwrap();
        assert_eq!(read(p), v);
    }
}

#[test]
fn opening_three_adjacent_pages_takes_one_mprotect_and_restoring_them_one() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(3);
    let mut query = PageQuery::new();
    let before = calls();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    // Two slots on the middle page: still one page of the run.
    let slots = [pages[2] + 8, pages[0], pages[1], pages[1] + 16];
    unsafe { batch.open_ready(&d, &slots) };
    assert_eq!(calls() - before, 1, "one call opens the run");
    assert!(
        pages.iter().all(|&p| writable(p)),
        "every page of the run is open"
    );
    touch(&mut batch, &d, &pages);
    assert_eq!(calls() - before, 1, "the swaps find their pages open");
    batch.finish().unwrap();
    assert_eq!(calls() - before, 2, "one call restores the run");
    assert!(pages.iter().all(|&p| !writable(p)), "every page restored");
}

#[test]
fn swaps_on_adjacent_pages_join_one_run_that_one_mprotect_restores() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(3);
    let before = calls();
    let mut batch = Batch::begin().unwrap();
    touch(&mut batch, &d, &pages);
    assert_eq!(calls() - before, 3, "each page opened by its swap");
    assert!(pages.iter().all(|&p| writable(p)));
    batch.finish().unwrap();
    assert_eq!(
        calls() - before,
        4,
        "and restored with its neighbours in one call"
    );
    assert!(pages.iter().all(|&p| !writable(p)));
}

#[test]
fn pages_a_few_apart_in_one_read_only_mapping_open_as_one_run() {
    let _g = SERIAL.lock().unwrap();
    let (d, all) = relro_pages(5);
    let pages = [all[0], all[2], all[4]];
    let mut query = PageQuery::new();
    let before = calls();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    unsafe { batch.open_ready(&d, &pages) };
    assert_eq!(
        calls() - before,
        1,
        "one call opens the pages and those between"
    );
    assert!(
        all.iter().all(|&p| writable(p)),
        "the pages between are in the run"
    );
    touch(&mut batch, &d, &pages);
    batch.finish().unwrap();
    assert_eq!(calls() - before, 2, "one call restores them");
    assert!(
        all.iter().all(|&p| !writable(p)),
        "every page restored, those between too"
    );
}

#[test]
fn pages_far_apart_or_unasked_are_separate_runs() {
    let _g = SERIAL.lock().unwrap();
    let (d, all) = relro_pages(11);
    // Nine pages between: more than a run bridges.
    let far = [all[0], all[10]];
    let mut query = PageQuery::new();
    let before = calls();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    unsafe { batch.open_ready(&d, &far) };
    assert_eq!(calls() - before, 2, "one call per page");
    assert!(
        all[1..10].iter().all(|&p| !writable(p)),
        "the pages between stay read-only"
    );
    batch.finish().unwrap();
    assert_eq!(calls() - before, 4);
    // Without a mapping query nothing vouches for the pages between: each page is its own run.
    let near = [all[0], all[2], all[4]];
    let before = calls();
    let mut batch = Batch::begin().unwrap();
    unsafe { batch.open_ready(&d, &near) };
    assert_eq!(
        calls() - before,
        3,
        "one call per page, none for the pages between"
    );
    assert!(!writable(all[1]) && !writable(all[3]));
    touch(&mut batch, &d, &near);
    batch.finish().unwrap();
    assert_eq!(calls() - before, 6);
    assert!(all.iter().all(|&p| !writable(p)));
}

#[test]
fn a_page_someone_made_writable_splits_the_run_and_stays_writable() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(3);
    let ps = page_size();
    assert_eq!(
        unsafe {
            libc::syscall(
                libc::SYS_mprotect,
                pages[1],
                ps,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        },
        0
    );
    for with_query in [true, false] {
        let mut query = PageQuery::new();
        let before = calls();
        let mut batch = if with_query {
            Batch::begin_with(&mut query).unwrap()
        } else {
            Batch::begin().unwrap()
        };
        unsafe { batch.open_ready(&d, &pages) };
        assert_eq!(
            calls() - before,
            2,
            "the pages on either side, one call each (query: {with_query})"
        );
        touch(&mut batch, &d, &pages);
        batch.finish().unwrap();
        assert_eq!(calls() - before, 4);
        assert!(
            !writable(pages[0]) && !writable(pages[2]),
            "its neighbours restored"
        );
        assert!(
            writable(pages[1]),
            "the page found writable is left writable"
        );
    }
    assert_eq!(
        unsafe { libc::syscall(libc::SYS_mprotect, pages[1], ps, libc::PROT_READ) },
        0
    );
}

#[test]
fn dropping_a_batch_restores_its_runs() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(2);
    let mut query = PageQuery::new();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    unsafe { batch.open_ready(&d, &pages) };
    assert!(pages.iter().all(|&p| writable(p)));
    drop(batch);
    assert!(pages.iter().all(|&p| !writable(p)));
}

#[test]
fn a_page_query_holds_one_close_on_exec_descriptor_while_in_use_and_none_after() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(1);
    let before = maps_descriptors();
    let mut query = PageQuery::new();
    let mut batch = Batch::begin_with(&mut query).unwrap();
    unsafe { batch.open_ready(&d, &pages) };
    batch.finish().unwrap();
    let during = maps_descriptors();
    let new: Vec<_> = during.iter().filter(|x| !before.contains(x)).collect();
    if supports_procmap_query() {
        assert_eq!(
            new.len(),
            1,
            "one descriptor while the query is in use: {during:?}"
        );
        assert_ne!(
            new[0].1 & libc::O_CLOEXEC as u32,
            0,
            "opened close-on-exec: {new:?}"
        );
    } else {
        assert!(
            new.is_empty(),
            "an unsupported query keeps nothing open: {new:?}"
        );
    }
    drop(query);
    assert_eq!(
        maps_descriptors(),
        before,
        "nothing left open once the query is dropped"
    );
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
