//! One atomic, protection-correct swap of a pointer slot in a READY library (design rule 3).
//! Never leaves a page writable that was not, never makes a page of a non-READY library
//! read-only, and never writes when the slot does not hold the expected value.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::dynamic::Dynamic;
use crate::elf;
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, Readiness};
use crate::lock::OwnedLock;
// The image's range checks through `Memory`, out of line (see `read`).
use crate::read::Memory;
use crate::sys;

/// Serialises every protect / compare-and-swap / restore sequence in the process, and holds
/// the pages the holder's batch made writable.
static SWAP_LOCK: OwnedLock<Opened> = OwnedLock::new(Opened {
    runs: [Run {
        start: 0,
        end: 0,
        prot: 0,
    }; BATCH_RUNS],
    n: 0,
    failed: false,
    plan: [(0, 0); PLAN_PAGES],
    query: [0; 13],
});

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

/// Most runs of pages a batch keeps writable at once (the import slots of one library lie in
/// one to three runs: `.got`, `.data.rel.ro`, a data segment).
const BATCH_RUNS: usize = 4;
/// Most distinct pages [`Batch::open`] plans at once (more are opened by the swaps themselves).
const PLAN_PAGES: usize = 8;
/// Most pages between two pages that [`Batch::open`] opens with them in one run (measured on
/// x86_64 Linux 6.18 under KVM: an `mprotect` pair costs about 5 µs plus 0.4 µs per page).
const MAX_BRIDGE: usize = 8;

/// Pages `[start, end)` a batch made writable, and the protection they get back.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    prot: u32,
}

/// What a batch keeps while it holds the swap lock: the runs of pages it made writable and
/// must restore, and [`Batch::open`]'s plan.  In the lock's static, not in the batch: a batch
/// runs inside malloc hooks and signal handlers, where stack is short.
struct Opened {
    runs: [Run; BATCH_RUNS],
    n: usize,
    /// A restore failed (reported by `finish`).
    failed: bool,
    /// The distinct read-only pages [`Batch::open`] plans to open, in address order, with the
    /// protection each gets back.
    plan: [(usize, u32); PLAN_PAGES],
    /// The `struct procmap_query` of the batch's page queries (see [`PageQuery::writable`]).
    query: [u64; 13],
}

/// Answers "is this page writable now" for the pages of one pass, with one `PROCMAP_QUERY`
/// ioctl (Linux >= 6.11) on `/proc/self/maps` per mapping instead of one probing system call
/// per page ([`writable_now`]), which costs three times as much.  The descriptor is opened at
/// the first question and closed when the value is dropped: a pass keeps one for all its
/// libraries and never leaves a descriptor behind in the host.  Without the ioctl (older
/// kernels, no `/proc`, a sandbox) every answer comes from [`writable_now`].
pub struct PageQuery {
    maps: Option<sys::Fd>,
    tried: bool,
}

/// `PROCMAP_QUERY`: `_IOWR('f', 17, struct procmap_query)`, a 104-byte struct.
const PROCMAP_QUERY: u64 = (3 << 30) | (104 << 16) | ((b'f' as u64) << 8) | 17;
const PROCMAP_QUERY_VMA_WRITABLE: u64 = 2;

impl PageQuery {
    /// A query that has opened nothing yet.
    pub const fn new() -> PageQuery {
        PageQuery {
            maps: None,
            tried: false,
        }
    }

