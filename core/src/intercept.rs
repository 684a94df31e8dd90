//! Optional dlopen/dlmopen/dlclose interception: a ready-made hook set whose replacements call the
//! real functions so that the loader sees the real caller, then let the hook sets catch up.
//! Never allocates, never emulates the loader's search, never changes what `dlopen` loads.
//!
//! # How the loader still sees the real caller
//!
//! glibc (2.34 .. 2.40 at least; `dlfcn/dlopen.c`, `dlfcn/dlmopen.c`) passes `RETURN_ADDRESS (0)`
//! of `dlopen`/`dlmopen` to `_dl_open`, whose worker (`elf/dl-open.c`) takes the object whose
//! mapping contains that address as the caller: its RPATH/RUNPATH (and the RPATH chain of its
//! loaders), its namespace, `$ORIGIN`, and the soname table apply from there.  So gothook's entry
//! calls the real function with a return address *inside the caller's object*: a "gadget" there
//! that hands control back to gothook.
//!
//! - x86_64: any `ret` byte (0xC3) in an executable PT_LOAD of the caller.  The entry keeps the
//!   caller's return address on the stack, pushes its continuation, pushes the gadget and jumps to
//!   the real function; the real function returns to the gadget, whose `ret` pops the
//!   continuation.
//! - aarch64: the epilogue `ldp x29, x30, [sp], #16; ret` (0xa8c17bfd 0xd65f03c0; every glibc
//!   object has it in `_init`/`_fini` from crti.o).  The entry pushes (frame pointer,
//!   continuation) and branches to the real function with x30 = gadget.
//! - elsewhere: not installed (`Unsupported`).
//!
//! The gadget is found once per caller object by a walk, then cached (allocation-free, lock-free)
//! under the object's `_dl_find_object` identity, so a call takes no lock and walks nothing.
//! Without `_dl_find_object` (glibc < 2.35, musl) an entry holds while the loader's load counters
//! are unchanged: one callback under the loader's list lock per call.  A caller outside every
//! object (JIT code) or without a gadget gets a plain tail call: the loader sees its own return
//! address, gothook does not regain control for that call (the next refresh hooks what it loaded).
//!
//! A shadow stack (x86 CET `ARCH_SHSTK_STATUS`, arm64 GCS) would fault on the gadget's
//! mismatched return: when one is active the interception is not installed (`Unsupported`).
//!
//! Limit: while the real function runs, its return address is the gadget, so a DWARF unwinder
//! (a profiler's stack walk inside dlopen, a C++ exception escaping a constructor) sees a frame
//! of the caller's code at an unrelated place; frame-pointer chains (rbp, x29) stay intact.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::hooks::{self, Filter, Hook, Report, SetId};
use crate::loader;
use crate::read::Memory;

static REAL_DLOPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_DLMOPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_DLCLOSE: AtomicUsize = AtomicUsize::new(0);

/// Which real function an entry forwards to (the entries pass it to [`prepare`]).
const WHICH_DLOPEN: usize = 0;
const WHICH_DLMOPEN: usize = 1;

/// What [`prepare`] hands back to an entry: the gadget to return through (0: tail-call instead)
/// and the real function.  Two words: returned in rax:rdx (x86_64) or x0:x1 (aarch64).
#[repr(C)]
struct Prepared {
    gadget: usize,
    real: usize,
}

/// Entry of the dlopen/dlmopen replacements (`dlopen(file, mode)`, `dlmopen(lmid, file, mode)`):
/// arguments in rdi, rsi, rdx are kept; [rsp] is the caller's return address.
#[cfg(target_arch = "x86_64")]
macro_rules! entry {
    ($name:ident, $which:expr) => {
        /// # Safety
        /// Reached only through a patched dlopen/dlmopen slot, with that function's arguments
        /// in registers, after install published the real function.
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                "endbr64",
                "push rdi",
                "push rsi",
                "push rdx", // rsp is now 16-byte aligned for the call
                "mov rdi, [rsp + 24]",
                "mov esi, {which}",
                "call {prepare}",
                "mov r11, rdx",
                "pop rdx",
                "pop rsi",
                "pop rdi",
                "test rax, rax",
                "jz 2f",
                "lea r10, [rip + 3f]",
                "push r10", // popped by the gadget's `ret`
                "push rax", // the return address the real function sees: inside the caller
                "jmp r11",
                "2:",
                "jmp r11", // no gadget: a tail call, the loader sees the caller's own address
                "3:",
                // rsp points at the caller's return address again; keep the result.
                "push rax",
                "call {resume}",
                "pop rax",
                "ret",
                which = const $which,
                prepare = sym prepare,
                resume = sym resume,
            )
        }
    };
}

