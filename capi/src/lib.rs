//! gothook C ABI: a thin, uniform `extern "C"` layer over `gothook-core`.
//! Owns only translation (NULL checks, struct conversion, status codes); never allocates,
//! never keeps a pointer into a library past the call that produced it.
#![no_std]
#![allow(non_camel_case_types)]
// Every unsafe entry point states its own pointer contract in a `# Safety` section (its
// "Lifetime:" line) and its thread rule ("Threads:"); clippy enforces both kinds of comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::missing_safety_doc)]

use core::ffi::{c_char, c_int, c_void, CStr};
use core::sync::atomic::AtomicUsize;

use gothook_core::dynamic::{self as dynamic_mod, Dynamic};
use gothook_core::hooks::{self, Filter, Hook, Report};
use gothook_core::loader::{self, Rule};
use gothook_core::{probe, slot, Error};
use static_assertions::{assert_eq_align, assert_eq_size, const_assert, const_assert_eq};

// ---------------------------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------------------------

/// Result of every gothook call. `GOTHOOK_OK` is 0; every other value names one failure.
/// Outputs are written only when a call returns `GOTHOOK_OK` (exceptions are documented).
#[repr(u32)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum gothook_status {
    /// Success.
    GOTHOOK_OK = 0,
    /// An argument is invalid: a NULL pointer, an unknown flag, a zero count.
    GOTHOOK_EINVAL = 1,
    /// The library is listed by the loader but not fully loaded (not READY); nothing was written.
    GOTHOOK_ENOTREADY = 2,
    /// The dynamic section or a table it points to is malformed or outside the mapped segments.
    GOTHOOK_EMALFORMED = 3,
    /// The object has no PT_DYNAMIC segment.
    GOTHOOK_ENODYNAMIC = 4,
    /// The symbol, library or hook set was not found.
    GOTHOOK_ENOTFOUND = 5,
    /// The slot did not hold the expected value (another writer changed it); nothing was written.
    GOTHOOK_ECHANGED = 6,
    /// `mprotect` refused to change the page protection; the slot was not written.
    GOTHOOK_EPROTECT = 7,
    /// gothook's lock is held by this same thread (a signal handler or hook re-entered gothook).
    GOTHOOK_EBUSY = 8,
    /// A fixed-capacity table is full; the call did what it could and says what it skipped.
    GOTHOOK_EFULL = 9,
    /// The ELF class, data encoding, machine or relocation format is not supported.
    GOTHOOK_EUNSUPPORTED = 10,
    /// A pointer argument lies outside the owner's mapped segments or is misaligned.
    GOTHOOK_ERANGE = 11,
}

/// Generates both directions of the status table from its one list: `status` (core error to C
/// status, an exhaustive match, so a new core error does not compile without its row) and
/// `error_of` (C status to core error).
macro_rules! status_table {
    ($($status:ident <=> $variant:ident $(($arg:expr))?,)*) => {
        const fn status(e: Error) -> gothook_status {
            match e {
                $(Error::$variant { .. } => gothook_status::$status,)*
            }
        }

        /// The core error a non-OK status stands for; `None` for `GOTHOOK_OK` and unknown values.
        const fn error_of(code: u32) -> Option<Error> {
            $(if code == gothook_status::$status as u32 {
                return Some(Error::$variant $(($arg))?);
            })*
            None
        }
    };
}

status_table! {
    GOTHOOK_EINVAL <=> Invalid,
    GOTHOOK_ENOTREADY <=> NotReady,
    GOTHOOK_EMALFORMED <=> Malformed(""),
    GOTHOOK_ENODYNAMIC <=> NoDynamic,
    GOTHOOK_ENOTFOUND <=> NotFound,
    GOTHOOK_ECHANGED <=> Changed,
    GOTHOOK_EPROTECT <=> Protect,
    GOTHOOK_EBUSY <=> Busy,
    GOTHOOK_EFULL <=> Full,
    GOTHOOK_EUNSUPPORTED <=> Unsupported,
    GOTHOOK_ERANGE <=> Range,
}

// Both directions agree: every non-OK status names a core error that maps back to it (so no
// status is listed twice or missing), and OK and the values past the last have none.
const _: () = {
    let mut code = 1;
    while code <= gothook_status::GOTHOOK_ERANGE as u32 {
        match error_of(code) {
            Some(e) => assert!(status(e) as u32 == code),
            None => panic!("a status without a core error"),
        }
        code += 1;
    }
    assert!(error_of(gothook_status::GOTHOOK_OK as u32).is_none());
    assert!(error_of(code).is_none());
};

/// Borrows the pointer argument `$p` for the call, or returns `GOTHOOK_EINVAL` from the entry
/// point when it is NULL.
macro_rules! arg {
    ($p:expr) => {
        // SAFETY: every entry point's `# Safety` section: a non-NULL pointer argument points to
        // a valid, aligned value, not written by anyone else during the call.
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return gothook_status::GOTHOOK_EINVAL,
        }
    };
}

/// Borrows the output pointer `$p` for the call, or returns `GOTHOOK_EINVAL` from the entry
/// point when it is NULL.
macro_rules! out {
    ($p:expr) => {
        // SAFETY: every entry point's `# Safety` section: a non-NULL output points to a
        // writable, aligned value the caller does not touch during the call.
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return gothook_status::GOTHOOK_EINVAL,
        }
    };
}

/// Borrows an optional output pointer `$p` (NULL allowed: `None`) for the call.
macro_rules! opt_out {
    ($p:expr) => {
        // SAFETY: every entry point's `# Safety` section: a non-NULL output points to a
        // writable, aligned value the caller does not touch during the call.
        unsafe { $p.as_mut() }
    };
}

fn result(r: Result<(), Error>) -> gothook_status {
    match r {
        Ok(()) => gothook_status::GOTHOOK_OK,
        Err(e) => status(e),
    }
}

/// Borrows a NUL-terminated C string without its NUL; None for NULL.
///
/// # Safety
/// A non-NULL `p` is a valid C string, unchanged for the lifetime `'a` the caller picks.
unsafe fn c_str<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: forwarded contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// Version and status strings
// ---------------------------------------------------------------------------------------------

/// Major version of this header.
pub const GOTHOOK_VERSION_MAJOR: u32 = 0;
/// Minor version of this header (0.x: compatible only within the same minor version).
pub const GOTHOOK_VERSION_MINOR: u32 = 2;
/// Patch version of this header.
pub const GOTHOOK_VERSION_PATCH: u32 = 0;
/// `MAJOR * 10000 + MINOR * 100 + PATCH`, as `gothook_version_number()` returns it.
pub const GOTHOOK_VERSION_NUMBER: u32 = 200;
const_assert_eq!(
    GOTHOOK_VERSION_NUMBER,
    GOTHOOK_VERSION_MAJOR * 10000 + GOTHOOK_VERSION_MINOR * 100 + GOTHOOK_VERSION_PATCH
);

/// The library's version as "MAJOR.MINOR.PATCH".  Context: signal-safe.
///
/// Threads: any thread.
/// Lifetime: the string is static; never free it.
#[no_mangle]
pub extern "C" fn gothook_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The library's version as `GOTHOOK_VERSION_NUMBER` computes it; compare with the header's
/// macro to detect a header/library mismatch.  Context: signal-safe.
///
/// Threads: any thread.
#[no_mangle]
pub extern "C" fn gothook_version_number() -> u32 {
    GOTHOOK_VERSION_NUMBER
}

/// A fixed, NUL-terminated description of `status`; never NULL, also for unknown values.
/// Context: signal-safe.
///
/// Threads: any thread.
/// Lifetime: the string is static; never free it.
#[no_mangle]
pub extern "C" fn gothook_status_str(status: u32) -> *const c_char {
    if status == gothook_status::GOTHOOK_OK as u32 {
        return c"success".as_ptr();
    }
    error_of(status)
        .map_or(c"unknown gothook status", Error::c_message)
        .as_ptr()
}

// ---------------------------------------------------------------------------------------------
// Loaded libraries
// ---------------------------------------------------------------------------------------------

/// Readiness: no lock-free signal decides it (e.g. no RELRO page on glibc < 2.35). Left alone.
pub const GOTHOOK_UNKNOWN: u8 = 0;
/// Readiness: listed but not yet relocated (or a failed dlopen about to vanish). Left alone.
pub const GOTHOOK_LOADING: u8 = 1;
/// Readiness: fully relocated and RELRO-protected; safe to read and patch.
pub const GOTHOOK_READY: u8 = 2;

/// Kind: a shared library.
pub const GOTHOOK_KIND_OTHER: u8 = 0;
/// Kind: the main program.
pub const GOTHOOK_KIND_MAIN: u8 = 1;
/// Kind: the kernel's vDSO.
pub const GOTHOOK_KIND_VDSO: u8 = 2;
/// Kind: the dynamic loader (on musl, also libc).
pub const GOTHOOK_KIND_LOADER: u8 = 3;
/// Kind: the object containing gothook's code: libgothook.so, a shared library that embeds
/// libgothook.a, or the main program when the archive is linked into it (SELF wins over MAIN;
/// compare `phdr` with `getauxval(AT_PHDR)` to recognise the main program in every case).
pub const GOTHOOK_KIND_SELF: u8 = 4;

/// `gothook_libs_each` flag: report every listed library with its readiness, not only READY ones.
pub const GOTHOOK_LIBS_ALL: u32 = 1;