    /// Whether the mapping holding `page` is writable now, and where that answer ends: every
    /// page from `page` to the returned end has the same write permission.  The end is
    /// `page + page_size` when only this page was asked about.  `q` is the query's buffer
    /// (the swap lock holder's, not on the stack).
    fn writable(&mut self, page: usize, page_size: usize, q: &mut [u64; 13]) -> (bool, usize) {
        self.open();
        if let Some(fd) = self.maps.as_ref() {
            // struct procmap_query { u64 size, query_flags, query_addr, vma_start, vma_end,
            //   vma_flags, vma_page_size, vma_offset, inode; u32 dev_major, dev_minor,
            //   vma_name_size, build_id_size; u64 vma_name_addr, build_id_addr; }
            // query_flags 0: the mapping that contains query_addr, else an error.
            for w in q.iter_mut() {
                *w = 0;
            }
            q[0] = 104;
            q[2] = page as u64;
            // SAFETY: `q` is a 104-byte procmap_query with no name/build-id buffers requested.
            if unsafe { fd.ioctl(PROCMAP_QUERY, q.as_mut_ptr() as *mut core::ffi::c_void) }
                && (q[3] as usize) <= page
                && (q[4] as usize) > page
            {
                return (q[5] & PROCMAP_QUERY_VMA_WRITABLE != 0, q[4] as usize);
            }
            // Not supported (or an answer that does not fit): probe page by page from now on.
            self.maps = None;
        }
        (writable_now(page), page + page_size)
    }

    /// Opens the descriptor now, before the caller takes the loader's list lock, so that a pass
    /// that asks under that lock does not open it there (an `openat` of a `/proc` file costs
    /// 10-15 µs on a VM, during which every `dlopen` and `dlclose` of the process waits); it is
    /// still closed when the value is dropped.
    pub fn prepare(&mut self) {
        self.open();
    }

    /// Opens `/proc/self/maps` if that was not tried yet.
    fn open(&mut self) {
        if !self.tried {
            self.tried = true;
            self.maps = sys::Fd::open(b"/proc/self/maps\0");
        }
    }
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery::new()
    }
}

/// A run of swaps in one library under one hold of the swap lock.  Read-only pages are made
/// writable for the batch and restored when it finishes (or is dropped), one `mprotect` per run
/// of adjacent pages with the same protection each way: [`Batch::open`] opens the pages a list
/// of slots needs ahead of the swaps; a swap on a page not yet open opens it, joining an
/// adjacent run, so that the restore is one call per run either way.  Public for tests and
/// tools through the `unsafe` [`Batch::swap_ready`] and [`Batch::open_ready`]; gothook's own
/// passes use it under [`swap`]'s contract.
pub struct Batch<'q> {
    /// The swap lock, held for the batch, and the runs it opened.
    open: crate::lock::Guard<'static, Opened>,
    page_size: usize,
    query: Option<&'q mut PageQuery>,
}

impl Batch<'static> {
    /// Takes the swap lock (`Busy` on same-thread re-entry).  Page permissions are probed one
    /// page at a time ([`writable_now`]).
    pub fn begin() -> Result<Batch<'static>> {
        Batch::start(None)
    }
}

