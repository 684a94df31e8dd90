//! The focused pass: after a load, refresh processes only the objects the loader added, not
//! every listed library.  Owns the marks that prove which objects those are; never allocates,
//! and like every pass runs inside a walk callback with the state lock held.
//!
//! Why the tail of the list holds every new object (glibc 2.34 .. 2.40, `elf/dl-object.c`
//! `_dl_add_to_namespace_list`): the loader appends each object it maps to the end of its
//! namespace's list and counts it in `dl_load_adds` (`dlpi_adds`), both under the list lock.
//! Removals unlink objects anywhere but never reorder the rest.  So if, when the add counter
//! read A, every listed object but the last n was processed, the objects still to process are
//! among the last `n + adds - A` listed: each object added since lies after every older one,
//! and an unload only brings an object closer to the end.  (Objects added to other namespaces
//! count too: the tail is only longer.)  musl counts `dlopen` calls, not objects, so there the
//! pass always walks everything.
//!
//! What a focused pass leaves to the full pass: the records of unloaded libraries (swept by the
//! first refresh that takes the state lock at least one probe interval after the unload was
//! seen: after a load, a lazy re-check or `REFRESH_FULL`; while nothing changes, the quiet probe
//! answers and the records wait, harmlessly), the lazy re-check (due once
//! per interval, always a full pass), and anything another pass may have left half done (an
//! install's pass, an overflowed table, an invalidated state): then the next refresh walks all.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::loader::{self, Readiness, Rule};
use crate::probe;

use super::*;

/// The proof a focused pass rests on: when the loader's add counter read `BASE_ADDS`, every
/// listed object but the last `BASE_LEN` was processed (`BASE_ADDS` 0: nothing proven; the next
/// pass walks everything).  Unloads only shorten the distance of an object from the end, and
/// each load lengthens it by at most one, so later the unprocessed objects are among the last
/// `BASE_LEN + adds - BASE_ADDS`.
static BASE_ADDS: AtomicU64 = AtomicU64::new(0);
static BASE_LEN: AtomicU64 = AtomicU64::new(0);
/// Longest tail a focused pass takes on; beyond it a full pass (a library stuck LOADING early
/// in the list, or a dlopen that mapped many new objects).
const MAX_TAIL: u64 = 64;

fn set_base(adds: u64, len: u64) {
    BASE_ADDS.store(adds, Ordering::Relaxed);
    BASE_LEN.store(len, Ordering::Relaxed);
}

fn forget_base() {
    BASE_ADDS.store(0, Ordering::Relaxed);
}

/// The state's pass epoch when the marks were last brought up to date: any other pass (an
/// install's) bumps it, and the marks are not trusted until a full pass of refresh.
static MARKED_EPOCH: AtomicU32 = AtomicU32::new(0);
/// The loader's remove counter at the last full pass, and that pass's probe stamp.
static SWEPT_SUBS: AtomicU64 = AtomicU64::new(0);
static SWEPT_AT: AtomicU64 = AtomicU64::new(0);

/// How many objects at the end of the list a refresh must process, if a focused pass may do
/// the job: `None` means a full pass.  `counters` are the loader's (adds, subs) read under the
/// same hold; `start` is the refresh's probe stamp.  All marks are read and written under the
/// state lock (atomics only so that they can live outside the state).
pub(super) fn tail_len(st: &State, counters: (u64, u64), start: u64) -> Option<u64> {
    let base = BASE_ADDS.load(Ordering::Relaxed);
    if base == 0
        || MARKED_EPOCH.load(Ordering::Relaxed) != st.epoch
        || st.overflow
        || st.counters == (u64::MAX, u64::MAX)
        || !matches!(loader::rule(), Rule::FindObject | Rule::Relro)
    {
        return None;
    }
    let tail = BASE_LEN
        .load(Ordering::Relaxed)
        .saturating_add(counters.0.wrapping_sub(base));
    // Unloaded libraries keep their records until a full pass sweeps them (see `sweep_first`),
    // and at once when the tail might not find room for its records without that sweep.
    let swept = SWEPT_AT.load(Ordering::Relaxed);
    focused_tail(tail, removed_since_sweep(counters), |tail| {
        sweep_first(swept, start, tail, || free_records(st))
    })
}

/// `tail` if a focused pass may take it on: not longer than [`MAX_TAIL`], and not when
/// libraries were `removed` since the last sweep and `sweep(tail)` says the sweep comes first.
fn focused_tail(tail: u64, removed: bool, sweep: impl FnOnce(u64) -> bool) -> Option<u64> {
    if tail > MAX_TAIL || removed && sweep(tail) {
        None
    } else {
        Some(tail)
    }
}

