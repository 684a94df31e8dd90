//! Hook sets: install, refresh, verify and uninstall across every READY library (design rule 4).
//! Fixed-capacity tables only; never allocates; every slot write goes through `slot::swap`,
//! and every library is read and patched inside the walk callback that reported it.
//!
//! Modules: `set` (sets, filters, originals), `libs` (the table of tracked libraries and the
//! watched lazy slots), `pass` (the patch and restore passes over one library, and the binding
//! rule).  This file holds the public API, the refresh pacing and the shared state.
//!
//! The rules (design section 6):
//! - Binding: a set patches a slot only where what the slot holds without it (the slot's own
//!   binding, or the replacement of the set below it on that slot) equals the set's original.
//!   A slot bound to another definition (`foo@V1` while `foo@@V2` is the default, an
//!   RTLD_DEEPBIND plugin's own definition, another interposer) is skipped and counted in
//!   `Report::slots_foreign`, so every call through a hook reaches what its slot was bound to.
//!   A lazy slot still holding its PLT stub counts as bound to the original (the loader's lazy
//!   resolution of a versioned or DEEPBIND import is not predicted: a documented limit); a slot
//!   holding the canonical PLT entry of a non-PIE main program counts as bound to the
//!   definition; a set with `next_after` stacks on any binding (its caller chose the original).
//! - Stacking: a set's original is the replacement of the latest set hooking the same name in a
//!   library both filters accept, else the global definition; the binding rule then stacks it
//!   only on slots that carry that set, so disjoint filters never stack.  Uninstall takes a set
//!   off only the slots that hold its replacement, writing what the remaining sets stack on its
//!   original (its original when none), and re-points the originals of sets above it.
//! - Atomicity: install rolls back what its pass patched when `mprotect` is refused; uninstall
//!   keeps the set and its handle when a restore is refused.  Identical installs share one
//!   set with an owner count.
//! - Lazy binding: slots that held their PLT stub when patched are recorded and re-read by a
//!   refresh whenever the last re-read started at least one probe interval earlier, so a hook
//!   lost to a late `_dl_fixup` store at time t is repaired by the first refresh that starts at
//!   or after t + the interval, however long after the patch.
//! - Pre-patch values: a restored slot gets the lower set's replacement, else the set's
//!   original, which by the binding rule is what the slot was bound to; a slot that held its
//!   lazy stub gets the stub back (recorded with the lazy slots, up to 256); a slot bound to a
//!   canonical PLT entry gets the definition (not recorded).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::loader::{self, LibInfo};
use crate::lock::{Guard, OwnedLock};
use crate::probe;

mod focus;
mod libs;
pub mod pass;
mod set;
use libs::*;
pub use pass::MAX_WANTS;
use pass::*;
use set::*;
pub use set::{gothook_lib, ForeignAcceptFn};

/// Most hook sets installed at once.
pub const MAX_SETS: usize = 8;
/// Most hooks in one set.
pub const MAX_HOOKS: usize = 32;
/// Most libraries tracked for incremental refresh; beyond it refresh degrades to full passes.
#[cfg(not(test))]
pub const MAX_LIBS: usize = 1024;
/// Unit tests shrink the table so that this small test process overflows it.
#[cfg(test)]
pub const MAX_LIBS: usize = 2;
/// Most symbol-table indices remembered per wanted name in one library.
const MAX_INDICES: usize = 4;

/// Filter flag: also hook the object gothook is linked into (a statically linked profiler that
/// must see its own malloc calls).  Default: excluded.
pub const FILTER_INCLUDE_SELF: u32 = 1;
/// Filter flag: leave the main program alone.  Default: included.
pub const FILTER_EXCLUDE_MAIN: u32 = 2;
/// Mask of valid filter flags.
pub const FILTER_FLAGS: u32 = FILTER_INCLUDE_SELF | FILTER_EXCLUDE_MAIN;

/// Refresh flag: re-scan every tracked library and repair every slot (a full verify).
pub const REFRESH_FULL: u32 = 1;
/// Refresh flag: for hot paths (a malloc hook): without the dlopen interception too, answer
/// lock-free when a locked probe that started less than [`probe::PROBE_INTERVAL_NS`] ago has
/// completed and nothing was left LOADING, instead of asking the loader on every call.  A
/// library loaded at time t is then hooked by the first such refresh that starts at or after
/// t + the interval, not necessarily by the first one after your `dlopen` returned.
pub const REFRESH_CACHED: u32 = 2;
/// Mask of valid refresh flags.
pub const REFRESH_FLAGS: u32 = REFRESH_FULL | REFRESH_CACHED;

/// One hook: the imported symbol, its replacement and where to publish the original.
#[derive(Clone, Copy, Debug)]
pub struct Hook {
    /// Symbol name without NUL; must stay valid while the set is installed.
    pub symbol: &'static [u8],
    /// Address the slots are redirected to.
    pub replacement: usize,
    /// Where the original is published (a release store) before the first swap; `None`: not
    /// published.
    pub original: Option<&'static AtomicUsize>,
    /// `HOOK_*` flags.
    pub flags: u32,
}

/// Hook flag: when the symbol has no definition, skip this hook (install succeeds and reports
/// it in `Report::missing_hook`) instead of failing the whole set.
pub const HOOK_OPTIONAL: u32 = 1;
/// Hook flag: when the symbol has no definition, hook it anyway with a null original: imports
/// of an undefined weak symbol (slots holding 0, or a lazy stub) are redirected.  The
/// replacement must not call a null original.
pub const HOOK_UNDEFINED: u32 = 2;
/// Mask of valid hook flags.
pub const HOOK_FLAGS: u32 = HOOK_OPTIONAL | HOOK_UNDEFINED;

/// A caller-supplied predicate: (library, arg0, arg1) -> keep.
pub type AcceptFn = fn(&LibInfo<'_>, usize, usize) -> bool;

/// Which libraries a set applies to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// `FILTER_*` flags.
    pub flags: u32,
    /// Only libraries whose path ends with this (None: any).
    pub path_suffix: Option<&'static [u8]>,
    /// Only the library containing this address (0: any).
    pub contains: usize,
    /// Originals are looked up after the library containing this address (RTLD_NEXT; 0: global).
    pub next_after: usize,
    /// Never the library containing this address (0: none excluded), e.g. the host's own.
    pub exclude: usize,
    /// An extra predicate with its two arguments.
    pub accept: Option<(AcceptFn, usize, usize)>,
    /// An extra C predicate with its context (passed as `void *`), e.g. from the C API.
    pub accept_foreign: Option<(ForeignAcceptFn, usize)>,
}

