//! The loader's add/remove counters read without its list lock (`rtld`) agree with the ones
//! `dl_iterate_phdr` reports under the lock, through loads and unloads, and a single difference
//! seen under the lock turns the lock-free read off.
#![cfg(all(target_env = "gnu", target_pointer_width = "64"))]

use gothook_core::{loader, rtld};

fn dlopen(name: &str) -> *mut libc::c_void {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: dlopen of a glibc library with no constructor of consequence.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {name}");
    h
}

#[test]
fn lock_free_counters_agree_with_the_locked_ones_and_a_difference_turns_them_off() {
    assert!(
        rtld::in_use(),
        "glibc's counters were not found in _rtld_global"
    );
    for round in 0..20 {
        let before = rtld::counters().expect("lock-free counters");
        assert_eq!(before, loader::counters(), "round {round}, before dlopen");
        let h = dlopen("libanl.so.1");
        let loaded = rtld::counters().expect("lock-free counters");
        assert_eq!(loaded, loader::counters(), "round {round}, after dlopen");
        assert!(
            loaded.0 > before.0,
            "round {round}: the add counter did not move"
        );
        // SAFETY: closing the handle opened above; nothing of the library is used.
        assert_eq!(unsafe { libc::dlclose(h) }, 0);
        let closed = rtld::counters().expect("lock-free counters");
        assert_eq!(closed, loader::counters(), "round {round}, after dlclose");
        assert_ne!(
            closed.1, loaded.1,
            "round {round}: the remove counter did not move"
        );
    }
    // Every locked read checks the lock-free one: the reads above agreed, so it is still on.
    let c = loader::counters();
    rtld::verify(c);
    assert!(rtld::found(), "turned off although every read agreed");
    // One disagreement (as a locked read would see if the place were wrong) turns it off.
    rtld::verify((c.0 + 1, c.1));
    assert!(
        !rtld::found() && rtld::counters().is_none(),
        "still on after a difference"
    );
    assert!(!rtld::in_use(), "searched again after being turned off");
}