/// How many records of the library table are free.
fn free_records(st: &State) -> u64 {
    st.libs.iter().filter(|r| !r.used()).count() as u64
}

/// How long the records of unloaded libraries may stay.
pub(super) const SWEEP_INTERVAL_NS: u64 = 10 * probe::PROBE_INTERVAL_NS;

/// Whether a refresh that found libraries unloaded since the last sweep (stamped `swept`) and
/// `tail` new objects to process should do the full pass that sweeps instead, stamped `start`;
/// `free` counts the free records of the library table.
///
/// A stale record costs only table room and a re-apply of a tail object that lands on its
/// address (while lazy slots are watched, the lazy re-check passes over every library once per
/// probe interval anyway, and that pass sweeps).  So: at once when the tail might not find room
/// without the sweep, otherwise [`SWEEP_INTERVAL_NS`] after the last sweep.  Why not every
/// probe interval: a full pass holds the loader's list lock for every listed library
/// (about 0.65 µs each here, 650 µs with 1,000 libraries), and under a dlopen/dlclose storm it
/// would run once per probe interval, every 10 ms: a `dlopen` or `dlclose` of the storm that
/// needs the list lock would then find it taken 4 % of the time.
fn sweep_first(swept: u64, start: u64, tail: u64, free: impl FnOnce() -> u64) -> bool {
    start.saturating_sub(swept) >= SWEEP_INTERVAL_NS || free() < tail
}

/// Whether the loader's remove counter moved since the last full pass (libraries may have been
/// unloaded whose records are still in the table).
pub(super) fn removed_since_sweep(counters: (u64, u64)) -> bool {
    counters.1 != SWEPT_SUBS.load(Ordering::Relaxed)
}

/// Brings the marks up to date after a full pass of refresh that returned `ok` (no library
/// failed: every listed READY one is processed) with the loader's counters `st.counters`.
pub(super) fn after_full_pass(st: &State, ok: bool, start: u64) {
    // Where its LOADING libraries are is not known: the quiet probe stays off until they are done.
    note_pending(&[], if st.unsettled == 0 { 0 } else { u32::MAX });
    SWEPT_SUBS.store(st.counters.1, Ordering::Relaxed);
    SWEPT_AT.store(start, Ordering::Relaxed);
    let trusted = MARKED_EPOCH.load(Ordering::Relaxed) == st.epoch.wrapping_sub(1);
    MARKED_EPOCH.store(st.epoch, Ordering::Relaxed);
    if !ok || st.overflow {
        forget_base();
    } else if st.unsettled == 0 {
        set_base(st.counters.0, 0);
    } else if !trusted {
        // Libraries left LOADING somewhere in the list and no older proof: find the first.
        match first_pending(st) {
            Some((listed, first)) => set_base(st.counters.0, listed.saturating_sub(first)),
            None => forget_base(),
        }
    }
    // Otherwise the older proof still holds: the LOADING libraries were added after it.
}

/// The number of listed objects and the position of the first one whose record is pending (one
/// walk; called inside the walk callback of the pass that left them, so the list is the same).
#[inline(never)]
fn first_pending(st: &State) -> Option<(u64, u64)> {
    let mut listed = 0u64;
    let mut first = None;
    loader::each(loader::LIBS_ALL, |lib| {
        listed += 1;
        if first.is_none() && st.find_lib(lib).is_some_and(|i| st.libs[i].pending()) {
            first = Some(lib.index as u64);
        }
        true
    })
    .ok()?;
    first.map(|f| (listed, f))
}

