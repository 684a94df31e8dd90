//! The table of tracked libraries: which sets were applied to each listed object, so that a
//! refresh patches only new or changed ones.  Fixed capacity; never keeps a pointer into a library.

use crate::loader::LibInfo;

use super::*;

/// One tracked library: 24 bytes (the table holds [`MAX_LIBS`] of them).
#[derive(Clone, Copy, Default)]
pub(super) struct LibRec {
    pub(super) bias: usize,
    /// Hash of what else identifies a listed object: program headers, name string, first segment.
    pub(super) key: u32,
    /// One patched slot (its offset from `bias`; 0: none) and the hook whose replacement was
    /// written there, to notice a library reloaded at the same place.  See [`State::reloaded`].
    sentinel_off: u32,
    sentinel_hook: Written,
    /// Walk epoch in which the library was last listed.  Every pass that completes sweeps the
    /// records of earlier epochs, so 16 bits tell the current one apart unless 65,536 passes in
    /// a row fail before their sweep.
    pub(super) seen: u16,
    /// Bit i: set in table position i has been applied.
    applied: u8,
    /// `USED`, `PENDING`, `HAS_LAZY`, `RESCAN`.
    flags: u8,
}

// `applied` has a bit per set position.
const _: () = assert!(MAX_SETS <= 8);
const _: () = assert!(core::mem::size_of::<LibRec>() <= 24);

/// Not a free entry.
const USED: u8 = 1;
/// Not READY when last seen.
const PENDING: u8 = 2;
/// Some of its slots are in the lazy table (re-checked by every walking refresh).
const HAS_LAZY: u8 = 4;
/// Lazily bound slots that did not fit the lazy table: re-scanned by every walking refresh.
const RESCAN: u8 = 8;

impl LibRec {
    pub(super) const EMPTY: LibRec = LibRec {
        bias: 0,
        key: 0,
        sentinel_off: 0,
        sentinel_hook: Written(0),
        seen: 0,
        applied: 0,
        flags: 0,
    };

    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn put_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Whether the entry holds a library (else it is free).
    pub(super) fn used(&self) -> bool {
        self.flag(USED)
    }

    /// Whether the library was not READY when last seen.
    pub(super) fn pending(&self) -> bool {
        self.flag(PENDING)
    }

    pub(super) fn set_pending(&mut self, on: bool) {
        self.put_flag(PENDING, on);
    }

    /// Whether some of its slots are in the lazy table.
    pub(super) fn has_lazy(&self) -> bool {
        self.flag(HAS_LAZY)
    }

    /// Whether its lazily bound slots are re-scanned by every walking refresh (they did not
    /// fit the lazy table).
    pub(super) fn rescan(&self) -> bool {
        self.flag(RESCAN)
    }

    /// The set positions (bit i: position i) applied to the library.
    pub(super) fn applied(&self) -> u32 {
        u32::from(self.applied)
    }

    /// Marks the sets in `mask` (bits of set positions) applied.
    pub(super) fn add_applied(&mut self, mask: u32) {
        self.applied |= mask as u8;
    }

    /// Marks the sets in `mask` (bits of set positions) not applied.
    pub(super) fn drop_applied(&mut self, mask: u32) {
        self.applied &= !(mask as u8);
    }
}

/// The hook whose replacement gothook wrote into a slot, in 32 bits instead of the value: the
/// set's generation (its id without the position byte), its position and the hook's index.
/// While that set is installed it names the value exactly; once the set is gone (or its
/// position holds a later install) it names nothing, and a slot recorded with it counts as
/// changed, as a slot recorded with the old value would once uninstall restored it.  The
/// generation repeats after 2^24 installs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(super) struct Written(u32);

// Position and hook index share the low byte.
const _: () = assert!(MAX_SETS <= 8 && MAX_HOOKS <= 32);

impl State {
    /// The hook whose replacement is `value` (the first, if several share it).
    pub(super) fn written(&self, value: usize) -> Option<Written> {
        self.sets.iter().enumerate().find_map(|(pos, s)| {
            let s = s.as_ref()?;
            let k = s.hooks[..s.nhooks]
                .iter()
                .position(|h| h.replacement == value)?;
            Some(Written((s.id & !0xff) | (pos as u32) << 5 | k as u32))
        })
    }

    /// The replacement `w` names, while its set is installed.
    pub(super) fn value_of(&self, w: Written) -> Option<usize> {
        let (pos, k) = ((w.0 >> 5 & 7) as usize, (w.0 & 31) as usize);
        let s = self.sets.get(pos)?.as_ref()?;
        (s.id & !0xff == w.0 & !0xff && k < s.nhooks).then(|| s.hooks[k].replacement)
    }

    /// Whether library `i`, listed now as `lib`, was reloaded at the same place: its sentinel
    /// slot no longer holds the replacement recorded there.
    pub(super) fn reloaded(&self, i: usize, lib: &LibInfo<'_>) -> bool {
        let r = &self.libs[i];
        if r.sentinel_off == 0 {
            return false;
        }
        let slot = r.bias.wrapping_add(r.sentinel_off as usize);
        lib.contains(slot)
            && match self.value_of(r.sentinel_hook) {
                Some(v) => crate::slot::peek_listed(lib, slot) != Some(v),
                None => true,
            }
    }