/// Most skipped libraries one report names; the others are only counted
/// (`Report::libs_skipped_more`).
pub const MAX_SKIPPED: usize = 4;
/// Bytes kept of a skipped library's path: its last `SKIPPED_NAME - 1` bytes and a NUL.
pub const SKIPPED_NAME: usize = 48;

/// Skip reason: the library is listed but not READY (left alone; retried by the next refresh).
pub const SKIP_NOT_READY: u32 = 1;
/// Skip reason: its dynamic section, or a table it points to, could not be decoded (or its slots
/// could not be scanned): no slot of it was patched by this call.
pub const SKIP_DECODE_FAILED: u32 = 2;
/// Skip reason: the library table is full, so the library is not tracked: it was processed, but
/// every refresh re-scans it.
pub const SKIP_UNTRACKED: u32 = 3;

/// A library a call skipped (or could not track), named by value: the loader's memory it came
/// from may be gone once the call returns (a dlclose), so the path is copied, not pointed to.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Load bias when it was skipped.
    pub bias: usize,
    /// `SKIP_*`.
    pub reason: u32,
    /// Length of the whole path (`name` holds its end when it is longer than `SKIPPED_NAME - 1`).
    pub name_len: u32,
    /// The path's last bytes (at most `SKIPPED_NAME - 1`), NUL-terminated.
    pub name: [u8; SKIPPED_NAME],
}

impl Default for Skipped {
    fn default() -> Skipped {
        Skipped {
            bias: 0,
            reason: 0,
            name_len: 0,
            name: [0; SKIPPED_NAME],
        }
    }
}

impl Skipped {
    fn of(lib: &LibInfo<'_>, reason: u32) -> Skipped {
        let mut s = Skipped {
            bias: lib.bias,
            reason,
            name_len: u32::try_from(lib.name.len()).unwrap_or(u32::MAX),
            ..Skipped::default()
        };
        let tail = &lib.name[lib.name.len().saturating_sub(SKIPPED_NAME - 1)..];
        for (d, &b) in s.name.iter_mut().zip(tail) {
            *d = b;
        }
        s
    }

    /// The kept part of the path (without the NUL).
    pub fn name(&self) -> &[u8] {
        let n = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(SKIPPED_NAME);
        &self.name[..n]
    }
}

/// What one call did.  Counters add up across the libraries and slots it visited.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Libraries in which at least one slot was patched or verified by this call.
    pub libs_patched: u32,
    /// Libraries listed but not READY (left alone; retried by the next refresh).
    pub libs_not_ready: u32,
    /// Libraries the filter excluded (including the vDSO, the loader and, by default, gothook's own).
    pub libs_filtered: u32,
    /// Libraries whose dynamic section could not be decoded.
    pub libs_failed: u32,
    /// Slots redirected to a replacement for the first time.
    pub slots_patched: u32,
    /// Slots that already held the replacement.
    pub slots_already: u32,
    /// Slots found reverted (lazy binding, a reload) and redirected again.
    pub slots_repaired: u32,
    /// Slots whose compare-and-swap lost to a concurrent writer (left as they were).
    pub slots_conflict: u32,
    /// Slots restored to their original by uninstall.
    pub slots_restored: u32,
    /// Slots uninstall found holding something else (left alone).
    pub slots_changed: u32,
    /// Libraries processed but not tracked because the library table is full: every refresh
    /// re-scans them (nothing is missed, but refresh is no longer incremental for them).
    pub libs_untracked: u32,
    /// Slots the set skipped because they are bound to another definition than the set's
    /// original (a symbol version, an RTLD_DEEPBIND scope, another interposer, a set below it
    /// that the slot does not carry); left as they are.
    pub slots_foreign: u32,
    /// After `NotFound` from install: 1 + the index of the first hook whose symbol has no
    /// definition; after a successful install, 1 + the index of the first optional hook skipped
    /// (0 otherwise).
    pub missing_hook: u32,
    /// After install: bit k set when hook k's symbol has no definition and the hook was skipped
    /// (`HOOK_OPTIONAL`) or installed with a null original (`HOOK_UNDEFINED`).
    pub hooks_missing: u32,
    /// Entries of `skipped` filled, at most [`MAX_SKIPPED`].
    pub libs_skipped: u32,
    /// Skipped libraries that did not fit in `skipped` (counted only).
    pub libs_skipped_more: u32,
    /// The first libraries this call skipped, not READY, failed to decode or not tracked, in
    /// walk order; a library appears once per reason.
    pub skipped: [Skipped; MAX_SKIPPED],
}

impl Report {
    #[cfg(test)]
    fn add(&mut self, o: &Report) {
        self.libs_patched += o.libs_patched;
        self.libs_not_ready += o.libs_not_ready;
        self.libs_filtered += o.libs_filtered;
        self.libs_failed += o.libs_failed;
        self.slots_patched += o.slots_patched;
        self.slots_already += o.slots_already;
        self.slots_repaired += o.slots_repaired;
        self.slots_conflict += o.slots_conflict;
        self.slots_restored += o.slots_restored;
        self.slots_changed += o.slots_changed;
        self.libs_untracked += o.libs_untracked;
        self.slots_foreign += o.slots_foreign;
        self.missing_hook = self.missing_hook.max(o.missing_hook);
        self.hooks_missing |= o.hooks_missing;
        for s in &o.skipped[..(o.libs_skipped as usize).min(MAX_SKIPPED)] {
            self.name_skipped(*s);
        }
        self.libs_skipped_more += o.libs_skipped_more;
    }

    /// Counts `lib` as skipped for `reason` (`SKIP_*`: in `libs_not_ready`, `libs_failed` or
    /// `libs_untracked`) and names it in `skipped` while there is room.  Not inlined: the
    /// record it builds is not on the stack of the passes that call it.
    #[cold]
    #[inline(never)]
    pub(super) fn lib_skipped(&mut self, lib: &LibInfo<'_>, reason: u32) {
        match reason {
            SKIP_NOT_READY => self.libs_not_ready += 1,
            SKIP_DECODE_FAILED => self.libs_failed += 1,
            _ => self.libs_untracked += 1,
        }
        self.name_skipped(Skipped::of(lib, reason));
    }

    fn name_skipped(&mut self, s: Skipped) {
        match self.skipped.get_mut(self.libs_skipped as usize) {
            Some(slot) => {
                *slot = s;
                self.libs_skipped += 1;
            }
            None => self.libs_skipped_more += 1,
        }
    }
}

