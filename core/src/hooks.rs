//! Hook sets: install, refresh, verify and uninstall across every READY library (design rule 4).
//! Fixed-capacity tables only; never allocates; every slot write goes through `slot::swap`,
//! and every library is read and patched inside the walk callback that reported it.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::dynamic::{Dynamic, ImportKind};
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, LibKind, Readiness};
use crate::lock::{Guard, OwnedLock};
use crate::probe;
use crate::slot;

/// Most hook sets installed at once.
pub const MAX_SETS: usize = 8;
/// Most hooks in one set.
pub const MAX_HOOKS: usize = 16;
/// Most libraries tracked for incremental refresh; beyond it refresh degrades to full passes.
#[cfg(not(test))]
pub const MAX_LIBS: usize = 1024;
/// Unit tests shrink the table so that this small test process overflows it.
#[cfg(test)]
pub const MAX_LIBS: usize = 2;
/// Most symbol-table indices remembered per wanted name in one library.
const MAX_INDICES: usize = 4;
/// Refreshes that re-check a lazily bound library after it was patched (lazy binding can
/// overwrite a slot when a thread was inside the PLT stub during the swap).
const LAZY_RECHECKS: u8 = 2;

/// Filter flag: also hook the object gothook is linked into (a statically linked profiler that
/// must see its own malloc calls).  Default: excluded.
pub const FILTER_INCLUDE_SELF: u32 = 1;
/// Filter flag: leave the main program alone.  Default: included.
pub const FILTER_EXCLUDE_MAIN: u32 = 2;
/// Mask of valid filter flags.
pub const FILTER_FLAGS: u32 = FILTER_INCLUDE_SELF | FILTER_EXCLUDE_MAIN;

/// Refresh flag: re-scan every tracked library and repair every slot (a full verify).
pub const REFRESH_FULL: u32 = 1;
/// Mask of valid refresh flags.
pub const REFRESH_FLAGS: u32 = REFRESH_FULL;

/// One hook: the imported symbol, its replacement and where to publish the original.
#[derive(Clone, Copy, Debug)]
pub struct Hook {
    /// Symbol name without NUL; must stay valid while the set is installed.
    pub symbol: &'static [u8],
    /// Address the slots are redirected to.
    pub replacement: usize,
    /// Where the original is published before the first swap (0: not published).
    pub original: *mut usize,
}

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
    /// An extra predicate with its two arguments.
    pub accept: Option<(AcceptFn, usize, usize)>,
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
}

impl Report {
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
    }
}

/// A handle to an installed set: never 0; stale handles answer `NotFound`.
pub type SetId = u32;

#[derive(Clone, Copy)]
struct Set {
    id: SetId,
    order: u32,
    hooks: [Hook; MAX_HOOKS],
    nhooks: usize,
    originals: [usize; MAX_HOOKS],
    filter: Filter,
}

const EMPTY_HOOK: Hook = Hook {
    symbol: b"",
    replacement: 0,
    original: core::ptr::null_mut(),
};

#[derive(Clone, Copy, Default)]
struct LibRec {
    /// 0 marks a free entry.
    used: bool,
    bias: usize,
    /// Hash of what else identifies a listed object: program headers, name string, first segment.
    key: u32,
    /// Walk epoch in which the library was last listed.
    seen: u32,
    /// Bit i: set in table position i has been applied.
    applied: u32,
    /// Not READY when last seen.
    pending: bool,
    /// Lazily bound: re-check this many more refreshes.
    rechecks: u8,
    /// One patched slot and the value written, to notice a library reloaded at the same place.
    sentinel: (usize, usize),
}

struct State {
    sets: [Option<Set>; MAX_SETS],
    next_order: u32,
    next_gen: u32,
    libs: [LibRec; MAX_LIBS],
    epoch: u32,
    /// Libraries left LOADING/UNKNOWN or awaiting a lazy re-check: refresh may not shortcut.
    unsettled: u32,
    /// A library could not be tracked (table full): refresh may not shortcut.
    overflow: bool,
    counters: (u64, u64),
}

// SAFETY: the raw `original` pointers in hooks are caller-owned cells that gothook only writes
// with atomic stores while holding the state lock.
unsafe impl Send for State {}