    /// Records the sentinel a pass returned for library `i`: (slot, value written).  A slot more
    /// than 4 GiB past the bias is not kept: the library is then told apart by its key alone.
    pub(super) fn set_sentinel(&mut self, i: usize, sentinel: Option<(usize, usize)>) {
        let bias = self.libs[i].bias;
        let kept = sentinel.and_then(|(slot, value)| {
            let off = u32::try_from(slot.wrapping_sub(bias)).ok()?;
            Some((off, self.written(value)?)).filter(|&(off, _)| off != 0)
        });
        let r = &mut self.libs[i];
        (r.sentinel_off, r.sentinel_hook) = kept.unwrap_or_default();
    }
}

/// A slot that held its lazy PLT stub when gothook patched it, and the hook gothook wrote.
/// `_dl_fixup` of a thread that entered the stub before the patch can store the real target
/// into it at any later time (the thread may be preempted inside the loader), so every
/// refresh that walks the libraries reads these slots and repairs the library on a mismatch.
/// 14 bytes: the library by its record's position, addresses as offsets from its bias.
#[derive(Clone, Copy)]
#[repr(Rust, packed(2))]
pub(super) struct LazySlot {
    /// Position of the library's record in the library table (`remove_at` keeps it current).
    lib: u16,
    /// The slot's offset from the library's bias.
    offset: u32,
    /// What the slot held before the first patch, as an offset from the bias: its lazy PLT
    /// stub, which lies in the library (uninstall writes it back, so the next call binds the
    /// way the loader would, version and scope included).
    stub: u32,
    /// The hook whose replacement gothook wrote.
    hook: Written,
}

impl LazySlot {
    pub(super) const EMPTY: LazySlot = LazySlot {
        lib: 0,
        offset: 0,
        stub: 0,
        hook: Written(0),
    };

    fn lib(&self) -> usize {
        self.lib as usize
    }

    fn slot(&self, bias: usize) -> usize {
        bias.wrapping_add(self.offset as usize)
    }
}

// `LazySlot::lib` holds a position of the library table.
const _: () = assert!(MAX_LIBS <= 1 << 16);
const _: () = assert!(core::mem::size_of::<LazySlot>() <= 14);

/// Most lazily bound slots watched at once; beyond it their libraries are re-scanned instead
/// (sized so that all static data stays within 64 KiB).
pub(super) const MAX_LAZY: usize = 256;

/// The lazy stubs recorded for one library, which `restore` writes back into slots that no
/// set holds any more.
#[derive(Clone, Copy)]
pub(super) struct LazyStubs<'a> {
    lazy: &'a [LazySlot],
    /// The library's record (`None`: untracked, so nothing is recorded).
    lib: Option<usize>,
    bias: usize,
}

impl<'a> LazyStubs<'a> {
    /// The stubs of `lib` among the records `lazy` (of the library table `libs`).
    pub(super) fn of(libs: &[LibRec; MAX_LIBS], lazy: &'a [LazySlot], lib: &LibInfo<'_>) -> Self {
        LazyStubs {
            lazy,
            lib: find_key(libs, lib.bias, key_of(lib)),
            bias: lib.bias,
        }
    }

    /// The lazy stub recorded for the slot at `slot`.
    pub(super) fn at(&self, slot: usize) -> Option<usize> {
        let i = self.lib?;
        self.lazy
            .iter()
            .find(|l| l.lib() == i && l.slot(self.bias) == slot)
            .map(|l| self.bias.wrapping_add(l.stub as usize))
    }
}

/// Slots of one library that a pass patched or found patched, for the lazy table.
pub(super) struct Notes {
    /// (slot, value written, held its lazy stub before, value before).
    pub(super) items: [(usize, usize, bool, usize); MAX_NOTES],
    pub(super) n: usize,
    pub(super) overflow: bool,
}

/// Most slots of one lazily bound library noted by one pass.
pub(super) const MAX_NOTES: usize = 12;

impl Notes {
    pub(super) const fn new() -> Notes {
        Notes {
            items: [(0, 0, false, 0); MAX_NOTES],
            n: 0,
            overflow: false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.n = 0;
        self.overflow = false;
    }

    /// Slot `slot` now holds `value`; `unbound`: it held its lazy PLT stub `before`.
    pub(super) fn push(&mut self, slot: usize, value: usize, unbound: bool, before: usize) {
        if self.n < MAX_NOTES {
            self.items[self.n] = (slot, value, unbound, before);
            self.n += 1;
        } else {
            self.overflow = true;
        }
    }
}

/// The record of the library at `bias` with identity `key` in the table `libs`.
fn find_key(libs: &[LibRec; MAX_LIBS], bias: usize, key: u32) -> Option<usize> {
    let h = home(bias, key);
    (0..MAX_LIBS)
        .map(|k| (h + k) % MAX_LIBS)
        .take_while(|&i| libs[i].used())
        .find(|&i| libs[i].bias == bias && libs[i].key == key)
}

impl State {
    /// Whether a watched lazy slot of library `i` (listed now as `lib`) lost its value.
    pub(super) fn lazy_lost(&self, i: usize, lib: &LibInfo<'_>) -> bool {
        let bias = self.libs[i].bias;
        self.lazy[..self.nlazy].iter().any(|l| {
            let slot = l.slot(bias);
            l.lib() == i
                && lib.contains(slot)
                && match self.value_of(l.hook) {
                    Some(v) => crate::slot::peek_listed(lib, slot) != Some(v),
                    None => true,
                }
        })
    }

