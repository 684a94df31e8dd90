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
    if slot == 0 || slot & (ws - 1) != 0 || !owner.segs.contains(slot, ws) {
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
    let mut batch = Batch::begin()?;
    let r = batch.swap(owner, slot, expected, desired);
    let closed = batch.finish();
    r.and(closed)
}

/// Most pages a batch keeps writable at once (GOT slots of one library share one or two pages).
const BATCH_PAGES: usize = 4;

/// A run of swaps in one library under one hold of the swap lock: a read-only page is made
/// writable once for all the slots on it and restored when the batch finishes (or is dropped),
/// instead of two `mprotect` calls per slot.
pub struct Batch {
    _guard: crate::lock::Guard<'static, ()>,
    open: [(usize, u32); BATCH_PAGES],
    nopen: usize,
    page_size: usize,
    failed: bool,
}

impl Batch {
    /// Takes the swap lock (`Busy` on same-thread re-entry).
    pub fn begin() -> Result<Batch> {
        Ok(Batch {
            _guard: SWAP_LOCK.lock()?,
            open: [(0, 0); BATCH_PAGES],
            nopen: 0,
            page_size: sys::page_size(),
            failed: false,
        })
    }

    /// Compare-and-swap of `slot` in the READY library `owner` (see [`swap`]).
    pub fn swap(
        &mut self,
        owner: &Dynamic,
        slot: usize,
        expected: usize,
        desired: usize,
    ) -> Result<()> {
        check(owner, slot)?;
        let page = slot & !(self.page_size - 1);
        let prot = owner
            .page_protection(page, self.page_size)
            .ok_or(Error::Range)?;
        // Writable pages (lazy .got.plt, .data) are never re-protected by gothook.
        if prot & elf::PF_W == 0 && !self.open[..self.nopen].iter().any(|&(p, _)| p == page) {
            if self.nopen == BATCH_PAGES {
                self.close_first()?;
            }
            // SAFETY: one page of a READY library; write is added now and the derived
            // protection is restored by close_first/finish/drop.
            if !unsafe { sys::mprotect(page, self.page_size, prot | elf::PF_W | elf::PF_R) } {
                return Err(Error::Protect);
            }
            self.open[self.nopen] = (page, prot);
            self.nopen += 1;
        }
        // SAFETY: `slot` is an aligned, mapped, pointer-sized word inside `owner` (checked
        // above); other writers (the loader's lazy binder, other tools) also write it as one
        // aligned word.
        let cell = unsafe { AtomicPtr::<u8>::from_ptr(slot as *mut *mut u8) };
        cell.compare_exchange(
            expected as *mut u8,
            desired as *mut u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .map(|_| ())
        .map_err(|_| Error::Changed)
    }

    fn close_first(&mut self) -> Result<()> {
        let (page, prot) = self.open[0];
        self.open.copy_within(1..self.nopen, 0);
        self.nopen -= 1;
        // SAFETY: restores exactly the protection derived from the owner's program headers.
        if unsafe { sys::mprotect(page, self.page_size, prot) } {
            Ok(())
        } else {
            self.failed = true;
            Err(Error::Protect)
        }
    }

    /// Restores every page the batch made writable; `Protect` if one could not be restored.
    pub fn finish(mut self) -> Result<()> {
        let mut r = Ok(());
        while self.nopen > 0 {
            if let Err(e) = self.close_first() {
                r = Err(e);
            }
        }
        if self.failed {
            return Err(Error::Protect);
        }
        r
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        while self.nopen > 0 {
            let _ = self.close_first();
        }
    }
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
