//! A `dl_iterate_phdr` of the test binary that counts this thread's walks: the linker prefers it
//! to libc's for every call gothook makes (gothook is linked into the test binary), and it
//! forwards each one to libc's.  Shared by the tests that count walks.
#![allow(dead_code)] // each test crate uses some of these

use std::cell::Cell;
use std::sync::OnceLock;

/// `dl_iterate_phdr`'s callback type.
pub type Callback =
    unsafe extern "C" fn(*mut libc::dl_phdr_info, libc::size_t, *mut libc::c_void) -> libc::c_int;
type Iterate = unsafe extern "C" fn(Option<Callback>, *mut libc::c_void) -> libc::c_int;

thread_local! {
    static WALKS: Cell<usize> = const { Cell::new(0) };
}

/// libc's `dl_iterate_phdr` (looked up once; call it before the first counted walk so that the
/// lookup is not inside one).
pub fn libc_iterate() -> Iterate {
    static REAL: OnceLock<usize> = OnceLock::new();
    let f = *REAL.get_or_init(|| {
        // SAFETY: a plain symbol lookup of libc's definition, the next one after this binary's.
        let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"dl_iterate_phdr".as_ptr()) };
        assert!(!f.is_null());
        f as usize
    });
    // SAFETY: libc's dl_iterate_phdr has this signature.
    unsafe { std::mem::transmute::<usize, Iterate>(f) }
}

/// Counts this thread's walks and forwards them to libc.
///
/// # Safety
/// As `dl_iterate_phdr(3)`.
#[no_mangle]
pub unsafe extern "C" fn dl_iterate_phdr(
    cb: Option<Callback>,
    data: *mut libc::c_void,
) -> libc::c_int {
    WALKS.with(|w| w.set(w.get() + 1));
    // SAFETY: forwarded contract.
    unsafe { libc_iterate()(cb, data) }
}

/// This thread's walks so far.
pub fn walks() -> usize {
    WALKS.with(|w| w.get())
}