/// A handle to an installed set: never 0; stale handles answer `NotFound`.
pub type SetId = u32;

struct State {
    sets: [Option<Set>; MAX_SETS],
    next_order: u32,
    next_gen: u32,
    libs: [LibRec; MAX_LIBS],
    epoch: u32,
    /// Libraries left LOADING/UNKNOWN: refresh may not shortcut.
    unsettled: u32,
    /// Lazily bound slots watched for `_dl_fixup` stores (see `libs::LazySlot`).
    lazy: [LazySlot; MAX_LAZY],
    nlazy: usize,
    /// Lazy slots are watched (or their libraries re-scanned): a refresh that takes the loader
    /// lock walks the libraries instead of answering from the loader's counters.
    watch_lazy: bool,
    /// A library could not be tracked (table full): refresh may not shortcut.
    overflow: bool,
    counters: (u64, u64),
    /// Working tables of the pass in progress (see `pass::Scratch`).
    scratch: Scratch,
    /// The library the pass in progress is at, decoded (see `LibInfo::decode_into`); unmapped
    /// before its walk callback returns.
    image: crate::dynamic::Dynamic,
}

// The hook state's share of the library's static data, all of which stays within 64 KiB (ctest
// `static_data_of_the_shared_library_fits_in_64_kib`).  The rest: the global lookup's scope
// tables (11 KiB with the image they decode into), the wipe-on-fork page (4 KiB, after up to
// 4 KiB of alignment), the swap lock's open runs and the gadget cache.  The state was 56.3 KiB
// before library records shrank from 34 bytes to 24 and lazy records from 32 to 14; it is
// 44.8 KiB with 1,024 libraries, 256 lazy slots, 8 sets, and the working memory that passes
// keep here instead of on the stack of malloc hooks (the decoded image, the scan's noted
// relocations, install's staging tables: 2.3 KiB).
const _: () = assert!(core::mem::size_of::<State>() <= 46 * 1024 || cfg!(test));

/// The state of a process that installed nothing.
const EMPTY_STATE: State = State {
    sets: [None; MAX_SETS],
    next_order: 1,
    next_gen: 1,
    libs: [LibRec::EMPTY; MAX_LIBS],
    epoch: 0,
    unsettled: 0,
    lazy: [LazySlot::EMPTY; MAX_LAZY],
    nlazy: 0,
    watch_lazy: false,
    overflow: false,
    counters: (u64::MAX, u64::MAX),
    scratch: EMPTY_SCRATCH,
    image: crate::dynamic::Dynamic::UNMAPPED,
};

static STATE: OwnedLock<State> = OwnedLock::new_in_walks(EMPTY_STATE);

/// Bumped by gothook's own dlopen/dlclose hooks after every call: a lock-free change signal.
pub static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The generation the last locked probe consumed.
static SEEN_GENERATION: AtomicU64 = AtomicU64::new(0);
/// The installed set whose hooks bump [`GENERATION`] after every loader change (the
/// dlopen/dlclose interception; 0: none).  Set by [`signal_changes_with`], cleared when that set
/// is forgotten.
static SIGNAL_SET: AtomicU32 = AtomicU32::new(0);

/// Declares that the installed set `id` bumps [`GENERATION`] after every call that may load or
/// unload a library, so refresh may answer lock-free while it stays installed.
pub fn signal_changes_with(id: SetId) {
    SIGNAL_SET.store(id, Ordering::Release);
}
/// Whether refresh may take the lock-free shortcut (no unsettled or untracked libraries, no
/// pass held back).
static SETTLED: AtomicU32 = AtomicU32::new(0);
/// When (probe clock) the last pass that re-read the recorded lazy slots started: those re-reads
/// walk every library, so a loop of refreshes does them at most once per probe interval.
static LAZY_CHECKED: AtomicU64 = AtomicU64::new(0);

