//! One atomic, protection-correct swap of a pointer slot in a READY library (design rule 3).
//! Never leaves a page writable that was not, never makes a page of a non-READY library
//! read-only, and never writes when the slot does not hold the expected value.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::dynamic::Dynamic;
use crate::elf;
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, Readiness};
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
/// The page is made writable only if it is not writable now (its derived protection lacks
/// write and nobody else made it writable), only for the swap, and then restored to exactly
/// the derived protection; a page found writable stays writable.  Returns `Changed` without writing when the
/// slot holds something else, `Busy` when this thread is already inside a swap.
///
/// Context: signal-safe (a try-lock that reports same-thread re-entry, raw syscalls only).
/// Crate-internal: the caller guarantees `owner` is READY and that `desired` is a value every
/// user of the slot may call or read as the slot's binding (the hook sets' contract); the public
/// entry is [`swap_if_ready`].
pub(crate) fn swap(owner: &Dynamic, slot: usize, expected: usize, desired: usize) -> Result<()> {
    let mut batch = Batch::begin()?;
    let r = batch.swap(owner, slot, expected, desired);
    let closed = batch.finish();
    r.and(closed)
}

/// [`swap`] after the readiness check (design rule 3): `seen_ready` says whether the walk that
/// decoded `owner` saw it READY (a library READY once stays READY while mapped); if not, the
/// readiness is decided now without walking ([`loader::readiness_now`]).  `NotReady`, with the
/// slot untouched, when `owner` is not READY or the readiness rule is not yet detected.
///
/// Context: signal-safe once the readiness rule is detected (a try-lock that reports
/// same-thread re-entry, raw syscalls only).
///
/// # Safety
/// Every later use of the slot by the library's code reaches `desired` instead of its binding:
/// `desired` must be a function (or object) of the type the slot's relocation binds, valid as
/// long as the slot may hold it.
#[allow(unsafe_code)] // declares the contract only; the body has no unsafe operation
pub unsafe fn swap_if_ready(
    owner: &Dynamic,
    seen_ready: bool,
    slot: usize,
    expected: usize,
    desired: usize,
) -> Result<()> {
    if !seen_ready && loader::readiness_now(owner) != Some(Readiness::Ready) {
        return Err(Error::NotReady);
    }
    swap(owner, slot, expected, desired)
}

/// Most pages a batch keeps writable at once (GOT slots of one library share one or two pages).
const BATCH_PAGES: usize = 4;

/// A run of swaps in one library under one hold of the swap lock: a read-only page is made
/// writable once for all the slots on it and restored when the batch finishes (or is dropped),
/// instead of two `mprotect` calls per slot.  Public for tests and tools through the `unsafe`
/// [`Batch::swap_ready`]; gothook's own passes use it under [`swap`]'s contract.
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

    /// [`Batch::swap`] for code outside gothook (tests, tools).
    ///
    /// # Safety
    /// As [`swap_if_ready`], and `owner` must be READY (decoded in the walk that reported it
    /// READY, or judged READY by [`swap_if_ready`]'s check).
    #[allow(unsafe_code)] // declares the contract only; the body has no unsafe operation
    pub unsafe fn swap_ready(
        &mut self,
        owner: &Dynamic,
        slot: usize,
        expected: usize,
        desired: usize,
    ) -> Result<()> {
        self.swap(owner, slot, expected, desired)
    }

    /// Compare-and-swap of `slot` in the READY library `owner` (see [`swap`]).
    pub(crate) fn swap(
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
        // Writable pages (lazy .got.plt, .data, or a page someone else made writable on
        // purpose) are never re-protected by gothook: the protection found is the one kept.
        if prot & elf::PF_W == 0
            && !self.open[..self.nopen].iter().any(|&(p, _)| p == page)
            && !writable_now(slot)
        {
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

/// Whether the page holding the aligned word `addr` is writable right now, asked of the kernel
/// without writing and without allocating: `FUTEX_WAKE_OP` applies "add 0" atomically to the
/// word at its second address and fails with `EFAULT` exactly when the page is not writable.
/// The word keeps its value (an atomic read-modify-write adding 0, so a concurrent store by
/// the loader or another tool is neither lost nor torn).  Any other failure (futex filtered,
/// say) answers `false`, which keeps the header-derived protection path.
fn writable_now(addr: usize) -> bool {
    const FUTEX_OP_ADD: u32 = 1;
    const FUTEX_OP_CMP_EQ: u32 = 0;
    let op = (FUTEX_OP_ADD << 28) | (FUTEX_OP_CMP_EQ << 24);
    let wake_none = 0u32;
    // SAFETY: the first futex word is a live local; the second is an aligned word inside a
    // mapped segment of a listed library (checked by the caller); nr_wake and nr_wake2 are 0,
    // so no thread is woken, and the operation adds 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            &wake_none as *const u32,
            libc::FUTEX_WAKE_OP | libc::FUTEX_PRIVATE_FLAG,
            0usize,
            0usize,
            addr as *mut u32,
            op,
        )
    };
    r >= 0
}

/// Reads the aligned word `addr` of the library `owner`, decoded inside the walk callback that
/// reported it; `None` when `addr` is 0, misaligned or outside the library's mapped segments.
pub fn peek(owner: &Dynamic, addr: usize) -> Option<usize> {
    let ws = core::mem::size_of::<usize>();
    if addr == 0 || !addr.is_multiple_of(ws) || !owner.segs.contains(addr, ws) {
        return None;
    }
    // SAFETY: `addr` is aligned and lies with its whole word inside a PT_LOAD range of `owner`,
    // which stays mapped while it is borrowed (a `Dynamic` of the process is only built by the
    // unsafe decoder, whose caller vouches for that).
    Some(unsafe { AtomicUsize::from_ptr(addr as *mut usize) }.load(Ordering::Acquire))
}

/// Reads the aligned word `addr` of the listed library `lib` inside the walk callback that
/// reported it; `None` when `addr` is 0, misaligned or outside the library's mapped segments.
pub fn peek_listed(lib: &LibInfo<'_>, addr: usize) -> Option<usize> {
    let ws = core::mem::size_of::<usize>();
    if addr == 0 || !addr.is_multiple_of(ws) || !lib.segs.contains(addr, ws) {
        return None;
    }
    // SAFETY: `addr` is aligned and lies with its whole word inside a PT_LOAD range of `lib`;
    // only the walk creates a `LibInfo` (it is `non_exhaustive`, neither `Copy` nor `Clone`)
    // and lends it to its callback only, while the library is listed and mapped.
    Some(unsafe { AtomicUsize::from_ptr(addr as *mut usize) }.load(Ordering::Acquire))
}
