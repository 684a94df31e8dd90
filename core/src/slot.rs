//! One atomic, protection-correct swap of a pointer slot in a READY library (design rule 3).
//! Never leaves a page writable that was not, never makes a page of a non-READY library
//! read-only, and never writes when the slot does not hold the expected value.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::dynamic::Dynamic;
use crate::elf;
use crate::error::{Error, Result};
use crate::lock::OwnedLock;
use crate::sys;

/// Serialises every protect / compare-and-swap / restore sequence in the process.
static SWAP_LOCK: OwnedLock<()> = OwnedLock::new(());

/// Number of `mprotect` calls made (for tests and benchmarks).
pub static MPROTECT_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Reads the current value of `slot` atomically.  `slot` must be a checked slot of `owner`.
pub fn load(owner: &Dynamic, slot: usize) -> Result<usize> {
    check(owner, slot)?;
    // SAFETY: `slot` is an aligned, mapped, pointer-sized word of `owner` (checked above).
    let p = unsafe { AtomicPtr::<u8>::from_ptr(slot as *mut *mut u8) };
    Ok(p.load(Ordering::Acquire) as usize)
}

fn check(owner: &Dynamic, slot: usize) -> Result<()> {
    let ws = core::mem::size_of::<usize>();
    if owner.class
        != if ws == 8 {
            elf::ELFCLASS64
        } else {
            elf::ELFCLASS32
        }
    {
        return Err(Error::Unsupported);
    }
    if slot == 0 || !slot.is_multiple_of(ws) || !owner.segs.contains(slot, ws) {
        return Err(Error::Range);
    }
    Ok(())
}

/// Replaces `expected` with `desired` in `slot` of the READY library `owner`.
///
/// The page is made writable only if its derived protection lacks write, only for the swap, and
/// then restored to exactly the derived protection.  Returns `Changed` without writing when the
/// slot holds something else, `Busy` when this thread is already inside a swap.
///
/// Context: signal-safe (a try-lock that reports same-thread re-entry, raw syscalls only).
/// The caller guarantees `owner` is READY and stays mapped for the call.
pub fn swap(owner: &Dynamic, slot: usize, expected: usize, desired: usize) -> Result<()> {
    check(owner, slot)?;
    let page_size = sys::page_size();
    let page = slot & !(page_size - 1);
    let prot = owner.page_protection(page, page_size).ok_or(Error::Range)?;
    // SAFETY: `slot` is an aligned, mapped, pointer-sized word inside `owner` (checked above);
    // other writers (the loader's lazy binder, other tools) also write it as one aligned word.
    let cell = unsafe { AtomicPtr::<u8>::from_ptr(slot as *mut *mut u8) };
    let cas = || {
        cell.compare_exchange(
            expected as *mut u8,
            desired as *mut u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .map(|_| ())
        .map_err(|_| Error::Changed)
    };
    let _guard = SWAP_LOCK.lock()?;
    if prot & elf::PF_W != 0 {
        // Writable pages (lazy .got.plt, .data) are never re-protected by gothook: no mprotect.
        return cas();
    }
    MPROTECT_CALLS.fetch_add(2, Ordering::Relaxed);
    // SAFETY: one page of a READY library; write is added and the derived protection restored.
    if !unsafe { sys::mprotect(page, page_size, prot | elf::PF_W | elf::PF_R) } {
        return Err(Error::Protect);
    }
    let r = cas();
    // SAFETY: as above; restores exactly the protection derived from the program headers.
    if !unsafe { sys::mprotect(page, page_size, prot) } {
        return Err(Error::Protect);
    }
    r
}

/// Publishes `value` into a caller-owned pointer cell (a hook's "original" variable) with a
/// release store, so a hook running on another thread never sees a torn or stale-before-swap value.
///
/// # Safety
/// `cell` must be a valid, aligned, writable pointer-sized location owned by the caller.
pub unsafe fn publish(cell: *mut usize, value: usize) {
    // SAFETY: forwarded contract.
    unsafe { AtomicUsize::from_ptr(cell) }.store(value, Ordering::Release);
}

/// Reads a word the caller knows to lie in a listed library (a sentinel slot recorded earlier,
/// checked against the library's segments by the caller).
pub fn peek(addr: usize) -> usize {
    if addr == 0 || !addr.is_multiple_of(core::mem::size_of::<usize>()) {
        return 0;
    }
    // SAFETY: the caller checked `addr` lies inside a mapped segment of a listed library, inside
    // that library's walk callback; it is aligned (checked above).
    unsafe { AtomicUsize::from_ptr(addr as *mut usize) }.load(Ordering::Acquire)
}