/// Runs `f` holding the state lock, which is taken inside a walk callback: the order is always
/// the loader's list lock, then the state lock, so waiting for it cannot deadlock with a thread
/// that holds the loader's lock (see `lock`).  `f` also gets the loader's (adds, subs) counters,
/// read under the same hold.  `Busy` on same-thread re-entry, or in a child forked during a walk.
///
/// Fork: the state lock is only ever held inside a walk, so a child forked while a parent thread
/// held it (and possibly had the state half-updated) is a child that refuses to walk at all; a
/// child that may walk always finds the lock free and the state whole.
///
/// Every holder changes the state: the marks of refresh's quiet probe are cleared first (a
/// refresh publishes them again when it is done).
fn locked<R>(f: impl FnOnce(Guard<'_, State>, (u64, u64)) -> Result<R>) -> Result<R> {
    probe::under_list_lock(|counters| {
        let st = STATE.lock()?;
        focus::quiet_invalidate();
        f(st, counters)
    })
}

/// Installs a hook set: publishes every original, then patches every import slot of the hooked
/// symbols (PLT, GLOB_DAT, ABS data slots) in every READY library the filter accepts.
/// Installing an identical set again returns the same handle and patches nothing new.
///
/// Context: malloc-safe.  Errors: `Invalid` (no hooks, too many, empty name, null replacement,
/// unknown flags), `NotFound` (a symbol has no definition), `Full` (no free set), `Busy`.
///
/// # Safety
/// Every call through a patched slot reaches `replacement` instead of the symbol's definition,
/// from any thread, until the set is uninstalled: each `replacement` must be a function (or
/// object, for data imports) with the type of the symbol it replaces and stay valid that long,
/// and must work with the original published into `original` (which is null for a
/// `HOOK_UNDEFINED` hook without a definition).
#[allow(unsafe_code)] // declares the contract only; the body has no unsafe operation
pub unsafe fn install(hooks: &[Hook], filter: &Filter, rep: &mut Report) -> Result<SetId> {
    // SAFETY: forwarded contract.
    unsafe { install_with(hooks.len(), |k| Ok(hooks[k]), filter, rep) }
}

/// [`install`] with the hooks supplied one at a time by `hook(k)` for `k` in `0..count`, written
/// straight into the set's static storage: a caller converting foreign hook records (the C API)
/// needs no array of its own on the stack.  An error from `hook` is returned as is, nothing
/// installed.  `hook` runs under the state lock and may be called more than once per index.
///
/// # Safety
/// As [`install`], for every hook `hook` returns.
#[allow(unsafe_code)] // declares the contract only; the body has no unsafe operation
pub unsafe fn install_with(
    count: usize,
    hook: impl Fn(usize) -> Result<Hook>,
    filter: &Filter,
    rep: &mut Report,
) -> Result<SetId> {
    if count == 0 || count > MAX_HOOKS || filter.flags & !FILTER_FLAGS != 0 {
        return Err(Error::Invalid);
    }
    // Opened before the loader's lock is taken, closed after it is released (see
    // `refresh_walk`).
    let mut query = crate::slot::PageQuery::new();
    query.prepare();
    let r = locked(|st, _| install_locked(st, count, &hook, filter, rep, &mut query));
    after_set_change();
    r
}

/// After an install or uninstall (which publish nothing for the lock-free paths): the next
/// refresh, cached or not, takes the loader's lock once and publishes again, so that the
/// refreshes after it answer "nothing changed" without reading the clock (see
/// [`nothing_changed`]) instead of trusting the last probe's stamp for a whole interval.
fn after_set_change() {
    probe::invalidate();
}

/// Whether `h` is valid on its own: a name, a replacement, known flags.
fn valid_hook(h: &Hook) -> bool {
    !h.symbol.is_empty() && h.replacement != 0 && h.flags & !HOOK_FLAGS == 0
}

fn install_locked(
    mut st: Guard<'_, State>,
    count: usize,
    hook: &dyn Fn(usize) -> Result<Hook>,
    filter: &Filter,
    rep: &mut Report,
    query: &mut crate::slot::PageQuery,
) -> Result<SetId> {
    if let Some(pos) = same_set_pos(&st, count, hook, filter) {
        // A second owner: count it and re-run the pass, so libraries loaded since are hooked.
        let id = match st.sets[pos].as_mut() {
            Some(s) => {
                s.owners += 1;
                s.id
            }
            None => return Err(Error::NotFound),
        };
        return match pass(&mut st, false, 1 << pos, rep, query) {
            // Refused (its pass had to write while this thread holds the swap lock): the
            // caller gets no handle, so it must not count as an owner.
            Err(Error::Busy) => {
                if let Some(s) = st.sets[pos].as_mut() {
                    s.owners -= 1;
                }
                Err(Error::Busy)
            }
            _ => Ok(id),
        };
    }
    // Staged in place in a free set (from a constant, then field by field): a Set is two
    // kilobytes and this runs inside malloc hooks, where a temporary would double the stack.
    // The staged set has no hooks yet (`nhooks` 0), so every look at the installed sets below
    // passes over it; any failure before it is complete frees it again.
    let Some(pos) = st.sets.iter().position(|s| s.is_none()) else {
        return Err(full_or_invalid(count, hook));
    };
    st.sets[pos] = Some(EMPTY_SET);
    let r = stage(&mut st, pos, count, hook, filter, rep);
    let id = match r {
        Ok(id) => id,
        Err(e) => {
            st.sets[pos] = None;
            return Err(e);
        }
    };
    match pass(&mut st, false, 1 << pos, rep, query) {
        Ok(()) | Err(Error::Full) | Err(Error::Malformed(_)) | Err(Error::Unsupported) => Ok(id),
        Err(e) => undo_install(&mut st, pos, id, e, rep),
    }
}

/// The position of the installed set identical to the `count` hooks `hook` supplies with
/// `filter`, if there is one.  Not inlined, nor is [`full_or_invalid`]: the hooks they convert
/// are not on the stack with the pass.
#[inline(never)]
fn same_set_pos(
    st: &State,
    count: usize,
    hook: &dyn Fn(usize) -> Result<Hook>,
    filter: &Filter,
) -> Option<usize> {
    st.sets
        .iter()
        .position(|s| s.as_ref().is_some_and(|s| same_set(s, count, hook, filter)))
}

/// Why an install finds no free set: `Full`, unless the hooks are bad input (checked pairwise:
/// there is nowhere to stage them).
#[cold]
#[inline(never)]
fn full_or_invalid(count: usize, hook: &dyn Fn(usize) -> Result<Hook>) -> Error {
    for k in 0..count {
        let h = match hook(k) {
            Ok(h) => h,
            Err(e) => return e,
        };
        if !valid_hook(&h) || (0..k).any(|j| hook(j).is_ok_and(|o| o.symbol == h.symbol)) {
            return Error::Invalid;
        }
    }
    Error::Full
}

/// Takes back what the pass of a failed install patched, so that the install is atomic from
/// the caller's view, and returns its error.  If even that is refused, the set stays installed
/// and its handle is returned (a later uninstall can finish), with the refused slots counted
/// in `slots_conflict`.  Not inlined: its report is never on the stack with the pass.
#[cold]
#[inline(never)]
fn undo_install(
    st: &mut State,
    pos: usize,
    id: SetId,
    e: Error,
    rep: &mut Report,
) -> Result<SetId> {
    let mut undo = Report::default();
    if take_off(st, pos, &mut undo).is_err() {
        rep.slots_conflict += 1;
        return Ok(id);
    }
    forget(st, pos, id);
    Err(e)
}

/// Fills the empty set at `pos` with the hooks, checks them, finds and publishes their
/// originals and gives the set its handle (see [`install_locked`]).
/// Not inlined: its tables of originals and the lookup's frames are never on the stack with
/// the pass that follows.
#[inline(never)]
fn stage(
    st: &mut State,
    pos: usize,
    count: usize,
    hook: &dyn Fn(usize) -> Result<Hook>,
    filter: &Filter,
    rep: &mut Report,
) -> Result<SetId> {
    fill_staged(st, pos, count, hook)?;
    let hooks = match st.sets[pos].as_ref() {
        Some(set) => &set.hooks[..count],
        None => return Err(Error::NotFound),
    };
    // The originals and canonical entries are worked out in the state's scratch tables, not on
    // this frame (which runs inside malloc hooks), then copied into the set.
    let Scratch {
        originals: found,
        canonical,
        ..
    } = &mut st.scratch;
    for k in 0..MAX_HOOKS {
        found[k] = 0;
        canonical[k] = 0;
    }
    let staged = st.sets[pos].as_ref().ok_or(Error::NotFound)?;
    let skipped = originals(&st.sets, hooks, |k| staged.flags(k), filter, found, rep)?;
    canonical_entries(hooks, &mut st.image, canonical)?;
    for (h, &o) in hooks.iter().zip(found.iter()) {
        if let Some(cell) = h.original {
            cell.store(o, Ordering::Release);
        }
    }
    let id = ((st.next_gen & 0x00ff_ffff) << 8) | (pos as u32 + 1);
    let order = st.next_order;
    st.next_gen = st.next_gen.wrapping_add(1).max(1);
    st.next_order += 1;
    let Some(set) = st.sets[pos].as_mut() else {
        return Err(Error::NotFound);
    };
    set.id = id;
    set.order = order;
    set.nhooks = count;
    set.originals = st.scratch.originals;
    set.filter = *filter;
    set.owners = 1;
    set.skipped = skipped;
    set.canonical = st.scratch.canonical;
    for r in st.libs.iter_mut() {
        r.drop_applied(1 << pos);
    }
    Ok(id)
}

/// The first part of [`stage`]: the hooks into the empty set at `pos`, each checked, and the
/// check that every name of every set fits the per-library want table.  Not inlined: its
/// frame is not on the stack with the originals' lookup.
#[inline(never)]
fn fill_staged(
    st: &mut State,
    pos: usize,
    count: usize,
    hook: &dyn Fn(usize) -> Result<Hook>,
) -> Result<()> {
    {
        let Some(set) = st.sets[pos].as_mut() else {
            return Err(Error::NotFound);
        };
        for k in 0..count {
            let h = hook(k)?;
            if !valid_hook(&h) || set.hooks[..k].iter().any(|o| o.symbol == h.symbol) {
                return Err(Error::Invalid);
            }
            set.hooks[k] = SetHook::of(&h);
            set.optional |= u32::from(h.flags & HOOK_OPTIONAL != 0) << k;
            set.undefined |= u32::from(h.flags & HOOK_UNDEFINED != 0) << k;
        }
    }
    let hooks = match st.sets[pos].as_ref() {
        Some(set) => &set.hooks[..count],
        None => return Err(Error::NotFound),
    };
    // Every name of every set must fit the per-library want table.
    let mut distinct = 0;
    for (i, h) in hooks.iter().enumerate() {
        let elsewhere = st
            .sets
            .iter()
            .flatten()
            .any(|s| s.hooks[..s.nhooks].iter().any(|x| x.symbol == h.symbol));
        if !elsewhere && !hooks[..i].iter().any(|o| o.symbol == h.symbol) {
            distinct += 1;
        }
    }
    if distinct_names(st) + distinct > MAX_WANTS {
        return Err(Error::Full);
    }
    Ok(())
}

/// Number of distinct hooked names across the installed sets.
fn distinct_names(st: &State) -> usize {
    let mut n = 0;
    for (p, s) in st.sets.iter().enumerate() {
        let Some(s) = s else { continue };
        for h in &s.hooks[..s.nhooks] {
            let earlier = st.sets[..p]
                .iter()
                .flatten()
                .any(|o| o.hooks[..o.nhooks].iter().any(|x| x.symbol == h.symbol));
            if !earlier {
                n += 1;
            }
        }
    }
    n
}

/// Restores every slot set `pos` carries in every library it accepts (see `pass::restore`).
/// Not inlined: install calls it only to undo a failed pass.
#[inline(never)]
fn take_off(st: &mut State, pos: usize, rep: &mut Report) -> Result<()> {
    let mut first_err = None;
    let (all, nall) = st.ordered();
    let State {
        sets,
        libs,
        lazy,
        nlazy,
        scratch,
        image,
        ..
    } = st;
    let lazy = &lazy[..*nlazy];
    let mut query = crate::slot::PageQuery::new();
    loader::each(0, |lib| {
        let (order, n, mask) = accepting(sets, &all[..nall], lib);
        if mask & (1 << pos) == 0 {
            return true;
        }
        // Decoded into the state, not onto this frame (see `State::image`).
        if lib.decode_into(image).is_err() {
            rep.lib_skipped(lib, SKIP_DECODE_FAILED);
            return true;
        }
        let r = restore(
            sets,
            LazyStubs::of(libs, lazy, lib),
            scratch,
            pos,
            image,
            &order[..n],
            rep,
            &mut query,
        );
        image.unmap();
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
        true
    })?;
    match first_err {
        None | Some(Error::Malformed(_)) | Some(Error::Unsupported) => Ok(()),
        Some(e) => Err(e),
    }
}

/// Drops set `pos` once none of its slots is left.
fn forget(st: &mut State, pos: usize, id: SetId) {
    st.sets[pos] = None;
    let _ = SIGNAL_SET.compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire);
    for r in st.libs.iter_mut() {
        r.drop_applied(1 << pos);
    }
    // Libraries no set hooks any more need no lazy watch (with the last set gone: none at all);
    // without this, their records would make every lazy re-check walk while any other set stays.
    st.forget_unhooked();
}