/// Processes the last `tail` listed objects as a full pass would (new, not-yet-READY ones are
/// patched, known ones cost a table lookup), without sweeping.  `removed`: libraries were
/// unloaded since the last sweep, so a record found for an object of the tail may be a stale
/// one at the same address: the object is re-applied rather than trusted.
///
/// `Err(Error::Full)` when the library table overflowed: the caller does a full pass instead
/// (which sweeps).
/// Not inlined: its frame and a full pass's are never on the stack together.
#[inline(never)]
pub(super) fn tail_pass(
    st: &mut State,
    counters: (u64, u64),
    tail: u64,
    removed: bool,
    rep: &mut Report,
    query: &mut crate::slot::PageQuery,
) -> Result<()> {
    // Nothing added since everything was processed (an unload): no walk at all.  The number of
    // listed objects is glibc's object count where it is read lock-free (stable here: objects
    // are listed and unlisted under the list lock this pass holds, and with one namespace the
    // walk lists exactly those); else one more walk counts them.
    let listed = if tail == 0 {
        0
    } else {
        match crate::rtld::objects() {
            Some(n) => u64::from(n),
            None => loader::count()? as u64,
        }
    };
    let from = listed.saturating_sub(tail) as u32;
    let epoch = st.epoch as u16;
    let mut unsettled = 0u32;
    let mut overflow = false;
    let mut first_err = None;
    let (all, nall) = st.ordered();
    let mut watch = false;
    let mut pending = [0usize; MAX_PENDING];
    let mut first_open = None;
    let mut each = |lib: &loader::LibInfo<'_>| {
        let (order, n, mask) = accepting(&st.sets, &all[..nall], lib);
        if n == 0 {
            rep.libs_filtered += 1;
            if let Some(i) = st.find_lib(lib) {
                st.libs[i].seen = epoch;
            }
            return true;
        }
        let (i, known) = match st.find_lib(lib) {
            Some(i) => (i, true),
            None => match st.insert_lib(lib) {
                Some(i) => (i, false),
                None => {
                    overflow = true;
                    return false;
                }
            },
        };
        st.libs[i].seen = epoch;
        if lib.readiness != Readiness::Ready {
            rep.lib_skipped(lib, SKIP_NOT_READY);
            if let (Some(seg), Some(slot)) =
                (lib.segs.iter().next(), pending.get_mut(unsettled as usize))
            {
                *slot = seg.start;
            }
            first_open.get_or_insert(lib.index as u64);
            unsettled += 1;
            st.libs[i].set_pending(true);
            return true;
        }
        if !known || removed || is_due(st, i, lib, mask) {
            let r = apply_recorded(st, Some(i), lib, &order[..n], mask, u32::MAX, rep, query);
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
            watch |= st.libs[i].has_lazy() || st.libs[i].rescan();
        }
        true
    };
    if tail > 0 {
        loader::each_from(from, loader::LIBS_ALL, &mut each)?;
    }
    if overflow {
        return Err(Error::Full);
    }
    // LOADING libraries can only be in the tail (everything before it was READY when processed).
    note_pending(&pending, unsettled);
    st.unsettled = unsettled;
    st.counters = counters;
    st.watch_lazy |= watch || st.nlazy > 0;
    SETTLED.store((unsettled == 0) as u32, Ordering::Release);
    match first_err {
        Some(e) => {
            // A library of the tail failed: the next refresh walks everything and retries it.
            forget_base();
            Err(e)
        }
        None => {
            // Everything before the first library left LOADING is processed now.
            set_base(
                counters.0,
                first_open.map_or(0, |f| listed.saturating_sub(f)),
            );
            Ok(())
        }
    }
}

// ---- the quiet probe ------------------------------------------------------------------------

/// Most LOADING libraries the quiet probe watches for readiness itself.
const MAX_PENDING: usize = 4;

/// Records the LOADING libraries a pass left (an address in each one's first segment; `n` of
/// them), straight into the published fields: passes run under the state lock, whose every
/// holder has withdrawn the publication first.  `QUIET_NPENDING` is `u32::MAX` when not all
/// are known.
fn note_pending(addrs: &[usize], n: u32) {
    let known = n as usize <= MAX_PENDING && n as usize <= addrs.len();
    for (cell, &a) in QUIET_PENDING.iter().zip(addrs) {
        cell.store(a, Ordering::SeqCst);
    }
    QUIET_NPENDING.store(if known { n } else { u32::MAX }, Ordering::SeqCst);
}

/// What the last refresh left, published for the probe that takes no state lock: the loader's
/// counters it processed up to, whether lazy slots are watched, and the LOADING libraries left
/// (the probe asks `_dl_find_object` whether one became READY).  A sequence lock whose
/// writers all hold the state lock: `QUIET_SEQ` is odd while the fields are being written or are
/// not valid (every holder of the state lock makes it odd first; a refresh makes it even again
/// when it is done), and it only grows, so a reader that sees the same even value before and
/// after reading the fields read one publication.
static QUIET_SEQ: AtomicU64 = AtomicU64::new(1);
static QUIET_ADDS: AtomicU64 = AtomicU64::new(0);
static QUIET_SUBS: AtomicU64 = AtomicU64::new(0);
static QUIET_WATCH_LAZY: AtomicU32 = AtomicU32::new(0);
static QUIET_PENDING: [AtomicUsize; MAX_PENDING] = [const { AtomicUsize::new(0) }; MAX_PENDING];
static QUIET_NPENDING: AtomicU32 = AtomicU32::new(u32::MAX);
/// The thread that held the loader's load lock when a publication with LOADING libraries was
/// made (their `dlopen`), or 0: see [`still_loading`].
static QUIET_LOADER: AtomicU32 = AtomicU32::new(0);

