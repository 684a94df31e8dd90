//! The readiness rule is detected once per process, by one walk, whichever call asks first;
//! afterwards asking for it, or forcing one, walks nothing.  A `dl_iterate_phdr` of the test
//! binary counts the walks (the linker prefers it to libc's for every call gothook makes, since
//! gothook is linked into the test binary) and forwards them to libc's.  One test: the first
//! call into gothook is part of what it checks.

mod counted_walks;

use gothook_core::loader::{self, Rule};
use gothook_core::Error;

use counted_walks::{libc_iterate, walks};

#[test]
fn the_rule_is_detected_by_the_first_call_and_never_again() {
    libc_iterate();
    assert_eq!(loader::rule_if_detected(), None, "nothing has asked yet");
    // Forcing the `_dl_find_object` rule before anything was detected detects first (glibc
    // 2.36 has the function), with one walk.
    let before = walks();
    assert_eq!(loader::force_rule(Rule::FindObject), Ok(()));
    assert_eq!(walks(), before + 1, "detection walks once");
    assert_ne!(loader::find_object_fn(), 0);
    assert_eq!(loader::rule_if_detected(), Some(Rule::FindObject));

    // Detected: asking for the rule, forcing one or being refused one walks nothing.
    let before = walks();
    assert_eq!(loader::rule(), Rule::FindObject);
    assert_ne!(loader::find_object_fn(), 0);
    assert_eq!(loader::force_rule(Rule::Listed), Err(Error::Unsupported));
    assert_eq!(loader::force_rule(Rule::Relro), Ok(()));
    assert_eq!(loader::rule(), Rule::Relro);
    assert_ne!(loader::find_object_fn(), 0);
    assert_eq!(loader::force_rule(Rule::FindObject), Ok(()));
    assert_eq!(loader::rule(), Rule::FindObject);
    assert_eq!(walks(), before, "no walk once detected");
}