/// Readiness rule: glibc >= 2.35, `_dl_find_object` succeeds with the listed bias.
pub const GOTHOOK_RULE_FIND_OBJECT: u32 = 1;
/// Readiness rule: glibc < 2.35, the RELRO pages glibc protects (start and end rounded down to
/// pages) exist and are no longer writable.
pub const GOTHOOK_RULE_RELRO: u32 = 2;
/// Readiness rule: musl or a static program; a listed library is relocated.
pub const GOTHOOK_RULE_LISTED: u32 = 3;

// The C values are the core enums' discriminants (`c_lib` and `gothook_set_readiness_rule`
// convert with `as`): asserted here, so a change on either side does not compile.
const_assert_eq!(GOTHOOK_UNKNOWN, loader::Readiness::Unknown as u8);
const_assert_eq!(GOTHOOK_LOADING, loader::Readiness::Loading as u8);
const_assert_eq!(GOTHOOK_READY, loader::Readiness::Ready as u8);
const_assert_eq!(GOTHOOK_KIND_OTHER, loader::LibKind::Other as u8);
const_assert_eq!(GOTHOOK_KIND_MAIN, loader::LibKind::Main as u8);
const_assert_eq!(GOTHOOK_KIND_VDSO, loader::LibKind::Vdso as u8);
const_assert_eq!(GOTHOOK_KIND_LOADER, loader::LibKind::Loader as u8);
const_assert_eq!(GOTHOOK_KIND_SELF, loader::LibKind::SelfLib as u8);
const_assert_eq!(GOTHOOK_LIBS_ALL, loader::LIBS_ALL);
const_assert_eq!(GOTHOOK_RULE_FIND_OBJECT, Rule::FindObject as u32);
const_assert_eq!(GOTHOOK_RULE_RELRO, Rule::Relro as u32);
const_assert_eq!(GOTHOOK_RULE_LISTED, Rule::Listed as u32);
const_assert_eq!(0, Rule::Undetected as u32);

// One loaded object as `gothook_libs_each` reports it (and a filter's `accept` receives it):
// defined in the core, which builds it for filter predicates too; the header takes its docs
// from there.
pub use gothook_core::hooks::gothook_lib;

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_lib, [u8; 48]);
    assert_eq_align!(gothook_lib, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, bias), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, name), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, phdr), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, phnum), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, kind), 26);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, readiness), 27);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, index), 28);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, adds), 32);
    const_assert_eq!(core::mem::offset_of!(gothook_lib, subs), 40);
};

/// Walk callback: return non-zero to stop the walk.
pub type gothook_lib_cb =
    Option<unsafe extern "C" fn(lib: *const gothook_lib, ctx: *mut c_void) -> c_int>;

/// Calls `cb` for each loaded object, inside `dl_iterate_phdr` (so no listed object can be
/// unmapped while `cb` runs; do every read and patch of it there).  Without `GOTHOOK_LIBS_ALL`
/// only READY objects are reported.  Readiness is decided without locks or allocation:
/// `_dl_find_object` on glibc >= 2.35, RELRO page state on older glibc, list membership on musl.
///
/// Context: malloc-safe; not signal-safe (takes the loader's list lock).
/// Errors: `GOTHOOK_EINVAL` (NULL `cb`, unknown flag), `GOTHOOK_EBUSY` (a child forked while
/// another thread of the parent was inside a gothook walk: see `gothook_refresh`).
///
/// Threads: any thread; walks of several threads take turns on the loader's list lock, and `cb`
/// runs on the calling thread, where it may call gothook again (a nested walk) but not
/// `dlopen`/`dlclose`.
///
/// # Safety
/// Lifetime: `*lib` handed to `cb`, its `name` and the program headers it points to are valid only
/// until `cb` returns; `ctx` is passed to `cb` untouched.
#[no_mangle]
pub unsafe extern "C" fn gothook_libs_each(
    cb: gothook_lib_cb,
    ctx: *mut c_void,
    flags: u32,
) -> gothook_status {
    let Some(cb) = cb else {
        return gothook_status::GOTHOOK_EINVAL;
    };
    if gothook_core::sys::walks_blocked() {
        return gothook_status::GOTHOOK_EBUSY;
    }
    result(loader::each(flags, |l| {
        let c = gothook_lib::of(l);
        // SAFETY: the caller's callback, called with a record valid for the call.
        unsafe { cb(&c, ctx) == 0 }
    }))
}