/// Withdraws the published state (called with the state lock held, before it is changed).
pub(super) fn quiet_invalidate() {
    let s = QUIET_SEQ.load(Ordering::SeqCst);
    if s & 1 == 0 {
        QUIET_SEQ.store(s.wrapping_add(1), Ordering::SeqCst);
    }
}

/// Publishes what `st` says after a refresh (called with the state lock held): valid when no
/// library is untracked, a set is installed, and every library left LOADING is known and can
/// be checked lock-free (`_dl_find_object`), so that the same counters mean "nothing to do but
/// the lazy re-check, unless one of those became READY".
pub(super) fn quiet_publish(st: &State) {
    quiet_invalidate();
    let npending = QUIET_NPENDING.load(Ordering::SeqCst);
    let pending_known = st.unsettled == 0
        || (npending == st.unsettled && loader::rule_if_detected() == Some(Rule::FindObject));
    if !pending_known
        || st.overflow
        || st.counters == (u64::MAX, u64::MAX)
        || st.sets.iter().all(|s| s.is_none())
    {
        return;
    }
    QUIET_ADDS.store(st.counters.0, Ordering::SeqCst);
    QUIET_SUBS.store(st.counters.1, Ordering::SeqCst);
    QUIET_WATCH_LAZY.store(st.watch_lazy as u32, Ordering::SeqCst);
    QUIET_NPENDING.store(st.unsettled, Ordering::SeqCst);
    // Under the loader's list lock: a LOADING library's `dlopen` holds the load lock now.
    let loader = if st.unsettled > 0 {
        crate::rtld::load_lock_owner()
    } else {
        0
    };
    QUIET_LOADER.store(loader, Ordering::SeqCst);
    QUIET_SEQ.fetch_add(1, Ordering::SeqCst);
}

/// What [`quiet`] found published.
pub(super) struct Quiet {
    /// Lazy slots are watched (the re-check may be due).
    pub(super) watch_lazy: bool,
    /// An address in each library left LOADING.
    pub(super) pending: [usize; MAX_PENDING],
    pub(super) npending: usize,
}

/// Whether the loader's `counters`, read under its list lock, show nothing the last refresh did
/// not process: what it published then, `None` when refresh must take the state lock.
/// Lock-free.
pub(super) fn quiet(counters: (u64, u64)) -> Option<Quiet> {
    let s1 = QUIET_SEQ.load(Ordering::SeqCst);
    if s1 & 1 != 0 {
        return None;
    }
    let same = QUIET_ADDS.load(Ordering::SeqCst) == counters.0
        && QUIET_SUBS.load(Ordering::SeqCst) == counters.1;
    let mut q = Quiet {
        watch_lazy: QUIET_WATCH_LAZY.load(Ordering::SeqCst) != 0,
        pending: [0; MAX_PENDING],
        npending: (QUIET_NPENDING.load(Ordering::SeqCst) as usize).min(MAX_PENDING),
    };
    for (p, cell) in q.pending.iter_mut().zip(QUIET_PENDING.iter()) {
        *p = cell.load(Ordering::SeqCst);
    }
    (same && QUIET_SEQ.load(Ordering::SeqCst) == s1).then_some(q)
}

/// The add counter the last refresh published, if its publication is valid.
pub(super) fn published_adds() -> Option<u64> {
    let s1 = QUIET_SEQ.load(Ordering::SeqCst);
    let adds = QUIET_ADDS.load(Ordering::SeqCst);
    (s1 & 1 == 0 && QUIET_SEQ.load(Ordering::SeqCst) == s1).then_some(adds)
}