/// Entry of the dlopen/dlmopen replacements: arguments in x0..x2 are kept; x30 is the caller's
/// return address.  `bti c` (hint #34) lets a BTI-guarded PLT reach it; the real function is
/// entered with `br x17`, which its own `bti c` accepts.
#[cfg(target_arch = "aarch64")]
macro_rules! entry {
    ($name:ident, $which:expr) => {
        /// # Safety
        /// Reached only through a patched dlopen/dlmopen slot, with that function's arguments
        /// in registers, after install published the real function.
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                "hint #34",
                "stp x29, x30, [sp, #-48]!",
                "mov x29, sp",
                "stp x0, x1, [sp, #16]",
                "str x2, [sp, #32]",
                "mov x0, x30",
                "mov x1, #{which}",
                "bl {prepare}",
                "mov x9, x0",
                "mov x17, x1",
                "ldp x0, x1, [sp, #16]",
                "ldr x2, [sp, #32]",
                "cbz x9, 2f",
                "adr x10, 3f",
                // What the gadget `ldp x29, x30, [sp], #16; ret` reloads.
                "stp x29, x10, [sp, #-16]!",
                "mov x30, x9",
                "br x17",
                "2:",
                "ldp x29, x30, [sp], #48",
                "br x17", // no gadget: a tail call, the loader sees the caller's own address
                "3:",
                // sp and x29 are this frame's again; keep the result.
                "str x0, [sp, #16]",
                "bl {resume}",
                "ldr x0, [sp, #16]",
                "ldp x29, x30, [sp], #48",
                "ret",
                which = const $which,
                prepare = sym prepare,
                resume = sym resume,
            )
        }
    };
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
entry!(dlopen_entry, WHICH_DLOPEN);
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
entry!(dlmopen_entry, WHICH_DLMOPEN);

/// Called by an entry before the real call: finds the gadget for the object containing the
/// caller's return address `ret`.
extern "C" fn prepare(ret: usize, which: usize) -> Prepared {
    let real = if which == WHICH_DLMOPEN {
        &REAL_DLMOPEN
    } else {
        &REAL_DLOPEN
    };
    Prepared {
        gadget: gadget_for(ret),
        real: real.load(Ordering::Acquire),
    }
}

/// Called by an entry after the real call returned through the gadget.
extern "C" fn resume() {
    let saved = errno::get();
    after_loader_change(Change::Loaded);
    errno::set(saved);
}

/// The dlclose replacement.
///
/// # Safety
/// Reached only through a patched dlclose slot, after install published the real dlclose;
/// `handle` is the caller's, passed on unchanged (dlclose's own contract).
unsafe extern "C" fn dlclose_hook(handle: *mut c_void) -> c_int {
    let real = REAL_DLCLOSE.load(Ordering::Acquire);
    // SAFETY: `real` is the original dlclose, published before any slot pointed here (install
    // publishes originals before its first swap), so it is non-zero and has dlclose's type.
    let rc = unsafe {
        let f: unsafe extern "C" fn(*mut c_void) -> c_int = core::mem::transmute(real);
        f(handle)
    };
    let saved = errno::get();
    after_loader_change(Change::Unloaded);
    errno::set(saved);
    rc
}

/// What the loader just did, as far as the interception knows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// `dlopen`/`dlmopen` returned: a library (and its dependencies) may be new.
    Loaded,
    /// `dlclose` returned: libraries may be gone, none is new.
    Unloaded,
}

/// The only place that touches the hook sets' internals.  After a load every installed set
/// catches up (a refresh: its probe decides whether a walk is needed); after an unload nothing
/// needs patching, so only the generation moves (no lock, no walk) and the next refresh notices.
/// Calls nothing that touches `dlerror` state (the walk and `_dl_find_object` leave it alone);
/// errno is restored by the callers.
fn after_loader_change(change: Change) {
    hooks::GENERATION.fetch_add(1, Ordering::AcqRel);
    if change == Change::Loaded {
        // Busy means this thread is already inside gothook (a dlopen from a filter callback):
        // the generation bump makes the next refresh catch up.  No report is built unless the
        // probe finds a pass due.
        if let Ok(hooks::Probe::Walk(w)) = hooks::refresh_probe(0) {
            let mut rep = Report::default();
            let _ = hooks::refresh_walk(w, &mut rep);
        }
    }
}