static STATE: OwnedLock<State> = OwnedLock::new_in_walks(State {
    sets: [None; MAX_SETS],
    next_order: 1,
    next_gen: 1,
    libs: [LibRec {
        used: false,
        bias: 0,
        key: 0,
        seen: 0,
        applied: 0,
        pending: false,
        rechecks: 0,
        sentinel: (0, 0),
    }; MAX_LIBS],
    epoch: 0,
    unsettled: 0,
    overflow: false,
    counters: (u64::MAX, u64::MAX),
});

/// Bumped by gothook's own dlopen/dlclose hooks after every call: a lock-free change signal.
pub static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The generation the last locked probe consumed.
static SEEN_GENERATION: AtomicU64 = AtomicU64::new(0);
/// Whether the dlopen/dlclose interception is installed.
pub static DLOPEN_HOOKED: AtomicU32 = AtomicU32::new(0);
/// Whether refresh may take the lock-free shortcut (no unsettled or untracked libraries, no
/// pass held back).
static SETTLED: AtomicU32 = AtomicU32::new(0);

/// Runs `f` holding the state lock, which is taken inside a walk callback: the order is always
/// the loader's list lock, then the state lock, so waiting for it cannot deadlock with a thread
/// that holds the loader's lock (see `lock`).  `f` also gets the loader's (adds, subs) counters,
/// read under the same hold.  `Busy` on same-thread re-entry, or in a child forked during a walk.
///
/// Fork: the state lock is only ever held inside a walk, so a child forked while a parent thread
/// held it (and possibly had the state half-updated) is a child that refuses to walk at all; a
/// child that may walk always finds the lock free and the state whole.
fn locked<R>(f: impl FnOnce(Guard<'_, State>, (u64, u64)) -> Result<R>) -> Result<R> {
    probe::under_list_lock(|counters| f(STATE.lock()?, counters))
}

fn suffix_matches(name: &[u8], suffix: &[u8]) -> bool {
    name.len() >= suffix.len() && &name[name.len() - suffix.len()..] == suffix
}

impl Filter {
    fn accepts(&self, lib: &LibInfo<'_>) -> bool {
        match lib.kind {
            LibKind::Vdso | LibKind::Loader => return false,
            LibKind::SelfLib if self.flags & FILTER_INCLUDE_SELF == 0 => return false,
            LibKind::Main if self.flags & FILTER_EXCLUDE_MAIN != 0 => return false,
            _ => {}
        }
        if let Some(s) = self.path_suffix {
            if !suffix_matches(lib.name, s) {
                return false;
            }
        }
        if self.contains != 0 && !lib.contains(self.contains) {
            return false;
        }
        match self.accept {
            Some((f, a, b)) => f(lib, a, b),
            None => true,
        }
    }
}

impl State {
    fn set_pos(&self, id: SetId) -> Option<usize> {
        self.sets
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id))
    }

    /// Active set positions in install order.
    fn ordered(&self) -> ([usize; MAX_SETS], usize) {
        let mut out = [0usize; MAX_SETS];
        let mut n = 0;
        for (i, s) in self.sets.iter().enumerate() {
            if s.is_some() {
                out[n] = i;
                n += 1;
            }
        }
        out[..n].sort_unstable_by_key(|&i| self.sets[i].as_ref().map_or(0, |s| s.order));
        (out, n)
    }

    fn find_lib(&self, lib: &LibInfo<'_>) -> Option<usize> {
        let key = key_of(lib);
        let h = home(lib.bias, key);
        (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .take_while(|&i| self.libs[i].used)
            .find(|&i| self.libs[i].bias == lib.bias && self.libs[i].key == key)
    }

    fn insert_lib(&mut self, lib: &LibInfo<'_>) -> Option<usize> {
        let key = key_of(lib);
        let h = home(lib.bias, key);
        let i = (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .find(|&i| !self.libs[i].used)?;
        self.libs[i] = LibRec {
            used: true,
            bias: lib.bias,
            key,
            ..LibRec::default()
        };
        Some(i)
    }

    /// Drops records of libraries not listed in the current epoch (linear probing, backward shift).
    fn sweep(&mut self) {
        let mut i = 0;
        while i < MAX_LIBS {
            if self.libs[i].used && self.libs[i].seen != self.epoch {
                self.remove_at(i);
                // The shift may have moved another stale entry into `i`: look again.
                continue;
            }
            i += 1;
        }
    }

    fn remove_at(&mut self, mut hole: usize) {
        self.libs[hole] = LibRec::default();
        let mut j = hole;
        loop {
            j = (j + 1) % MAX_LIBS;
            if !self.libs[j].used {
                return;
            }
            let h = home(self.libs[j].bias, self.libs[j].key);
            // Move j into the hole if its home is not cyclically in (hole, j].
            let in_range = if hole <= j {
                h > hole && h <= j
            } else {
                h > hole || h <= j
            };
            if !in_range {
                self.libs[hole] = self.libs[j];
                self.libs[j] = LibRec::default();
                hole = j;
            }
        }
    }
}

fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

fn home(bias: usize, key: u32) -> usize {
    (mix(bias as u64 ^ ((key as u64) << 32)) % MAX_LIBS as u64) as usize
}

/// What identifies a listed object besides its bias: a library unloaded and replaced by another
/// at the same address differs in at least one of these (or, if not, its sentinel slot reverted).
fn key_of(lib: &LibInfo<'_>) -> u32 {
    let seg_end = lib.segs.iter().next().map_or(0, |r| r.end);
    mix(mix(lib.phdr as u64) ^ mix(lib.name_ptr as u64).rotate_left(21) ^ seg_end as u64) as u32
}

/// One wanted name in one library: the symbol-table indices that carry it and the value its
/// slots must hold (the replacement of the last-installed set that hooks it).
#[derive(Clone, Copy)]
struct Want {
    desired: usize,
    top: u8,
    nindices: u8,
    indices: [u32; MAX_INDICES],
}

/// Most distinct hooked names that apply to one library.
const MAX_WANTS: usize = 16;

const EMPTY_WANT: Want = Want {
    desired: 0,
    top: 0,
    nindices: 0,
    indices: [0; MAX_INDICES],
};

/// Whether `value` is the replacement of a set below `want.top` hooking the same name (then a
/// slot holding it is being stacked on, not repaired).
fn is_lower_replacement(
    st: &State,
    order: &[usize],
    name: &[u8],
    want: &Want,
    value: usize,
) -> bool {
    order
        .iter()
        .filter(|&&p| p != want.top as usize)
        .filter_map(|&p| st.sets[p].as_ref())
        .any(|s| {
            s.hooks[..s.nhooks]
                .iter()
                .any(|h| h.symbol == name && h.replacement == value)
        })
}

/// Fills in the symbol-table indices of each wanted name: one pass over the indices no hash
/// table covers (below GNU `symoffset` live the undefined symbols), hash lookups for the rest.
fn find_indices(d: &Dynamic, names: &[&[u8]], wants: &mut [Want]) -> Result<()> {
    fn record(w: &mut Want, i: u32) {
        let m = w.nindices as usize;
        if m < MAX_INDICES && !w.indices[..m].contains(&i) {
            w.indices[m] = i;
            w.nindices += 1;
        }
    }
    let linear_end = if d.gnu_hash != 0 {
        d.symoffset
    } else if d.hash == 0 {
        d.nsyms
    } else {
        0
    };
    d.find_names_below(linear_end, names, |k, i| record(&mut wants[k], i))?;
    if d.gnu_hash != 0 || d.hash != 0 {
        for (w, name) in wants.iter_mut().zip(names) {
            let mut found = [0u32; MAX_INDICES];
            let mut m = 0;
            d.find_hashed(name, |s| {
                if s.index >= linear_end {
                    found[m] = s.index;
                    m += 1;
                }
                m < MAX_INDICES
            })?;
            for &i in &found[..m] {
                record(w, i);
            }
        }
    }
    Ok(())
}

/// Applies the sets in `order` (install order) that accept `lib` to its import slots, in one
/// pass over its relocation tables.  `was_applied` says which sets were applied before (then a
/// reverted slot counts as repaired).  Returns the first slot patched, for the sentinel.
fn apply(
    st: &State,
    d: &Dynamic,
    order: &[usize],
    was_applied: u32,
    rep: &mut Report,
) -> Result<Option<(usize, usize)>> {
    let mut wants = [EMPTY_WANT; MAX_WANTS];
    let mut names: [&[u8]; MAX_WANTS] = [b""; MAX_WANTS];
    let mut n = 0;
    for &p in order {
        let s = st.sets[p].as_ref().ok_or(Error::NotFound)?;
        for h in &s.hooks[..s.nhooks] {
            // `order` is install order, so the last set to name a symbol ends on top.
            let k = match names[..n].iter().position(|&x| x == h.symbol) {
                Some(k) => k,
                None if n < MAX_WANTS => {
                    n += 1;
                    n - 1
                }
                None => return Err(Error::Full),
            };
            names[k] = h.symbol;
            wants[k].desired = h.replacement;
            wants[k].top = p as u8;
        }
    }
    if n == 0 {
        return Ok(None);
    }
    find_indices(d, &names[..n], &mut wants[..n])?;
    if wants[..n].iter().all(|w| w.nindices == 0) {
        return Ok(None);
    }
    let arch = d.arch()?;
    let mut batch = slot::Batch::begin()?;
    let mut sentinel = None;
    let mut err = None;
    d.for_each_raw_reloc(|offset, sym, r_type, addend, table| {
        let Some(k) = wants[..n]
            .iter()
            .position(|w| w.indices[..w.nindices as usize].contains(&sym))
        else {
            return true;
        };
        let w = &wants[k];
        let r = match d.import_reloc(arch, offset, sym, r_type, addend, table) {
            Ok(Some(r)) => r,
            Ok(None) => return true,
            Err(e) => {
                err = Some(e);
                return false;
            }
        };
        // A data slot with an addend holds symbol + addend: not a pointer we can redirect.
        if r.kind == ImportKind::Abs && r.addend != 0 {
            return true;
        }
        let current = slot::peek(r.slot);
        if current == w.desired {
            rep.slots_already += 1;
        } else {
            match batch.swap(d, r.slot, current, w.desired) {
                Ok(()) => {
                    if was_applied & (1 << w.top) != 0
                        && !is_lower_replacement(st, order, names[k], w, current)
                    {
                        rep.slots_repaired += 1;
                    } else {
                        rep.slots_patched += 1;
                    }
                }
                Err(Error::Changed) => rep.slots_conflict += 1,
                Err(e) => {
                    err = Some(e);
                    return false;
                }
            }
        }
        if sentinel.is_none() {
            sentinel = Some((r.slot, w.desired));
        }
        true
    })?;
    batch.finish()?;
    match err {
        Some(e) => Err(e),
        None => Ok(sentinel),
    }
}

/// Positions (install order) of the sets whose filter accepts `lib`.
fn accepting(st: &State, all: &[usize], lib: &LibInfo<'_>) -> ([usize; MAX_SETS], usize, u32) {
    let mut out = [0usize; MAX_SETS];
    let mut m = 0;
    let mut mask = 0u32;
    for &p in all {
        if st.sets[p].as_ref().is_some_and(|s| s.filter.accepts(lib)) {
            out[m] = p;
            m += 1;
            mask |= 1 << p;
        }
    }
    (out, m, mask)
}

/// Processes every listed library: new, not-yet-READY, reloaded or due for re-check ones are
/// patched; the rest cost a table lookup.  With `full`, every library is re-scanned.
fn pass(st: &mut State, full: bool, rep: &mut Report) -> Result<()> {
    st.epoch = st.epoch.wrapping_add(1);
    let epoch = st.epoch;
    let mut unsettled = 0u32;
    let mut overflow = false;
    let mut first_err = None;
    let mut counters = (0, 0);
    let (all, nall) = st.ordered();
    loader::each(loader::LIBS_ALL, |lib| {
        counters = (lib.adds, lib.subs);
        let (order, n, mask) = accepting(st, &all[..nall], lib);
        if n == 0 {
            rep.libs_filtered += 1;
            if let Some(i) = st.find_lib(lib) {
                st.libs[i].seen = epoch;
            }
            return true;
        }
        let rec = match st.find_lib(lib) {
            Some(i) => Some(i),
            None => {
                let i = st.insert_lib(lib);
                if i.is_none() {
                    overflow = true;
                    rep.libs_untracked += 1;
                }
                i
            }
        };
        if let Some(i) = rec {
            st.libs[i].seen = epoch;
        }
        if lib.readiness != Readiness::Ready {
            rep.libs_not_ready += 1;
            unsettled += 1;
            if let Some(i) = rec {
                st.libs[i].pending = true;
            }
            return true;
        }
        let due = match rec {
            None => true,
            Some(i) => {
                let r = &st.libs[i];
                full || r.pending
                    || r.rechecks > 0
                    || r.applied & mask != mask
                    // A library reloaded at the same place: its sentinel slot was reset.
                    || (r.sentinel.0 != 0 && lib.contains(r.sentinel.0) && sentinel_moved(r.sentinel))
            }
        };
        if !due {
            return true;
        }
        let d = match lib.decode() {
            Ok(d) => d,
            Err(e) => {
                rep.libs_failed += 1;
                first_err.get_or_insert(e);
                if let Some(i) = rec {
                    st.libs[i].applied |= mask;
                    st.libs[i].pending = false;
                }
                return true;
            }
        };
        let was = rec.map_or(0, |i| st.libs[i].applied);
        let mut lib_rep = Report::default();
        match apply(st, &d, &order[..n], was, &mut lib_rep) {
            Ok(sentinel) => {
                if lib_rep.slots_patched + lib_rep.slots_repaired + lib_rep.slots_already > 0 {
                    lib_rep.libs_patched = 1;
                }
                if let Some(i) = rec {
                    let r = &mut st.libs[i];
                    let fresh = r.applied & mask != mask || r.pending;
                    r.applied |= mask;
                    r.pending = false;
                    r.sentinel = sentinel.unwrap_or((0, 0));
                    if d.bind_now == 0 && sentinel.is_some() {
                        r.rechecks = if fresh || lib_rep.slots_patched + lib_rep.slots_repaired > 0
                        {
                            LAZY_RECHECKS
                        } else {
                            r.rechecks.saturating_sub(1)
                        };
                    } else {
                        r.rechecks = 0;
                    }
                    if r.rechecks > 0 {
                        unsettled += 1;
                    }
                }
            }
            Err(e) => {
                lib_rep.libs_failed = 1;
                first_err.get_or_insert(e);
            }
        }
        rep.add(&lib_rep);
        true
    })?;
    st.sweep();
    st.unsettled = unsettled;
    st.overflow = overflow;
    st.counters = counters;
    SETTLED.store((unsettled == 0 && !overflow) as u32, Ordering::Release);
    if overflow {
        return Err(Error::Full);
    }
    first_err.map_or(Ok(()), Err)
}

fn sentinel_moved((slot, value): (usize, usize)) -> bool {
    // SAFETY-free: the slot lies in a listed library (checked by the caller) and is aligned.
    crate::slot::peek(slot) != value
}

/// Looks up the originals of `hooks`: the replacement of the latest installed set hooking the
/// same name (sets stack), else the global-scope definition (after `next_after` if set).
fn originals(st: &State, hooks: &[Hook], next_after: usize, out: &mut [usize]) -> Result<()> {
    let (order, n) = st.ordered();
    for (h, o) in hooks.iter().zip(out.iter_mut()) {
        let stacked = order[..n].iter().rev().find_map(|&p| {
            st.sets[p]
                .as_ref()
                .and_then(|s| s.hooks[..s.nhooks].iter().find(|x| x.symbol == h.symbol))
                .map(|x| x.replacement)
        });
        *o = match stacked {
            Some(r) => r,
            None => loader::global_lookup(h.symbol, (next_after != 0).then_some(next_after))?,
        };
    }
    Ok(())
}

/// Installs a hook set: publishes every original, then patches every import slot of the hooked
/// symbols (PLT, GLOB_DAT, ABS data slots) in every READY library the filter accepts.
/// Installing an identical set again returns the same handle and patches nothing new.
///
/// Locks: the loader's list lock, then the state lock inside its callback (see [`refresh`]).
/// Context: malloc-safe.  Errors: `Invalid` (no hooks, too many, empty name, null replacement,
/// unknown flags), `NotFound` (a symbol has no definition), `Full` (no free set), `Busy`
/// (re-entry on this thread, or a child forked during a walk).
pub fn install(hooks: &[Hook], filter: &Filter, rep: &mut Report) -> Result<SetId> {
    if hooks.is_empty() || hooks.len() > MAX_HOOKS || filter.flags & !FILTER_FLAGS != 0 {
        return Err(Error::Invalid);
    }
    for (i, h) in hooks.iter().enumerate() {
        if h.symbol.is_empty()
            || h.replacement == 0
            || hooks[..i].iter().any(|o| o.symbol == h.symbol)
        {
            return Err(Error::Invalid);
        }
    }
    locked(|st, _| install_locked(st, hooks, filter, rep))
}

fn install_locked(
    mut st: Guard<'_, State>,
    hooks: &[Hook],
    filter: &Filter,
    rep: &mut Report,
) -> Result<SetId> {
    if let Some(s) = st
        .sets
        .iter()
        .flatten()
        .find(|s| same_set(s, hooks, filter))
    {
        return Ok(s.id);
    }
    let pos = st
        .sets
        .iter()
        .position(|s| s.is_none())
        .ok_or(Error::Full)?;
    let mut found = [0usize; MAX_HOOKS];
    originals(&st, hooks, filter.next_after, &mut found)?;
    for (h, &o) in hooks.iter().zip(found.iter()) {
        if !h.original.is_null() {
            // SAFETY: the caller handed a valid cell for the set's lifetime (API contract).
            unsafe { slot::publish(h.original, o) };
        }
    }
    let id = ((st.next_gen & 0x00ff_ffff) << 8) | (pos as u32 + 1);
    let order = st.next_order;
    st.next_gen = st.next_gen.wrapping_add(1).max(1);
    st.next_order += 1;
    // Built in place: a Set is most of a kilobyte and this runs inside malloc hooks.
    let set = st.sets[pos].insert(Set {
        id,
        order,
        hooks: [EMPTY_HOOK; MAX_HOOKS],
        nhooks: hooks.len(),
        originals: found,
        filter: *filter,
    });
    set.hooks[..hooks.len()].copy_from_slice(hooks);
    for r in st.libs.iter_mut() {
        r.applied &= !(1 << pos);
    }
    match pass(&mut st, false, rep) {
        Ok(()) | Err(Error::Full) | Err(Error::Malformed) | Err(Error::Unsupported) => {}
        Err(e) => return Err(e),
    }
    Ok(id)
}

fn same_set(s: &Set, hooks: &[Hook], f: &Filter) -> bool {
    s.nhooks == hooks.len()
        && s.hooks[..s.nhooks].iter().zip(hooks).all(|(a, b)| {
            a.symbol == b.symbol && a.replacement == b.replacement && a.original == b.original
        })
        && s.filter.flags == f.flags
        && s.filter.path_suffix == f.path_suffix
        && s.filter.contains == f.contains
        && s.filter.next_after == f.next_after
        && s.filter.accept.map(|(g, a, b)| (g as usize, a, b))
            == f.accept.map(|(g, a, b)| (g as usize, a, b))
}

/// Catches up after libraries were loaded or unloaded.  With the dlopen interception installed,
/// lock-free and O(1) when a locked probe that started less than [`probe::PROBE_INTERVAL_NS`] ago
/// has completed, the interception saw no call since, and no library was left LOADING/UNKNOWN
/// or awaits a lazy re-check.  Otherwise one locked probe of the loader's counters (one walk
/// callback, no syscall); if they changed, one pass that patches only new, not-yet-READY,
/// reloaded and re-check-due libraries.
/// `REFRESH_FULL` re-scans every library (verify and repair everything).
///
/// A library that finished loading at time t is hooked by the first refresh that starts at or
/// after t + [`probe::PROBE_INTERVAL_NS`] and does not answer `Busy` (see [`probe`]).
///
/// Never sleeps or spins.  The re-scan of an overflowed library table (the one pass that would
/// repeat on every call) is paced ([`probe::LOCK_SHARE_INVERSE`]): one the budget holds back is
/// not done, `Busy` at once.  Passes for loads, unloads, libraries seen LOADING and lazy
/// re-checks, and `REFRESH_FULL`, are never held back.
///
/// Locks: the loader's list lock, then the state lock (waited for only while holding the
/// loader's lock, so never behind a thread that waits for the loader).
/// Context: malloc-safe.  Errors: `Invalid`, `Busy` (re-entry on this thread; an overflowed
/// table's re-scan held back by pacing; a child forked while a walk was in flight), `Full` (the
/// library table overflowed; a full pass was done, nothing was missed).
pub fn refresh(flags: u32, rep: &mut Report) -> Result<()> {
    if flags & !REFRESH_FLAGS != 0 {
        return Err(Error::Invalid);
    }
    let full = flags & REFRESH_FULL != 0;
    // Without the interception nothing signals a dlopen lock-free, and callers expect a refresh
    // after their dlopen to catch it: every refresh probes.  With it, the generation signals
    // every intercepted load at once and the probe interval bounds the loads glibc makes itself.
    if !full
        && SETTLED.load(Ordering::Acquire) != 0
        && DLOPEN_HOOKED.load(Ordering::Acquire) != 0
        && GENERATION.load(Ordering::Acquire) == SEEN_GENERATION.load(Ordering::Acquire)
        && probe::probed_recently()
    {
        return Ok(());
    }
    let start = probe::probe_start();
    locked(|mut st, counters| {
        let g = GENERATION.load(Ordering::Acquire);
        if st.sets.iter().all(|s| s.is_none()) {
            SEEN_GENERATION.store(g, Ordering::Release);
            probe::probed(start);
            return Ok(());
        }
        let changed = counters != st.counters || g != SEEN_GENERATION.load(Ordering::Acquire);
        if !full && !changed && st.unsettled == 0 && !st.overflow {
            SETTLED.store(1, Ordering::Release);
            SEEN_GENERATION.store(g, Ordering::Release);
            probe::probed(start);
            return Ok(());
        }
        // Pacing holds back only the re-scans of an overflowed table, the one pass that repeats
        // forever: a pass for a load or unload is as frequent as the loads themselves, a pass
        // for a library seen LOADING is what makes "dlopen, then refresh" hook it, and lazy
        // re-checks end after a few passes.
        if !full && !changed && st.unsettled == 0 && st.overflow && !probe::budget_allows() {
            return Err(Error::Busy);
        }
        let t0 = crate::sys::monotonic_ns();
        let r = pass(&mut st, full, rep);
        probe::charge(t0);
        SEEN_GENERATION.store(g, Ordering::Release);
        probe::probed(start);
        r
    })
}

/// Uninstalls a set: restores each of its slots to what the set below it expects (the next
/// lower set's replacement, else the original) by compare-and-swap, re-points the originals of
/// sets stacked above it, and reports slots that changed meanwhile (left alone).
///
/// Locks: the loader's list lock, then the state lock inside its callback (see [`refresh`]).
/// Context: malloc-safe.  Errors: `NotFound` (stale handle), `Busy` (re-entry on this thread, or
/// a child forked during a walk).
pub fn uninstall(id: SetId, rep: &mut Report) -> Result<()> {
    locked(|st, _| uninstall_locked(st, id, rep))
}

fn uninstall_locked(mut st: Guard<'_, State>, id: SetId, rep: &mut Report) -> Result<()> {
    let pos = st.set_pos(id).ok_or(Error::NotFound)?;
    let mut first_err = None;
    let (all, nall) = st.ordered();
    loader::each(0, |lib| {
        let (order, n, mask) = accepting(&st, &all[..nall], lib);
        if mask & (1 << pos) == 0 {
            return true;
        }
        let Ok(d) = lib.decode() else {
            rep.libs_failed += 1;
            return true;
        };
        if let Err(e) = restore(&st, pos, &d, &order[..n], rep) {
            first_err.get_or_insert(e);
        }
        true
    })?;
    // Sets stacked above this one called its replacement as their original: hand them ours.
    let gone_order = st.sets[pos].as_ref().map_or(0, |s| s.order);
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
                if !s.hooks[k].original.is_null() {
                    // SAFETY: the set's owner keeps the cell valid while installed.
                    unsafe { slot::publish(s.hooks[k].original, original) };
                }
            }
        }
    }
    st.sets[pos] = None;
    if crate::intercept::SET
        .compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        DLOPEN_HOOKED.store(0, Ordering::Release);
    }
    for r in st.libs.iter_mut() {
        r.applied &= !(1 << pos);
    }
    first_err.map_or(Ok(()), Err)
}

