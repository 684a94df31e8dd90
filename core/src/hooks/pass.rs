//! The patch and restore passes: one scan of a library's relocation tables for every wanted
//! name, with every slot write going through `slot::Batch` inside the walk callback.

use crate::dynamic::{Dynamic, ImportKind, Table};
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, Readiness};
use crate::read::Memory;
use crate::slot;

use super::*;

/// One wanted name in one library: the symbol-table indices that carry it and, per set
/// position, which of that set's hooks names it (`NO_HOOK`: the set does not hook it).
#[derive(Clone, Copy)]
pub(super) struct Want {
    pub(super) hook_of: [u8; MAX_SETS],
    pub(super) nindices: u8,
    pub(super) indices: [u32; MAX_INDICES],
}

/// Most distinct hooked names across all installed sets (install fails up front beyond it).
pub const MAX_WANTS: usize = 32;
/// `Want::hook_of` entry of a set that does not hook the name.
pub(super) const NO_HOOK: u8 = u8::MAX;

pub(super) const EMPTY_WANT: Want = Want {
    hook_of: [NO_HOOK; MAX_SETS],
    nindices: 0,
    indices: [0; MAX_INDICES],
};

/// A pass's per-library tables: the wanted names, their symbol indices and the lazy slots
/// noted.  Kept in the state (static, used only under its lock) so that the walk callback of a
/// pass, which runs inside malloc hooks and signal handlers, stays small on the stack.  Written
/// entry by entry, never cleared in bulk: a bulk clear becomes a libc `memset` call, which a
/// race detector intercepting libc (and blind to gothook's own lock) would report.
pub(super) struct Scratch {
    pub(super) wants: [Want; MAX_WANTS],
    pub(super) names: [&'static [u8]; MAX_WANTS],
    pub(super) notes: Notes,
}

// `restore` keeps one set's hooks in the want table.
const _: () = assert!(MAX_HOOKS <= MAX_WANTS);

pub(super) const EMPTY_SCRATCH: Scratch = Scratch {
    wants: [EMPTY_WANT; MAX_WANTS],
    names: [b""; MAX_WANTS],
    notes: Notes::new(),
};

/// How one slot's value relates to the sets hooking its name in its library.
pub(super) struct Chain {
    /// What the slot must hold: the replacement of the topmost set whose original is what the
    /// slot holds without it, else the slot's own binding.
    pub(super) desired: usize,
    /// Sets (bit = position) stacked on this slot.
    pub(super) applied: u32,
    /// Sets that accept the library but whose original is not what the slot is bound to.
    pub(super) skipped: u32,
    /// The slot already held the replacement of one of the sets.
    pub(super) carried: bool,
}

/// Works out which sets a slot holding `value` carries, bottom to top (the binding rule).
///
/// A slot holding a set's replacement carries that set and, by construction, everything below
/// it.  Starting from there (or from the slot's own binding), each higher set is stacked only
/// when its original equals what the slot holds without it; otherwise it is skipped (the slot
/// is bound to another definition: a symbol version, an RTLD_DEEPBIND scope, another
/// interposer).  `unbound` says the slot still holds its lazy PLT stub, which counts as bound to
/// what the lowest set expects; a set with `next_after` stacks on any binding (its caller chose
/// its original).  `exclude` computes the chain as if that set were gone: its replacement counts
/// as its original, and originals equal to its replacement as its original too.
pub(super) fn chain(
    sets: &[Option<Set>; MAX_SETS],
    order: &[usize],
    w: &Want,
    value: usize,
    unbound: bool,
    exclude: Option<usize>,
) -> Chain {
    let hook = |p: usize| {
        let h = w.hook_of[p];
        sets[p].as_ref().filter(|_| h != NO_HOOK).map(|s| {
            (
                s.hooks[h as usize].replacement,
                s.originals[h as usize],
                s,
                h as usize,
            )
        })
    };
    let gone = exclude.and_then(&hook).map(|(r, o, _, _)| (r, o));
    let mut cur = value;
    if let Some((r, o)) = gone {
        if cur == r {
            cur = o;
        }
    }
    let mut c = Chain {
        desired: cur,
        applied: 0,
        skipped: 0,
        carried: false,
    };
    let mut list = [0usize; MAX_SETS];
    let mut n = 0;
    for &p in order {
        if Some(p) != exclude && hook(p).is_some() {
            list[n] = p;
            n += 1;
        }
    }
    let mut start = 0;
    let mut stub = unbound;
    if let Some(i) = (0..n)
        .rev()
        .find(|&i| hook(list[i]).is_some_and(|(r, _, _, _)| r == cur))
    {
        start = i + 1;
        c.applied |= 1 << list[i];
        c.carried = true;
        stub = false;
    }
    for &p in &list[start..n] {
        let Some((r, o, s, h)) = hook(p) else {
            continue;
        };
        let o = match gone {
            Some((gr, go)) if o == gr => go,
            _ => o,
        };
        let on_base = c.applied == 0;
        let canonical = on_base && s.canonical[h] != 0 && s.canonical[h] == cur;
        if stub || o == cur || canonical || (on_base && s.filter.next_after != 0) {
            cur = r;
            c.applied |= 1 << p;
            stub = false;
        } else {
            c.skipped |= 1 << p;
        }
    }
    c.desired = cur;
    c
}

/// A 1024-bit prefilter of wanted symbol indices: a relocation whose `r_sym` misses it (almost
/// all of them) costs one load and a bit test instead of a search of the want table.
pub(super) struct IndexFilter([u64; 16]);

impl IndexFilter {
    pub(super) fn of(wants: &[Want]) -> IndexFilter {
        let mut bits = [0u64; 16];
        for w in wants {
            for &i in &w.indices[..w.nindices as usize] {
                bits[(i as usize >> 6) & 15] |= 1 << (i & 63);
            }
        }
        IndexFilter(bits)
    }

