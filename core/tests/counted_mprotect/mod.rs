//! An `mprotect` of the test binary that counts this thread's calls: the linker prefers it to
//! libc's for every call gothook makes (gothook is linked into the test binary).  Shared by the
//! slot tests that count page-protection changes.
#![allow(dead_code)] // each test crate uses some of these

use std::cell::Cell;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

/// Counts this thread's calls and forwards them to the kernel.
///
/// # Safety
/// As `mprotect(2)`.
#[no_mangle]
pub unsafe extern "C" fn mprotect(
    addr: *mut libc::c_void,
    len: usize,
    prot: libc::c_int,
) -> libc::c_int {
    CALLS.with(|c| c.set(c.get() + 1));
    let r = unsafe { libc::syscall(libc::SYS_mprotect, addr, len, prot) };
    if r < 0 {
        -1
    } else {
        0
    }
}

/// This thread's `mprotect` calls so far.
pub fn calls() -> usize {
    CALLS.with(|c| c.get())
}