/// errno of the calling thread, read and written without libc state beyond the TLS word.
mod errno {
    pub fn get() -> i32 {
        // SAFETY: __errno_location returns the calling thread's errno cell (glibc and musl).
        unsafe { *libc::__errno_location() }
    }
    pub fn set(v: i32) {
        // SAFETY: __errno_location returns the calling thread's errno cell, an aligned int
        // nobody else writes meanwhile.
        unsafe { *libc::__errno_location() = v }
    }
}

// ---- gadgets ------------------------------------------------------------------------------

/// The byte pattern that returns through the stack, and its alignment.
#[cfg(target_arch = "x86_64")]
const GADGET: (&[u8], usize) = (&[0xc3], 1);
#[cfg(target_arch = "aarch64")]
const GADGET: (&[u8], usize) = (&[0xfd, 0x7b, 0xc1, 0xa8, 0xc0, 0x03, 0x5f, 0xd6], 4);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const GADGET: (&[u8], usize) = (&[], 1);

/// The offset of the first gadget in `code`, whose first byte lies at address `start`.
fn find_gadget(code: &[u8], start: usize) -> Option<usize> {
    let (pat, align) = GADGET;
    if pat.is_empty() || code.len() < pat.len() {
        return None;
    }
    let skip = start.wrapping_neg() % align;
    (skip..=code.len() - pat.len())
        .step_by(align)
        .find(|&i| &code[i..i + pat.len()] == pat)
}

/// One cached gadget and the identity it was found under.  A seqlock: `seq` is odd while a writer
/// fills the entry; readers retry nothing, they miss.
struct Entry {
    seq: AtomicU32,
    /// The gadget's offset from `start` (a gadget further away is not cached).
    gadget: AtomicU32,
    start: AtomicUsize,
    end: AtomicUsize,
    tag0: AtomicUsize,
    tag1: AtomicUsize,
}

/// Entries of the gadget cache.  It holds one entry per object that calls `dlopen`, `dlmopen` or
/// `dlclose` through the interception (the object containing the return address): the main
/// program, a language runtime, a plugin host; glibc's own loads (NSS, iconv, `libgcc_s`) do
/// not pass through it.  An object may sit in either of two entries, so two callers that share
/// an entry keep both; a miss costs one walk, which is what every call cost before the cache.
const CACHE_LEN: usize = 16;
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Entry = Entry {
    seq: AtomicU32::new(0),
    gadget: AtomicU32::new(0),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    tag0: AtomicUsize::new(0),
    tag1: AtomicUsize::new(0),
};
static CACHE: [Entry; CACHE_LEN] = [EMPTY; CACHE_LEN];

/// The identity a gadget is cached under: with `_dl_find_object`, the caller object's mapping
/// `[start, end)` and tag (link map, EH frame); without it (glibc < 2.35, musl), the executable
/// segment that held the caller's return address and the loader's (adds, subs) counters, so any
/// load or unload since invalidates the entry.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ObjectKey {
    start: usize,
    end: usize,
    tag: (usize, usize),
}

impl Entry {
    fn read(&self) -> Option<(ObjectKey, usize)> {
        let s = self.seq.load(Ordering::Acquire);
        if s & 1 != 0 {
            return None;
        }
        let key = ObjectKey {
            start: self.start.load(Ordering::Acquire),
            end: self.end.load(Ordering::Acquire),
            tag: (
                self.tag0.load(Ordering::Acquire),
                self.tag1.load(Ordering::Acquire),
            ),
        };
        let g = key
            .start
            .wrapping_add(self.gadget.load(Ordering::Acquire) as usize);
        (self.seq.load(Ordering::Acquire) == s).then_some((key, g))
    }

