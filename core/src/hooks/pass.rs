//! The patch and restore passes: one scan of a library's relocation tables for every wanted
//! name, with every slot write going through `slot::Batch` inside the walk callback.

use crate::dynamic::{Dynamic, ImportKind, Table};
use crate::elf::Arch;
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, Readiness};
use crate::slot;

use super::*;

/// One wanted name in one library: the symbol-table indices that carry it and, per set
/// position, which of that set's hooks names it (`NO_HOOK`: the set does not hook it).
#[derive(Clone, Copy)]
pub(super) struct Want {
    pub(super) hook_of: [u8; MAX_SETS],
    pub(super) nindices: u8,
    pub(super) indices: [u32; MAX_INDICES],
    /// In a lazily bound library: the address of its own default definition of the name (0:
    /// none), which tells a slot bound to it from one still holding its lazy PLT stub.
    pub(super) own: usize,
}

/// Most distinct hooked names across all installed sets (install fails up front beyond it).
pub const MAX_WANTS: usize = 32;
/// `Want::hook_of` entry of a set that does not hook the name.
pub(super) const NO_HOOK: u8 = u8::MAX;

pub(super) const EMPTY_WANT: Want = Want {
    hook_of: [NO_HOOK; MAX_SETS],
    nindices: 0,
    indices: [0; MAX_INDICES],
    own: 0,
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
    /// The slots a pass decided and has not written yet (see `apply` and `restore`).
    hits: [Hit; MAX_HITS],
    /// `apply`'s prefilter of the wanted symbol indices of the library in progress.
    prefilter: IndexFilter,
    /// The relocations of the scan's current round that passed the prefilter.
    found: [Found; MAX_FOUND],
    /// Install's originals and canonical PLT entries of the set it stages, per hook (see
    /// `stage`), until they are copied into the set.
    pub(super) originals: [usize; MAX_HOOKS],
    pub(super) canonical: [usize; MAX_HOOKS],
}

// `restore` keeps one set's hooks in the want table.
const _: () = assert!(MAX_HOOKS <= MAX_WANTS);

pub(super) const EMPTY_SCRATCH: Scratch = Scratch {
    wants: [EMPTY_WANT; MAX_WANTS],
    names: [b""; MAX_WANTS],
    notes: Notes::new(),
    hits: [NO_HIT; MAX_HITS],
    prefilter: IndexFilter([0; 16]),
    found: [NO_FOUND; MAX_FOUND],
    originals: [0; MAX_HOOKS],
    canonical: [0; MAX_HOOKS],
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
    order: &[u8],
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
    for p in order.iter().map(|&p| p as usize) {
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
    /// Sets the filter to the indices of `wants` (in place: it lives in the pass's scratch).
    pub(super) fn set(&mut self, wants: &[Want]) {
        let bits = &mut self.0;
        for b in bits.iter_mut() {
            *b = 0;
        }
        for w in wants {
            for &i in &w.indices[..w.nindices as usize] {
                bits[(i as usize >> 6) & 15] |= 1 << (i & 63);
            }
        }
    }

    #[inline(always)]
    pub(super) fn may_hold(&self, sym: u32) -> bool {
        self.0[(sym as usize >> 6) & 15] & (1 << (sym & 63)) != 0
    }
}

/// Fills in the symbol-table indices of each wanted name: one pass over the indices no hash
/// table covers (below GNU `symoffset` live the undefined symbols), hash lookups for the rest.
/// The lookups also note each name's first default definition in `Want::own` (what
/// [`own_definitions`] would find: the same chain, in the same order), so that a library with
/// a hash table needs no second lookup per name.
/// Not inlined: its lookups' frames are never on the stack with the scan's.
#[inline(never)]
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
            let mut own = None;
            d.find_hashed(name, |s| {
                if own.is_none() && s.is_default_definition() {
                    own = Some(s.address(d.bias));
                }
                if s.index >= linear_end && m < MAX_INDICES {
                    found[m] = s.index;
                    m += 1;
                }
                m < MAX_INDICES || own.is_none()
            })?;
            for &i in &found[..m] {
                record(w, i);
            }
            w.own = own.unwrap_or(0);
        }
    }
    Ok(())
}

/// Most relocations one round of `apply`'s scan notes (those whose symbol index passes the
/// prefilter) before it stops to decide them.
const MAX_FOUND: usize = 32;

/// A relocation noted by `apply`'s scan, as read from its table.
#[derive(Clone, Copy)]
pub(super) struct Found {
    offset: u64,
    addend: i64,
    sym: u32,
    r_type: u32,
    table: Table,
}