/// The loader's add and remove counters, read from one walk callback: O(1), but it takes the
/// loader's list lock briefly.  Compare snapshots for inequality only; never order them.
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EINVAL` (NULL output).
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: `adds` and `subs` are NULL (answered `GOTHOOK_EINVAL`) or writable `uint64_t`s for the
/// call.
#[no_mangle]
pub unsafe extern "C" fn gothook_libs_counters(adds: *mut u64, subs: *mut u64) -> gothook_status {
    let (adds, subs) = (out!(adds), out!(subs));
    (*adds, *subs) = loader::counters();
    gothook_status::GOTHOOK_OK
}

/// The readiness rule in force (`GOTHOOK_RULE_*`), detected on first use.  Context: malloc-safe.
///
/// Threads: any thread.
#[no_mangle]
pub extern "C" fn gothook_readiness_rule() -> u32 {
    loader::rule() as u32
}

/// 1 when a refresh reads the loader's add/remove counters without the loader's list lock, 0
/// when it reads them inside a `dl_iterate_phdr` callback (under that lock).  Searches first if
/// no search was made yet (one walk).
///
/// glibc keeps the counters that `dl_iterate_phdr` reports (`dlpi_adds`, `dlpi_subs`) in its
/// private `_rtld_global`.  gothook never assumes that structure's layout: it looks inside it,
/// once, for the recursive mutex the calling thread holds during a `dl_iterate_phdr` callback,
/// with the loader's other two locks around it, a namespace count of 1 before them and a word
/// equal to `dlpi_adds` after them, and uses the place only if exactly one matches and the
/// main namespace's object count makes `dlpi_subs` come out exactly.  Every later read under the
/// lock is compared with the lock-free one; the first difference turns the lock-free read off for
/// the life of the process.  While a `dlmopen` namespace exists, refresh takes the lock.  0 on
/// musl, whose loader has no `_rtld_global`, and on 32-bit targets, where a 64-bit counter is not
/// read in one access (not searched).
///
/// While a library that a refresh saw LOADING is still being relocated, refresh does not read the
/// add counter at all: it shares a cache line with the counter the loader bumps at every symbol
/// lookup, and reading it in a loop would slow that `dlopen` down (to 55 % of its throughput in
/// the benchmark's storm).  It checks instead, without a lock, that the same thread still holds
/// the loader's load lock, the object count has not moved and `_dl_find_object` does not find
/// the library yet: then no other `dlopen` or `dlclose` can have returned since (each needs
/// that lock), so "dlopen, then refresh" still hooks at once.
///
/// Locks: the loader's list lock for one walk while no search was made yet (the search runs
/// inside it; up to 4 attempts while a `dlmopen` namespace exists), none after.
///
/// Context: malloc-safe.  Threads: any thread.
#[no_mangle]
pub extern "C" fn gothook_counters_lock_free() -> c_int {
    c_int::from(gothook_core::rtld::in_use())
}

/// Turns the lock-free counter read off (see `gothook_counters_lock_free`) for the life of the
/// process: every refresh then reads the loader's counters under its list lock.  Called before
/// any other gothook function, nothing in glibc's private data is ever read.  For hosts that
/// prefer the lock, and for tests.
///
/// Locks: none.  Context: malloc-safe (one atomic store).  Threads: any thread.
#[no_mangle]
pub extern "C" fn gothook_counters_lock_free_off() {
    gothook_core::rtld::turn_off();
}

/// Forces a readiness rule, e.g. `GOTHOOK_RULE_RELRO` to exercise the glibc < 2.35 path on a
/// newer glibc; 0 re-detects.  For tests and diagnostics.  Context: malloc-safe.
/// Errors: `GOTHOOK_EINVAL` (unknown rule), `GOTHOOK_EUNSUPPORTED` (FIND_OBJECT without it, or
/// LISTED on a loader that lists libraries before relocating them: glibc).
///
/// Threads: any thread; the rule is process-wide, so set it before other threads use gothook.
#[no_mangle]
pub extern "C" fn gothook_set_readiness_rule(rule: u32) -> gothook_status {
    let r = match rule {
        0 => Rule::Undetected,
        GOTHOOK_RULE_FIND_OBJECT => Rule::FindObject,
        GOTHOOK_RULE_RELRO => Rule::Relro,
        GOTHOOK_RULE_LISTED => Rule::Listed,
        _ => return gothook_status::GOTHOOK_EINVAL,
    };
    result(loader::force_rule(r))
}

// ---------------------------------------------------------------------------------------------
// Dynamic sections
// ---------------------------------------------------------------------------------------------

/// A decoded dynamic section: a plain, copyable, caller-owned value.  It refers to the image's
/// memory, so use it only while the image is mapped: inside the walk callback that reported the
/// library, or later for an image that is never unloaded (the main program, libc, anything
/// opened with RTLD_NODELETE, every library on musl).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_dynamic {
    /// Opaque storage.
    pub opaque: [u64; 80],
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_dynamic, [u8; 640]);
    assert_eq_align!(gothook_dynamic, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic, opaque), 0);
};

assert_eq_align!(gothook_dynamic, u64);
const_assert!(core::mem::size_of::<Dynamic>() <= core::mem::size_of::<gothook_dynamic>());
const_assert!(core::mem::align_of::<Dynamic>() <= core::mem::align_of::<gothook_dynamic>());

/// Decode flag: the image is ELF32 (default: this process's class).
pub const GOTHOOK_DECODE_ELF32: u32 = 1;
/// Decode flag: the image is ELF64.
pub const GOTHOOK_DECODE_ELF64: u32 = 2;

const_assert_eq!(GOTHOOK_DECODE_ELF32, dynamic_mod::DECODE_ELF32);
const_assert_eq!(GOTHOOK_DECODE_ELF64, dynamic_mod::DECODE_ELF64);

fn dyn_ref(d: &gothook_dynamic) -> &Dynamic {
    // SAFETY: gothook_dynamic is only ever filled by `dyn_store` with a valid Dynamic (size and
    // alignment asserted above); Dynamic is plain data, valid for any bit pattern a store left.
    unsafe { &*(d as *const gothook_dynamic as *const Dynamic) }
}

fn dyn_store(out: &mut gothook_dynamic, d: &Dynamic) {
    out.opaque = [0; 80];
    // SAFETY: size and alignment asserted above; Dynamic is plain data without Drop, so a
    // bitwise copy is a valid value; how long it may be used is the C API's documented contract.
    unsafe { core::ptr::copy_nonoverlapping(d, out as *mut gothook_dynamic as *mut Dynamic, 1) };
}

// The last word of `gothook_dynamic` records the readiness a walk saw when it decoded the image
// (a library READY once stays READY while mapped), so a later swap needs no readiness check that
// could have to walk.  The tag tells a recorded value from the zero `dyn_store` leaves.
const READINESS_WORD: usize = 79;
const READINESS_TAG: u64 = 0x6774_6872_6561_6400;
const_assert!(core::mem::size_of::<Dynamic>() <= READINESS_WORD * 8);

fn dyn_store_seen(out: &mut gothook_dynamic, d: &Dynamic, seen: u8) {
    dyn_store(out, d);
    out.opaque[READINESS_WORD] = READINESS_TAG | seen as u64;
}

/// Whether the walk that decoded `d` saw its library READY.
fn dyn_seen_ready(d: &gothook_dynamic) -> bool {
    d.opaque[READINESS_WORD] == READINESS_TAG | loader::Readiness::Ready as u64
}

/// Decodes the dynamic section of the image at `bias` with program headers `phdr[0..phnum)`:
/// the drop-in for a profiler's `parseDynamicSection`.  Every pointer is normalised by range
/// (glibc-rewritten, musl-raw, vDSO and ET_EXEC images all decode) and every table is checked
/// against the mapped PT_LOAD segments.  `flags` are `GOTHOOK_DECODE_*`; the high 16 bits may
/// give an `e_machine` for images whose ELF header is not mapped.  `*out` is written only on
/// success.
///
/// Context: signal-safe (reads memory only).  Errors: `GOTHOOK_EINVAL` (NULL, zero phnum, bad
/// flags), `GOTHOOK_ENODYNAMIC`, `GOTHOOK_EMALFORMED`, `GOTHOOK_EUNSUPPORTED`.
///
/// Threads: any thread; `*out` is a plain value the caller owns.
///
/// # Safety
/// Lifetime: `phdr` points to `phnum` readable program headers for the call, and the image at
/// `bias` stays mapped while `*out` is used (inside a walk callback, or an image that is never
/// unloaded); `out` is NULL or writable for the call.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_decode(
    bias: usize,
    phdr: *const c_void,
    phnum: u16,
    flags: u32,
    out: *mut gothook_dynamic,
) -> gothook_status {
    let out = out!(out);
    if phdr.is_null() || phnum == 0 {
        return gothook_status::GOTHOOK_EINVAL;
    }
    let is64 = dynamic_mod::class_is64(flags);
    // SAFETY: the caller passes `phnum` readable program headers at `phdr` (API contract).
    let raw = match unsafe { dynamic_mod::phdr_bytes(phdr as usize, phnum as usize, is64) } {
        Ok(r) => r,
        Err(e) => return status(e),
    };
    // SAFETY: the caller vouches the image is mapped while the result is used (API contract).
    match unsafe { Dynamic::decode(bias, raw, flags) } {
        Ok(d) => {
            dyn_store(out, &d);
            gothook_status::GOTHOOK_OK
        }
        Err(e) => status(e),
    }
}

/// Decodes the library a walk callback reported, and records the readiness the walk saw (a swap
/// on a library seen READY then needs no further check).  Same contract as
/// `gothook_dynamic_decode`.
///
/// Context: signal-safe (reads memory only).
///
/// Threads: the thread running the walk callback that received `lib`.
///
/// # Safety
/// Lifetime: `lib` is NULL or the record a walk callback received, used during that callback;
/// `*out` may be used while the library stays loaded (as `gothook_dynamic_decode`).
#[no_mangle]
pub unsafe extern "C" fn gothook_lib_decode(
    lib: *const gothook_lib,
    out: *mut gothook_dynamic,
) -> gothook_status {
    let l = arg!(lib);
    let out = out!(out);
    // SAFETY: forwarded contract (a walk record's program headers, the image mapped while `*out`
    // is used); `out` is a valid output, borrowed here for the call.
    let st = unsafe { gothook_dynamic_decode(l.bias, l.phdr, l.phnum, 0, out) };
    if st == gothook_status::GOTHOOK_OK {
        out.opaque[READINESS_WORD] = READINESS_TAG | l.readiness as u64;
    }
    st
}

/// Whether the library `lib` (a record from a walk callback) maps `addr` in one of its PT_LOAD
/// segments: 1 if it does, 0 if not or if `lib` is NULL.
///
/// Context: signal-safe (reads the program headers only); use it during the callback.
///
/// Threads: the thread running the walk callback that received `lib`.
///
/// # Safety
/// Lifetime: `lib` is NULL or the record a walk callback received, used during that callback;
/// `addr` is only compared, never read.
#[no_mangle]
pub unsafe extern "C" fn gothook_lib_contains(
    lib: *const gothook_lib,
    addr: *const c_void,
) -> c_int {
    if lib.is_null() {
        return 0;
    }
    // SAFETY: non-NULL record from a walk callback (API contract).
    let l = unsafe { &*lib };
    if l.phdr.is_null() {
        return 0;
    }
    // SAFETY: a walk record's phdr/phnum describe the listed object's program headers.
    c_int::from(unsafe { loader::maps(l.bias, l.phdr as usize, l.phnum, addr as usize) })
}

/// Decodes, in one call, the READY library that maps `addr` (e.g. the address of a function of
/// libjvm.so), inside the walk that reports it: the owner to hand to `gothook_slot_swap`.  Keep
/// `*out` only while that library stays loaded.  `*out` is written only on success.
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EINVAL` (NULL `out`), `GOTHOOK_ENOTFOUND` (no listed
/// library maps `addr`), `GOTHOOK_ENOTREADY` (it is not READY yet; retry later),
/// `GOTHOOK_ENODYNAMIC`, `GOTHOOK_EMALFORMED`, `GOTHOOK_EUNSUPPORTED`.
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: `addr` is only compared, never read; `out` is NULL or writable for the call; use
/// `*out` only while the library that maps `addr` stays loaded.
#[no_mangle]
pub unsafe extern "C" fn gothook_decode_containing(
    addr: *const c_void,
    out: *mut gothook_dynamic,
) -> gothook_status {
    let out = out!(out);
    // SAFETY: the header tells the caller to keep `*out` only while that library stays loaded.
    match unsafe { loader::decode_containing(addr as usize) } {
        Ok(d) => {
            dyn_store_seen(out, &d, loader::Readiness::Ready as u8);
            gothook_status::GOTHOOK_OK
        }
        Err(e) => status(e),
    }
}

/// Summary of a decoded dynamic section.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_dynamic_info {
    /// Load bias.
    pub bias: usize,
    /// DT_SONAME, or NULL.
    pub soname: *const c_char,
    /// Number of dynamic symbols.
    pub nsyms: u32,
    /// `e_machine`.
    pub machine: u16,
    /// 1 for ELF32, 2 for ELF64.
    pub elf_class: u8,
    /// 1 if the object asks for BIND_NOW (no lazy PLT binding).
    pub bind_now: u8,
    /// PT_GNU_RELRO start and end (absolute, unrounded; 0 when absent).
    pub relro_start: usize,
    /// See `relro_start`.
    pub relro_end: usize,
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_dynamic_info, [u8; 40]);
    assert_eq_align!(gothook_dynamic_info, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, bias), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, soname), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, nsyms), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, machine), 20);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, elf_class), 22);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, bind_now), 23);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, relro_start), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_dynamic_info, relro_end), 32);
};

/// Fills `*out` with a summary of `d`.  Context: signal-safe.  Errors: `GOTHOOK_EINVAL`.
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: `d` is NULL or a value a gothook decode filled whose image is still mapped; `out` is
/// NULL or writable for the call; `out->soname` points into the image and lives as long as it.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_info_get(
    d: *const gothook_dynamic,
    out: *mut gothook_dynamic_info,
) -> gothook_status {
    let (d, out) = (dyn_ref(arg!(d)), out!(out));
    *out = gothook_dynamic_info {
        bias: d.bias,
        soname: if d.soname == 0 {
            core::ptr::null()
        } else {
            d.soname as *const c_char
        },
        nsyms: d.nsyms,
        machine: d.machine,
        elf_class: d.class,
        bind_now: d.bind_now,
        relro_start: d.relro.0,
        relro_end: d.relro.1,
    };
    gothook_status::GOTHOOK_OK
}