    fn write(&self, key: ObjectKey, gadget: usize) {
        let Ok(offset) = u32::try_from(gadget.wrapping_sub(key.start)) else {
            return;
        };
        let s = self.seq.load(Ordering::Acquire);
        if s & 1 != 0
            || self
                .seq
                .compare_exchange(s, s.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return; // another writer is filling it: leave the entry to it
        }
        self.start.store(key.start, Ordering::Release);
        self.end.store(key.end, Ordering::Release);
        self.tag0.store(key.tag.0, Ordering::Release);
        self.tag1.store(key.tag.1, Ordering::Release);
        self.gadget.store(offset, Ordering::Release);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

/// The two entries that may cache the object (or segment) starting at `start`.
fn entries_of(start: usize) -> [&'static Entry; 2] {
    let h = (start >> 12).wrapping_mul(0x9e37_79b9) % CACHE_LEN;
    [&CACHE[h], &CACHE[(h + 1) % CACHE_LEN]]
}

/// The gadget cached under `key`, if it lies inside the mapping.
fn cached(key: ObjectKey) -> Option<usize> {
    entries_of(key.start).into_iter().find_map(|e| {
        e.read()
            .filter(|&(k, g)| k == key && g >= key.start && g < key.end)
            .map(|(_, g)| g)
    })
}

/// Caches `gadget` under `key`: in the entry holding an older identity at the same start, else
/// in an empty one, else in the second one.
fn remember(key: ObjectKey, gadget: usize) {
    let entries = entries_of(key.start);
    let holding = |start: usize| {
        entries
            .into_iter()
            .find(|e| e.read().is_some_and(|(k, _)| k.start == start))
    };
    let e = holding(key.start)
        .or_else(|| holding(0))
        .unwrap_or(entries[1]);
    e.write(key, gadget);
}

/// The gadget to return through for a call whose return address is `ret`, or 0.
///
/// The caller's object cannot be unmapped while the call runs (the caller's code is executing in
/// it), so a gadget found in it stays valid for the call.  A cached entry is used only when
/// `_dl_find_object` reports the same mapping, link map and EH frame for `ret` (an object
/// unloaded and replaced by a different one at the same place differs in at least one of them)
/// and the gadget lies inside the mapping.  Without `_dl_find_object` an entry is used only while
/// the loader's counters are unchanged (no object came or went) and `ret` lies in the same
/// executable segment; that costs one callback under the loader's list lock per call.
fn gadget_for(ret: usize) -> usize {
    gadget_lookup(ret, loader::find_object_fn())
}

/// [`gadget_for`] with `_dl_find_object` at `f` (0: not available).
fn gadget_lookup(ret: usize, f: usize) -> usize {
    if f == 0 {
        return gadget_by_counters(ret);
    }
    let Some(key) = find_object(f, ret) else {
        return 0; // not inside any loaded object: the loader falls back to the main program too
    };
    if let Some(g) = cached(key) {
        return g;
    }
    let (g, _) = walk_for_gadget(ret);
    if g != 0 {
        remember(key, g);
    }
    g
}

fn gadget_by_counters(ret: usize) -> usize {
    let (adds, subs) = loader::counters();
    let tag = (adds as usize, subs as usize);
    for e in CACHE.iter() {
        if let Some((k, g)) = e.read() {
            if k.tag == tag && ret >= k.start && ret < k.end && g != 0 {
                return g;
            }
        }
    }
    let (g, (start, end)) = walk_for_gadget(ret);
    if g != 0 {
        remember(ObjectKey { start, end, tag }, g);
    }
    g
}

/// `_dl_find_object(addr)` as a key.
fn find_object(f: usize, addr: usize) -> Option<ObjectKey> {
    // struct dl_find_object (glibc 2.35+): unsigned long long dlfo_flags; void *dlfo_map_start;
    // void *dlfo_map_end; struct link_map *dlfo_link_map; void *dlfo_eh_frame; + reserved words.
    let mut out = [0usize; 32];
    // SAFETY: `f` is glibc's _dl_find_object (found by the loader module's detection); it is
    // lock-free, async-signal-safe and writes at most its struct, smaller than `out`.
    let rc = unsafe {
        let f: unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int = core::mem::transmute(f);
        f(addr as *mut c_void, out.as_mut_ptr() as *mut c_void)
    };
    (rc == 0).then(|| ObjectKey {
        start: out[1],
        end: out[2],
        tag: (out[3], out[4]),
    })
}

/// Finds a gadget in an executable PT_LOAD of the object containing `ret` (one walk); returns it
/// (0: none) and the executable segment that contains `ret`.
fn walk_for_gadget(ret: usize) -> (usize, (usize, usize)) {
    #[cfg(test)]
    tests::WALKS.fetch_add(1, Ordering::Relaxed);
    let mut found = (0, (0, 0));
    let _ = loader::each(loader::LIBS_ALL, |lib| {
        if !lib.contains(ret) {
            return true;
        }
        // The decoded image is the checked reader over the object's mapped segments.
        let Ok(d) = lib.decode() else {
            return false;
        };
        let exec = || lib.segs.iter().filter(|r| r.flags & crate::elf::PF_X != 0);
        if let Some(r) = exec().find(|r| ret >= r.start && ret < r.end) {
            found.1 = (r.start, r.end);
        }
        for r in exec() {
            if let Ok(code) = d.segs.bytes(r.start, r.end - r.start) {
                if let Some(off) = find_gadget(code, r.start) {
                    found.0 = r.start + off;
                    break;
                }
            }
        }
        false
    });
    found
}

// ---- installation -------------------------------------------------------------------------

/// Whether a shadow stack is active for this thread (then the gadget's return would fault).
fn shadow_stack_active() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const ARCH_SHSTK_STATUS: usize = 0x5005;
        const ARCH_SHSTK_SHSTK: u64 = 1;
        let mut features: u64 = 0;
        // SAFETY: arch_prctl(ARCH_SHSTK_STATUS, &u64) writes one u64 (Linux >= 6.6); older
        // kernels answer EINVAL without writing.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_SHSTK_STATUS,
                &mut features as *mut u64,
            )
        };
        rc == 0 && features & ARCH_SHSTK_SHSTK != 0
    }
    #[cfg(target_arch = "aarch64")]
    {
        const PR_GET_SHADOW_STACK_STATUS: c_int = 74;
        const PR_SHADOW_STACK_ENABLE: u64 = 1;
        let mut status: u64 = 0;
        // SAFETY: prctl(PR_GET_SHADOW_STACK_STATUS, &u64) writes one u64 (Linux >= 6.13 with
        // GCS); older kernels answer EINVAL without writing.
        let rc = unsafe {
            libc::prctl(
                PR_GET_SHADOW_STACK_STATUS,
                &mut status as *mut u64,
                0usize,
                0usize,
                0usize,
            )
        };
        rc == 0 && status & PR_SHADOW_STACK_ENABLE != 0
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        true
    }
}