impl<'q> Batch<'q> {
    /// Takes the swap lock (`Busy` on same-thread re-entry); page permissions are asked of
    /// `query`, which a pass shares between the batches of all its libraries.
    pub fn begin_with(query: &'q mut PageQuery) -> Result<Batch<'q>> {
        Batch::start(Some(query))
    }

    fn start(query: Option<&'q mut PageQuery>) -> Result<Batch<'q>> {
        let mut open = SWAP_LOCK.lock()?;
        // Every batch restores its runs before it releases the lock; a batch of a thread that
        // a fork left behind (the lock taken over) is forgotten, as its stack would have been.
        open.n = 0;
        open.failed = false;
        Ok(Batch {
            open,
            page_size: sys::page_size(),
            query,
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

    /// [`Batch::open`] for code outside gothook (tests, tools).
    ///
    /// # Safety
    /// `owner` must be READY (as for [`Batch::swap_ready`]); the pages stay writable until the
    /// batch finishes, so nothing may rely on them being read-only meanwhile.
    #[allow(unsafe_code)] // declares the contract only; the body has no unsafe operation
    pub unsafe fn open_ready(&mut self, owner: &Dynamic, slots: &[usize]) {
        self.open(owner, slots.iter().copied())
    }

    /// Makes writable, ahead of the swaps, the read-only pages that hold `slots` in the READY
    /// library `owner`: one `mprotect` per run of adjacent pages with the same protection (up
    /// to [`PLAN_PAGES`] distinct pages in [`BATCH_RUNS`] runs; the swaps open any others
    /// themselves).  Pages that are
    /// writable (by their headers, or because someone made them so) are left as they are.
    /// Best effort: a page that cannot be opened here is opened (or refused, `Protect`) by the
    /// swap that needs it.
    /// Not inlined into the passes: its plan's frames are not on the stack with theirs.
    #[inline(never)]
    pub(crate) fn open(&mut self, owner: &Dynamic, slots: impl Iterator<Item = usize>) {
        let n = self.plan(owner, slots);
        self.open_planned(owner, n);
    }

    /// The first step of [`Batch::open`]: the distinct read-only pages that hold `slots`, in
    /// address order, into the plan; returns their number.
    fn plan(&mut self, owner: &Dynamic, slots: impl Iterator<Item = usize>) -> usize {
        let ps = self.page_size;
        let mut n = 0;
        for slot in slots {
            if check(owner, slot).is_err() {
                continue;
            }
            let page = slot & !(ps - 1);
            if self.is_open(page) || self.open.plan[..n].iter().any(|&(p, _)| p == page) {
                continue;
            }
            let Some(prot) = owner.page_protection(page, ps) else {
                continue;
            };
            if prot & elf::PF_W != 0 || n == PLAN_PAGES {
                continue;
            }
            // Insertion in address order (a handful of pages).
            let pages = &mut self.open.plan;
            let mut i = n;
            while i > 0 && pages[i - 1].0 > page {
                pages[i] = pages[i - 1];
                i -= 1;
            }
            pages[i] = (page, prot);
            n += 1;
        }
        n
    }

    /// The second step of [`Batch::open`]: opens the first `n` planned pages, in runs.
    #[inline(never)]
    fn open_planned(&mut self, owner: &Dynamic, n: usize) {
        let ps = self.page_size;
        // One answer about a mapping serves every later page inside it: the runs opened in
        // between lie before those pages and change nothing about them.
        let mut known = (0usize, 0usize, false);
        let mut i = 0;
        while i < n && self.open.n < BATCH_RUNS {
            let (start, prot) = self.open.plan[i];
            let mut end = start + ps;
            i += 1;
            if !(known.0 <= start && start < known.1) {
                let (writable, until) = self.writable(start);
                known = (start, until, writable);
            }
            // Adjacent pages join the run; so do pages a few pages on inside the same
            // read-only mapping, with the pages between, when those have the same protection:
            // one larger `mprotect` costs less than two (the pages between are restored with
            // the run, to the protection they were found with).
            while i < n && self.open.plan[i].1 == prot {
                let next = self.open.plan[i].0;
                let bridge = !known.2
                    && next + ps <= known.1
                    && (next - end) / ps <= MAX_BRIDGE
                    && (end..next)
                        .step_by(ps)
                        .all(|p| owner.page_protection(p, ps) == Some(prot));
                if next != end && !bridge {
                    break;
                }
                end = next + ps;
                i += 1;
            }
            // The stretches of the run not writable now, one `mprotect` each.
            let mut at = start;
            while at < end {
                if !(known.0 <= at && at < known.1) {
                    let (writable, until) = self.writable(at);
                    known = (at, until, writable);
                }
                let stop = known.1.min(end);
                if !known.2 {
                    let _ = self.protect_open(at, stop, prot);
                }
                at = stop;
            }
        }
    }

    fn writable(&mut self, page: usize) -> (bool, usize) {
        match self.query.as_deref_mut() {
            Some(q) => q.writable(page, self.page_size, &mut self.open.query),
            None => (writable_now(page), page + self.page_size),
        }
    }

    fn is_open(&self, page: usize) -> bool {
        self.open.runs[..self.open.n]
            .iter()
            .any(|r| page >= r.start && page < r.end)
    }

    /// Makes `[start, end)` writable and records it, joining an adjacent open run with the
    /// same protection (so that it is restored with that run, in one call).  Not inlined, nor
    /// is `close_first`: a few calls per batch, kept off the frames of the loops that call them.
    #[inline(never)]
    fn protect_open(&mut self, start: usize, end: usize, prot: u32) -> Result<()> {
        // SAFETY: pages of a READY library, not writable now; write is added only until the
        // batch restores `prot`, the protection derived from the owner's program headers.
        if !unsafe { sys::mprotect(start, end - start, prot | elf::PF_W | elf::PF_R) } {
            // A refused range may be half changed: put back what the headers say it is.
            // SAFETY: as above; restores the derived protection.
            let _ = unsafe { sys::mprotect(start, end - start, prot) };
            return Err(Error::Protect);
        }
        let open = &mut *self.open;
        if let Some(r) = open.runs[..open.n]
            .iter_mut()
            .find(|r| r.prot == prot && (r.end == start || r.start == end))
        {
            r.start = r.start.min(start);
            r.end = r.end.max(end);
            return Ok(());
        }
        if open.n == BATCH_RUNS {
            // Restoring the oldest run makes room; a failure there is remembered for finish.
            let _ = self.close_first();
        }
        let open = &mut *self.open;
        open.runs[open.n] = Run { start, end, prot };
        open.n += 1;
        Ok(())
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
        let ps = self.page_size;
        let page = slot & !(ps - 1);
        if !self.is_open(page) {
            let prot = owner.page_protection(page, ps).ok_or(Error::Range)?;
            // Writable pages (lazy .got.plt, .data, or a page someone else made writable on
            // purpose) are never re-protected by gothook: the protection found is the one kept.
            if prot & elf::PF_W == 0 && !self.writable(page).0 {
                self.protect_open(page, page + ps, prot)?;
            }
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

    #[inline(never)]
    fn close_first(&mut self) -> Result<()> {
        let open = &mut *self.open;
        let r = open.runs[0];
        // Run by run, not `copy_within`: a libc `memmove` on the lock's static memory would be
        // reported by a race detector that intercepts libc and is blind to the lock.
        for k in 1..open.n {
            open.runs[k - 1] = open.runs[k];
        }
        open.n -= 1;
        // SAFETY: restores exactly the protection derived from the owner's program headers.
        if unsafe { sys::mprotect(r.start, r.end - r.start, r.prot) } {
            Ok(())
        } else {
            open.failed = true;
            Err(Error::Protect)
        }
    }

    /// Restores every page the batch made writable; `Protect` if one could not be restored.
    pub fn finish(mut self) -> Result<()> {
        let mut r = Ok(());
        while self.open.n > 0 {
            if let Err(e) = self.close_first() {
                r = Err(e);
            }
        }
        if self.open.failed {
            return Err(Error::Protect);
        }
        r
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // Before the swap lock is released (the guard is dropped after this body).
        while self.open.n > 0 {
            let _ = self.close_first();
        }
    }
}

/// A [`Batch`] begun at its first use: a pass reads and decides its slots without holding the
/// swap lock (which a signal handler's swap may be waiting for; the compare-and-swap catches
/// any write in between), and a pass with nothing to write never takes it.
pub(crate) struct LazyBatch<'q> {
    query: Option<&'q mut PageQuery>,
    batch: Option<Batch<'q>>,
}

impl<'q> LazyBatch<'q> {
    /// Nothing begun yet; the batch will ask page permissions of `query`.
    pub(crate) fn new(query: &'q mut PageQuery) -> LazyBatch<'q> {
        LazyBatch {
            query: Some(query),
            batch: None,
        }
    }

    /// The batch, begun now if it was not (`Busy` on same-thread re-entry).
    #[inline(never)]
    pub(crate) fn get(&mut self) -> Result<&mut Batch<'q>> {
        if self.batch.is_none() {
            // The descriptor is opened before the lock is taken, not while holding it.
            if let Some(q) = self.query.as_deref_mut() {
                q.open();
            }
            self.batch = Some(Batch::start(self.query.take())?);
        }
        self.batch.as_mut().ok_or(Error::Busy)
    }

    /// [`Batch::finish`] of the batch, if one was begun.
    pub(crate) fn finish(self) -> Result<()> {
        self.batch.map_or(Ok(()), Batch::finish)
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

/// One mapped segment of a decoded library, for reading many of its aligned words with one
/// range check each: the relocation passes read every import slot of a library.
#[derive(Clone, Copy)]
pub(crate) struct Window<'d> {
    start: usize,
    end: usize,
    _owner: core::marker::PhantomData<&'d Dynamic>,
}

impl<'d> Window<'d> {
    /// A window that holds nothing.
    pub(crate) const EMPTY: Window<'d> = Window {
        start: 1,
        end: 0,
        _owner: core::marker::PhantomData,
    };

    /// The mapped segment of `owner` that holds the word at `addr` (empty if none does).
    pub(crate) fn around(owner: &'d Dynamic, addr: usize) -> Window<'d> {
        match owner.segs.containing(addr, core::mem::size_of::<usize>()) {
            Some(r) => Window {
                start: r.start,
                end: r.end,
                _owner: core::marker::PhantomData,
            },
            None => Window::EMPTY,
        }
    }

    /// The aligned word at `addr`, if it lies inside the window.
    #[inline(always)]
    pub(crate) fn peek(&self, addr: usize) -> Option<usize> {
        let ws = core::mem::size_of::<usize>();
        if addr < self.start || addr >= self.end || self.end - addr < ws || addr & (ws - 1) != 0 {
            return None;
        }
        // SAFETY: `addr` is aligned and its whole word lies inside a PT_LOAD range of the
        // borrowed owner, which stays mapped while it is borrowed (see `peek`).
        Some(unsafe { AtomicUsize::from_ptr(addr as *mut usize) }.load(Ordering::Acquire))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A window over `words[first..]` of `buf`, ending `len` bytes after its start.
    fn window(buf: &[usize], first: usize, len: usize) -> Window<'static> {
        let start = buf[first..].as_ptr() as usize;
        Window {
            start,
            end: start + len,
            _owner: core::marker::PhantomData,
        }
    }

    #[test]
    fn a_window_reads_exactly_its_whole_aligned_words() {
        let ws = core::mem::size_of::<usize>();
        // Words 2..6 are the window; the words around it are readable memory it must refuse.
        let buf: [usize; 8] = [10, 11, 12, 13, 14, 15, 16, 17];
        let at = |i: usize| buf[i..].as_ptr() as usize;
        let w = window(&buf, 2, 4 * ws);
        let read: [Option<usize>; 8] = core::array::from_fn(|i| w.peek(at(i)));
        assert_eq!(
            read,
            [
                None,
                None,
                Some(12),
                Some(13),
                Some(14),
                Some(15),
                None,
                None
            ],
            "the window's words and nothing around them"
        );
        // Not aligned: refused, also inside the window.
        for off in 1..ws {
            assert_eq!(w.peek(at(2) + off), None, "misaligned by {off}");
            assert_eq!(w.peek(at(4) + off), None, "misaligned by {off}");
        }
        // A segment that ends inside a word: that word is not whole, so it is refused.
        let short = window(&buf, 2, 4 * ws - ws / 2);
        assert_eq!(short.peek(at(4)), Some(14));
        assert_eq!(short.peek(at(5)), None, "a word cut by the segment's end");
        // The empty window holds nothing.
        assert!((0..8).all(|i| Window::EMPTY.peek(at(i)).is_none()));
    }
}