const NO_FOUND: Found = Found {
    offset: 0,
    addend: 0,
    sym: 0,
    r_type: 0,
    table: Table::JmpRel,
};

/// Fills in `Want::own` for the names `d` imports (a lazily bound library without a hash
/// table: with one, [`find_indices`] noted them).  A lookup error counts as no definition.
/// Not inlined: the lookups' frames are not on the stack with the scan's decisions.
#[inline(never)]
fn own_definitions(d: &Dynamic, names: &[&[u8]], wants: &mut [Want]) {
    for (w, name) in wants.iter_mut().zip(names) {
        if w.nindices != 0 {
            // `Dynamic::lookup`'s search (the first default definition), without its frame.
            let _ = d.find_named(name, true, |s| {
                w.own = s.address(d.bias);
                false
            });
        }
    }
}

/// Most import slots a pass decides before it opens their pages and writes them: the
/// relocation scan collects the slots of the wanted names, then every page their writes need
/// is opened at once (one `mprotect` per run of adjacent pages, see `slot::Batch::open`).
const MAX_HITS: usize = 16;

/// An import slot of a wanted name, and what the pass decided to do with it (`restore` uses
/// `slot`, `current` and `desired` only).
#[derive(Clone, Copy)]
pub(super) struct Hit {
    slot: usize,
    /// The value read when deciding: the compare-and-swap expects it.
    current: usize,
    /// What the slot must hold (see [`Chain::desired`]).
    desired: usize,
    /// A set in the pass's focus is stacked on the slot: counted in the report.
    counted: bool,
    /// The slot lost a hook applied before (lazy binding, a reload): a write is a repair.
    repair: bool,
    /// A JMPREL slot of a lazily bound library: noted for the lazy table.
    lazy: bool,
    /// The slot held its lazy PLT stub.
    unbound: bool,
}

const NO_HIT: Hit = Hit {
    slot: 0,
    current: 0,
    desired: 0,
    counted: false,
    repair: false,
    lazy: false,
    unbound: false,
};

