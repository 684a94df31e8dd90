//! What a walk reports: by default the READY objects only, with `LIBS_ALL` every listed one;
//! positions count every listed object from 0 (or from where the walk starts), whether it is
//! reported or not.  One test: it forces the RELRO rule and makes this binary's RELRO page
//! writable (LOADING by that rule) for a moment.

use gothook_core::loader::{self, LibInfo, Readiness, Rule};

mod this_binary;
use this_binary::this_binary;

fn page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn protect(page: usize, prot: libc::c_int) {
    assert_eq!(
        unsafe { libc::mprotect(page as *mut _, page_size(), prot) },
        0
    );
}

/// (position, bias, readiness) of each object a walk reports.
fn walk(from: u32, flags: u32) -> Vec<(u32, usize, Readiness)> {
    let mut out = Vec::new();
    loader::each_from(from, flags, |lib: &LibInfo<'_>| {
        out.push((lib.index, lib.bias, lib.readiness));
        true
    })
    .unwrap();
    out
}

#[test]
fn walks_report_ready_objects_or_all_of_them_at_their_list_positions() {
    let d = this_binary();
    let all = walk(0, loader::LIBS_ALL);
    assert!(all.len() >= 4, "{all:x?}");
    for (k, &(index, _, _)) in all.iter().enumerate() {
        assert_eq!(index as usize, k, "{all:x?}");
    }
    // From position 2 on: the same objects at the same positions.
    assert_eq!(walk(2, loader::LIBS_ALL), all[2..]);
    assert_eq!(
        walk(0, 0),
        all,
        "everything here is READY by _dl_find_object"
    );

    // This binary LOADING by the RELRO rule: left out by default, reported with LIBS_ALL, and
    // the objects after it keep their positions.
    let me = all.iter().position(|&(_, bias, _)| bias == d.bias).unwrap();
    loader::force_rule(Rule::Relro).unwrap();
    let relro_page = d.relro.0 & !(page_size() - 1);
    protect(relro_page, libc::PROT_READ | libc::PROT_WRITE);
    let (ready, every) = (walk(0, 0), walk(0, loader::LIBS_ALL));
    protect(relro_page, libc::PROT_READ);
    loader::force_rule(Rule::FindObject).unwrap();
    assert_eq!(every.len(), all.len());
    assert_eq!(every[me], (me as u32, d.bias, Readiness::Loading));
    let expected: Vec<_> = every
        .iter()
        .copied()
        .filter(|&(_, _, r)| r == Readiness::Ready)
        .collect();
    assert_eq!(ready, expected);
    assert!(
        ready.iter().all(|&(_, bias, _)| bias != d.bias),
        "{ready:x?}"
    );
    // Unknown flags are refused.
    assert_eq!(loader::each(2, |_| true), Err(gothook_core::Error::Invalid));
}