    /// Brings library `i`'s lazy records up to date after a pass patched it: slots it noted
    /// (in the scratch notes) keep (or, if they were unbound, get) a record of the hook now
    /// written; records of slots no set holds any more are dropped.  Slots that cannot be
    /// recorded (the table is full, or an offset needs more than 32 bits) mark the library for
    /// re-scans instead.
    pub(super) fn note_lazy(&mut self, i: usize) {
        let bias = self.libs[i].bias;
        let n = self.scratch.notes.n;
        let mut rescan = self.scratch.notes.overflow;
        let mut k = 0;
        while k < self.nlazy {
            let l = self.lazy[k];
            let now = (l.lib() == i).then(|| {
                let items = &self.scratch.notes.items[..n];
                let noted = items.iter().find(|n| n.0 == l.slot(bias))?;
                self.written(noted.1)
            });
            match now {
                None => k += 1,
                Some(Some(hook)) => {
                    self.lazy[k].hook = hook;
                    k += 1;
                }
                Some(None) => {
                    self.nlazy -= 1;
                    self.lazy[k] = self.lazy[self.nlazy];
                }
            }
        }
        for j in 0..n {
            let (slot, value, unbound, stub) = self.scratch.notes.items[j];
            let known = self.lazy[..self.nlazy]
                .iter()
                .any(|l| l.lib() == i && l.slot(bias) == slot);
            if !unbound || known {
                continue;
            }
            let offset = |a: usize| u32::try_from(a.wrapping_sub(bias)).ok();
            let record = match (offset(slot), offset(stub), self.written(value)) {
                (Some(offset), Some(stub), Some(hook)) if self.nlazy < MAX_LAZY => LazySlot {
                    lib: i as u16,
                    offset,
                    stub,
                    hook,
                },
                _ => {
                    rescan = true;
                    continue;
                }
            };
            self.lazy[self.nlazy] = record;
            self.nlazy += 1;
        }
        let has_lazy = self.lazy[..self.nlazy].iter().any(|l| l.lib() == i);
        let r = &mut self.libs[i];
        r.put_flag(RESCAN, rescan);
        r.put_flag(HAS_LAZY, has_lazy);
    }

    pub(super) fn find_lib(&self, lib: &LibInfo<'_>) -> Option<usize> {
        find_key(&self.libs, lib.bias, key_of(lib))
    }