/// A dynamic symbol.  `name` points into the image's string table.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_symbol {
    /// NUL-terminated name (may be "").
    pub name: *const c_char,
    /// Run-time address: `bias + st_value` for defined symbols (SHN_ABS: `st_value` itself, as
    /// glibc's dlsym does), 0 for undefined ones.
    pub address: usize,
    /// Raw `st_value` (0 vs non-0 tells a host whether to keep it).
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// Index in the dynamic symbol table.
    pub index: u32,
    /// `st_shndx` (0: undefined).
    pub shndx: u16,
    /// `versym` entry (bit 15: hidden, non-default version); 1 when the object has none.
    pub versym: u16,
    /// `st_info`: binding in the high nibble, type in the low (drop AArch64 `$x`/`$d` with it).
    pub info: u8,
    /// `st_other` (visibility).
    pub other: u8,
    /// Reserved, zero.
    pub reserved: [u8; 6],
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_symbol, [u8; 48]);
    assert_eq_align!(gothook_symbol, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, name), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, address), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, value), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, size), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, index), 32);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, shndx), 36);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, versym), 38);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, info), 40);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, other), 41);
    const_assert_eq!(core::mem::offset_of!(gothook_symbol, reserved), 42);
};

/// Symbol callback: return non-zero to stop.
pub type gothook_symbol_cb =
    Option<unsafe extern "C" fn(sym: *const gothook_symbol, ctx: *mut c_void) -> c_int>;

fn c_symbol(d: &Dynamic, s: &gothook_core::Symbol<'_>) -> gothook_symbol {
    gothook_symbol {
        name: s.name.as_ptr() as *const c_char,
        address: s.address(d.bias),
        value: s.value,
        size: s.size,
        index: s.index,
        shndx: s.shndx,
        versym: s.versym,
        info: s.info,
        other: s.other,
        reserved: [0; 6],
    }
}

/// Calls `cb` for every dynamic symbol from index 1, in table order (undefined ones included:
/// filter on `shndx`/`value` as your code needs).
///
/// Context: signal-safe.  Errors: `GOTHOOK_EINVAL`, `GOTHOOK_EMALFORMED` (the walk stops at the
/// first bad entry; entries already reported were in range).
///
/// Threads: any thread; `cb` runs on the calling thread.
///
/// # Safety
/// Lifetime: `d` is NULL or a value a gothook decode filled whose image stays mapped for the call;
/// the record handed to `cb` is valid until `cb` returns, its `name` as long as the image; `ctx` is
/// passed untouched.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_symbols(
    d: *const gothook_dynamic,
    cb: gothook_symbol_cb,
    ctx: *mut c_void,
) -> gothook_status {
    let d = dyn_ref(arg!(d));
    let Some(cb) = cb else {
        return gothook_status::GOTHOOK_EINVAL;
    };
    result(d.for_each_symbol(|s| {
        let c = c_symbol(d, s);
        // SAFETY: the caller's callback with a record valid for the call.
        unsafe { cb(&c, ctx) == 0 }
    }))
}

/// Import kind: PLT slot (`*_JUMP_SLOT`).
pub const GOTHOOK_IMPORT_PLT: u8 = 0;
/// Import kind: GOT data slot (`*_GLOB_DAT`), e.g. from -fno-plt code or taken addresses.
pub const GOTHOOK_IMPORT_GLOB_DAT: u8 = 1;
/// Import kind: word-sized absolute data slot (`R_X86_64_64`, `R_AARCH64_ABS64`, ...).
pub const GOTHOOK_IMPORT_ABS: u8 = 2;

const_assert_eq!(GOTHOOK_IMPORT_PLT, dynamic_mod::ImportKind::Plt as u8);
const_assert_eq!(
    GOTHOOK_IMPORT_GLOB_DAT,
    dynamic_mod::ImportKind::GlobDat as u8
);
const_assert_eq!(GOTHOOK_IMPORT_ABS, dynamic_mod::ImportKind::Abs as u8);
// The `table` field's documented values.
const_assert_eq!(0, dynamic_mod::Table::JmpRel as u8);
const_assert_eq!(1, dynamic_mod::Table::Rela as u8);
const_assert_eq!(2, dynamic_mod::Table::Rel as u8);

/// One import: a relocation that fills `slot` with the address of symbol `name`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_import {
    /// NUL-terminated symbol name.
    pub name: *const c_char,
    /// The slot's address (4 bytes wide for ELF32 images).
    pub slot: *mut *mut c_void,
    /// Relocation addend (0 for REL tables).
    pub addend: i64,
    /// Symbol index.
    pub sym_index: u32,
    /// Raw relocation type.
    pub r_type: u32,
    /// `GOTHOOK_IMPORT_*`.
    pub kind: u8,
    /// Source table: 0 DT_JMPREL, 1 DT_RELA, 2 DT_REL.
    pub table: u8,
    /// Reserved, zero.
    pub reserved: [u8; 6],
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_import, [u8; 40]);
    assert_eq_align!(gothook_import, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_import, name), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_import, slot), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_import, addend), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_import, sym_index), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_import, r_type), 28);
    const_assert_eq!(core::mem::offset_of!(gothook_import, kind), 32);
    const_assert_eq!(core::mem::offset_of!(gothook_import, table), 33);
    const_assert_eq!(core::mem::offset_of!(gothook_import, reserved), 34);
};

/// Import callback: return non-zero to stop.
pub type gothook_import_cb =
    Option<unsafe extern "C" fn(imp: *const gothook_import, ctx: *mut c_void) -> c_int>;

/// Calls `cb` for every import in table order: DT_JMPREL first, then DT_RELA/DT_REL (after their
/// leading RELATIVE entries).  RELATIVE and IRELATIVE relocations are skipped; DT_RELR has no
/// imports.  Every slot reported lies inside the image and is aligned.
///
/// Context: signal-safe.  Errors: `GOTHOOK_EINVAL`, `GOTHOOK_EMALFORMED`, `GOTHOOK_EUNSUPPORTED`.
///
/// Threads: any thread; `cb` runs on the calling thread.
///
/// # Safety
/// Lifetime: as `gothook_dynamic_symbols`: the record is valid until `cb` returns, `name` and
/// `slot` as long as the image.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_imports(
    d: *const gothook_dynamic,
    cb: gothook_import_cb,
    ctx: *mut c_void,
) -> gothook_status {
    let d = dyn_ref(arg!(d));
    let Some(cb) = cb else {
        return gothook_status::GOTHOOK_EINVAL;
    };
    result(d.for_each_import(|i| {
        let c = gothook_import {
            name: i.name.as_ptr() as *const c_char,
            slot: i.reloc.slot as *mut *mut c_void,
            addend: i.reloc.addend,
            sym_index: i.reloc.sym,
            r_type: i.reloc.r_type,
            kind: i.reloc.kind as u8,
            table: i.reloc.table as u8,
            reserved: [0; 6],
        };
        // SAFETY: the caller's callback with a record valid for the call.
        unsafe { cb(&c, ctx) == 0 }
    }))
}

/// Looks `name` up among the object's default-version definitions through DT_GNU_HASH (bloom
/// filter first) or DT_HASH, and writes the symbol's address to `*addr` (IFUNCs: the resolver;
/// SHN_ABS symbols: their value).  Undefined, local, hidden-version and TLS symbols are not
/// definitions a lookup binds to: they answer `GOTHOOK_ENOTFOUND`.
///
/// Context: signal-safe.  Errors: `GOTHOOK_EINVAL`, `GOTHOOK_ENOTFOUND`, `GOTHOOK_EMALFORMED`.
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: `d` as `gothook_dynamic_symbols`; `name` is NULL or a C string for the call; `addr` is
/// NULL or writable for the call.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_lookup(
    d: *const gothook_dynamic,
    name: *const c_char,
    addr: *mut *mut c_void,
) -> gothook_status {
    // A NULL output is invalid whether or not the name exists.
    let addr = out!(addr);
    let mut sym = core::mem::MaybeUninit::<gothook_symbol>::uninit();
    // SAFETY: forwarded contract; `sym` is a writable local.
    let st = unsafe { gothook_dynamic_lookup_symbol(d, name, sym.as_mut_ptr()) };
    if st == gothook_status::GOTHOOK_OK {
        // SAFETY: lookup_symbol wrote the whole record when it answered OK.
        *addr = unsafe { sym.assume_init() }.address as *mut c_void;
    }
    st
}

/// Like `gothook_dynamic_lookup`, but fills the whole symbol record.
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: as `gothook_dynamic_lookup`; `out` is NULL or writable for the call, and `out->name`
/// lives as long as the image.
#[no_mangle]
pub unsafe extern "C" fn gothook_dynamic_lookup_symbol(
    d: *const gothook_dynamic,
    name: *const c_char,
    out: *mut gothook_symbol,
) -> gothook_status {
    let (d, out) = (dyn_ref(arg!(d)), out!(out));
    // SAFETY: NULL or a C string for the call (the entry point's contract).
    let Some(name) = (unsafe { c_str(name) }) else {
        return gothook_status::GOTHOOK_EINVAL;
    };
    match d.lookup(name) {
        Ok(Some(s)) => *out = c_symbol(d, &s),
        Ok(None) => return gothook_status::GOTHOOK_ENOTFOUND,
        Err(e) => return status(e),
    }
    gothook_status::GOTHOOK_OK
}

// ---------------------------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------------------------