fn restore(st: &State, pos: usize, d: &Dynamic, order: &[usize], rep: &mut Report) -> Result<()> {
    let set = st.sets[pos].as_ref().ok_or(Error::NotFound)?;
    let mut wants = [EMPTY_WANT; MAX_HOOKS];
    let mut names: [&[u8]; MAX_HOOKS] = [b""; MAX_HOOKS];
    for (k, h) in set.hooks[..set.nhooks].iter().enumerate() {
        names[k] = h.symbol;
    }
    find_indices(d, &names[..set.nhooks], &mut wants[..set.nhooks])?;
    let mut batch = slot::Batch::begin()?;
    let mut restored = 0;
    let mut err = None;
    d.for_each_reloc(|r| {
        let Some(k) = (0..set.nhooks)
            .find(|&k| wants[k].indices[..wants[k].nindices as usize].contains(&r.sym))
        else {
            return true;
        };
        let h = &set.hooks[k];
        let current = slot::peek(r.slot);
        if current != h.replacement {
            // Held by a set stacked above us (it will restore to our original) or changed.
            let above = order.iter().any(|&p| {
                p != pos
                    && st.sets[p].as_ref().is_some_and(|s| {
                        s.order > set.order
                            && s.hooks[..s.nhooks]
                                .iter()
                                .any(|x| x.symbol == h.symbol && x.replacement == current)
                    })
            });
            if !above {
                rep.slots_changed += 1;
            }
            return true;
        }
        // The set just below us in install order, if it hooks this name, else our original.
        let below = order
            .iter()
            .rev()
            .filter_map(|&p| st.sets[p].as_ref())
            .filter(|s| s.order < set.order)
            .find_map(|s| {
                s.hooks[..s.nhooks]
                    .iter()
                    .find(|x| x.symbol == h.symbol)
                    .map(|x| x.replacement)
            });
        let target = below.unwrap_or(set.originals[k]);
        match batch.swap(d, r.slot, current, target) {
            Ok(()) => restored += 1,
            Err(Error::Changed) => rep.slots_changed += 1,
            Err(e) => {
                err = Some(e);
                return false;
            }
        }
        true
    })?;
    batch.finish()?;
    rep.slots_restored += restored;
    if restored > 0 {
        rep.libs_patched += 1;
    }
    err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    static REAL_CALLOC: AtomicUsize = AtomicUsize::new(0);

    /// Forwards to the real calloc: the test harness's own threads keep allocating meanwhile.
    extern "C" fn forward_calloc(n: usize, size: usize) -> *mut core::ffi::c_void {
        let f: extern "C" fn(usize, usize) -> *mut core::ffi::c_void =
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
                        value = slot::peek(imp.reloc.slot);
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
    fn a_full_library_table_degrades_to_full_passes_without_missing_a_library() {
        // With 2 entries, the main program and libgcc_s are tracked and libc is not.
        let before = libc_calloc_slot();
        let hooks = [Hook {
            symbol: b"calloc",
            replacement: forward_calloc as *const () as usize,
            original: REAL_CALLOC.as_ptr(),
        }];
        let mut rep = Report::default();
        let id = install(&hooks, &Filter::default(), &mut rep).unwrap();
        assert!(
            rep.libs_untracked > 0,
            "more than {MAX_LIBS} libraries to track: {rep:?}"
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
        let mut un = Report::default();
        uninstall(id, &mut un).unwrap();
        assert_eq!(libc_calloc_slot(), before, "{un:?}");
    }
}