/// Whether the libraries the last refresh left LOADING are, as far as the loader's cold words
/// tell, still inside the same `dlopen`: what was published then (with the LOADING libraries
/// for the caller to ask `_dl_find_object` about), or `None` when refresh must read the
/// loader's counters.  Lock-free; reads neither the add counter nor any word the loader writes
/// while it relocates.
///
/// Why this is enough: a LOADING library's `dlopen` holds the loader's load lock from before it
/// listed the library until after the library became READY (findable by `_dl_find_object`), so
/// while that lock is still held by the same thread and none of them is READY, no other `dlopen`
/// or `dlclose` can have returned since the publication (each needs that lock); the only change
/// the counters can show is the same `dlopen` listing more objects, which the object count
/// (cold, read here) shows.  A `dlopen` that failed after listing its library, then another
/// that finished, then the first thread holding the lock again before the count moved, would
/// go unseen: the caller bounds that by the probe interval (it uses this only while a probe
/// that read the counters completed less than an interval ago).
pub(super) fn still_loading() -> Option<Quiet> {
    let s1 = QUIET_SEQ.load(Ordering::SeqCst);
    if s1 & 1 != 0 {
        return None;
    }
    let loader = QUIET_LOADER.load(Ordering::SeqCst);
    let n = QUIET_NPENDING.load(Ordering::SeqCst) as usize;
    if loader == 0 || n == 0 || n > MAX_PENDING {
        return None;
    }
    let objects = QUIET_ADDS
        .load(Ordering::SeqCst)
        .wrapping_sub(QUIET_SUBS.load(Ordering::SeqCst));
    if crate::rtld::objects().map(u64::from) != Some(objects)
        || crate::rtld::load_lock_owner() != loader
    {
        return None;
    }
    let mut q = Quiet {
        watch_lazy: QUIET_WATCH_LAZY.load(Ordering::SeqCst) != 0,
        pending: [0; MAX_PENDING],
        npending: n,
    };
    for (p, cell) in q.pending.iter_mut().zip(QUIET_PENDING.iter()) {
        *p = cell.load(Ordering::SeqCst);
    }
    (QUIET_SEQ.load(Ordering::SeqCst) == s1).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests here publish the same counters: one at a time.
    static SERIAL: spin::Mutex<()> = spin::Mutex::new(());

    /// Loader counters no process here reaches, so a real refresh of another test in this
    /// binary never finds them published (and answers from its own state as usual).
    const COUNTERS: (u64, u64) = (1 << 60, 1 << 59);

    /// A state as a refresh leaves it: one set installed, these counters processed.
    fn after_refresh(unsettled: u32, watch_lazy: bool) -> State {
        let mut st = EMPTY_STATE;
        st.sets[0] = Some(EMPTY_SET);
        st.counters = COUNTERS;
        st.unsettled = unsettled;
        st.watch_lazy = watch_lazy;
        st
    }

    /// What the quiet probe answers for `COUNTERS` after `publish` ran.  Another test of this
    /// binary may hold the state lock meanwhile (it withdraws any publication first), so a
    /// publication that should be seen is looked for a few hundred times; an answer is never
    /// made up, so one that should not be seen is not seen in any attempt either.
    fn published_after(publish: impl Fn()) -> Option<Quiet> {
        (0..500).find_map(|_| {
            publish();
            quiet(COUNTERS)
        })
    }

    /// A probe stamp far from 0, so that stamps before it exist.
    const SWEPT: u64 = 1 << 40;

    #[test]
    fn records_of_unloaded_libraries_wait_for_the_sweep_interval() {
        let room = || MAX_LIBS as u64;
        let two = SWEPT + 2 * probe::PROBE_INTERVAL_NS;
        assert!(
            !sweep_first(SWEPT, two, 1, room),
            "swept two probe intervals on"
        );
        let almost = SWEPT + SWEEP_INTERVAL_NS - 1;
        assert!(
            !sweep_first(SWEPT, almost, 1, room),
            "swept before the sweep interval"
        );
        let after = SWEPT + SWEEP_INTERVAL_NS;
        assert!(
            sweep_first(SWEPT, after, 1, room),
            "not swept after the sweep interval"
        );
    }

    #[test]
    fn a_focused_pass_takes_on_at_most_max_tail_objects() {
        assert_eq!(focused_tail(MAX_TAIL, false, |_| true), Some(MAX_TAIL));
        assert_eq!(
            focused_tail(MAX_TAIL - 1, true, |_| false),
            Some(MAX_TAIL - 1)
        );
        assert_eq!(focused_tail(MAX_TAIL + 1, false, |_| false), None);
        assert_eq!(focused_tail(0, false, |_| false), Some(0));
    }

    #[test]
    fn a_focused_pass_gives_way_to_the_sweep_only_after_unloads() {
        assert_eq!(
            focused_tail(3, true, |t| t == 3),
            None,
            "the sweep comes first"
        );
        assert_eq!(
            focused_tail(3, true, |_| false),
            Some(3),
            "the sweep can wait"
        );
        assert_eq!(
            focused_tail(3, false, |_| true),
            Some(3),
            "nothing unloaded: no sweep"
        );
    }

    #[test]
    fn free_records_counts_the_records_no_library_holds() {
        let mut st = EMPTY_STATE;
        assert_eq!(free_records(&st), MAX_LIBS as u64);
        let mut inserted = 0;
        loader::each(loader::LIBS_ALL, |lib| {
            inserted += st.insert_lib(lib).is_some() as u64;
            inserted < 1
        })
        .unwrap();
        assert_eq!(inserted, 1);
        assert_eq!(free_records(&st), MAX_LIBS as u64 - 1);
    }

    #[test]
    fn a_tail_that_might_not_find_room_sweeps_first() {
        let soon = SWEPT + 1_000;
        assert!(
            sweep_first(SWEPT, soon, 3, || 2),
            "2 free records taken for 3 objects"
        );
        assert!(
            !sweep_first(SWEPT, soon, 3, || 3),
            "swept with room for the tail"
        );
        assert!(
            !sweep_first(SWEPT, soon, 0, || 0),
            "swept for an empty tail"
        );
    }

    #[test]
    fn a_refresh_that_left_nothing_loading_is_answered_by_the_quiet_probe() {
        let _g = SERIAL.lock();
        let st = after_refresh(0, true);
        let q = published_after(|| {
            note_pending(&[], 0);
            quiet_publish(&st);
        })
        .expect("the counters of a settled refresh are published");
        assert!(q.watch_lazy, "the lazy watch is published with them");
        assert_eq!(q.npending, 0);
        // Other counters (a load, an unload since) are not answered from it.
        for other in [(COUNTERS.0 + 1, COUNTERS.1), (COUNTERS.0, COUNTERS.1 + 1)] {
            assert!(
                quiet(other).is_none(),
                "{other:?} answered from {COUNTERS:?}"
            );
        }
        // Nor is anything once a holder of the state lock has withdrawn it.
        quiet_invalidate();
        assert!(quiet(COUNTERS).is_none(), "answered after the withdrawal");
    }

    #[test]
    fn a_refresh_with_invalid_counters_or_no_set_publishes_nothing() {
        let _g = SERIAL.lock();
        let mut invalid = after_refresh(0, false);
        invalid.counters = (u64::MAX, u64::MAX);
        let none = published_after(|| {
            note_pending(&[], 0);
            quiet_publish(&invalid);
        });
        assert!(none.is_none(), "invalid counters published");
        let mut overflowed = after_refresh(0, false);
        overflowed.overflow = true;
        assert!(
            published_after(|| quiet_publish(&overflowed)).is_none(),
            "an overflowed table published"
        );
        let mut no_set = after_refresh(0, false);
        no_set.sets[0] = None;
        assert!(
            published_after(|| quiet_publish(&no_set)).is_none(),
            "published with no set installed"
        );
    }

    #[test]
    fn libraries_left_loading_are_watched_lock_free_only_when_each_one_is_known() {
        let _g = SERIAL.lock();
        // Only `_dl_find_object` can tell lock-free that one of them became READY.
        if loader::rule() != Rule::FindObject {
            return;
        }
        let st = after_refresh(1, false);
        let addr = 0x7f12_3456_7000;
        // A tail pass that left one library LOADING names it: published with its address.
        let q = published_after(|| {
            note_pending(&[addr, 0, 0, 0], 1);
            quiet_publish(&st);
        })
        .expect("one known LOADING library is watched by the quiet probe");
        assert_eq!((q.npending, q.pending[0]), (1, addr));
        // A full pass does not say where they are; more than four do not fit.
        let full = published_after(|| {
            note_pending(&[], u32::MAX);
            quiet_publish(&st);
        });
        assert!(
            full.is_none(),
            "published after a full pass left one LOADING"
        );
        let five = after_refresh(5, false);
        let many = published_after(|| {
            note_pending(&[addr, addr + 0x1000, addr + 0x2000, addr + 0x3000], 5);
            quiet_publish(&five);
        });
        assert!(many.is_none(), "published with five LOADING, four known");
        // A count that does not match the state's (a pass that lost count) is not trusted.
        let two = after_refresh(2, false);
        let lost = published_after(|| {
            note_pending(&[addr, 0, 0, 0], 1);
            quiet_publish(&two);
        });
        assert!(lost.is_none(), "published with one of two LOADING known");
    }

    /// Where glibc's load lock (`_dl_load_lock`) is, found the way `rtld` finds it.
    fn load_lock_address() -> Option<usize> {
        use crate::read::Memory;
        let mut out = None;
        let _ = probe::under_list_lock(|locked| {
            let tid = crate::sys::gettid();
            let _ = loader::each(loader::LIBS_ALL, |lib| {
                if lib.kind != loader::LibKind::Loader {
                    return true;
                }
                let mut d = crate::Dynamic::UNMAPPED;
                if lib.decode_into(&mut d).is_ok() {
                    if let Ok(Some(sym)) = d.lookup(b"_rtld_global") {
                        let at = sym.address(lib.bias);
                        out = crate::rtld::find(
                            |a| d.segs.u32(a).ok(),
                            at,
                            sym.size as usize,
                            tid,
                            locked,
                            core::mem::size_of::<libc::pthread_mutex_t>(),
                        )
                        .map(|p| p.load_lock);
                    }
                }
                d.unmap();
                false
            });
            Ok(())
        });
        out
    }

    /// A thread that holds glibc's load lock, as a `dlopen` does while it relocates a library
    /// (no `dlopen` or `dlclose` of the process proceeds meanwhile), until it is dropped.
    struct LoadLockHolder {
        thread: libc::pthread_t,
        tid: u32,
    }

    /// The holder's state: 0 starting, 1 holding (its thread id in `HOLDER_TID`), 2 asked to
    /// release.  One holder at a time (the tests that use it hold `SERIAL`).
    static HOLDER: AtomicU32 = AtomicU32::new(0);
    static HOLDER_TID: AtomicU32 = AtomicU32::new(0);

    extern "C" fn hold(lock: *mut libc::c_void) -> *mut libc::c_void {
        let m = lock as *mut libc::pthread_mutex_t;
        // SAFETY: glibc's own recursive mutex, locked and unlocked by this thread only.
        #[allow(unsafe_code)]
        let locked = unsafe { libc::pthread_mutex_lock(m) } == 0;
        HOLDER_TID.store(
            if locked { crate::sys::gettid() } else { 0 },
            Ordering::SeqCst,
        );
        HOLDER.store(1, Ordering::SeqCst);
        while HOLDER.load(Ordering::SeqCst) != 2 {
            core::hint::spin_loop();
        }
        if locked {
            // SAFETY: as above.
            #[allow(unsafe_code)]
            unsafe {
                libc::pthread_mutex_unlock(m)
            };
        }
        core::ptr::null_mut()
    }

    #[allow(unsafe_code)] // a thread of the test locks glibc's load lock
    impl LoadLockHolder {
        fn take(lock: usize) -> LoadLockHolder {
            HOLDER.store(0, Ordering::SeqCst);
            let mut thread: libc::pthread_t = 0;
            // SAFETY: `hold` has the start routine's type; its argument is the mutex's address.
            let rc = unsafe {
                libc::pthread_create(&mut thread, core::ptr::null(), hold, lock as *mut _)
            };
            assert_eq!(rc, 0, "pthread_create");
            while HOLDER.load(Ordering::SeqCst) != 1 {
                core::hint::spin_loop();
            }
            let tid = HOLDER_TID.load(Ordering::SeqCst);
            let holder = LoadLockHolder { thread, tid };
            assert_ne!(tid, 0, "the load lock could not be taken");
            holder
        }
    }

    impl Drop for LoadLockHolder {
        #[allow(unsafe_code)]
        fn drop(&mut self) {
            HOLDER.store(2, Ordering::SeqCst);
            // SAFETY: the thread created by `take`, joined once.
            unsafe { libc::pthread_join(self.thread, core::ptr::null_mut()) };
        }
    }

    /// What `still_loading` answers after `publish` ran (looked for a few hundred times, as in
    /// [`published_after`]: a holder of the state lock may withdraw the publication meanwhile).
    fn still_loading_after(publish: impl Fn()) -> Option<Quiet> {
        (0..500).find_map(|_| {
            publish();
            still_loading()
        })
    }

    #[test]
    fn libraries_loading_inside_the_same_dlopen_are_answered_without_the_add_counter() {
        let _g = SERIAL.lock();
        // The LOADING libraries are watched lock-free only under `_dl_find_object`, and the
        // load lock's owner is known only where glibc's counters were found.
        if loader::rule() != Rule::FindObject || !crate::rtld::in_use() {
            return;
        }
        let lock = load_lock_address().expect("glibc's load lock, found as rtld finds it");
        // Published counters whose add counter no process reaches (a real refresh of another
        // test is never answered from them) and whose difference is the object count now.
        let objects = u64::from(crate::rtld::objects().expect("the object count"));
        let mut st = after_refresh(1, true);
        st.counters = (1 << 60, (1 << 60) - objects);
        // Not an object: `_dl_find_object` does not know it (the library is still LOADING).
        let addr = 0x10_0000;
        let holder = LoadLockHolder::take(lock);
        assert_eq!(crate::rtld::load_lock_owner(), holder.tid);
        let publish_one = || {
            note_pending(&[addr, 0, 0, 0], 1);
            quiet_publish(&st);
        };
        let q = still_loading_after(publish_one)
            .expect("one LOADING library inside the dlopen that holds the load lock");
        assert_eq!((q.npending, q.pending[0], q.watch_lazy), (1, addr, true));
        // Four (as many as are watched), and the lazy watch off.
        let mut four = after_refresh(4, false);
        four.counters = st.counters;
        let all = [addr, addr + 0x1000, addr + 0x2000, addr + 0x3000];
        let q = still_loading_after(|| {
            note_pending(&all, 4);
            quiet_publish(&four);
        })
        .expect("four LOADING libraries inside the same dlopen");
        assert_eq!((q.npending, q.pending, q.watch_lazy), (4, all, false));
        // Withdrawn by a holder of the state lock: nothing is answered.
        publish_one();
        quiet_invalidate();
        assert!(still_loading().is_none(), "answered after the withdrawal");
        // The dlopen listed another object since (the count moved): the counters must be read.
        let mut listed = after_refresh(1, true);
        listed.counters = (1 << 60, (1 << 60) - objects + 1);
        let moved = still_loading_after(|| {
            note_pending(&[addr, 0, 0, 0], 1);
            quiet_publish(&listed);
        });
        // Another thread holds the load lock now (the dlopen returned; another one started).
        let other = still_loading_after(|| {
            publish_one();
            QUIET_LOADER.store(holder.tid + 1, Ordering::SeqCst);
        });
        // The lock released (the dlopen returned): published with its owner, asked without.
        publish_one();
        drop(holder);
        let released = still_loading();
        // Published while nobody held the load lock, asked while nobody does.  Another test of
        // this binary may be inside a dlopen at that moment (it then holds the load lock), so
        // the check fails only if every one of many attempts answers.
        let unowned = (0..50)
            .map(|_| still_loading_after(publish_one))
            .find(|q| q.is_none())
            .unwrap_or_else(|| still_loading_after(publish_one));
        quiet_invalidate();
        assert!(moved.is_none(), "answered although the object count moved");
        assert!(other.is_none(), "answered for another thread's load");
        assert!(
            released.is_none(),
            "answered after the load lock was released"
        );
        assert!(
            unowned.is_none(),
            "answered with no dlopen holding the load lock"
        );
    }
    /// Whether `refresh_probe(0)` answers `Unchanged` right after `publish`, asked while the
    /// publication stayed as `publish` left it (a holder of the state lock, a real refresh of
    /// another test, may withdraw or replace it meanwhile: such an attempt is made again).
    fn probe_unchanged_after(publish: impl Fn()) -> bool {
        for _ in 0..500 {
            publish();
            let seq = QUIET_SEQ.load(Ordering::SeqCst);
            if seq & 1 != 0 {
                continue;
            }
            let unchanged = matches!(super::super::refresh_probe(0), Ok(Probe::Unchanged));
            if QUIET_SEQ.load(Ordering::SeqCst) == seq {
                return unchanged;
            }
        }
        panic!("the publication never stayed for one refresh probe");
    }

    #[test]
    fn a_refresh_inside_the_same_dlopen_stops_at_the_quiet_probe_only_within_its_bounds() {
        let _g = SERIAL.lock();
        if loader::rule() != Rule::FindObject || !crate::rtld::in_use() {
            return;
        }
        let lock = load_lock_address().expect("glibc's load lock, found as rtld finds it");
        let objects = u64::from(crate::rtld::objects().expect("the object count"));
        let loading = 0x10_0000; // `_dl_find_object` does not know it: still LOADING
        let ready = still_loading as *const () as usize; // in this test binary: READY
        let holder = LoadLockHolder::take(lock);
        // One library left LOADING by the dlopen that holds the load lock; counters no process
        // reaches (the quiet probe's own comparison never matches), the object count of now.
        let publish = |pending: usize, watch_lazy: bool, probed: bool, lazy_checked: u64| {
            let mut st = after_refresh(1, watch_lazy);
            st.counters = (1 << 60, (1 << 60) - objects);
            note_pending(&[pending, 0, 0, 0], 1);
            quiet_publish(&st);
            SEEN_GENERATION.store(GENERATION.load(Ordering::SeqCst), Ordering::SeqCst);
            LAZY_CHECKED.store(lazy_checked, Ordering::SeqCst);
            if probed {
                probe::probed(probe::probe_start());
            } else {
                probe::invalidate();
            }
        };
        let now = probe::probe_start;
        let answers = [
            // Within the probe interval of the last probe, the library still LOADING.
            probe_unchanged_after(|| publish(loading, false, true, 0)),
            // No probe within the interval: another dlopen may have come and gone between.
            probe_unchanged_after(|| publish(loading, false, false, 0)),
            // The library became READY: the pass that hooks it is due.
            probe_unchanged_after(|| publish(ready, false, true, 0)),
            // Lazy slots watched and re-checked within the interval.
            probe_unchanged_after(|| publish(loading, true, true, now())),
            // Lazy slots watched and their re-check due.
            probe_unchanged_after(|| publish(loading, true, true, 0)),
        ];
        drop(holder);
        quiet_invalidate();
        probe::invalidate();
        assert_eq!(
            answers,
            [true, false, false, true, false],
            "Unchanged: still LOADING, no probe within the interval, READY, lazy re-checked, \
             lazy re-check due"
        );
    }
}