/// Compare-and-swap of one pointer slot of the READY library `owner`: writes `desired` only if
/// the slot holds `expected`.  The page is made writable only when its protection (derived from
/// `owner`'s program headers: read-only inside the page-rounded RELRO range, else its PT_LOAD
/// flags) lacks write, and is restored exactly afterwards.  All swaps in the process are
/// serialised by one lock; re-entry on the same thread answers `GOTHOOK_EBUSY` at once.
///
/// Locks: gothook's swap lock only (never the loader's).  Its holder never waits for anything
/// (it only changes page protection and swaps), so a swap that finds it held by another thread
/// waits a few microseconds, blocked in the kernel, not spinning; a child forked while a parent
/// thread held it takes it over.
///
/// Readiness: an `owner` from `gothook_lib_decode` of a library the walk reported READY, or from
/// `gothook_decode_containing`, is READY (that was decided in the walk).  Otherwise it is decided
/// now without walking (`_dl_find_object`, or the RELRO page's protection by raw syscalls); the
/// readiness rule this needs is detected when libgothook is loaded (a constructor), so no swap
/// ever takes the loader's lock.  A library that is not READY is left untouched.
///
/// Context: signal-safe from the first call (if `owner` was decoded earlier from a library that
/// stays loaded).  Errors: `GOTHOOK_EINVAL` (NULL), `GOTHOOK_ERANGE` (slot outside `owner` or
/// misaligned), `GOTHOOK_ENOTREADY` (slot unchanged), `GOTHOOK_ECHANGED`, `GOTHOOK_EPROTECT`,
/// `GOTHOOK_EBUSY`.
///
/// Threads: any thread; swaps of all threads are serialised by gothook's swap lock.
///
/// # Safety
/// Lifetime: `owner` is NULL or a value a gothook decode filled whose library stays loaded for the
/// call; `slot` is only written after it was checked to lie, aligned, inside `owner`; `desired`
/// is a function (or object) of the type the slot's relocation binds, valid while the slot may
/// hold it.
#[no_mangle]
pub unsafe extern "C" fn gothook_slot_swap(
    owner: *const gothook_dynamic,
    slot: *mut *mut c_void,
    expected: *mut c_void,
    desired: *mut c_void,
) -> gothook_status {
    let owner = arg!(owner);
    if slot.is_null() {
        return gothook_status::GOTHOOK_EINVAL;
    }
    // SAFETY: `desired` is the caller's value for a slot of the type it names (the contract of
    // `gothook_slot_swap`, as of any C write to a GOT slot).
    result(unsafe {
        slot::swap_if_ready(
            dyn_ref(owner),
            dyn_seen_ready(owner),
            slot as usize,
            expected as usize,
            desired as usize,
        )
    })
}

/// Detects the readiness rule when libgothook is loaded (a walk of the listed objects, as any
/// malloc-safe call would do on first use), so that `gothook_slot_swap` never has to.
extern "C" fn detect_readiness_rule_at_load() {
    let _ = loader::rule();
}

#[used]
#[link_section = ".init_array"]
static DETECT_READINESS_RULE_AT_LOAD: extern "C" fn() = detect_readiness_rule_at_load;

// ---------------------------------------------------------------------------------------------
// Hook sets
// ---------------------------------------------------------------------------------------------

/// One hook of a set.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_hook {
    /// Imported symbol to redirect; the string must stay valid while the set is installed.
    pub symbol: *const c_char,
    /// The function (or object) the slots are redirected to.
    pub replacement: *mut c_void,
    /// Where gothook publishes the original before the first swap, or NULL.  Stays valid while
    /// the set is installed (uninstalling a set below re-points it).
    pub original: *mut *mut c_void,
    /// `GOTHOOK_HOOK_*`, or 0: a required hook (a symbol without a definition fails the whole
    /// install).  Zero it when filling a hook field by field.
    pub flags: u32,
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_hook, [u8; 32]);
    assert_eq_align!(gothook_hook, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_hook, symbol), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_hook, replacement), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_hook, original), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_hook, flags), 24);
};

/// Hook flag: optional.  When the symbol has no definition, this hook alone is skipped: the
/// set installs with its other hooks, `report->hooks_missing` has bit i set for `hooks[i]` and
/// `report->missing_hook` names the first one skipped.  Hooks without the flag keep the
/// all-or-nothing rule (`GOTHOOK_ENOTFOUND`, nothing installed).
pub const GOTHOOK_HOOK_OPTIONAL: u32 = 1;
/// Hook flag: when the symbol has no definition, hook it anyway with a NULL original: imports of
/// an undefined weak symbol (`free_sized` on a libc without it; their slots hold 0 or a lazy
/// stub) are redirected to the replacement, which must not call the NULL original; bit i of
/// `report->hooks_missing` says it happened.  Uninstall writes the 0 back.  Wins over
/// `GOTHOOK_HOOK_OPTIONAL`.
pub const GOTHOOK_HOOK_UNDEFINED: u32 = 2;
const_assert_eq!(GOTHOOK_HOOK_OPTIONAL, hooks::HOOK_OPTIONAL);
const_assert_eq!(GOTHOOK_HOOK_UNDEFINED, hooks::HOOK_UNDEFINED);

/// The one place a C `original` pointer becomes the typed cell the core publishes into:
/// `Ok(None)` for NULL, `Err(())` when it is not aligned for a pointer.
///
/// # Safety
/// `p` is NULL or points to a pointer-sized cell that stays valid, and is written by nobody but
/// gothook, while the set it belongs to is installed (the `gothook_install` contract); the core
/// keeps the reference no longer than that, though its type says `'static`.
unsafe fn original_cell(p: *mut *mut c_void) -> Result<Option<&'static AtomicUsize>, ()> {
    if !p.cast::<AtomicUsize>().is_aligned() {
        return Err(());
    }
    // SAFETY: aligned (checked above), and valid for the set's lifetime (forwarded contract);
    // `AtomicUsize` has the size and alignment of a pointer, and gothook only stores to it
    // atomically.
    Ok(unsafe { p.cast::<AtomicUsize>().as_ref() })
}

/// Filter flag: also hook the object containing gothook's code, `GOTHOOK_KIND_SELF` (default:
/// excluded, also when that object is the main program).
pub const GOTHOOK_FILTER_INCLUDE_SELF: u32 = 1;
/// Filter flag: leave the main program alone (default: included).
pub const GOTHOOK_FILTER_EXCLUDE_MAIN: u32 = 2;
/// Filter flag, a default for every hook of the set: as if each had `GOTHOOK_HOOK_OPTIONAL`.
/// Superseded by the per-hook flag, which can keep the other hooks of the set required.
pub const GOTHOOK_FILTER_HOOKS_OPTIONAL: u32 = 4;
/// Filter flag, a default for every hook of the set: as if each had `GOTHOOK_HOOK_UNDEFINED`.
/// Superseded by the per-hook flag.
pub const GOTHOOK_FILTER_HOOKS_UNDEFINED: u32 = 8;
const_assert_eq!(GOTHOOK_FILTER_INCLUDE_SELF, hooks::FILTER_INCLUDE_SELF);
const_assert_eq!(GOTHOOK_FILTER_EXCLUDE_MAIN, hooks::FILTER_EXCLUDE_MAIN);
const HOOK_FILTER_FLAGS: u32 = GOTHOOK_FILTER_HOOKS_OPTIONAL | GOTHOOK_FILTER_HOOKS_UNDEFINED;
const_assert_eq!(HOOK_FILTER_FLAGS & hooks::FILTER_FLAGS, 0);

/// Library predicate for a filter: return non-zero to include the library.
// The core's `ForeignAcceptFn` spelled out (cbindgen does not follow the alias): the same type,
// stored and called typed by the core.  Safe to call on the Rust side: the predicate's contract
// is part of `gothook_install`'s.
pub type gothook_lib_filter_cb =
    Option<extern "C" fn(lib: *const gothook_lib, ctx: *mut c_void) -> c_int>;

/// Which libraries a set applies to.  The vDSO and the dynamic loader are never hooked.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_filter {
    /// `GOTHOOK_FILTER_*`.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Only libraries whose path ends with this, or NULL; must stay valid while installed.
    pub path_suffix: *const c_char,
    /// Only the library containing this address, or NULL.
    pub contains: *const c_void,
    /// Look originals up after the library containing this address (RTLD_NEXT), or NULL.
    pub next_after: *const c_void,
    /// Extra predicate, or NULL.
    pub accept: gothook_lib_filter_cb,
    /// Passed to `accept`.
    pub accept_ctx: *mut c_void,
    /// Never the library containing this address, or NULL (e.g. an address in the host itself:
    /// "every library but me").
    pub exclude: *const c_void,
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_filter, [u8; 56]);
    assert_eq_align!(gothook_filter, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, flags), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, reserved), 4);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, path_suffix), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, contains), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, next_after), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, accept), 32);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, accept_ctx), 40);
    const_assert_eq!(core::mem::offset_of!(gothook_filter, exclude), 48);
};

/// Most skipped libraries one report names (`gothook_report.skipped`); the others are counted in
/// `libs_skipped_more`.
pub const GOTHOOK_REPORT_MAX_SKIPPED: u32 = 4;
const_assert_eq!(GOTHOOK_REPORT_MAX_SKIPPED as usize, hooks::MAX_SKIPPED);
/// Size of `gothook_skipped_lib.name`: the path's last 47 bytes and a NUL.
pub const GOTHOOK_SKIPPED_NAME: u32 = 48;
const_assert_eq!(GOTHOOK_SKIPPED_NAME as usize, hooks::SKIPPED_NAME);

