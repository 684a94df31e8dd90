//! The patch and restore passes: one scan of a library's relocation tables for every wanted
//! name, with every slot write going through `slot::Batch` inside the walk callback.

use crate::dynamic::{Dynamic, ImportKind};
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, Readiness};
use crate::slot;

use super::*;

/// One wanted name in one library: the symbol-table indices that carry it and the value its
/// slots must hold (the replacement of the last-installed set that hooks it).
#[derive(Clone, Copy)]
pub(super) struct Want {
    pub(super) desired: usize,
    pub(super) top: u8,
    pub(super) nindices: u8,
    pub(super) indices: [u32; MAX_INDICES],
}

/// Most distinct hooked names that apply to one library.
pub(super) const MAX_WANTS: usize = 16;

pub(super) const EMPTY_WANT: Want = Want {
    desired: 0,
    top: 0,
    nindices: 0,
    indices: [0; MAX_INDICES],
};

/// Whether `value` is the replacement of a set below `want.top` hooking the same name (then a
/// slot holding it is being stacked on, not repaired).
pub(super) fn is_lower_replacement(
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
/// pass over its relocation tables.  `was_applied` says which sets were applied before (then a
/// reverted slot counts as repaired).  Returns the first slot patched, for the sentinel.
pub(super) fn apply(
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
pub(super) fn accepting(
    st: &State,
    all: &[usize],
    lib: &LibInfo<'_>,
) -> ([usize; MAX_SETS], usize, u32) {
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
pub(super) fn pass(st: &mut State, full: bool, rep: &mut Report) -> Result<()> {
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

pub(super) fn sentinel_moved((slot, value): (usize, usize)) -> bool {
    // SAFETY-free: the slot lies in a listed library (checked by the caller) and is aligned.
    crate::slot::peek(slot) != value
}

pub(super) fn restore(
    st: &State,
    pos: usize,
    d: &Dynamic,
    order: &[usize],
    rep: &mut Report,
) -> Result<()> {
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