/// Catches up after libraries were loaded or unloaded.  With the dlopen interception installed,
/// lock-free and O(1) when a locked probe that started less than [`probe::PROBE_INTERVAL_NS`] ago
/// has completed, the interception saw no call since, and no library was left LOADING/UNKNOWN.
/// Otherwise a quiet probe: the loader's counters read in one walk callback (no syscall, no
/// lock of gothook's) and compared with what the last refresh published.  Only when they
/// changed (or a library was left LOADING, or the lazy re-check is due) does refresh take the
/// state lock: after loads alone it processes the objects the loader added since everything was
/// processed, which are the tail of its list (`focus`); after unloads it sweeps their records
/// with a pass over every library at most once per ten probe intervals (`focus::sweep_first`);
/// the lazy re-check and `REFRESH_FULL` (verify and repair everything) pass over every library.
///
/// A library that finished loading at time t is hooked by the first refresh that starts at or
/// after t + [`probe::PROBE_INTERVAL_NS`] and does not answer `Busy` (see [`probe`]).  While slots
/// that were lazily unbound when patched are recorded, a refresh re-reads them (a walk) when the
/// last re-read started at least [`probe::PROBE_INTERVAL_NS`] earlier, repairing any that
/// `_dl_fixup` overwrote since: a hook lost to lazy binding at time t, however long after the
/// patch, is repaired by the first refresh that starts at or after t + the interval.
///
/// Never sleeps or spins.  The re-scan of an overflowed library table (the one pass that would
/// repeat on every call) is paced ([`probe::LOCK_SHARE_INVERSE`]): one the budget holds back is
/// not done, `Busy` at once.  Passes for loads, unloads, libraries seen LOADING and lazy
/// re-checks, and `REFRESH_FULL`, are never held back.
///
/// Locks: the loader's list lock alone (the quiet probe), or the loader's list lock, then the
/// state lock (waited for only while holding the loader's lock, so never behind a thread that
/// waits for the loader).
/// Context: malloc-safe.  Errors: `Invalid`, `Busy` (re-entry on this thread; an overflowed
/// table's re-scan held back by pacing; a child forked while a walk was in flight), `Full` (the
/// library table overflowed; a full pass was done, nothing was missed).
pub fn refresh(flags: u32, rep: &mut Report) -> Result<()> {
    match refresh_probe(flags)? {
        Probe::Unchanged => Ok(()),
        Probe::Walk(w) => refresh_walk(w, rep),
    }
}