/// Skip reason: listed by the loader but not READY; left alone and retried by the next refresh
/// (counted in `libs_not_ready`).
pub const GOTHOOK_SKIP_NOT_READY: u32 = 1;
/// Skip reason: its dynamic section, or a table it points to, could not be decoded (or its
/// relocations could not be scanned); no slot of it was patched by this call (counted in
/// `libs_failed`).
pub const GOTHOOK_SKIP_DECODE_FAILED: u32 = 2;
/// Skip reason: gothook's library table is full; the library was processed but is not tracked,
/// so every refresh re-scans it (counted in `libs_untracked`).
pub const GOTHOOK_SKIP_UNTRACKED: u32 = 3;
const_assert_eq!(GOTHOOK_SKIP_NOT_READY, hooks::SKIP_NOT_READY);
const_assert_eq!(GOTHOOK_SKIP_DECODE_FAILED, hooks::SKIP_DECODE_FAILED);
const_assert_eq!(GOTHOOK_SKIP_UNTRACKED, hooks::SKIP_UNTRACKED);

/// A library a hook-set call skipped, named by value: the path is copied, so the record stays
/// valid after the library is unloaded.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_skipped_lib {
    /// Load bias when it was skipped (compare with `gothook_lib.bias` of a later walk).
    pub bias: usize,
    /// `GOTHOOK_SKIP_*`.
    pub reason: u32,
    /// Length of the whole path; larger than 47 when `name` holds only its end.
    pub name_len: u32,
    /// The path's last bytes (at most 47, all of it when shorter), NUL-terminated; "" for the
    /// main program on glibc.
    pub name: [c_char; 48],
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_skipped_lib, [u8; 64]);
    assert_eq_align!(gothook_skipped_lib, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_skipped_lib, bias), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_skipped_lib, reason), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_skipped_lib, name_len), 12);
    const_assert_eq!(core::mem::offset_of!(gothook_skipped_lib, name), 16);
};
assert_eq_size!(gothook_skipped_lib, hooks::Skipped);

/// What a hook-set call did.
///
/// Skipped libraries: besides the counts, the first `GOTHOOK_REPORT_MAX_SKIPPED` libraries the
/// call left not READY, failed to decode or could not track are named in `skipped` (by bias
/// and a copy of the path's end, so a host can log them after the call, also from a malloc
/// hook: nothing is allocated); `libs_skipped_more` counts the rest.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct gothook_report {
    /// Libraries in which slots were patched, verified or restored.
    pub libs_patched: u32,
    /// Libraries listed but not READY (left alone; retried by the next refresh).
    pub libs_not_ready: u32,
    /// Libraries the filter excluded (vDSO, loader, gothook's own by default included here).
    pub libs_filtered: u32,
    /// Libraries whose dynamic section could not be decoded.
    pub libs_failed: u32,
    /// Slots redirected for the first time.
    pub slots_patched: u32,
    /// Slots that already held the replacement.
    pub slots_already: u32,
    /// Slots found reverted (lazy binding, a reload) and redirected again.
    pub slots_repaired: u32,
    /// Slots whose compare-and-swap lost to a concurrent writer.
    pub slots_conflict: u32,
    /// Slots uninstall restored.
    pub slots_restored: u32,
    /// Slots uninstall found changed by someone else during its compare-and-swap (left alone).
    /// A slot the set never patched (bound elsewhere, or reverted by lazy binding) is not
    /// counted.
    pub slots_changed: u32,
    /// Libraries not tracked because gothook's library table is full (re-scanned by every
    /// refresh; refresh then returns GOTHOOK_EFULL, install returns GOTHOOK_OK).
    pub libs_untracked: u32,
    /// Slots left alone because they are bound to another definition than the set's original
    /// (a symbol version such as foo@V1 while foo@@V2 is the default, an RTLD_DEEPBIND plugin
    /// bound to its own definition, another interposer, a set below that this slot does not
    /// carry).  Calls through them keep reaching what they were bound to.
    pub slots_foreign: u32,
    /// After `GOTHOOK_ENOTFOUND` from install: 1 + the index of the first hook whose symbol has
    /// no definition; after a successful install, 1 + the index of the first optional hook
    /// skipped (0 otherwise).
    pub missing_hook: u32,
    /// After install: bit i is set when `hooks[i]`'s symbol has no definition and the hook was
    /// skipped (`GOTHOOK_HOOK_OPTIONAL`) or installed with a NULL original
    /// (`GOTHOOK_HOOK_UNDEFINED`).
    pub hooks_missing: u32,
    /// Entries of `skipped` filled (at most `GOTHOOK_REPORT_MAX_SKIPPED`).
    pub libs_skipped: u32,
    /// Skipped libraries that did not fit in `skipped` (counted only).
    pub libs_skipped_more: u32,
    /// The first libraries this call skipped, in walk order: not READY, failed to decode, or not
    /// tracked (`reason`); a library appears once per reason.
    pub skipped: [gothook_skipped_lib; 4],
}

// LP64 ABI, asserted with the same numbers in C by tests-c/consumer/header/layout.c.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert_eq_size!(gothook_report, [u8; 320]);
    assert_eq_align!(gothook_report, u64);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_patched), 0);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_not_ready), 4);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_filtered), 8);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_failed), 12);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_patched), 16);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_already), 20);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_repaired), 24);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_conflict), 28);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_restored), 32);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_changed), 36);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_untracked), 40);
    const_assert_eq!(core::mem::offset_of!(gothook_report, slots_foreign), 44);
    const_assert_eq!(core::mem::offset_of!(gothook_report, missing_hook), 48);
    const_assert_eq!(core::mem::offset_of!(gothook_report, hooks_missing), 52);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_skipped), 56);
    const_assert_eq!(core::mem::offset_of!(gothook_report, libs_skipped_more), 60);
    const_assert_eq!(core::mem::offset_of!(gothook_report, skipped), 64);
};

assert_eq_size!(gothook_report, Report);
assert_eq_align!(gothook_report, Report);

// The C report mirrors the core's field for field: a field added to one side only fails here.
const_assert_eq!(
    core::mem::size_of::<gothook_report>(),
    core::mem::size_of::<Report>()
);

fn c_skipped(s: &hooks::Skipped) -> gothook_skipped_lib {
    let mut name = [0 as c_char; 48];
    for (d, &b) in name.iter_mut().zip(s.name.iter()) {
        *d = b as c_char;
    }
    gothook_skipped_lib {
        bias: s.bias,
        reason: s.reason,
        name_len: s.name_len,
        name,
    }
}

fn write_report(out: Option<&mut gothook_report>, r: &Report) {
    // Field by field into the caller's report: no second report-sized temporary on the stack.
    let Some(out) = out else { return };
    out.libs_patched = r.libs_patched;
    out.libs_not_ready = r.libs_not_ready;
    out.libs_filtered = r.libs_filtered;
    out.libs_failed = r.libs_failed;
    out.slots_patched = r.slots_patched;
    out.slots_already = r.slots_already;
    out.slots_repaired = r.slots_repaired;
    out.slots_conflict = r.slots_conflict;
    out.slots_restored = r.slots_restored;
    out.slots_changed = r.slots_changed;
    out.libs_untracked = r.libs_untracked;
    out.slots_foreign = r.slots_foreign;
    out.missing_hook = r.missing_hook;
    out.hooks_missing = r.hooks_missing;
    out.libs_skipped = r.libs_skipped;
    out.libs_skipped_more = r.libs_skipped_more;
    for (o, s) in out.skipped.iter_mut().zip(r.skipped.iter()) {
        *o = c_skipped(s);
    }
}

/// Handle of an installed set; 0 is never a valid handle.
pub type gothook_set = u32;

/// Refresh flag: re-scan every library and repair every slot (a full verify).
pub const GOTHOOK_REFRESH_FULL: u32 = 1;
const_assert_eq!(GOTHOOK_REFRESH_FULL, hooks::REFRESH_FULL);
/// Refresh flag for hot paths (a malloc hook): besides the "nothing changed" answer every refresh
/// gives from the counters, answer lock-free without asking the loader (even if its counters
/// changed, or cannot be read lock-free) when a locked probe that started less than `GOTHOOK_PROBE_INTERVAL_NS` ago has completed and
/// no library was left LOADING — also without the dlopen interception.  A library loaded at
/// time t is hooked by the first such refresh that starts at or after t +
/// `GOTHOOK_PROBE_INTERVAL_NS`, not necessarily by the first one after your `dlopen` returned
/// (use plain refreshes, or the interception, where you need that).
pub const GOTHOOK_REFRESH_CACHED: u32 = 2;
const_assert_eq!(GOTHOOK_REFRESH_CACHED, hooks::REFRESH_CACHED);

/// Longest time, in nanoseconds, that `gothook_refresh` trusts its last locked probe of the
/// loader's counters: a library that finished loading at time t (by `dlopen` or loaded by glibc
/// itself: iconv modules, NSS modules, `libgcc_s`) is hooked by the first refresh that starts at
/// or after t + `GOTHOOK_PROBE_INTERVAL_NS` and does not answer `GOTHOOK_EBUSY`.
pub const GOTHOOK_PROBE_INTERVAL_NS: u64 = 10000000;
const_assert_eq!(GOTHOOK_PROBE_INTERVAL_NS, probe::PROBE_INTERVAL_NS);
/// Re-scans of an overflowed library table hold the loader lock at most
/// 1/`GOTHOOK_LOCK_SHARE_INVERSE` of the time on average; one the budget holds back is not done
/// (`GOTHOOK_EBUSY` at once).
pub const GOTHOOK_LOCK_SHARE_INVERSE: u64 = 4;
const_assert_eq!(GOTHOOK_LOCK_SHARE_INVERSE, probe::LOCK_SHARE_INVERSE);
/// Budget, in nanoseconds of wall time, that refreshes may save up for a burst.
pub const GOTHOOK_LOCK_BURST_NS: u64 = 50000000;
const_assert_eq!(GOTHOOK_LOCK_BURST_NS, probe::LOCK_BURST_NS);