    #[inline(always)]
    pub(super) fn may_hold(&self, sym: u32) -> bool {
        self.0[(sym as usize >> 6) & 15] & (1 << (sym & 63)) != 0
    }
}

/// Fills in the symbol-table indices of each wanted name: one pass over the indices no hash
/// table covers (below GNU `symoffset` live the undefined symbols), hash lookups for the rest.
pub(super) fn find_indices(d: &Dynamic, names: &[&[u8]], wants: &mut [Want]) -> Result<()> {
    pub(super) fn record(w: &mut Want, i: u32) {
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
/// pass over its relocation tables, by the binding rule of [`chain`].  `was_applied` says which
/// sets were applied before (then a reverted slot counts as repaired); only slots that involve
/// a set in `focus` are counted.  Returns the first slot patched, for the sentinel.
///
/// Not inlined into the walk callback: its frame and `Dynamic::decode`'s are never on the
/// stack together.
#[inline(never)]
pub(super) fn apply(
    sets: &[Option<Set>; MAX_SETS],
    sc: &mut Scratch,
    d: &Dynamic,
    order: &[usize],
    was_applied: u32,
    focus: u32,
    rep: &mut Report,
) -> Result<Option<(usize, usize)>> {
    let Scratch {
        wants,
        names,
        notes,
    } = sc;
    notes.clear();
    let mut n = 0;
    for &p in order {
        let s = sets[p].as_ref().ok_or(Error::NotFound)?;
        for (j, h) in s.active() {
            let k = match names[..n].iter().position(|&x| x == h.symbol) {
                Some(k) => k,
                None if n < MAX_WANTS => {
                    wants[n] = EMPTY_WANT;
                    n += 1;
                    n - 1
                }
                None => return Err(Error::Full),
            };
            names[k] = h.symbol;
            wants[k].hook_of[p] = j as u8;
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
    let prefilter = IndexFilter::of(&wants[..n]);
    let mut batch = slot::Batch::begin()?;
    let mut sentinel = None;
    let mut err = None;
    d.for_each_raw_reloc(|offset, sym, r_type, addend, table| {
        if !prefilter.may_hold(sym) {
            return true;
        }
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
        let current = slot::peek(d, r.slot).unwrap_or(0);
        // A lazy PLT stub lies inside the library; so does a definition of its own (bound to
        // itself, e.g. under RTLD_DEEPBIND), told apart by a lookup (rare: lazy slots only).
        let unbound = r.table == Table::JmpRel
            && d.bind_now == 0
            && d.contains(current)
            && !matches!(d.lookup(names[k]), Ok(Some(s)) if s.is_defined() && s.address(d.bias) == current);
        let c = chain(sets, order, w, current, unbound, None);
        if c.skipped & focus != 0 {
            rep.slots_foreign += 1;
        }
        if c.applied == 0 {
            return true;
        }
        let counted = c.applied & focus != 0;
        if current == c.desired {
            if counted {
                rep.slots_already += 1;
            }
        } else {
            match batch.swap(d, r.slot, current, c.desired) {
                Ok(()) if !counted => {}
                Ok(()) if !c.carried && was_applied & c.applied != 0 => rep.slots_repaired += 1,
                Ok(()) => rep.slots_patched += 1,
                Err(Error::Changed) => rep.slots_conflict += 1,
                Err(e) => {
                    err = Some(e);
                    return false;
                }
            }
        }
        if sentinel.is_none() {
            sentinel = Some((r.slot, c.desired));
        }
        if d.bind_now == 0 && r.table == Table::JmpRel {
            notes.push(r.slot, c.desired, unbound, current);
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
pub(super) fn accepting(
    sets: &[Option<Set>; MAX_SETS],
    all: &[usize],
    lib: &LibInfo<'_>,
) -> ([usize; MAX_SETS], usize, u32) {
    let mut out = [0usize; MAX_SETS];
    let mut m = 0;
    let mut mask = 0u32;
    for &p in all {
        if sets[p].as_ref().is_some_and(|s| s.filter.accepts(lib)) {
            out[m] = p;
            m += 1;
            mask |= 1 << p;
        }
    }
    (out, m, mask)
}

/// Processes every listed library: new, not-yet-READY, reloaded or due for re-check ones are
/// patched; the rest cost a table lookup.  With `full`, every library is re-scanned.
pub(super) fn pass(st: &mut State, full: bool, focus: u32, rep: &mut Report) -> Result<()> {
    st.epoch = st.epoch.wrapping_add(1);
    let epoch = st.epoch;
    let mut unsettled = 0u32;
    let mut overflow = false;
    let mut first_err = None;
    let mut counters = (0, 0);
    let (all, nall) = st.ordered();
    loader::each(loader::LIBS_ALL, |lib| {
        counters = (lib.adds, lib.subs);
        let (order, n, mask) = accepting(&st.sets, &all[..nall], lib);
        if mask & focus == 0 {
            rep.libs_filtered += 1;
        }
        if n == 0 {
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
                    rep.lib_skipped(lib, SKIP_UNTRACKED);
                }
                i
            }
        };
        if let Some(i) = rec {
            st.libs[i].seen = epoch;
        }
        if lib.readiness != Readiness::Ready {
            if mask & focus != 0 {
                rep.lib_skipped(lib, SKIP_NOT_READY);
            }
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
                    || r.rescan
                    || r.applied & mask != mask
                    // A watched lazy slot was overwritten by `_dl_fixup` (at any time since).
                    || (r.has_lazy && st.lazy_lost(i, lib))
                    // A library reloaded at the same place: its sentinel slot was reset.
                    || (r.sentinel.0 != 0 && lib.contains(r.sentinel.0) && sentinel_moved(lib, r.sentinel))
            }
        };
        if !due {
            return true;
        }
        let d = match lib.decode() {
            Ok(d) => d,
            Err(e) => {
                rep.lib_skipped(lib, SKIP_DECODE_FAILED);
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
        let applied = apply(
            &st.sets,
            &mut st.scratch,
            &d,
            &order[..n],
            was,
            focus,
            &mut lib_rep,
        );
        match applied {
            Ok(sentinel) => {
                if lib_rep.slots_patched + lib_rep.slots_repaired + lib_rep.slots_already > 0 {
                    lib_rep.libs_patched = 1;
                }
                if let Some(i) = rec {
                    let r = &mut st.libs[i];
                    r.applied |= mask;
                    r.pending = false;
                    r.sentinel = sentinel.unwrap_or((0, 0));
                    if d.bind_now == 0 {
                        st.note_lazy(i);
                    }
                }
            }
            Err(e) => {
                lib_rep.lib_skipped(lib, SKIP_DECODE_FAILED);
                first_err.get_or_insert(e);
            }
        }
        rep.add(&lib_rep);
        true
    })?;
    st.sweep();
    st.watch_lazy = st.nlazy > 0 || st.libs.iter().any(|r| r.used && r.rescan);
    st.unsettled = unsettled;
    st.overflow = overflow;
    st.counters = counters;
    SETTLED.store((unsettled == 0 && !overflow) as u32, Ordering::Release);
    if overflow {
        return Err(Error::Full);
    }
    first_err.map_or(Ok(()), Err)
}

pub(super) fn sentinel_moved(lib: &LibInfo<'_>, (slot, value): (usize, usize)) -> bool {
    crate::slot::peek_listed(lib, slot) != Some(value)
}

/// Takes set `pos` off every slot of `d` that holds its replacement: the slot gets what the
/// remaining sets in `order` stack on the set's original (its original when none does).
/// Slots holding anything else are left alone: a set above carries it (its original is
/// re-pointed by uninstall), or the set skipped the slot, or lazy binding reverted it.
///
/// No symbol-table scan: one pass over the relocation tables reads each import slot and checks
/// its value against a 64-bit filter of the set's replacements; only a slot that holds one has
/// its symbol's name compared (a slot can hold a replacement by being bound to it: a hook
/// function that some library imports under its own name is not taken off).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn restore(
    sets: &[Option<Set>; MAX_SETS],
    lazy: &[LazySlot],
    sc: &mut Scratch,
    pos: usize,
    d: &Dynamic,
    key: u32,
    order: &[usize],
    rep: &mut Report,
) -> Result<()> {
    let set = sets[pos].as_ref().ok_or(Error::NotFound)?;
    let wants = &mut sc.wants;
    let mut values = 0u64;
    for (k, h) in set.hooks[..set.nhooks].iter().enumerate() {
        wants[k] = EMPTY_WANT;
        for &p in order {
            if let Some(s) = sets[p].as_ref() {
                if let Some((j, _)) = s.active().find(|(_, x)| x.symbol == h.symbol) {
                    wants[k].hook_of[p] = j as u8;
                }
            }
        }
        values |= value_bit(h.replacement);
    }
    let arch = d.arch()?;
    let ws = core::mem::size_of::<usize>();
    let mut batch = slot::Batch::begin()?;
    let mut restored = 0;
    let mut err = None;
    // Import slots cluster in one segment: the last one that held a slot is checked first.
    let (mut lo, mut hi) = (1usize, 0usize);
    d.for_each_raw_reloc(|offset, sym, r_type, _, table| {
        if sym == 0
            || (r_type != arch.jump_slot && Some(r_type) != arch.glob_dat && r_type != arch.abs)
        {
            return true;
        }
        let at = d.bias.wrapping_add(offset as usize);
        if at < lo || at.wrapping_add(ws) > hi || at & (ws - 1) != 0 {
            match d.segs.segments().containing(at, ws) {
                Some(r) if at & (ws - 1) == 0 => (lo, hi) = (r.start, r.end),
                // Not a slot gothook can have written (apply refuses it).
                _ => return true,
            }
        }
        let current = slot::peek(d, at).unwrap_or(0);
        if values & value_bit(current) == 0 {
            return true;
        }
        let Some(k) = (0..set.nhooks).find(|&k| set.hooks[k].replacement == current) else {
            return true;
        };
        match restore_slot(
            sets, lazy, wants, set, pos, d, key, order, at, sym, k, table, &mut batch,
        ) {
            Ok(true) => restored += 1,
            Ok(false) => {}
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

/// One bit of a 64-bit filter of slot values (functions are at least 4-byte aligned).
#[inline(always)]
fn value_bit(v: usize) -> u64 {
    1 << ((v >> 4) & 63)
}

/// Restores one slot of `restore` that holds the replacement of hook `k` (first match by
/// value; the hook with the slot's symbol name is the one taken off).  `Ok(false)`: the slot's
/// symbol is none of the set's names.
#[allow(clippy::too_many_arguments)]
#[cold]
fn restore_slot(
    sets: &[Option<Set>; MAX_SETS],
    lazy: &[LazySlot],
    wants: &[Want; MAX_WANTS],
    set: &Set,
    pos: usize,
    d: &Dynamic,
    key: u32,
    order: &[usize],
    at: usize,
    sym: u32,
    k: usize,
    table: Table,
    batch: &mut slot::Batch,
) -> Result<bool> {
    let current = set.hooks[k].replacement;
    let name = match d.symbol(sym) {
        Ok(s) => s.name,
        Err(_) => return Ok(false),
    };
    // Two hooks of a set may share a replacement: the one named by the slot's symbol.
    let Some(k) = (k..set.nhooks)
        .find(|&j| set.hooks[j].replacement == current && set.hooks[j].symbol == name)
    else {
        return Ok(false);
    };
    let c = chain(sets, order, &wants[k], current, false, Some(pos));
    // No set left on a slot that held its lazy stub: the stub goes back, exactly.
    let stub = (c.applied == 0 && table == Table::JmpRel)
        .then(|| {
            lazy.iter()
                .find(|l| l.bias == d.bias && l.key == key && l.slot() == at)
                .map(|l| l.stub)
        })
        .flatten();
    let target = stub.unwrap_or(c.desired);
    batch.swap(d, at, current, target).map(|()| true)
}