    pub(super) fn insert_lib(&mut self, lib: &LibInfo<'_>) -> Option<usize> {
        let key = key_of(lib);
        let h = home(lib.bias, key);
        let i = (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .find(|&i| !self.libs[i].used())?;
        self.libs[i] = LibRec {
            bias: lib.bias,
            key,
            flags: USED,
            ..LibRec::EMPTY
        };
        Some(i)
    }

    /// Drops the lazy watch (records and re-scan marks) of libraries that no set is applied to.
    pub(super) fn forget_unhooked(&mut self) {
        let mut k = 0;
        while k < self.nlazy {
            if self.libs[self.lazy[k].lib()].applied != 0 {
                k += 1;
            } else {
                self.nlazy -= 1;
                self.lazy[k] = self.lazy[self.nlazy];
            }
        }
        for r in self.libs.iter_mut().filter(|r| r.used() && r.applied == 0) {
            r.put_flag(HAS_LAZY | RESCAN, false);
        }
        self.watch_lazy = self.nlazy > 0 || self.libs.iter().any(|r| r.used() && r.rescan());
    }

    /// Drops records of libraries not listed in the current epoch, with their lazy records
    /// (linear probing, backward shift).
    pub(super) fn sweep(&mut self) {
        let mut i = 0;
        while i < MAX_LIBS {
            if self.libs[i].used() && self.libs[i].seen != self.epoch as u16 {
                self.remove_at(i);
                // The shift may have moved another stale entry into `i`: look again.
                continue;
            }
            i += 1;
        }
    }

    /// Removes record `hole`, its lazy records with it; the records that move into the hole
    /// take their lazy records along.
    pub(super) fn remove_at(&mut self, mut hole: usize) {
        self.libs[hole] = LibRec::EMPTY;
        let mut k = 0;
        while k < self.nlazy {
            if self.lazy[k].lib() == hole {
                self.nlazy -= 1;
                self.lazy[k] = self.lazy[self.nlazy];
            } else {
                k += 1;
            }
        }
        let mut j = hole;
        loop {
            j = (j + 1) % MAX_LIBS;
            if !self.libs[j].used() {
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
                self.libs[j] = LibRec::EMPTY;
                for l in self.lazy[..self.nlazy].iter_mut().filter(|l| l.lib() == j) {
                    l.lib = hole as u16;
                }
                hole = j;
            }
        }
    }
}

pub(super) fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

pub(super) fn home(bias: usize, key: u32) -> usize {
    (mix(bias as u64 ^ ((key as u64) << 32)) % MAX_LIBS as u64) as usize
}

/// What identifies a listed object besides its bias: a library unloaded and replaced by another
/// at the same address differs in at least one of these (or, if not, its sentinel slot reverted).
pub(super) fn key_of(lib: &LibInfo<'_>) -> u32 {
    let seg_end = lib.segs.iter().next().map_or(0, |r| r.end);
    mix(mix(lib.phdr as u64) ^ mix(lib.name_ptr as u64).rotate_left(21) ^ seg_end as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bias: usize, seen: u16) -> LibRec {
        LibRec {
            bias,
            key: 7,
            seen,
            flags: USED,
            ..LibRec::EMPTY
        }
    }

    /// A lazy record of the library in record `lib` (slot at bias + 0x18).
    fn lazy(lib: usize) -> LazySlot {
        LazySlot {
            lib: lib as u16,
            offset: 0x18,
            stub: 0x20,
            hook: Written(0),
        }
    }

    /// Places a record at its home position (or the next free one), as `insert_lib` would.
    fn place(st: &mut State, r: LibRec) -> usize {
        let h = home(r.bias, r.key);
        let i = (0..MAX_LIBS)
            .map(|k| (h + k) % MAX_LIBS)
            .find(|&i| !st.libs[i].used())
            .unwrap();
        st.libs[i] = r;
        i
    }

    /// A set at position `pos` with id generation `gen`, hooking with `replacements`.
    fn put_set(st: &mut State, pos: usize, gen: u32, replacements: &[usize]) {
        let mut set = EMPTY_SET;
        set.id = gen << 8 | (pos as u32 + 1);
        set.nhooks = replacements.len();
        for (h, &r) in set.hooks.iter_mut().zip(replacements) {
            h.replacement = r;
        }
        st.sets[pos] = Some(set);
    }

    #[test]
    fn a_written_replacement_is_named_exactly_while_its_set_stays_installed() {
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000, 0x2000]);
        put_set(&mut st, 7, 0xff_ffff, &[0x3000; MAX_HOOKS]);
        st.sets[7].as_mut().unwrap().hooks[MAX_HOOKS - 1].replacement = 0x4000;
        for v in [0x1000, 0x2000, 0x3000, 0x4000] {
            let w = st.written(v).expect("a replacement of an installed set");
            assert_eq!(st.value_of(w), Some(v));
        }
        assert_eq!(st.written(0x5000), None, "not a replacement");
        let w = st.written(0x2000).unwrap();
        // Uninstalled: the value is no longer known, so a slot recorded with it counts as changed.
        st.sets[0] = None;
        assert_eq!(st.value_of(w), None);
        // A later install at the same position hooking other functions names nothing either.
        put_set(&mut st, 0, 2, &[0x6000, 0x7000]);
        assert_eq!(st.value_of(w), None);
        // Shorter than the hook index recorded, with the same generation (after 2^24 installs).
        put_set(&mut st, 0, 1 + (1 << 24), &[0x6000]);
        assert_eq!(st.value_of(w), None);
    }

    #[test]
    fn a_sweep_drops_the_records_and_lazy_slots_of_libraries_not_listed_this_epoch() {
        let mut st = EMPTY_STATE;
        st.epoch = 9;
        let gone = place(&mut st, record(0x10_0000, 8)); // unloaded: last listed one pass ago
        let kept = place(&mut st, record(0x20_0000, 9)); // listed in this pass
        st.lazy[0] = lazy(gone);
        st.lazy[1] = lazy(kept);
        st.nlazy = 2;
        st.sweep();
        let kept: [bool; 2] = [0x10_0000, 0x20_0000].map(|b| find_key(&st.libs, b, 7).is_some());
        assert_eq!(
            kept,
            [false, true],
            "only the record listed this epoch stays"
        );
        assert_eq!(st.libs.iter().filter(|r| r.used()).count(), 1);
        assert_eq!(st.nlazy, 1, "the unloaded library's lazy slot is dropped");
        assert_eq!(
            Some(st.lazy[0].lib()),
            find_key(&st.libs, 0x20_0000, 7),
            "the listed library's lazy slot stays with its record"
        );
    }

    #[test]
    fn a_sweep_of_a_table_where_nothing_was_listed_empties_it() {
        let mut st = EMPTY_STATE;
        st.epoch = 3;
        place(&mut st, record(0x10_0000, 1));
        place(&mut st, record(0x30_0000, 2));
        st.sweep();
        assert!(
            st.libs.iter().all(|r| !r.used()),
            "every stale record is removed"
        );
        // The freed table takes new records again.
        place(&mut st, record(0x40_0000, 3));
        assert!(find_key(&st.libs, 0x40_0000, 7).is_some());
    }