/// Most hook sets installed at once.
pub const GOTHOOK_MAX_SETS: u32 = 8;
const_assert_eq!(GOTHOOK_MAX_SETS as usize, hooks::MAX_SETS);
/// Most hooks in one set.
pub const GOTHOOK_MAX_HOOKS: u32 = 32;
const_assert_eq!(GOTHOOK_MAX_HOOKS as usize, hooks::MAX_HOOKS);
/// Most distinct symbols hooked by all installed sets together (install says `GOTHOOK_EFULL`
/// beyond it, nothing installed).
pub const GOTHOOK_MAX_NAMES: u32 = 32;
const_assert_eq!(GOTHOOK_MAX_NAMES as usize, hooks::MAX_WANTS);

/// Installs a hook set: publishes every original into `hooks[i].original` first, then redirects
/// the import slots of those symbols (PLT, GLOB_DAT and ABS data slots) in every READY library
/// `filter` accepts (NULL: every library but gothook's own, the vDSO and the loader), in one
/// pass over each relocation table.  Libraries not READY yet are counted and patched by a later
/// `gothook_refresh`.
///
/// Originals and the binding rule: a hook's original is the replacement of the latest installed
/// set hooking the same symbol in a library both filters accept (sets stack only where their
/// filters overlap), else the global-scope definition (IFUNCs resolved; after `next_after` if
/// set).  A slot is patched only where what it holds without this set (its binding, or the
/// replacement of a set below it) equals that original, so every call through a hook reaches
/// the function its slot was bound to; a slot bound elsewhere (`foo@V1` while `foo@@V2` is the
/// default, an RTLD_DEEPBIND plugin bound to its own definition, another interposer) is left
/// alone and counted in `report->slots_foreign`.  A lazy slot still holding its PLT stub counts
/// as bound to the original: the loader's lazy resolution of a versioned or DEEPBIND import is
/// not predicted.  A set with `next_after` patches slots bound to any definition (the caller
/// chose its original).
///
/// Installing an identical set again (same hooks, originals and filter) re-runs the pass and
/// returns the same handle with one more owner: each owner uninstalls once, the slots go back
/// when the last one does.  One that answers `GOTHOOK_EBUSY` adds no owner.  The report counts
/// only what this call did for this set.
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EINVAL` (also an unknown bit in a hook's `flags`),
/// `GOTHOOK_ENOTFOUND` (the symbol of a hook without `GOTHOOK_HOOK_OPTIONAL` or
/// `GOTHOOK_HOOK_UNDEFINED` has no definition; nothing installed; `report->missing_hook` is 1 +
/// its index; an optional hook without a definition is skipped and named in
/// `report->hooks_missing` instead), `GOTHOOK_EFULL`
/// (nothing installed: no free set, or the installed sets would hook more than
/// `GOTHOOK_MAX_NAMES` distinct symbols), `GOTHOOK_EPROTECT` (mprotect was refused: every slot
/// this call patched was restored and nothing is installed; if even that was refused,
/// `GOTHOOK_OK` is returned with the handle and `report->slots_conflict` > 0, so
/// `gothook_uninstall` can finish later), `GOTHOOK_EBUSY` (re-entry on this thread, or a child
/// forked during a gothook walk: see `gothook_refresh`).  A full library table is not an error
/// here: the set is installed, `report->libs_untracked` says how many libraries every refresh
/// will re-scan.
///
/// Locks: as `gothook_refresh` (the loader's list lock, then the state lock inside its
/// callback); waits for another thread's install, uninstall or refresh without spinning.
///
/// Threads: any thread; install, uninstall and refresh of all threads take turns on gothook's state
/// lock.
///
/// # Safety
/// Lifetime: `hooks_in` points to `count` readable hooks, `filter` is NULL or readable, `out_set`
/// writable and `report` NULL or writable, all for the call; each `symbol`, `filter->path_suffix`
/// and every non-NULL `original` cell (aligned for a pointer, written by nobody else) stay valid
/// until the set is uninstalled by its last owner; `accept` may be called with `accept_ctx` until
/// then, from any thread that calls install, refresh or uninstall.  Each `replacement` is a
/// function (or object) of the replaced symbol's type, valid until the set is uninstalled.
#[no_mangle]
pub unsafe extern "C" fn gothook_install(
    hooks_in: *const gothook_hook,
    count: usize,
    filter: *const gothook_filter,
    out_set: *mut gothook_set,
    report: *mut gothook_report,
) -> gothook_status {
    let out_set = out!(out_set);
    if hooks_in.is_null() || count == 0 || count > hooks::MAX_HOOKS {
        return gothook_status::GOTHOOK_EINVAL;
    }
    // SAFETY: `hooks_in` is non-NULL and points to `count` readable hooks (the contract).
    let hooks_in = unsafe { core::slice::from_raw_parts(hooks_in, count) };
    // SAFETY: NULL or a readable filter (the contract).
    let filter = unsafe { filter.as_ref() };
    let filter_flags = filter.map_or(0, |c| c.flags);
    let mut default_flags = 0;
    if filter_flags & GOTHOOK_FILTER_HOOKS_OPTIONAL != 0 {
        default_flags |= hooks::HOOK_OPTIONAL;
    }
    if filter_flags & GOTHOOK_FILTER_HOOKS_UNDEFINED != 0 {
        default_flags |= hooks::HOOK_UNDEFINED;
    }
    // Converted one at a time into the set's own storage: no array of hooks on this stack.
    let convert = |k: usize| -> Result<Hook, Error> {
        let c = &hooks_in[k];
        // SAFETY: the symbol string outlives the set (API contract).
        let symbol = unsafe { c_str(c.symbol) }.ok_or(Error::Invalid)?;
        // SAFETY: NULL or a cell that stays valid while the set is installed (API contract).
        let original = unsafe { original_cell(c.original) }.map_err(|()| Error::Invalid)?;
        Ok(Hook {
            symbol,
            replacement: c.replacement as usize,
            original,
            flags: default_flags | c.flags,
        })
    };
    let mut f = Filter::default();
    if let Some(c) = filter {
        f.flags = c.flags & !HOOK_FILTER_FLAGS;
        // SAFETY: the suffix outlives the set (API contract).
        f.path_suffix = unsafe { c_str(c.path_suffix) };
        f.contains = c.contains as usize;
        f.next_after = c.next_after as usize;
        f.exclude = c.exclude as usize;
        f.accept_foreign = c.accept.map(|a| (a, c.accept_ctx as usize));
    }
    let mut rep = Report::default();
    // SAFETY: the replacements are the caller's functions, of the replaced symbols' types and
    // valid until the set is uninstalled (the C contract of `gothook_hook.replacement`).
    let r = unsafe { hooks::install_with(count, convert, &f, &mut rep) };
    write_report(opt_out!(report), &rep);
    match r {
        Ok(id) => {
            *out_set = id;
            gothook_status::GOTHOOK_OK
        }
        Err(e) => status(e),
    }
}

/// Catches up after libraries were loaded or unloaded.  `report` may be NULL.
///
/// Lazy binding: a slot that still held its lazy PLT stub when it was patched can be
/// overwritten by the loader's `_dl_fixup` at any later time (a thread that entered the stub
/// before the patch and was preempted inside the loader).  gothook records such slots (up to
/// 256; libraries beyond that are re-scanned instead) and re-reads them (one walk) at most once
/// per `GOTHOOK_PROBE_INTERVAL_NS`: a hook lost to lazy binding at time t, however long after
/// the patch, is repaired by the first refresh that starts at or after t +
/// `GOTHOOK_PROBE_INTERVAL_NS` and does not answer `GOTHOOK_EBUSY` (counted in
/// `slots_repaired`).
///
/// Without the dlopen interception, every refresh reads the loader's add/remove counters and
/// compares them with what the last refresh processed, so a refresh right after your dlopen sees
/// it.  On glibc it reads them without any lock, from where gothook found them in the loader's
/// data (`gothook_counters_lock_free`).  When nobody is inside `dlopen` or `dlclose`, no library
/// was left LOADING and no lazily bound slot is watched, a "nothing changed" refresh is then a
/// few loads: no clock read, no lock, no system call (5-10 ns with a NULL report in the
/// benchmark's malloc hook; a report passed in is zeroed, 320 bytes); elsewhere, with a `dlmopen` namespace, or turned off, in one `dl_iterate_phdr`
/// callback (the loader's list lock for a few tens of nanoseconds, no syscall, no lock of
/// gothook's).  `GOTHOOK_REFRESH_CACHED` trades "right after your dlopen" for the lock-free
/// shortcut below, which needs neither.  With the interception installed
/// (`gothook_intercept_dlopen`), a refresh is also lock-free (a clock read, about 25 ns) when the
/// counters cannot answer that way and a probe that started less than
/// `GOTHOOK_PROBE_INTERVAL_NS` ago has completed, the interception saw no call since, and no
/// library was left LOADING/UNKNOWN.  The first refresh after an install or uninstall takes the
/// loader's list lock once.
/// When the counters changed after loads only, refresh processes just the objects the loader
/// appended since (the tail of its list); libraries left LOADING are watched through
/// `_dl_find_object`, and the refresh that patches one once it is READY, with nothing loaded or
/// unloaded since, processes the objects the earlier refresh reported without walking the list
/// to them again (the loader's counters prove them still listed); after unloads, a walk over every library sweeps their records at most once
/// per ten `GOTHOOK_PROBE_INTERVAL_NS` (a sweep holds the loader's list lock for every library;
/// stale records cost only table room, a table without room for the new libraries is swept at
/// once, and the lazy re-check's walk sweeps too).
/// `GOTHOOK_REFRESH_FULL` re-scans everything.
///
/// Guarantee: a library that finished loading at time t, whoever loaded it (including glibc's
/// own loads of iconv modules, NSS modules and `libgcc_s`, which no dlopen hook sees), is hooked
/// by the first refresh that starts at or after t + `GOTHOOK_PROBE_INTERVAL_NS` and does not
/// answer `GOTHOOK_EBUSY`.
///
/// Never sleeps and never spins.  Walks share the loader's list lock with every dlopen and
/// dlclose in the process (glibc's lock is not fair).  A refresh walks all libraries only for
/// the sweep after unloads (at most once per ten `GOTHOOK_PROBE_INTERVAL_NS`), for the
/// lazy-binding re-check (at most once per interval while lazily bound slots are watched), for
/// `GOTHOOK_REFRESH_FULL`, and when too many objects were added at once, so a loop of refreshes
/// walks rarely.  The
/// exception is an overflowed library table (`GOTHOOK_EFULL`), which every refresh re-scans:
/// those re-scans hold the lock at most 1/`GOTHOOK_LOCK_SHARE_INVERSE` of the time on average
/// (bursts up to `GOTHOOK_LOCK_BURST_NS`), and one the budget holds back is not done: the call
/// answers `GOTHOOK_EBUSY` at once; call again later if you need its effect.
/// `GOTHOOK_REFRESH_FULL` is never held back.
///
/// Locks: none (the lock-free shortcut, or a refresh that finds nothing changed through the
/// lock-free counters), the loader's list lock alone (a refresh that finds nothing changed
/// without them), or the loader's list lock and, inside its callback, gothook's state lock,
/// which is only ever held by a thread that holds the loader's lock, so no thread waits for it
/// while another waits for the loader.  Safe from a malloc hook, also one that runs inside its
/// own `dl_iterate_phdr` callback.
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EINVAL`, `GOTHOOK_EBUSY` (this thread is already
/// inside gothook; a re-scan of an overflowed table held back by pacing; or this is a child forked while another thread
/// of the parent was inside a gothook walk, and this refresh has to walk: glibc does not reset
/// its list lock in a forked child, so any `dl_iterate_phdr` could block forever and gothook
/// refuses to walk in this process; hooks installed before the fork keep working), `GOTHOOK_EFULL` (the library table
/// overflowed; a full pass was done, nothing was missed).
///
/// Threads: any thread, also from a malloc hook (see Locks).
///
/// # Safety
/// Lifetime: `report` is NULL or writable for the call.
#[no_mangle]
pub unsafe extern "C" fn gothook_refresh(
    flags: u32,
    report: *mut gothook_report,
) -> gothook_status {
    let out = opt_out!(report);
    // The common "nothing changed" answer builds no report: only a caller's is zeroed.
    let r = match hooks::refresh_probe(flags) {
        Ok(hooks::Probe::Walk(w)) => {
            let mut rep = Report::default();
            let r = hooks::refresh_walk(w, &mut rep);
            write_report(out, &rep);
            return result(r);
        }
        Ok(hooks::Probe::Unchanged) => Ok(()),
        Err(e) => Err(e),
    };
    if let Some(out) = out {
        write_report(Some(out), &Report::default());
    }
    result(r)
}

/// Uninstalls a set: every slot still holding its replacement goes back, by compare-and-swap, to
/// what it holds without the set (the replacement of the set below on that slot, else the
/// set's original, which by the binding rule is what the slot was bound to); sets stacked above
/// get their originals re-pointed.  Slots changed by someone else during the swap are counted
/// in `slots_changed` and left alone.  With several owners (identical installs), only the last
/// uninstall restores.  `report` may be NULL.
///
/// Locks: as `gothook_refresh` (the loader's list lock, then the state lock inside its callback).
///
/// Context: malloc-safe.  Errors: `GOTHOOK_ENOTFOUND` (stale handle), `GOTHOOK_EBUSY` (re-entry
/// on this thread, or a child forked during a gothook walk: see `gothook_refresh`),
/// `GOTHOOK_EPROTECT` (mprotect refused: the set and its handle stay installed, the slots
/// already restored stay restored; call again to finish).
///
/// Threads: any thread (see Locks).
///
/// # Safety
/// Lifetime: `report` is NULL or writable for the call; after the last owner's uninstall returns
/// `GOTHOOK_OK`, gothook keeps no pointer from the set (symbols, suffix, `original` cells,
/// `accept_ctx`).
#[no_mangle]
pub unsafe extern "C" fn gothook_uninstall(
    set: gothook_set,
    report: *mut gothook_report,
) -> gothook_status {
    let mut rep = Report::default();
    let r = hooks::uninstall(set, &mut rep);
    write_report(opt_out!(report), &rep);
    result(r)
}

/// Resolves `name` as an unversioned `dlsym` would, without locks beyond the loader's list lock
/// and without allocation (about 12 KiB of stack); IFUNCs are resolved to their implementation and
/// only READY objects are searched.
/// - `next_after == NULL` (`RTLD_DEFAULT`): the global scope: the main program, the LD_PRELOAD
///   objects and their DT_NEEDED closure, breadth first.  Libraries dlopen'ed with RTLD_LOCAL are
///   not searched, and neither are those dlopen'ed with RTLD_GLOBAL (glibc would search them).
/// - otherwise `RTLD_NEXT` as called from the object containing `next_after`: the scope of that
///   object's root loader object, after the object itself.  For the main program, its DT_NEEDED
///   closure and LD_PRELOAD objects that is the global scope; for a library dlopen'ed, or mapped as
///   a new dependency of a dlopen'ed library, it is that dlopen'ed library's breadth-first
///   DT_NEEDED closure (which includes libc).  The root is derived from the list order and each
///   object's DT_NEEDED/DT_SONAME (glibc's `l_loader` is private).
///
/// On musl and static programs, and in a process listing more than 256 objects, the search is the
/// list order (after the object containing `next_after`).
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EINVAL`, `GOTHOOK_ENOTFOUND` (also when `next_after`
/// lies in no listed object).
///
/// Threads: any thread.
///
/// # Safety
/// Lifetime: `name` is NULL or a C string for the call; `next_after` is only compared, never read;
/// `addr` is NULL or writable for the call.
#[no_mangle]
pub unsafe extern "C" fn gothook_global_lookup(
    name: *const c_char,
    next_after: *const c_void,
    addr: *mut *mut c_void,
) -> gothook_status {
    let addr = out!(addr);
    // SAFETY: NULL or a C string for the call (the entry point's contract).
    let Some(name) = (unsafe { c_str(name) }) else {
        return gothook_status::GOTHOOK_EINVAL;
    };
    match loader::global_lookup(name, (!next_after.is_null()).then_some(next_after as usize)) {
        Ok(a) => {
            *addr = a as *mut c_void;
            gothook_status::GOTHOOK_OK
        }
        Err(e) => status(e),
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // gothook never unwinds into C: a broken invariant ends the process at once.
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

/// Installs the ready-made dlopen/dlmopen/dlclose interception set (idempotent): gothook's
/// replacements call the real functions and then run `gothook_refresh`, so a library loaded
/// through `dlopen` or `dlmopen` anywhere in the process (but gothook's own object) is hooked by
/// every installed set before the call returns, and refresh's change probe becomes lock-free.
/// The loader still sees the real caller (the real function returns through a `ret` inside the
/// caller's object), so every search rule applies unchanged: RPATH/RUNPATH and their
/// inheritance, `LD_LIBRARY_PATH`, `$ORIGIN`/`$LIB`/`$PLATFORM`, already-loaded sonames, secure
/// mode, namespaces; errno and `dlerror()` are left as the real call set them.
/// Remove it with `gothook_uninstall(*out_set, ...)`.
///
/// Context: malloc-safe.  Errors: `GOTHOOK_EUNSUPPORTED` on architectures other than x86_64 and
/// aarch64, and when a shadow stack (x86 CET, arm64 GCS) is active; otherwise as
/// `gothook_install`.
///
/// Threads: any thread; afterwards every thread's dlopen, dlmopen and dlclose run gothook's
/// refresh.
///
/// # Safety
/// Lifetime: `out_set` is NULL or writable and `report` NULL or writable, for the call.
#[no_mangle]
pub unsafe extern "C" fn gothook_intercept_dlopen(
    out_set: *mut gothook_set,
    report: *mut gothook_report,
) -> gothook_status {
    let out_set = out!(out_set);
    let mut rep = Report::default();
    let r = gothook_core::intercept::install(&mut rep);
    write_report(opt_out!(report), &rep);
    match r {
        Ok(id) => {
            *out_set = id;
            gothook_status::GOTHOOK_OK
        }
        Err(e) => status(e),
    }
}