/// What [`refresh_probe`] found.
#[must_use]
pub enum Probe {
    /// Nothing to do: the refresh is complete (its report is all zero).
    Unchanged,
    /// The state lock must be taken: finish with [`refresh_walk`].
    Walk(Walk),
}

/// A refresh that must take the state lock (from [`refresh_probe`]).
#[must_use]
pub struct Walk {
    full: bool,
    start: u64,
    /// The pass will likely patch (objects were added, or one left LOADING is READY now):
    /// open the page-permission reader before taking the loader's lock.
    prepare: bool,
}

/// The first half of [`refresh`]: the lock-free shortcut and the quiet probe, which decide
/// whether the state lock must be taken, and touch no report.  A caller that must build a report
/// (the C API's is 320 bytes) builds it only for [`Probe::Walk`]; `refresh` is exactly
/// `refresh_probe` followed, when it answers `Walk`, by [`refresh_walk`].
///
/// Locks and errors: as [`refresh`] (the quiet probe's part).
pub fn refresh_probe(flags: u32) -> Result<Probe> {
    if flags & !REFRESH_FLAGS != 0 {
        return Err(Error::Invalid);
    }
    let full = flags & REFRESH_FULL != 0;
    if !full && nothing_changed() {
        return Ok(Probe::Unchanged);
    }
    // Without the interception nothing signals a dlopen lock-free, and callers expect a refresh
    // after their dlopen to catch it: every refresh probes, unless the caller accepts the probe
    // interval's delay (`REFRESH_CACHED`).  With it, the generation signals every intercepted
    // load at once and the probe interval bounds the loads glibc makes itself and the lazy
    // re-checks.
    if !full
        && SETTLED.load(Ordering::Acquire) != 0
        && (flags & REFRESH_CACHED != 0 || SIGNAL_SET.load(Ordering::Acquire) != 0)
        && GENERATION.load(Ordering::Acquire) == SEEN_GENERATION.load(Ordering::Acquire)
        && probe::probed_recently()
    {
        return Ok(Probe::Unchanged);
    }
    let start = probe::probe_start();
    let mut prepare = full;
    if !full {
        // The quiet probe: the loader's counters read in one callback that takes no lock of
        // gothook's, compared with what the last refresh published.  Most refreshes end here,
        // holding the loader's list lock only for glibc's own bookkeeping.
        let g = GENERATION.load(Ordering::Acquire);
        // While a library is being relocated, its `dlopen` holds the loader's load lock and
        // bumps a counter on the add counter's cache line at every symbol lookup: rather than
        // read that line in a loop (which slows the `dlopen` down), ask whether the libraries
        // left LOADING are still inside that same `dlopen` (see `focus::still_loading`), within
        // the probe interval of the last probe that read the counters.
        // (The clock is read only when a library is pending: not on a malloc hook's hot path.)
        if let Some(q) = focus::still_loading() {
            let lazy_checked = LAZY_CHECKED.load(Ordering::Acquire);
            if g == SEEN_GENERATION.load(Ordering::Acquire)
                && probe::probed_recently()
                && q.pending[..q.npending]
                    .iter()
                    .all(|&a| !loader::maybe_ready(a))
                && !(q.watch_lazy && probe::interval_passed(lazy_checked, start))
            {
                return Ok(Probe::Unchanged);
            }
        }
        // Lock-free where glibc's counters were found (`rtld`), else under the list lock.
        let counters = match crate::rtld::counters() {
            Some(c) => c,
            None => probe::under_list_lock(|c| {
                crate::rtld::search_if_untried(c);
                Ok(c)
            })?,
        };
        prepare = match focus::quiet(counters) {
            Some(q) => {
                let watch_lazy = q.watch_lazy;
                let lazy_checked = LAZY_CHECKED.load(Ordering::Acquire);
                // A library left LOADING that is now READY needs the pass that patches it.
                let still_loading = q.pending[..q.npending]
                    .iter()
                    .all(|&a| !loader::maybe_ready(a));
                if still_loading && !(watch_lazy && probe::interval_passed(lazy_checked, start)) {
                    SEEN_GENERATION.store(g, Ordering::Release);
                    probe::probed(if watch_lazy { lazy_checked } else { start });
                    return Ok(Probe::Unchanged);
                }
                !still_loading
            }
            // Only objects added since a published refresh call for it: not unloads alone, nor
            // the first refresh after an install or uninstall (which publish nothing), which
            // usually finds nothing to patch.
            None => focus::published_adds().is_some_and(|a| a != counters.0),
        };
    }
    Ok(Probe::Walk(Walk {
        full,
        start,
        prepare,
    }))
}

/// The common "nothing changed" refresh, decided from glibc's counters read lock-free, with no
/// clock read and no lock: nobody is inside `dlopen` or `dlclose` (the load lock is free), the
/// counters equal what the last refresh published, and it left no library LOADING and watches
/// no lazy slot (both need the probe's clock).  The same answer as the quiet probe below, which
/// reads the clock first because its other outcomes need a start stamp.  Otherwise `false`:
/// the caller decides as usual.
///
/// Why the load lock first: a `dlopen` that relocates bumps a word on the add counter's cache
/// line at every symbol lookup, and this is called in loops (a malloc hook); while the lock is
/// held the caller's own path avoids that line where it can (`focus::still_loading`, the
/// cached shortcut).
fn nothing_changed() -> bool {
    if crate::rtld::load_lock_owner() != 0 {
        return false;
    }
    let g = GENERATION.load(Ordering::Acquire);
    let Some(counters) = crate::rtld::counters() else {
        return false;
    };
    match focus::quiet(counters) {
        Some(q) if q.npending == 0 && !q.watch_lazy => {
            SEEN_GENERATION.store(g, Ordering::Release);
            true
        }
        _ => false,
    }
}

