//! The readiness decision on this very process under each rule, with the page protection
//! changed under it: a library is READY only when the rule's signal says it is finished.
//! One test: the rule is process-wide and the cases force it in turn.

use gothook_core::loader::{self, Readiness, Rule};
use gothook_core::Error;

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

#[test]
fn each_rule_makes_ready_only_what_its_signal_says_is_finished() {
    let d = this_binary();
    let relro_page = d.relro.0 & !(page_size() - 1);
    let vdso_addr = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    let vdso = unsafe { loader::decode_containing(vdso_addr) }.unwrap();

    // _dl_find_object: this binary is READY; the same segments with another bias are another
    // object (a reload at the same address), so not READY.
    loader::force_rule(Rule::FindObject).unwrap();
    assert_eq!(loader::readiness_of(&d), Readiness::Ready);
    assert_eq!(loader::readiness_now(&d), Some(Readiness::Ready));
    let mut moved = this_binary();
    moved.bias = d.bias.wrapping_add(page_size());
    assert_eq!(loader::readiness_of(&moved), Readiness::Loading);

    // RELRO rule: READY while the RELRO page is read-only, LOADING while it is writable (the
    // loader has not protected it yet), UNKNOWN without a RELRO range to look at.
    loader::force_rule(Rule::Relro).unwrap();
    assert_eq!(loader::readiness_of(&d), Readiness::Ready);
    assert_eq!(loader::readiness_now(&d), Some(Readiness::Ready));
    protect(relro_page, libc::PROT_READ | libc::PROT_WRITE);
    let loading = (loader::readiness_of(&d), loader::readiness_now(&d));
    protect(relro_page, libc::PROT_READ);
    assert_eq!(loading, (Readiness::Loading, Some(Readiness::Loading)));
    assert_eq!(loader::readiness_of(&d), Readiness::Ready);
    // No range, a reversed one, and one inside a single page (glibc rounds both ends down and
    // protects nothing then, so a read-only page there says nothing about this library).
    for relro in [
        (0, 0),
        (d.relro.1, d.relro.0),
        (relro_page + 8, relro_page + 16),
    ] {
        let mut none = this_binary();
        none.relro = relro;
        assert_eq!(
            loader::readiness_of(&none),
            Readiness::Unknown,
            "{relro:x?}"
        );
    }
    // The page asked about is the one holding the RELRO start, not its neighbour: a RELRO that
    // starts inside an odd-numbered page while the page below it is writable is still READY.
    let ps = page_size();
    let odd = (1..)
        .map(|i| relro_page + i * ps)
        .find(|p| p / ps % 2 == 1)
        .unwrap();
    assert!(odd + ps <= d.relro.1, "{:x?}", d.relro);
    let mut shifted = this_binary();
    shifted.relro = (odd + 8, d.relro.1);
    protect(odd - ps, libc::PROT_READ | libc::PROT_WRITE);
    let r = loader::readiness_of(&shifted);
    protect(odd - ps, libc::PROT_READ);
    assert_eq!(r, Readiness::Ready);
    // A RELRO range inside one page is UNKNOWN whether that page's number is odd or even.
    for p in [odd, odd + ps] {
        let mut one_page = this_binary();
        one_page.relro = (p + 8, p + 16);
        assert_eq!(
            loader::readiness_of(&one_page),
            Readiness::Unknown,
            "{p:#x}"
        );
    }
    // The vDSO has no RELRO and is never relocated: READY under every rule.
    assert_eq!(loader::readiness_of(&vdso), Readiness::Ready);
    assert_eq!(loader::readiness_now(&vdso), Some(Readiness::Ready));

    // Listed (musl's rule: everything listed is READY) cannot be forced on glibc, which lists
    // libraries before relocating them.
    assert_eq!(loader::force_rule(Rule::Listed), Err(Error::Unsupported));

    // Not yet detected: the signal-safe query does not detect, it says so.
    loader::force_rule(Rule::Undetected).unwrap();
    assert_eq!(loader::readiness_now(&d), None);
    assert_eq!(loader::rule(), Rule::FindObject, "detection on glibc 2.36");
    assert_eq!(loader::readiness_now(&d), Some(Readiness::Ready));
}