/// Applies the sets in `order` (install order) that accept `lib` to its import slots, in one
/// pass over its relocation tables, by the binding rule of [`chain`].  `was_applied` says which
/// sets were applied before (then a reverted slot counts as repaired); only slots that involve
/// a set in `focus` are counted.  Returns the first slot patched, for the sentinel.
///
/// The relocation scan compares symbol indices only (a bit test per entry, then the want
/// table for the few that pass); the slots it finds are decided, their pages opened together,
/// and written, [`MAX_HITS`] at a time.  The swap lock is taken at the first write (none if
/// every slot already holds what it must); page permissions are asked of the pass's `query`.
///
/// Inlined into [`apply_recorded`], whose frame it shares (the library is decoded in place,
/// in the state).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn apply(
    sets: &[Option<Set>; MAX_SETS],
    sc: &mut Scratch,
    d: &Dynamic,
    order: &[u8],
    was_applied: u32,
    focus: u32,
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<Option<(usize, usize)>> {
    let Scratch {
        wants,
        names,
        notes,
        hits,
        prefilter,
        found,
        ..
    } = sc;
    notes.clear();
    let mut n = 0;
    for p in order.iter().map(|&p| p as usize) {
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
    if d.bind_now == 0 && d.gnu_hash == 0 && d.hash == 0 {
        own_definitions(d, &names[..n], &mut wants[..n]);
    }
    prefilter.set(&wants[..n]);
    let prefilter = &*prefilter;
    let mut batch = slot::LazyBatch::new(query);
    let mut scan = Scan {
        sets,
        order,
        wants: &wants[..n],
        d,
        arch: d.arch()?,
        was_applied,
        focus,
        batch: &mut batch,
        hits,
        nh: 0,
        sentinel: None,
        notes,
        rep,
        err: None,
    };
    // The per-entry work is one bit test; the few entries that pass it are noted, and decided
    // (and written) between rounds of the scan, not inside it: the scan's frames are never
    // on the stack with the decisions' and the writes'.
    let mut from = 0;
    loop {
        let mut nf = 0;
        let stopped = d.raw_relocs_from(from, &mut |offset, sym, r_type, addend, table| {
            if !prefilter.may_hold(sym) {
                return true;
            }
            found[nf] = Found {
                offset,
                sym,
                r_type,
                addend,
                table,
            };
            nf += 1;
            nf < MAX_FOUND
        })?;
        for c in &found[..nf] {
            if !scan.candidate(c) {
                break;
            }
            if scan.nh == MAX_HITS {
                if let Err(e) = scan.settle() {
                    scan.err = Some(e);
                    break;
                }
            }
        }
        match stopped {
            Some(next) if scan.err.is_none() => from = next,
            _ => break,
        }
    }
    if scan.err.is_none() {
        if let Err(e) = scan.settle() {
            scan.err = Some(e);
        }
    }
    let Scan { sentinel, err, .. } = scan;
    batch.finish()?;
    match err {
        Some(e) => Err(e),
        None => Ok(sentinel),
    }
}

/// `apply`'s relocation scan: what it looks for, and the slots it decided so far.
struct Scan<'a, 'q> {
    sets: &'a [Option<Set>; MAX_SETS],
    order: &'a [u8],
    wants: &'a [Want],
    d: &'a Dynamic,
    arch: &'static Arch,
    was_applied: u32,
    focus: u32,
    batch: &'a mut slot::LazyBatch<'q>,
    hits: &'a mut [Hit; MAX_HITS],
    nh: usize,
    sentinel: Option<(usize, usize)>,
    notes: &'a mut Notes,
    rep: &'a mut Report,
    err: Option<Error>,
}

impl Scan<'_, '_> {
    /// A relocation whose symbol index passed the prefilter: decides its slot if it is an
    /// import of a wanted name (the caller writes the decided slots when [`MAX_HITS`] are
    /// pending).  False (with `err` set) stops the scan.
    #[inline(never)]
    fn candidate(&mut self, c: &Found) -> bool {
        let Found {
            offset,
            sym,
            r_type,
            addend,
            table: t,
        } = *c;
        let d = self.d;
        let Some(k) = self
            .wants
            .iter()
            .position(|w| w.indices[..w.nindices as usize].contains(&sym))
        else {
            return true;
        };
        let r = match d.import_reloc(self.arch, offset, sym, r_type, addend, t) {
            Ok(Some(r)) => r,
            Ok(None) => return true,
            Err(e) => {
                self.err = Some(e);
                return false;
            }
        };
        // A data slot with an addend holds symbol + addend: not a pointer we can redirect.
        if r.kind == ImportKind::Abs && r.addend != 0 {
            return true;
        }
        let current = slot::peek(d, r.slot).unwrap_or(0);
        let lazy = r.table == Table::JmpRel && d.bind_now == 0;
        // A lazy PLT stub lies inside the library; so does a definition of its own (bound to
        // itself, e.g. under RTLD_DEEPBIND), told apart by the library's own definition of the
        // name (noted by `find_indices`' hash lookups, or by `own_definitions`).
        let unbound = lazy && d.contains(current) && self.wants[k].own != current;
        let c = chain(
            self.sets,
            self.order,
            &self.wants[k],
            current,
            unbound,
            None,
        );
        if c.skipped & self.focus != 0 {
            self.rep.slots_foreign += 1;
        }
        if c.applied == 0 {
            return true;
        }
        self.hits[self.nh] = Hit {
            slot: r.slot,
            current,
            desired: c.desired,
            counted: c.applied & self.focus != 0,
            repair: !c.carried && self.was_applied & c.applied != 0,
            lazy,
            unbound,
        };
        self.nh += 1;
        true
    }

    /// Writes the decided slots, in table order: first every page their writes need is opened
    /// (together), then each slot is compare-and-swapped and counted.
    fn settle(&mut self) -> Result<()> {
        let (d, hits) = (self.d, &self.hits[..self.nh]);
        self.nh = 0;
        if hits.iter().any(|h| h.current != h.desired) {
            self.batch.get()?.open(
                d,
                hits.iter()
                    .filter(|h| h.current != h.desired)
                    .map(|h| h.slot),
            );
        }
        let rep = &mut *self.rep;
        for h in hits {
            if h.current == h.desired {
                if h.counted {
                    rep.slots_already += 1;
                }
            } else {
                match self.batch.get()?.swap(d, h.slot, h.current, h.desired) {
                    Ok(()) if !h.counted => {}
                    Ok(()) if h.repair => rep.slots_repaired += 1,
                    Ok(()) => rep.slots_patched += 1,
                    Err(Error::Changed) => rep.slots_conflict += 1,
                    Err(e) => return Err(e),
                }
            }
            if self.sentinel.is_none() {
                self.sentinel = Some((h.slot, h.desired));
            }
            if h.lazy {
                self.notes.push(h.slot, h.desired, h.unbound, h.current);
            }
        }
        Ok(())
    }
}

/// Positions (install order) of the sets whose filter accepts `lib`.
pub(super) fn accepting(
    sets: &[Option<Set>; MAX_SETS],
    all: &[u8],
    lib: &LibInfo<'_>,
) -> ([u8; MAX_SETS], usize, u32) {
    let mut out = [0u8; MAX_SETS];
    let mut m = 0;
    let mut mask = 0u32;
    for &p in all {
        if sets[p as usize]
            .as_ref()
            .is_some_and(|s| s.filter.accepts(lib))
        {
            out[m] = p;
            m += 1;
            mask |= 1 << p;
        }
    }
    (out, m, mask)
}

/// Processes every listed library: new, not-yet-READY, reloaded or due for re-check ones are
/// patched; the rest cost a table lookup.  With `full`, every library is re-scanned.
/// `query` answers page permissions for every library of the pass (the caller opened it before
/// taking the loader's lock, or it opens at the first question).
pub(super) fn pass(
    st: &mut State,
    full: bool,
    focus: u32,
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<()> {
    st.epoch = st.epoch.wrapping_add(1);
    let mut first_err = None;
    let (all, nall) = st.ordered();
    // What the walk tallies goes straight to the state (nothing reads it during the pass): the
    // walk callback's closure then refers to a few places only.
    st.unsettled = 0;
    st.overflow = false;
    st.counters = (0, 0);
    let seen = loader::each(loader::LIBS_ALL, |lib| {
        let r = visit(st, lib, &all[..nall], full, focus, rep, query);
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
        true
    });
    seen?;
    st.sweep();
    st.watch_lazy = st.nlazy > 0 || st.libs.iter().any(|r| r.used() && r.rescan());
    let (unsettled, overflow) = (st.unsettled, st.overflow);
    SETTLED.store((unsettled == 0 && !overflow) as u32, Ordering::Release);
    if overflow {
        return Err(Error::Full);
    }
    first_err.map_or(Ok(()), Err)
}

/// One library of [`pass`]: tracked, and patched when due (the error of its patch, if any).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn visit(
    st: &mut State,
    lib: &LibInfo<'_>,
    all: &[u8],
    full: bool,
    focus: u32,
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<()> {
    // Records keep the epoch's low 16 bits (see `LibRec::seen`).
    let epoch = st.epoch as u16;
    st.counters = (lib.adds, lib.subs);
    let (order, n, mask) = accepting(&st.sets, all, lib);
    if mask & focus == 0 {
        rep.libs_filtered += 1;
    }
    if n == 0 {
        if let Some(i) = st.find_lib(lib) {
            st.libs[i].seen = epoch;
        }
        return Ok(());
    }
    let rec = match st.find_lib(lib) {
        Some(i) => Some(i),
        None => {
            let i = st.insert_lib(lib);
            if i.is_none() {
                st.overflow = true;
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
        st.unsettled += 1;
        if let Some(i) = rec {
            st.libs[i].set_pending(true);
        }
        return Ok(());
    }
    let due = match rec {
        None => true,
        Some(i) => full || is_due(st, i, lib, mask),
    };
    if due {
        return apply_recorded(st, rec, lib, &order[..n], mask, focus, rep, query);
    }
    Ok(())
}

/// Whether READY library `lib`, tracked in record `i`, needs the sets in `mask` (re)applied:
/// one of them is not applied yet, it was left LOADING, its slots are re-scanned on every walk,
/// a watched lazy slot lost its value, or it was reloaded at the same place.
pub(super) fn is_due(st: &State, i: usize, lib: &LibInfo<'_>, mask: u32) -> bool {
    let r = &st.libs[i];
    r.pending()
        || r.rescan()
        || r.applied() & mask != mask
        // A watched lazy slot was overwritten by `_dl_fixup` (at any time since).
        || (r.has_lazy() && st.lazy_lost(i, lib))
        // A library reloaded at the same place: its sentinel slot was reset.
        || st.reloaded(i, lib)
}

/// Decodes `lib`, applies the sets `order` (accepting it: `mask`) and records the outcome in
/// record `rec` (`None`: untracked).  A library that fails to decode is marked done for `mask`
/// (retried only by a full refresh); one whose apply failed is not.  Either is named in the
/// report and its error returned.
/// Not inlined: the decoded library and the per-library report are on the stack only here.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn apply_recorded(
    st: &mut State,
    rec: Option<usize>,
    lib: &LibInfo<'_>,
    order: &[u8],
    mask: u32,
    focus: u32,
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<()> {
    // Decoded into the state (static, this thread holds its lock), not onto this frame, which
    // runs inside malloc hooks; unmapped again before returning.
    let r = apply_decoded(st, rec, lib, order, mask, focus, rep, query);
    st.image.unmap();
    r
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn apply_decoded(
    st: &mut State,
    rec: Option<usize>,
    lib: &LibInfo<'_>,
    order: &[u8],
    mask: u32,
    focus: u32,
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<()> {
    if let Err(e) = lib.decode_into(&mut st.image) {
        rep.lib_skipped(lib, SKIP_DECODE_FAILED);
        if let Some(i) = rec {
            st.libs[i].add_applied(mask);
            st.libs[i].set_pending(false);
        }
        return Err(e);
    }
    let d = &st.image;
    let was = rec.map_or(0, |i| st.libs[i].applied());
    // Counted straight into `rep` (no per-library report on this frame): the library counts as
    // patched when its slots moved the counters.
    let touched = |r: &Report| r.slots_patched + r.slots_repaired + r.slots_already;
    let before = touched(rep);
    let applied = apply(&st.sets, &mut st.scratch, d, order, was, focus, rep, query);
    let lazy = d.bind_now == 0;
    match applied {
        Ok(sentinel) => {
            if touched(rep) != before {
                rep.libs_patched += 1;
            }
            if let Some(i) = rec {
                st.libs[i].add_applied(mask);
                st.libs[i].set_pending(false);
                st.set_sentinel(i, sentinel);
                if lazy {
                    st.note_lazy(i);
                }
            }
            Ok(())
        }
        Err(e) => {
            rep.lib_skipped(lib, SKIP_DECODE_FAILED);
            Err(e)
        }
    }
}

/// Takes set `pos` off every slot of `d` that holds its replacement: the slot gets what the
/// remaining sets in `order` stack on the set's original (its original when none does).
/// Slots holding anything else are left alone: a set above carries it (its original is
/// re-pointed by uninstall), or the set skipped the slot, or lazy binding reverted it.
///
/// No symbol-table scan: one pass over the relocation tables reads each import slot and checks
/// its value against a 64-bit filter of the set's replacements; only a slot that holds one has
/// its symbol's name compared (a slot can hold a replacement by being bound to it: a hook
/// function that some library imports under its own name is not taken off).  The slots found
/// are written [`MAX_HITS`] at a time, their pages opened together as in `apply`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn restore(
    sets: &[Option<Set>; MAX_SETS],
    lazy: LazyStubs<'_>,
    sc: &mut Scratch,
    pos: usize,
    d: &Dynamic,
    order: &[u8],
    rep: &mut Report,
    query: &mut slot::PageQuery,
) -> Result<()> {
    let set = sets[pos].as_ref().ok_or(Error::NotFound)?;
    let Scratch { wants, hits, .. } = sc;
    let mut values = 0u64;
    for (k, h) in set.hooks[..set.nhooks].iter().enumerate() {
        wants[k] = EMPTY_WANT;
        for p in order.iter().map(|&p| p as usize) {
            if let Some(s) = sets[p].as_ref() {
                if let Some((j, _)) = s.active().find(|(_, x)| x.symbol == h.symbol) {
                    wants[k].hook_of[p] = j as u8;
                }
            }
        }
        values |= value_bit(h.replacement);
    }
    let arch = d.arch()?;
    let (jump_slot, glob_dat, abs) = (arch.jump_slot, arch.glob_dat, arch.abs);
    let mut batch = slot::LazyBatch::new(query);
    let mut unhook = Unhook {
        sets,
        lazy,
        wants,
        set,
        pos,
        d,
        order,
        batch: &mut batch,
        hits,
        nh: 0,
        restored: 0,
        changed: 0,
        err: None,
    };
    // Import slots cluster in one segment: the last one that held a slot is checked first.
    let mut window = slot::Window::EMPTY;
    // Per entry: a type check, one read of the slot and a bit test; the rest leaves the loop.
    d.for_each_raw_reloc(|offset, sym, r_type, _, table| {
        if sym == 0 || (r_type != jump_slot && Some(r_type) != glob_dat && r_type != abs) {
            return true;
        }
        let at = d.bias.wrapping_add(offset as usize);
        let current = match window.peek(at) {
            Some(v) => v,
            None => {
                window = slot::Window::around(d, at);
                match window.peek(at) {
                    Some(v) => v,
                    // Not a slot gothook can have written (apply refuses it).
                    None => return true,
                }
            }
        };
        values & value_bit(current) == 0 || unhook.candidate(at, current, sym, table)
    })?;
    if unhook.err.is_none() {
        if let Err(e) = unhook.put_back() {
            unhook.err = Some(e);
        }
    }
    let Unhook {
        restored,
        changed,
        err,
        ..
    } = unhook;
    rep.slots_changed += changed;
    batch.finish()?;
    rep.slots_restored += restored;
    if restored > 0 {
        rep.libs_patched += 1;
    }
    err.map_or(Ok(()), Err)
}

/// `restore`'s relocation scan: the set taken off, and the slots decided so far (the value
/// found, and in `desired` the value to write).
struct Unhook<'a, 'q> {
    sets: &'a [Option<Set>; MAX_SETS],
    lazy: LazyStubs<'a>,
    wants: &'a [Want; MAX_WANTS],
    set: &'a Set,
    pos: usize,
    d: &'a Dynamic,
    order: &'a [u8],
    batch: &'a mut slot::LazyBatch<'q>,
    hits: &'a mut [Hit; MAX_HITS],
    nh: usize,
    restored: u32,
    /// Slots changed meanwhile (left alone): `Report::slots_changed`.
    changed: u32,
    err: Option<Error>,
}

impl Unhook<'_, '_> {
    /// An import slot at `at` holding `current`, which passed the value filter: decides it if
    /// it holds a replacement of the set under the hook's own name, writing the decided slots
    /// when [`MAX_HITS`] are pending.  False (with `err` set) stops the scan.
    #[inline(never)]
    fn candidate(&mut self, at: usize, current: usize, sym: u32, table: Table) -> bool {
        let set = self.set;
        let Some(k) = (0..set.nhooks).find(|&k| set.hooks[k].replacement == current) else {
            return true;
        };
        let Some(target) = restore_target(
            self.sets, self.lazy, self.wants, set, self.pos, self.d, self.order, at, sym, k, table,
        ) else {
            return true;
        };
        self.hits[self.nh] = Hit {
            slot: at,
            current,
            desired: target,
            ..NO_HIT
        };
        self.nh += 1;
        if self.nh == MAX_HITS {
            if let Err(e) = self.put_back() {
                self.err = Some(e);
                return false;
            }
        }
        true
    }

    /// Writes the decided slots, their pages opened first (a slot changed meanwhile is counted
    /// in `slots_changed`).
    fn put_back(&mut self) -> Result<()> {
        let (d, hits) = (self.d, &self.hits[..self.nh]);
        self.nh = 0;
        if hits.is_empty() {
            return Ok(());
        }
        let batch = self.batch.get()?;
        batch.open(d, hits.iter().map(|h| h.slot));
        for h in hits {
            match batch.swap(d, h.slot, h.current, h.desired) {
                Ok(()) => self.restored += 1,
                Err(Error::Changed) => self.changed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// One bit of a 64-bit filter of slot values (functions are at least 4-byte aligned).
#[inline(always)]
fn value_bit(v: usize) -> u64 {
    1 << ((v >> 4) & 63)
}

/// What `restore` writes into a slot that holds the replacement of hook `k` (first match by
/// value; the hook with the slot's symbol name is the one taken off).  `None`: the slot's
/// symbol is none of the set's names.
#[allow(clippy::too_many_arguments)]
#[cold]
fn restore_target(
    sets: &[Option<Set>; MAX_SETS],
    lazy: LazyStubs<'_>,
    wants: &[Want; MAX_WANTS],
    set: &Set,
    pos: usize,
    d: &Dynamic,
    order: &[u8],
    at: usize,
    sym: u32,
    k: usize,
    table: Table,
) -> Option<usize> {
    let current = set.hooks[k].replacement;
    let name = d.symbol(sym).ok()?.name;
    // Two hooks of a set may share a replacement: the one named by the slot's symbol.
    let k = (k..set.nhooks)
        .find(|&j| set.hooks[j].replacement == current && set.hooks[j].symbol == name)?;
    let c = chain(sets, order, &wants[k], current, false, Some(pos));
    // No set left on a slot that held its lazy stub: the stub goes back, exactly.
    let stub = (c.applied == 0 && table == Table::JmpRel)
        .then(|| lazy.at(at))
        .flatten();
    Some(stub.unwrap_or(c.desired))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND: usize = 0x1000;
    const OTHER: usize = 0x9000;

    /// A set hooking one name: replacement `r`, original `o`.
    fn set(r: usize, o: usize) -> Set {
        let mut s = EMPTY_SET;
        s.hooks[0] = SetHook {
            symbol: b"f",
            replacement: r,
            original: None,
        };
        s.nhooks = 1;
        s.originals[0] = o;
        s
    }

    /// Sets at the given positions, each hooking the name as its hook 0.
    fn table(at: &[(usize, Set)]) -> ([Option<Set>; MAX_SETS], Want) {
        let mut sets = [None; MAX_SETS];
        let mut w = EMPTY_WANT;
        for &(p, s) in at {
            sets[p] = Some(s);
            w.hook_of[p] = 0;
        }
        (sets, w)
    }

    fn parts(c: &Chain) -> (usize, u32, u32, bool) {
        (c.desired, c.applied, c.skipped, c.carried)
    }

    #[test]
    fn a_slot_no_set_hooks_keeps_its_binding() {
        let (sets, mut w) = table(&[(2, set(0x2000, BIND))]);
        w.hook_of[2] = NO_HOOK;
        let c = chain(&sets, &[2], &w, BIND, false, None);
        assert_eq!(parts(&c), (BIND, 0, 0, false));
        let c = chain(&sets, &[2], &EMPTY_WANT, BIND, true, None);
        assert_eq!(parts(&c), (BIND, 0, 0, false));
    }

    #[test]
    fn a_set_stacks_only_on_the_binding_its_original_names() {
        let (sets, w) = table(&[(3, set(0x2000, BIND))]);
        let c = chain(&sets, &[3], &w, BIND, false, None);
        assert_eq!(parts(&c), (0x2000, 1 << 3, 0, false));
        let c = chain(&sets, &[3], &w, OTHER, false, None);
        assert_eq!(parts(&c), (OTHER, 0, 1 << 3, false));
        // Its replacement already there: carried, nothing skipped.
        let c = chain(&sets, &[3], &w, 0x2000, false, None);
        assert_eq!(parts(&c), (0x2000, 1 << 3, 0, true));
    }

    #[test]
    fn stacked_sets_follow_install_order_from_the_slot_value() {
        // Position 1 stacks on position 4 (its original is 4's replacement).
        let (sets, w) = table(&[(4, set(0x2000, BIND)), (1, set(0x3000, 0x2000))]);
        let order = [4, 1];
        let c = chain(&sets, &order, &w, BIND, false, None);
        assert_eq!(parts(&c), (0x3000, 1 << 4 | 1 << 1, 0, false));
        // The lower replacement carried: the upper set still stacks.
        let c = chain(&sets, &order, &w, 0x2000, false, None);
        assert_eq!(parts(&c), (0x3000, 1 << 4 | 1 << 1, 0, true));
        // The upper replacement carried: the topmost found, nothing above it.
        let c = chain(&sets, &order, &w, 0x3000, false, None);
        assert_eq!(parts(&c), (0x3000, 1 << 1, 0, true));
        // In the other order the upper set's original is not the binding.
        let c = chain(&sets, &[1, 4], &w, BIND, false, None);
        assert_eq!(parts(&c), (0x2000, 1 << 4, 1 << 1, false));
        // A set not in `order` takes no part.
        let c = chain(&sets, &[1], &w, BIND, false, None);
        assert_eq!(parts(&c), (BIND, 0, 1 << 1, false));
    }

    #[test]
    fn a_lazy_stub_counts_as_bound_for_the_lowest_set_only() {
        let (sets, w) = table(&[(0, set(0x2000, BIND)), (5, set(0x3000, OTHER))]);
        let c = chain(&sets, &[0, 5], &w, 0x7777, true, None);
        assert_eq!(parts(&c), (0x2000, 1, 1 << 5, false));
        let c = chain(&sets, &[5, 0], &w, 0x7777, true, None);
        assert_eq!(parts(&c), (0x3000, 1 << 5, 1, false));
        // A carried replacement is no stub: the set above needs its own original.
        let c = chain(&sets, &[0, 5], &w, 0x2000, true, None);
        assert_eq!(parts(&c), (0x2000, 1, 1 << 5, true));
    }

    #[test]
    fn excluding_a_set_computes_the_chain_without_it() {
        let (sets, w) = table(&[
            (2, set(0x2000, BIND)),
            (6, set(0x3000, 0x2000)),
            (7, set(0x4000, OTHER)),
        ]);
        let order = [2, 6, 7];
        // Without the lower set, the one bound to its replacement stacks on its original.
        let c = chain(&sets, &order, &w, 0x2000, false, Some(2));
        assert_eq!(parts(&c), (0x3000, 1 << 6, 1 << 7, false));
        let c = chain(&sets, &order, &w, BIND, false, Some(2));
        assert_eq!(parts(&c), (0x3000, 1 << 6, 1 << 7, false));
        // Without the upper set, its replacement stands for its original.
        let c = chain(&sets, &order, &w, 0x3000, false, Some(6));
        assert_eq!(parts(&c), (0x2000, 1 << 2, 1 << 7, true));
        // A value that is no replacement of the excluded set stays.
        let c = chain(&sets, &order, &w, OTHER, false, Some(6));
        assert_eq!(parts(&c), (0x4000, 1 << 7, 1 << 2, false));
        // Excluding a set that does not hook the name changes nothing.
        let (sets2, mut w2) = table(&[(2, set(0x2000, BIND)), (3, set(0x2000, 0x5000))]);
        w2.hook_of[3] = NO_HOOK;
        let c = chain(&sets2, &[2, 3], &w2, 0x2000, false, Some(3));
        assert_eq!(parts(&c), (0x2000, 1 << 2, 0, true));
    }

    #[test]
    fn the_canonical_plt_entry_counts_as_the_binding_of_a_base_set_only() {
        let mut low = set(0x2000, BIND);
        low.canonical[0] = 0x6000;
        let mut high = set(0x3000, BIND);
        high.canonical[0] = 0x2000;
        let (sets, w) = table(&[(1, low), (3, high)]);
        let c = chain(&sets, &[1, 3], &w, 0x6000, false, None);
        assert_eq!(parts(&c), (0x2000, 1 << 1, 1 << 3, false));
        // Not at the base: the upper set's canonical entry does not count.
        let c = chain(&sets, &[1, 3], &w, 0x2000, false, None);
        assert_eq!(parts(&c), (0x2000, 1 << 1, 1 << 3, true));
        // A canonical entry of 0 is none, even for a slot holding 0.
        let mut zero = set(0x2000, BIND);
        zero.canonical[0] = 0;
        let (sets, w) = table(&[(1, zero)]);
        let c = chain(&sets, &[1], &w, 0, false, None);
        assert_eq!(parts(&c), (0, 0, 1 << 1, false));
    }

    #[test]
    fn a_next_after_set_stacks_on_any_binding_at_the_base_only() {
        let mut na = set(0x3000, BIND);
        na.filter.next_after = 0x100;
        let (sets, w) = table(&[(2, na)]);
        let c = chain(&sets, &[2], &w, OTHER, false, None);
        assert_eq!(parts(&c), (0x3000, 1 << 2, 0, false));
        let (sets, w) = table(&[(0, set(0x2000, BIND)), (2, na)]);
        let c = chain(&sets, &[0, 2], &w, BIND, false, None);
        assert_eq!(parts(&c), (0x2000, 1, 1 << 2, false));
    }

    #[test]
    fn the_index_pass_notes_the_own_definition_a_lookup_of_each_name_finds() {
        // libc (GNU and System V hash) defines malloc and imports _dl_rtld_di_serinfo;
        // libgcc_s (GNU hash only) defines _Unwind_GetRegionStart; nothing defines the last.
        let names: [&[u8]; 4] = [
            b"malloc",
            b"_Unwind_GetRegionStart",
            b"_dl_rtld_di_serinfo",
            b"gothook_no_such_name",
        ];
        let mut defined = [0; 4];
        loader::each(loader::LIBS_ALL, |lib| {
            let Ok(d) = lib.decode() else {
                return true;
            };
            if d.gnu_hash == 0 && d.hash == 0 {
                return true;
            }
            let mut wants = [EMPTY_WANT; 4];
            find_indices(&d, &names, &mut wants).unwrap();
            for (k, name) in names.iter().enumerate() {
                let own = d.lookup(name).unwrap().map_or(0, |s| s.address(d.bias));
                assert_eq!(wants[k].own, own, "{:?} in {:?}", name, lib.name);
                defined[k] += (own != 0) as usize;
            }
            true
        })
        .unwrap();
        assert!(defined[0] >= 1 && defined[1] >= 1, "{defined:?}");
        assert_eq!(defined[3], 0);
    }

    #[test]
    fn the_index_prefilter_holds_exactly_the_wanted_indices_modulo_1024() {
        let mut w = EMPTY_WANT;
        w.indices = [5, 64 + 63, 1024 + 130, 999];
        w.nindices = 3;
        let mut f = IndexFilter([u64::MAX; 16]);
        f.set(&[EMPTY_WANT, w]);
        for i in 0..2048u32 {
            let want = matches!(i % 1024, 5 | 127 | 130);
            assert_eq!(f.may_hold(i), want, "index {i}");
        }
    }

    #[test]
    fn the_value_filter_maps_each_16_byte_block_to_one_bit() {
        assert_eq!(value_bit(0), 1);
        assert_eq!(value_bit(0x10), 2);
        assert_eq!(value_bit(0x1f), 2);
        assert_eq!(value_bit(0x3f0), 1 << 63);
        assert_eq!(value_bit(0x400), 1);
        assert_eq!(value_bit(0x7_0050), 1 << 5);
    }
}