    #[test]
    fn lazy_slots_that_do_not_fit_the_table_make_their_library_rescanned_instead() {
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000]);
        let hook = st.written(0x1000).unwrap();
        let full = place(&mut st, record(0x10_0000, 1));
        let late = place(&mut st, record(0x20_0000, 1));
        // The table full with another library's slots.
        for (k, l) in st.lazy.iter_mut().enumerate() {
            *l = LazySlot {
                offset: 0x18 + 8 * k as u32,
                hook,
                ..lazy(full)
            };
        }
        st.nlazy = MAX_LAZY;
        // A pass patched one slot of `late` that held its lazy stub.
        st.scratch.notes.items[0] = (0x20_0018, 0x1000, true, 0x20_0400);
        st.scratch.notes.n = 1;
        st.note_lazy(late);
        assert_eq!(st.nlazy, MAX_LAZY, "no record beyond the table");
        assert!(st.libs[late].rescan(), "the library is re-scanned instead");
        assert!(!st.libs[late].has_lazy());
        // With room again it is recorded, and no longer re-scanned.
        st.nlazy = MAX_LAZY - 1;
        st.note_lazy(late);
        assert_eq!(st.nlazy, MAX_LAZY);
        assert!(st.libs[late].has_lazy() && !st.libs[late].rescan());
        // A stub more than 4 GiB from the library's bias cannot be kept as an offset.
        st.nlazy = 0;
        st.scratch.notes.items[0] = (0x20_0018, 0x1000, true, 0x20_0000 + (1 << 33));
        st.note_lazy(late);
        assert_eq!(st.nlazy, 0);
        assert!(st.libs[late].rescan());
    }

    /// A library base (key 7) whose record's home position is `h`, the `n`-th such base.
    fn base_at_home(h: usize, n: usize) -> usize {
        (1..)
            .map(|k| 0x10_0000 + k * 0x1000)
            .filter(|&b| home(b, 7) == h)
            .nth(n)
            .unwrap()
    }

    #[test]
    fn removing_either_record_leaves_the_other_findable_with_its_lazy_slots_whatever_their_homes() {
        // Every arrangement of two records in the (test-sized) table: both at their homes, the
        // second displaced forwards, the second displaced past the table's end to position 0.
        assert_eq!(MAX_LIBS, 2, "the unit tests' table");
        for (home_a, home_b) in [(0, 1), (1, 0), (0, 0), (1, 1)] {
            for remove_first in [true, false] {
                let mut st = EMPTY_STATE;
                let (a, b) = (base_at_home(home_a, 0), base_at_home(home_b, 1));
                let at_a = place(&mut st, record(a, 1));
                let at_b = place(&mut st, record(b, 1));
                let (gone, stays, stays_base) = if remove_first {
                    (at_a, at_b, b)
                } else {
                    (at_b, at_a, a)
                };
                // The removed library's lazy slots first, last and between the other's.
                st.lazy[0] = lazy(gone);
                st.lazy[1] = lazy(stays);
                st.lazy[2] = lazy(gone);
                st.lazy[3] = lazy(stays);
                st.lazy[4] = lazy(gone);
                st.nlazy = 5;
                st.remove_at(gone);
                let case = (home_a, home_b, gone);
                let found = find_key(&st.libs, stays_base, 7);
                assert!(
                    found.is_some(),
                    "{case:?} (homes, removed): the other record is lost"
                );
                assert_eq!(
                    st.libs.iter().filter(|r| r.used()).count(),
                    1,
                    "{case:?} (homes, removed): one record left"
                );
                assert_eq!(
                    st.nlazy, 2,
                    "{case:?} (homes, removed): the removed library's lazy slots go"
                );
                assert!(
                    st.lazy[..2].iter().all(|l| Some(l.lib()) == found),
                    "{case:?} (homes, removed): the other library's lazy slots follow its record"
                );
                // Only a record displaced from the removed one's position moves (into it).
                let moved = home_a == home_b && remove_first;
                assert_eq!(
                    found,
                    Some(if moved { gone } else { stays }),
                    "{case:?} (homes, removed): the other record's position"
                );
            }
        }
    }

    #[test]
    fn a_record_moved_by_the_backward_shift_keeps_its_lazy_slots() {
        let mut st = EMPTY_STATE;
        // Two libraries with the same home position: the second lands one further.
        let first = 0x10_0000;
        let second = (1..)
            .map(|k| first + k * 0x1000)
            .find(|&b| home(b, 7) == home(first, 7))
            .unwrap();
        let at_home = place(&mut st, record(first, 1));
        let displaced = place(&mut st, record(second, 1));
        assert_ne!(at_home, displaced);
        st.lazy[0] = lazy(at_home);
        st.lazy[1] = lazy(displaced);
        st.lazy[2] = lazy(displaced);
        st.nlazy = 3;
        st.remove_at(at_home);
        assert_eq!(find_key(&st.libs, second, 7), Some(at_home), "shifted home");
        assert_eq!(st.nlazy, 2, "the removed library's lazy slot goes with it");
        assert!(
            st.lazy[..st.nlazy].iter().all(|l| l.lib() == at_home),
            "the moved library's lazy slots follow its record"
        );
    }

    /// A library listed at `mem` (its one segment): the loader's record as a walk would lend it.
    fn lib_over<'a>(mem: &'a [AtomicUsize], segs: &'a mut crate::mem::Segments) -> LibInfo<'a> {
        let base = mem.as_ptr() as usize;
        segs.push(base, core::mem::size_of_val(mem), crate::elf::PF_R)
            .unwrap();
        LibInfo {
            bias: base,
            name: b"/test/libfake.so",
            name_ptr: c"/test/libfake.so".as_ptr().cast(),
            phdr: base,
            phnum: 0,
            kind: crate::loader::LibKind::Other,
            readiness: crate::loader::Readiness::Ready,
            adds: 0,
            subs: 0,
            index: 0,
            segs,
        }
    }

    #[test]
    fn a_library_counts_as_reloaded_only_when_its_sentinel_slot_lost_the_recorded_replacement() {
        let mem: [AtomicUsize; 8] = Default::default();
        let mut segs = crate::mem::Segments::default();
        let lib = lib_over(&mem, &mut segs);
        let cell = |k: usize| &mem[k];
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000, 0x2000]);
        let i = place(
            &mut st,
            LibRec {
                key: key_of(&lib),
                ..record(lib.bias, 1)
            },
        );
        // No sentinel recorded: never counts as reloaded.
        assert!(!st.reloaded(i, &lib));
        let slot = lib.bias + 2 * core::mem::size_of::<usize>();
        st.set_sentinel(i, Some((slot, 0x2000)));
        cell(2).store(0x2000, Ordering::Relaxed);
        assert!(
            !st.reloaded(i, &lib),
            "the slot still holds the replacement"
        );
        cell(2).store(0x7777, Ordering::Relaxed);
        assert!(
            st.reloaded(i, &lib),
            "a reloaded library's slot holds its own binding"
        );
        // The same offset outside what is listed now (a smaller library at the same bias).
        let small: [AtomicUsize; 2] = Default::default();
        let mut small_segs = crate::mem::Segments::default();
        let mut other = lib_over(&small, &mut small_segs);
        other.bias = lib.bias;
        assert!(
            !st.reloaded(i, &other),
            "the sentinel slot is not in the listed library"
        );
        // Once the set that wrote it is gone, the recorded value is unknown: reloaded.
        cell(2).store(0x2000, Ordering::Relaxed);
        st.sets[0] = None;
        assert!(st.reloaded(i, &lib));
    }

    #[test]
    fn a_sentinel_is_kept_only_at_a_nonzero_offset_within_4_gib_holding_a_replacement() {
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000]);
        let bias = 0x10_0000;
        let i = place(&mut st, record(bias, 1));
        st.set_sentinel(i, Some((bias + 0x40, 0x1000)));
        assert_eq!(st.libs[i].sentinel_off, 0x40);
        assert_eq!(st.value_of(st.libs[i].sentinel_hook), Some(0x1000));
        for (slot, value) in [
            (bias, 0x1000),             // offset 0 means "none"
            (bias + (1 << 33), 0x1000), // offset needs more than 32 bits
            (bias + 0x40, 0x5000),      // not a replacement of an installed set
        ] {
            st.set_sentinel(i, Some((bias + 0x40, 0x1000)));
            st.set_sentinel(i, Some((slot, value)));
            assert_eq!(st.libs[i].sentinel_off, 0, "({slot:#x}, {value:#x}) kept");
        }
        st.set_sentinel(i, Some((bias + 0x40, 0x1000)));
        st.set_sentinel(i, None);
        assert_eq!(
            st.libs[i].sentinel_off, 0,
            "a pass that wrote nothing clears it"
        );
    }

    #[test]
    fn the_lazy_stub_of_a_slot_is_found_only_for_its_own_library_and_offset() {
        let mem: [AtomicUsize; 8] = Default::default();
        let mut segs = crate::mem::Segments::default();
        let lib = lib_over(&mem, &mut segs);
        let mut st = EMPTY_STATE;
        let at = place(
            &mut st,
            LibRec {
                key: key_of(&lib),
                ..record(lib.bias, 1)
            },
        );
        let other = place(&mut st, record(0x10_0000, 1));
        st.lazy[0] = LazySlot {
            offset: 0x30,
            stub: 0x400,
            ..lazy(other)
        };
        st.lazy[1] = LazySlot {
            offset: 0x18,
            stub: 0x200,
            ..lazy(at)
        };
        st.lazy[2] = LazySlot {
            offset: 0x20,
            stub: 0x300,
            ..lazy(at)
        };
        let stubs = LazyStubs::of(&st.libs, &st.lazy[..3], &lib);
        assert_eq!(stubs.at(lib.bias + 0x18), Some(lib.bias + 0x200));
        assert_eq!(stubs.at(lib.bias + 0x20), Some(lib.bias + 0x300));
        assert_eq!(
            stubs.at(lib.bias + 0x30),
            None,
            "another library's slot offset"
        );
        assert_eq!(stubs.at(lib.bias + 0x28), None, "a slot with no record");
        // An untracked library has no records.
        st.libs[at] = LibRec::EMPTY;
        assert_eq!(
            LazyStubs::of(&st.libs, &st.lazy[..3], &lib).at(lib.bias + 0x18),
            None
        );
    }

    #[test]
    fn a_pass_notes_its_first_slots_in_order_and_flags_the_rest_as_overflow() {
        let mut notes = Notes::new();
        for k in 0..MAX_NOTES + 2 {
            notes.push(0x1000 + 8 * k, k, k % 2 == 0, 0x2000 + k);
        }
        assert_eq!(notes.n, MAX_NOTES);
        assert!(notes.overflow);
        for (k, &item) in notes.items.iter().enumerate() {
            assert_eq!(item, (0x1000 + 8 * k, k, k % 2 == 0, 0x2000 + k));
        }
        notes.clear();
        assert_eq!(
            (notes.n, notes.overflow),
            (0, false),
            "the next library starts empty"
        );
        notes.push(0x3000, 1, true, 0x3100);
        assert_eq!((notes.n, notes.items[0]), (1, (0x3000, 1, true, 0x3100)));
    }

    #[test]
    fn a_library_stays_pending_and_keeps_other_sets_applied_until_told_otherwise() {
        let mut r = record(0x10_0000, 1);
        r.put_flag(HAS_LAZY, true);
        assert!(!r.pending());
        r.set_pending(true);
        assert!(r.pending() && r.has_lazy() && r.used());
        r.set_pending(false);
        assert!(!r.pending() && r.has_lazy() && r.used());
        r.add_applied(0b1011);
        r.drop_applied(0b0010);
        assert_eq!(r.applied(), 0b1001, "only the dropped set's bit goes");
        r.drop_applied(0b1001);
        assert_eq!(r.applied(), 0);
    }

    #[test]
    fn a_lazy_slot_counts_as_lost_only_in_its_own_library_when_it_no_longer_holds_its_hook() {
        let mem: [AtomicUsize; 8] = Default::default();
        let mut segs = crate::mem::Segments::default();
        let lib = lib_over(&mem, &mut segs);
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000]);
        let hook = st.written(0x1000).unwrap();
        let i = place(
            &mut st,
            LibRec {
                key: key_of(&lib),
                ..record(lib.bias, 1)
            },
        );
        let other = place(&mut st, record(0x10_0000, 1));
        let ws = core::mem::size_of::<usize>() as u32;
        // Another library's record at an offset whose word here holds something else.
        st.lazy[0] = LazySlot {
            offset: 3 * ws,
            hook,
            ..lazy(other)
        };
        st.lazy[1] = LazySlot {
            offset: ws,
            hook,
            ..lazy(i)
        };
        // A record past the end of what is listed now (not read).
        st.lazy[2] = LazySlot {
            offset: 64 * ws,
            hook,
            ..lazy(i)
        };
        st.nlazy = 3;
        mem[1].store(0x1000, Ordering::Relaxed);
        mem[3].store(0x5555, Ordering::Relaxed);
        assert!(
            !st.lazy_lost(i, &lib),
            "its one readable slot holds the hook"
        );
        // `_dl_fixup` stored the real target.
        mem[1].store(0x6666, Ordering::Relaxed);
        assert!(st.lazy_lost(i, &lib));
        mem[1].store(0x1000, Ordering::Relaxed);
        // The set that wrote it is gone: the hook's value is unknown, so it counts as lost.
        st.sets[0] = None;
        assert!(st.lazy_lost(i, &lib));
    }

    #[test]
    fn a_pass_updates_the_lazy_records_of_the_slots_it_noted_and_drops_those_it_did_not() {
        let mut st = EMPTY_STATE;
        put_set(&mut st, 0, 1, &[0x1000, 0x2000]);
        let (old, new) = (st.written(0x1000).unwrap(), st.written(0x2000).unwrap());
        let bias = 0x20_0000;
        let i = place(&mut st, record(bias, 1));
        let other = place(&mut st, record(0x10_0000, 1));
        let rec = |lib, offset| LazySlot {
            offset,
            hook: old,
            ..lazy(lib)
        };
        st.lazy[0] = rec(i, 0x10); // noted, now holding the other hook: updated
        st.lazy[1] = rec(other, 0x10); // another library's: untouched
        st.lazy[2] = rec(i, 0x20); // not noted (no set holds it any more): dropped
        st.lazy[3] = rec(i, 0x30); // noted with a value no set writes: dropped
        st.nlazy = 4;
        let notes = &mut st.scratch.notes;
        notes.clear();
        notes.push(bias + 0x10, 0x2000, false, 0);
        notes.push(bias + 0x30, 0x9999, false, 0);
        notes.push(bias + 0x40, 0x1000, true, bias + 0x400); // newly patched from its stub
        notes.push(bias + 0x50, 0x1000, false, 0x7000); // was bound: not watched
        st.note_lazy(i);
        let mut got: [(usize, u32, u32, Written); 3] = [(0, 0, 0, Written(0)); 3];
        assert_eq!(
            st.nlazy, 3,
            "kept: the updated, the other library's, the new one"
        );
        for (g, l) in got.iter_mut().zip(&st.lazy) {
            *g = (l.lib(), { l.offset }, { l.stub }, { l.hook });
        }
        got.sort_by_key(|g| (g.0, g.1));
        let mut want = [
            (i, 0x10, 0x20, new),
            (other, 0x10, 0x20, old),
            (i, 0x40, 0x400, old),
        ];
        want.sort_by_key(|g| (g.0, g.1));
        assert_eq!(got, want);
        assert!(st.libs[i].has_lazy() && !st.libs[i].rescan());
        // Nothing noted for it any more: its records go, and so does the mark.
        st.scratch.notes.clear();
        st.note_lazy(i);
        assert_eq!(st.nlazy, 1);
        assert_eq!(st.lazy[0].lib(), other);
        assert!(!st.libs[i].has_lazy());
    }

    #[test]
    fn libraries_with_the_same_home_are_all_tracked_and_found_until_the_table_is_full() {
        let mems: [[AtomicUsize; 4]; 3] = Default::default();
        let mut segs = [crate::mem::Segments::default(); 3];
        let [s0, s1, s2] = &mut segs;
        let mut libs = [
            lib_over(&mems[0], s0),
            lib_over(&mems[1], s1),
            lib_over(&mems[2], s2),
        ];
        // The first two get the same home, position 0: the second's probe wraps past the end
        // of the table, in the direction `find_lib` looks.
        for l in &mut libs[..2] {
            let key = key_of(l);
            l.bias = (1..)
                .map(|k| k * 0x1000)
                .find(|&b| home(b, key) == 0)
                .unwrap();
        }
        let mut st = EMPTY_STATE;
        let a = st.insert_lib(&libs[0]).unwrap();
        let b = st.insert_lib(&libs[1]).unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(st.find_lib(&libs[0]), Some(a));
        assert_eq!(st.find_lib(&libs[1]), Some(b));
        assert_eq!(st.find_lib(&libs[2]), None, "never inserted");
        assert_eq!(st.insert_lib(&libs[2]), None, "the table is full");
        let r = &st.libs[b];
        assert!(r.used() && !r.pending() && r.applied() == 0 && r.sentinel_off == 0);
        assert_eq!((r.bias, r.key), (libs[1].bias, key_of(&libs[1])));
    }

    #[test]
    fn libraries_no_set_is_applied_to_lose_their_lazy_watch_and_the_others_keep_it() {
        let mut st = EMPTY_STATE;
        let mut hooked = record(0x10_0000, 1);
        hooked.add_applied(1);
        hooked.put_flag(HAS_LAZY, true);
        let mut unhooked = record(0x20_0000, 1);
        unhooked.put_flag(HAS_LAZY | RESCAN, true);
        let h = place(&mut st, hooked);
        let u = place(&mut st, unhooked);
        for (k, lib) in [u, h, u, h, u].into_iter().enumerate() {
            st.lazy[k] = LazySlot {
                offset: 8 * k as u32,
                ..lazy(lib)
            };
        }
        st.nlazy = 5;
        st.forget_unhooked();
        assert_eq!(st.nlazy, 2);
        let mut offsets = [st.lazy[0].offset, st.lazy[1].offset];
        offsets.sort_unstable();
        assert_eq!(offsets, [8, 24], "the hooked library's two records stay");
        assert!(st.lazy[..2].iter().all(|l| l.lib() == h));
        assert!(st.libs[h].has_lazy(), "the hooked library keeps its mark");
        assert!(!st.libs[u].has_lazy() && !st.libs[u].rescan());
        assert!(st.watch_lazy);
        // A hooked library re-scanned on every walk, with no record: still watched.
        st.libs[h].put_flag(HAS_LAZY, false);
        st.libs[h].put_flag(RESCAN, true);
        st.nlazy = 0;
        st.forget_unhooked();
        assert!(st.watch_lazy && st.libs[h].rescan());
        // Once no set is applied anywhere, nothing is watched.
        st.libs[h].drop_applied(1);
        st.lazy[0] = lazy(h);
        st.nlazy = 1;
        st.forget_unhooked();
        assert_eq!(st.nlazy, 0);
        assert!(!st.watch_lazy && !st.libs[h].rescan());
    }

    #[test]
    fn a_library_listed_at_the_address_of_another_is_not_taken_for_it() {
        let mem: [AtomicUsize; 8] = Default::default();
        let mut segs = [crate::mem::Segments::default(); 4];
        let [s0, s1, s2, s3] = &mut segs;
        // Listed first: a range that ends a page further than the library's.
        s3.push(mem.as_ptr() as usize, 0x1000 + 64, crate::elf::PF_R)
            .unwrap();
        let old = lib_over(&mem, s0);
        // At the same bias: other program headers, another name, a longer first segment.
        let mut phdr = lib_over(&mem, s1);
        phdr.phdr += 0x40;
        let mut name = lib_over(&mem, s2);
        name.name_ptr = c"/test/libnew.so".as_ptr().cast();
        let longer = lib_over(&mem, s3);
        let mut st = EMPTY_STATE;
        let i = st.insert_lib(&old).unwrap();
        assert_eq!(st.find_lib(&old), Some(i));
        for (what, new) in [("phdr", &phdr), ("name", &name), ("segment end", &longer)] {
            assert_eq!(st.find_lib(new), None, "differs in its {what} only");
        }
    }
}