/// The second half of [`refresh`]: takes the loader's list lock, then the state lock, and does
/// the pass [`refresh_probe`] found due.
///
/// Locks and errors: as [`refresh`].
pub fn refresh_walk(w: Walk, rep: &mut Report) -> Result<()> {
    // Opened (and closed, when dropped) outside the loader's lock when the pass will likely
    // need it: every `dlopen` and `dlclose` of the process waits while a pass holds that lock.
    let mut query = crate::slot::PageQuery::new();
    if w.prepare {
        query.prepare();
    }
    locked(|mut st, counters| {
        let r = refresh_locked(&mut st, counters, w.full, w.start, rep, &mut query);
        focus::quiet_publish(&st);
        r
    })
}

/// The part of [`refresh`] that holds the state lock, inside the walk callback that read the
/// loader's `counters`.
fn refresh_locked(
    st: &mut State,
    counters: (u64, u64),
    full: bool,
    start: u64,
    rep: &mut Report,
    query: &mut crate::slot::PageQuery,
) -> Result<()> {
    let g = GENERATION.load(Ordering::Acquire);
    if st.sets.iter().all(|s| s.is_none()) {
        SEEN_GENERATION.store(g, Ordering::Release);
        probe::probed(start);
        return Ok(());
    }
    let changed = counters != st.counters || g != SEEN_GENERATION.load(Ordering::Acquire);
    let lazy_checked = LAZY_CHECKED.load(Ordering::Acquire);
    let lazy_due = st.watch_lazy && probe::interval_passed(lazy_checked, start);
    if !full && !changed && st.unsettled == 0 && !st.overflow && !lazy_due {
        SETTLED.store(1, Ordering::Release);
        SEEN_GENERATION.store(g, Ordering::Release);
        // While lazy slots are watched, this probe vouches only for what the last re-read
        // saw: stamping it with `start` would let the lock-free shortcut skip the re-read
        // that falls due before `start` + the interval.
        probe::probed(if st.watch_lazy { lazy_checked } else { start });
        return Ok(());
    }
    // Pacing holds back only the re-scans of an overflowed table, the one pass that repeats
    // forever: a pass for a load or unload is as frequent as the loads themselves, a pass
    // for a library seen LOADING is what makes "dlopen, then refresh" hook it, and lazy
    // re-checks happen at most once per probe interval.
    if !full && !changed && st.unsettled == 0 && !lazy_due && st.overflow && !probe::budget_allows()
    {
        return Err(Error::Busy);
    }
    let t0 = crate::sys::monotonic_ns();
    // After loads only, the new objects are the tail of the list (see `focus`): process
    // those.  It re-reads no lazy slot, so the probe vouches only for the last re-read.
    let tail = if full || lazy_due {
        None
    } else {
        focus::tail_len(st, counters, start)
    };
    if let Some(tail) = tail {
        let removed = focus::removed_since_sweep(counters);
        match focus::tail_pass(st, counters, tail, removed, rep, query) {
            Err(Error::Full) => {}
            r => {
                probe::charge(t0);
                SEEN_GENERATION.store(g, Ordering::Release);
                probe::probed(if st.watch_lazy { lazy_checked } else { start });
                return r;
            }
        }
    }
    // Every walking pass re-reads the watched lazy slots (`pass` checks each library's).
    LAZY_CHECKED.store(start, Ordering::Release);
    let r = pass(st, full, u32::MAX, rep, query);
    focus::after_full_pass(st, r.is_ok(), start);
    probe::charge(t0);
    SEEN_GENERATION.store(g, Ordering::Release);
    probe::probed(start);
    r
}

/// Uninstalls a set: restores each of its slots to what the set below it expects (the next
/// lower set's replacement, else the original) by compare-and-swap, re-points the originals of
/// sets stacked above it, and reports slots that changed meanwhile (left alone).
///
/// Context: malloc-safe.  Errors: `NotFound` (stale handle), `Busy`.
pub fn uninstall(id: SetId, rep: &mut Report) -> Result<()> {
    let r = locked(|st, _| uninstall_locked(st, id, rep));
    after_set_change();
    r
}

fn uninstall_locked(mut st: Guard<'_, State>, id: SetId, rep: &mut Report) -> Result<()> {
    let pos = st.set_pos(id).ok_or(Error::NotFound)?;
    if let Some(s) = st.sets[pos].as_mut().filter(|s| s.owners > 1) {
        s.owners -= 1;
        return Ok(());
    }
    // On failure (mprotect refused) the set and its handle stay: a later uninstall finishes.
    take_off(&mut st, pos, rep)?;
    // Sets stacked above this one called its replacement as their original: hand them ours.
    let gone_order = st.sets[pos].as_ref().map_or(0, |s| s.order);
    let mut repointed = 0u32;
    for q in 0..MAX_SETS {
        let Some(nq) = st.sets[q]
            .as_ref()
            .filter(|s| s.order > gone_order)
            .map(|s| s.nhooks)
        else {
            continue;
        };
        for k in 0..nq {
            let (symbol, current) = match st.sets[q].as_ref() {
                Some(s) => (s.hooks[k].symbol, s.originals[k]),
                None => break,
            };
            let handover = st.sets[pos].as_ref().and_then(|g| {
                g.hooks[..g.nhooks]
                    .iter()
                    .position(|x| x.symbol == symbol && x.replacement == current)
                    .map(|j| g.originals[j])
            });
            if let (Some(original), Some(s)) = (handover, st.sets[q].as_mut()) {
                s.originals[k] = original;
                repointed |= 1 << q;
                if let Some(cell) = s.hooks[k].original {
                    cell.store(original, Ordering::Release);
                }
            }
        }
    }
    forget(&mut st, pos, id);
    if repointed != 0 {
        // A re-pointed set may now match slots it skipped (they were bound to what it
        // expected to stack on): the next refresh walks and applies it again everywhere.
        for r in st.libs.iter_mut() {
            r.drop_applied(repointed);
        }
        st.counters = (u64::MAX, u64::MAX);
        SETTLED.store(0, Ordering::Release);
    }
    Ok(())
}