/// Installs the dlopen/dlmopen/dlclose interception set (idempotent).  After it, a library loaded
/// through `dlopen` or `dlmopen` anywhere in the process (but gothook's own object) is hooked by
/// every installed set before the call returns, while the loader applies every search rule from
/// the real caller exactly as without gothook.
///
/// Context: malloc-safe.  Errors: `Unsupported` on architectures other than x86_64 and aarch64
/// and when a shadow stack is active; otherwise as [`hooks::install`].
pub fn install(rep: &mut Report) -> Result<SetId> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        if shadow_stack_active() {
            return Err(Error::Unsupported);
        }
        let dlopen = Hook {
            symbol: b"dlopen",
            replacement: dlopen_entry as *const () as usize,
            original: Some(&REAL_DLOPEN),
            flags: 0,
        };
        let dlmopen = Hook {
            symbol: b"dlmopen",
            replacement: dlmopen_entry as *const () as usize,
            original: Some(&REAL_DLMOPEN),
            // musl has no dlmopen.
            flags: hooks::HOOK_OPTIONAL,
        };
        let dlclose = Hook {
            symbol: b"dlclose",
            replacement: dlclose_hook as *const () as usize,
            original: Some(&REAL_DLCLOSE),
            flags: 0,
        };
        let hooks = [dlopen, dlclose, dlmopen];
        // The host's own dlopen calls load libraries too: include gothook's own object (a main
        // program embedding the archive is that object).
        let filter = Filter {
            flags: hooks::FILTER_INCLUDE_SELF,
            ..Filter::default()
        };
        // SAFETY: each entry has the type of the function it replaces (the entries keep its
        // arguments and forward to the published original), and is static code.
        let id = unsafe { hooks::install(&hooks, &filter, rep) }?;
        if REAL_DLOPEN.load(Ordering::Acquire) == 0 || REAL_DLCLOSE.load(Ordering::Acquire) == 0 {
            return Err(Error::NotFound);
        }
        hooks::signal_changes_with(id);
        Ok(id)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = (rep, shadow_stack_active());
        Err(Error::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks done by the gadget look-up (the cache's misses).
    pub(super) static WALKS: AtomicU32 = AtomicU32::new(0);

    #[test]
    fn gadget_is_found_only_where_the_pattern_lies() {
        let (pat, align) = GADGET;
        let mut code = [0u8; 64];
        assert_eq!(find_gadget(&code, 0x1000), None);
        code[20..20 + pat.len()].copy_from_slice(pat);
        assert_eq!(find_gadget(&code, 0x1000), Some(20));
        assert_eq!(find_gadget(&code[..20 + pat.len() - 1], 0x1000), None);
        if align > 1 {
            // A pattern at a misaligned address is not an instruction.
            let mut odd = [0u8; 64];
            odd[21..21 + pat.len()].copy_from_slice(pat);
            assert_eq!(find_gadget(&odd, 0x1000), None);
        }
    }

    #[test]
    fn this_test_binary_has_a_cached_gadget_inside_itself() {
        let here = gadget_is_found_only_where_the_pattern_lies as *const () as usize;
        let g = gadget_for(here);
        assert_ne!(g, 0);
        assert_eq!(gadget_for(here), g, "the second look-up is the cached one");
        let mut inside = false;
        let _ = loader::each(loader::LIBS_ALL, |lib| {
            if lib.contains(here) {
                inside = lib.contains(g);
                return false;
            }
            true
        });
        assert!(inside, "the gadget must lie in the caller's object");
    }

    #[test]
    fn a_cached_gadget_of_another_object_is_never_used() {
        let here = a_cached_gadget_of_another_object_is_never_used as *const () as usize;
        let f = loader::find_object_fn();
        let Some(key) = find_object(f, here) else {
            return; // no _dl_find_object (glibc < 2.35): nothing is cached
        };
        let good = gadget_for(here);
        let entries = entries_of(key.start);
        // Entries for an object that was unloaded and replaced at the same place by another:
        // the same mapping range, a different link map.
        let stale = ObjectKey {
            tag: (key.tag.0 ^ 0x40, key.tag.1),
            ..key
        };
        for e in entries {
            e.write(stale, key.start + 1);
        }
        assert_eq!(gadget_for(here), good, "a stale entry was trusted");
        // Torn or forged entries whose gadget lies outside the mapping.
        for e in entries {
            e.write(key, key.end + 16);
        }
        assert_eq!(
            gadget_for(here),
            good,
            "a gadget outside the mapping was trusted"
        );
    }

    #[test]
    fn two_callers_that_share_a_cache_entry_are_both_cached() {
        // Two objects far above any real mapping whose identities hash to the same entry.
        let key = |start: usize| ObjectKey {
            start,
            end: start + 0x1000,
            tag: (start, 1),
        };
        // Other tests of this binary cache the object holding their code, under its start or
        // its executable segment's: stay clear of the entries those may take.
        let here = two_callers_that_share_a_cache_entry_are_both_cached as *const () as usize;
        let f = loader::find_object_fn();
        let real = [
            (f != 0)
                .then(|| find_object(f, here))
                .flatten()
                .map_or(0, |k| k.start),
            walk_for_gadget(here).1 .0,
        ];
        let taken = |s: usize| {
            real.iter().any(|&r| {
                entries_of(r)
                    .iter()
                    .any(|e| entries_of(s).iter().any(|x| core::ptr::eq(*e, *x)))
            })
        };
        let a = (1..)
            .map(|k| (usize::MAX / 2) - k * 0x1000)
            .find(|&s| !taken(s))
            .unwrap();
        let b = (1..)
            .map(|k| a - k * 0x1000)
            .find(|&s| core::ptr::eq(entries_of(s)[0], entries_of(a)[0]))
            .unwrap();
        // Concurrent writers may hold an entry for a moment: retry a few times.
        let both = (0..100).any(|_| {
            remember(key(a), a + 8);
            remember(key(b), b + 16);
            cached(key(a)) == Some(a + 8) && cached(key(b)) == Some(b + 16)
        });
        assert!(both, "one caller evicted the other");
    }

    #[test]
    fn without_dl_find_object_the_cache_holds_until_the_loader_changes() {
        let here =
            without_dl_find_object_the_cache_holds_until_the_loader_changes as *const () as usize;
        let good = gadget_lookup(here, 0);
        assert_ne!(good, 0);
        let walks = WALKS.load(Ordering::Relaxed);
        for _ in 0..10 {
            assert_eq!(gadget_lookup(here, 0), good);
        }
        // Other tests of this binary run concurrently and may walk too; these ten hits must not
        // all have walked.
        assert!(
            WALKS.load(Ordering::Relaxed) - walks < 10,
            "every look-up walked"
        );
    }
}