#[cfg(test)]
#[allow(unsafe_code)] // the tests call the real functions through published originals
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    static REAL_CALLOC: AtomicUsize = AtomicUsize::new(0);

    /// Forwards to the real calloc: the test harness's own threads keep allocating meanwhile.
    extern "C" fn forward_calloc(n: usize, size: usize) -> *mut core::ffi::c_void {
        let f: extern "C" fn(usize, usize) -> *mut core::ffi::c_void =
            // SAFETY: the test calls this hook only after install published the real calloc.
            unsafe { core::mem::transmute(REAL_CALLOC.load(Ordering::Acquire)) };
        f(n, size)
    }

    /// The value of libc's own calloc import slot (libc calls calloc through its PLT).
    fn libc_calloc_slot() -> usize {
        let mut value = 0;
        loader::each(0, |lib| {
            if lib.name.ends_with(b"/libc.so.6") {
                let d = lib.decode().unwrap();
                d.for_each_import(|imp| {
                    if imp.name == b"calloc" {
                        value = crate::slot::peek(&d, imp.reloc.slot).unwrap_or(0);
                    }
                    true
                })
                .unwrap();
                return false;
            }
            true
        })
        .unwrap();
        value
    }

    #[test]
    fn a_report_names_the_first_skipped_libraries_by_the_end_of_their_path_and_counts_the_rest() {
        let mut rep = Report::default();
        let mut listed = 0u32;
        loader::each(loader::LIBS_ALL, |lib| {
            listed += 1;
            let mut one = Report::default();
            one.lib_skipped(lib, SKIP_DECODE_FAILED);
            let s = &one.skipped[0];
            let keep = lib.name.len().min(SKIPPED_NAME - 1);
            assert_eq!(s.name(), &lib.name[lib.name.len() - keep..]);
            assert_eq!(s.name[keep], 0, "NUL-terminated");
            assert_eq!((s.bias, s.name_len), (lib.bias, lib.name.len() as u32));
            assert_eq!((one.libs_failed, one.libs_skipped), (1, 1));
            rep.add(&one);
            true
        })
        .unwrap();
        assert!(listed as usize > MAX_SKIPPED, "{listed} libraries listed");
        assert_eq!(rep.libs_failed, listed);
        assert_eq!(rep.libs_skipped as usize, MAX_SKIPPED);
        assert_eq!(rep.libs_skipped_more, listed - MAX_SKIPPED as u32);
    }

    #[test]
    fn a_skipped_library_is_counted_under_its_reason_and_named_with_it() {
        let mut first = None;
        loader::each(loader::LIBS_ALL, |lib| {
            let mut rep = Report::default();
            rep.lib_skipped(lib, SKIP_NOT_READY);
            rep.lib_skipped(lib, SKIP_UNTRACKED);
            rep.lib_skipped(lib, SKIP_NOT_READY);
            assert_eq!(
                (rep.libs_not_ready, rep.libs_failed, rep.libs_untracked),
                (2, 0, 1),
                "{rep:?}"
            );
            let reasons: [u32; 3] = core::array::from_fn(|k| rep.skipped[k].reason);
            assert_eq!(reasons, [SKIP_NOT_READY, SKIP_UNTRACKED, SKIP_NOT_READY]);
            assert_eq!((rep.libs_skipped, rep.libs_skipped_more), (3, 0));
            first.get_or_insert(rep.skipped[0]);
            false
        })
        .unwrap();
        assert!(first.is_some(), "no library listed");
    }

    #[test]
    fn a_long_path_is_kept_by_its_last_bytes_and_nul_terminated() {
        let mut path = [0u8; 60];
        for (k, b) in path.iter_mut().enumerate() {
            *b = b'A' + k as u8;
        }
        loader::each(loader::LIBS_ALL, |lib| {
            for len in [SKIPPED_NAME - 2, SKIPPED_NAME - 1, SKIPPED_NAME, 60] {
                let long = LibInfo {
                    name: &path[..len],
                    ..*lib
                };
                let s = Skipped::of(&long, SKIP_UNTRACKED);
                let keep = len.min(SKIPPED_NAME - 1);
                assert_eq!(s.name(), &path[len - keep..len], "length {len}");
                assert_eq!(s.name[keep], 0, "length {len}: NUL-terminated");
                assert_eq!(s.name_len as usize, len);
            }
            false
        })
        .unwrap();
    }

    #[test]
    fn a_full_library_table_degrades_to_full_passes_without_missing_a_library() {
        // With 2 entries, the main program and libgcc_s are tracked and libc is not.
        let before = libc_calloc_slot();
        let hooks = [Hook {
            symbol: b"calloc",
            replacement: forward_calloc as *const () as usize,
            original: Some(&REAL_CALLOC),
            flags: 0,
        }];
        let mut rep = Report::default();
        // The test binary embeds gothook, so it is SELF: include it to have 3 libraries to track.
        let filter = Filter {
            flags: FILTER_INCLUDE_SELF,
            ..Filter::default()
        };
        // SAFETY: forward_calloc has calloc's type and calls the published original.
        let id = unsafe { install(&hooks, &filter, &mut rep) }.unwrap();
        assert!(
            rep.libs_untracked > 0,
            "more than {MAX_LIBS} libraries to track: {rep:?}"
        );
        // The report names the library it could not track, by the end of its path.
        let named = rep.skipped[..rep.libs_skipped as usize]
            .iter()
            .any(|s| s.reason == SKIP_UNTRACKED && s.name().ends_with(b"libc.so.6") && s.bias != 0);
        assert!(named, "libc not named as untracked: {rep:?}");
        assert_eq!(
            rep.libs_skipped + rep.libs_skipped_more,
            rep.libs_untracked + rep.libs_not_ready + rep.libs_failed,
            "every skipped library named or counted: {rep:?}"
        );
        assert_eq!(
            libc_calloc_slot(),
            forward_calloc as *const () as usize,
            "untracked libc hooked: {rep:?}"
        );
        // Every refresh now says the table is full and re-scans the untracked libraries.
        let mut again = Report::default();
        assert_eq!(refresh(0, &mut again), Err(Error::Full));
        assert!(
            again.libs_untracked > 0 && again.slots_already >= 1,
            "{again:?}"
        );
        // Once those re-scans have spent the pacing budget, a plain refresh with nothing changed
        // answers Busy at once and scans nothing; REFRESH_FULL is never held back.
        probe::spend_budget();
        let mut held = Report::default();
        assert_eq!(refresh(0, &mut held), Err(Error::Busy), "{held:?}");
        assert_eq!(held.slots_already + held.libs_untracked, 0, "{held:?}");
        let mut forced = Report::default();
        assert_eq!(refresh(REFRESH_FULL, &mut forced), Err(Error::Full));
        assert!(forced.slots_already >= 1, "{forced:?}");
        let mut un = Report::default();
        uninstall(id, &mut un).unwrap();
        assert_eq!(libc_calloc_slot(), before, "{un:?}");
    }
}
