//! The loader's add/remove counters read without the loader's list lock, on glibc.
//!
//! Why: without the dlopen interception, a refresh must see a `dlopen` that returned just
//! before it, which only the loader's counters tell.  `dl_iterate_phdr` hands them out, but
//! only inside a callback that holds the loader's list lock: two lock round trips per refresh
//! (half of a refresh's cost) and a lock that every `dlopen`/`dlclose` of the process needs.
//! glibc keeps the same counters in `_rtld_global`, the dynamic loader's exported
//! (`GLIBC_PRIVATE`) data: `_dl_load_adds` (what `dlpi_adds` reports) and the main namespace's
//! `_ns_nloaded` (`dlpi_subs` is `_dl_load_adds` minus the objects loaded in every namespace).
//! Both are machine words that the loader changes under the list lock; a lock-free aligned
//! read sees either the old or the new value, and a `dlopen` that returned before the read
//! has its increment visible (it happened before, in the same thread or through whatever
//! ordered the two threads).
//!
//! How they are found, since the structure is private: never by a layout table, always by
//! what can be observed.  Once, inside a `dl_iterate_phdr` callback (this thread holds the
//! loader's list lock, `_dl_load_write_lock`, so nothing changes the counters meanwhile),
//! `learn` (run by the first refresh that has to take the lock, or by [`in_use`]) looks up
//! `_rtld_global` in the dynamic loader's symbol table and searches it for
//! the one recursive mutex that this very thread owns at this moment, with the recursive
//! `_dl_load_lock` before it, a namespace count of 1 before that (`_dl_nns`), and a word equal
//! to the callback's `dlpi_adds` after it (right after it, or after the recursive
//! `_dl_load_tls_lock` on glibc >= 2.35), while the main namespace's object count (at offset 8,
//! after its list head) makes `dlpi_subs` come out exactly.  Exactly one place must match, else
//! nothing is used.  After that, every counter read under the lock ([`verify`], called by
//! every locked probe and pass) is compared with the lock-free one; a single difference turns
//! the lock-free read off for the life of the process.  When `_dl_nns` is not 1 (a `dlmopen`
//! namespace exists) the lock-free read answers `None` and the caller takes the lock.
//!
//! Where nothing matches (musl, which has no `_rtld_global`; a glibc whose rtld lock is not a
//! pthread mutex; a 32-bit process, where a 64-bit counter is not read in one access), refresh
//! takes the loader's list lock as before.  No allocation, no syscall after the first search
//! (which makes one: `gettid`).
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::dynamic::Dynamic;
use crate::loader::{self, LibKind};
use crate::lock::OwnedLock;
use crate::read::Memory;
use crate::sys;

const UNTRIED: u8 = 0;
const FOUND: u8 = 1;
const UNAVAILABLE: u8 = 2;
/// How many searches may fail before gothook stops searching (one may fail while a
/// `dlmopen` namespace exists, or when the list lock is taken by another path).
const MAX_TRIES: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(UNTRIED);
/// The dynamic loader's decoded image during a search (static: off the caller's stack).
static IMAGE: OwnedLock<Dynamic> = OwnedLock::new_in_walks(Dynamic::UNMAPPED);
static TRIES: AtomicU8 = AtomicU8::new(0);
/// Addresses inside the dynamic loader's data (never unmapped): `_dl_nns`, `_dl_load_lock`,
/// `_dl_load_adds` and `_dl_ns[0]._ns_nloaded`.  Valid when `STATE` is `FOUND`.
static NNS_AT: AtomicUsize = AtomicUsize::new(0);
static LOAD_LOCK_AT: AtomicUsize = AtomicUsize::new(0);
static ADDS_AT: AtomicUsize = AtomicUsize::new(0);
static NLOADED_AT: AtomicUsize = AtomicUsize::new(0);

/// Where the counters live, as found by [`find`]: addresses of `_dl_nns`, `_dl_load_adds` and
/// `_dl_ns[0]._ns_nloaded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Places {
    /// `_dl_nns` (a `size_t`).
    pub nns: usize,
    /// `_dl_load_lock` (a `pthread_mutex_t`, whose first word is non-zero while it is held).
    pub load_lock: usize,
    /// `_dl_load_adds` (an `unsigned long long`).
    pub adds: usize,
    /// `_dl_ns[0]._ns_nloaded` (an `unsigned int`).
    pub nloaded: usize,
}

/// The lock-free `(dlpi_adds, dlpi_subs)`, or `None` (not found, turned off, or a second
/// namespace exists): then read them under the loader's list lock.  Three loads.
/// Async-signal-safe; never allocates.
///
/// `_dl_load_adds` shares a cache line with `_dl_num_relocations`, which the loader bumps at
/// every symbol lookup (`bump_num_relocations` in glibc's `elf/dl-lookup.c`), thousands of times
/// while it relocates an object: a thread that reads the add counter in a loop then pulls that
/// line away from the relocating thread between two lookups (measured: a refresh loop cut a
/// dlopen storm's throughput to 55 %).  While an object is being relocated, refresh reads
/// [`objects`] and [`load_lock_owner`] instead (see `still_loading` in `hooks/focus.rs`).
#[inline]
pub fn counters() -> Option<(u64, u64)> {
    let nloaded = objects()?;
    let adds = sys::loader_word(ADDS_AT.load(Ordering::Relaxed));
    Some((adds, adds.wrapping_sub(u64::from(nloaded))))
}

/// The main namespace's object count (`_ns_nloaded`), lock-free, or `None` as [`counters`]
/// (which it is part of).  Two loads, neither on the line the loader writes at every lookup.
#[inline]
pub fn objects() -> Option<u32> {
    if STATE.load(Ordering::Acquire) != FOUND {
        return None;
    }
    let nns = sys::loader_word(NNS_AT.load(Ordering::Relaxed));
    if nns != 1 {
        return None;
    }
    Some(sys::loader_u32(NLOADED_AT.load(Ordering::Relaxed)))
}

/// The thread that holds the loader's load lock (`_dl_load_lock`, held through every `dlopen`
/// and `dlclose`), lock-free: its `__owner` word while its `__lock` word is non-zero, else 0.
/// 0 when the counters were not found.  Two loads; async-signal-safe.
#[inline]
pub fn load_lock_owner() -> u32 {
    if STATE.load(Ordering::Acquire) != FOUND {
        return 0;
    }
    let at = LOAD_LOCK_AT.load(Ordering::Relaxed);
    if sys::loader_u32(at) == 0 {
        return 0;
    }
    sys::loader_u32(at + 8)
}

/// Whether the lock-free read is in use.
pub fn found() -> bool {
    STATE.load(Ordering::Acquire) == FOUND
}

/// Whether refresh reads the counters lock-free, searching first (one locked walk) if no
/// search was made yet (a plain refresh that has to take the lock searches too).  Malloc-safe; not signal-safe.
pub fn in_use() -> bool {
    for _ in 0..MAX_TRIES {
        if !untried() {
            break;
        }
        let _ = crate::probe::under_list_lock(|c| {
            search_if_untried(c);
            Ok(())
        });
    }
    found()
}

/// Whether gothook still searches (nothing found and not given up yet).
pub fn untried() -> bool {
    STATE.load(Ordering::Acquire) == UNTRIED
}

/// Turns the lock-free read off for the life of the process (a verification failed; tests use
/// it to exercise the locked path).
pub fn turn_off() {
    STATE.store(UNAVAILABLE, Ordering::Release);
}

/// Called with the counters `dl_iterate_phdr` handed to a callback that is still running on
/// this thread (so the loader's list lock is held): checks the lock-free read against them; a
/// difference turns it off.  Every locked read of gothook's calls this.
pub fn verify(locked: (u64, u64)) {
    if STATE.load(Ordering::Acquire) == FOUND {
        let nns = sys::loader_word(NNS_AT.load(Ordering::Relaxed));
        let adds = sys::loader_word(ADDS_AT.load(Ordering::Relaxed));
        let nloaded = sys::loader_u32(NLOADED_AT.load(Ordering::Relaxed));
        if !agrees(nns, adds, nloaded, locked) {
            turn_off();
        }
    }
}

/// Called like [`verify`], by the refresh probe that had to take the lock and by [`in_use`]:
/// while nothing was found yet, searches (see the module documentation).  Kept off the
/// deeper paths (install, passes), whose stack it would add to.
pub fn search_if_untried(locked: (u64, u64)) {
    if untried() {
        learn(locked);
    }
}

/// Whether the words read at the places found (`_dl_nns`, `_dl_load_adds`, the main
/// namespace's `_ns_nloaded`) agree with the counters `dl_iterate_phdr` reported under the
/// same lock hold: a namespace count in 1..=16 (`DL_NNS`), the same add counter, and, with one
/// namespace, the same remove counter.
pub fn agrees(nns: u64, adds: u64, nloaded: u32, locked: (u64, u64)) -> bool {
    let subs_ok = nns != 1 || adds.wrapping_sub(u64::from(nloaded)) == locked.1;
    (1..=16).contains(&nns) && adds == locked.0 && subs_ok
}

/// The search (see the module documentation), run inside a walk callback of this thread.
fn learn(locked: (u64, u64)) {
    // The loader's image is decoded into static memory, not onto the caller's stack (a malloc
    // hook's): one search at a time; another thread's search answers for this one.
    let Ok(Some(mut image)) = IMAGE.try_lock() else {
        return;
    };
    if TRIES.fetch_add(1, Ordering::AcqRel) >= MAX_TRIES {
        STATE.store(UNAVAILABLE, Ordering::Release);
        return;
    }
    if !cfg!(target_pointer_width = "64") || locked == (0, 0) {
        STATE.store(UNAVAILABLE, Ordering::Release);
        return;
    }
    let tid = sys::gettid();
    let mut places = None;
    let mut no_symbol = false;
    let _ = loader::each(loader::LIBS_ALL, |lib| {
        if lib.kind != LibKind::Loader {
            return true;
        }
        let d: &mut Dynamic = &mut image;
        if lib.decode_into(d).is_err() {
            no_symbol = true;
            d.unmap();
            return false;
        }
        match d.lookup(b"_rtld_global") {
            Ok(Some(sym)) if sym.is_defined() => {
                let at = sym.address(lib.bias);
                let len = usize::try_from(sym.size).unwrap_or(0);
                places = find(|a| d.segs.u32(a).ok(), at, len, tid, locked, MUTEX_SIZE);
            }
            _ => no_symbol = true,
        }
        // The loader is never unloaded, but the image is used only inside this callback.
        d.unmap();
        false
    });
    match places {
        Some(p) => {
            NNS_AT.store(p.nns, Ordering::Relaxed);
            LOAD_LOCK_AT.store(p.load_lock, Ordering::Relaxed);
            ADDS_AT.store(p.adds, Ordering::Relaxed);
            NLOADED_AT.store(p.nloaded, Ordering::Relaxed);
            // Not over a `turn_off` made meanwhile.
            let _ = STATE.compare_exchange(UNTRIED, FOUND, Ordering::AcqRel, Ordering::Acquire);
        }
        // musl and static programs: nothing to find, ever.
        None if no_symbol => STATE.store(UNAVAILABLE, Ordering::Release),
        None => {}
    }
}

/// `sizeof(pthread_mutex_t)`: glibc's rtld locks are recursive pthread mutexes.
const MUTEX_SIZE: usize = core::mem::size_of::<libc::pthread_mutex_t>();
/// `PTHREAD_MUTEX_RECURSIVE_NP`, in the low bits of a mutex's `__kind`.
const RECURSIVE: u32 = 1;
const KIND_MASK: u32 = 3;

/// Finds the counters in the `len` bytes of `_rtld_global` at `at`, read through `u32_at`
/// (little-endian words; `None` outside the object), while thread `tid` holds the loader's
/// list lock and the loader reports `locked` = `(dlpi_adds, dlpi_subs)`.  `mutex` is
/// `sizeof(pthread_mutex_t)`.  `None` unless exactly one place matches every check.
///
/// A glibc mutex starts with `int __lock; unsigned __count; int __owner; unsigned __nusers;
/// int __kind` on every 64-bit target.  The list lock, held by `tid`: `__lock` non-zero,
/// `__count` at least 1 (the caller may itself be inside a walk), `__owner` `tid`, recursive.
/// Around it: `_dl_nns`, `_dl_load_lock`, `_dl_load_write_lock`, then `_dl_load_adds`, with
/// `_dl_load_tls_lock` before the counter since glibc 2.35 (both orders are looked for, and a
/// place matching both is not taken).  Before glibc 2.34 the loader's locks record no owner
/// until libpthread is loaded: nothing is found then, and refresh takes the lock.
pub fn find(
    u32_at: impl Fn(usize) -> Option<u32>,
    at: usize,
    len: usize,
    tid: u32,
    locked: (u64, u64),
    mutex: usize,
) -> Option<Places> {
    let u64_at = |a: usize| -> Option<u64> {
        Some(u64::from(u32_at(a)?) | (u64::from(u32_at(a + 4)?) << 32))
    };
    let end = at.checked_add(len)?;
    if !at.is_multiple_of(8)
        || !(64..=1 << 20).contains(&len)
        || mutex < 24
        || !mutex.is_multiple_of(8)
    {
        return None;
    }
    let recursive = |m: usize| u32_at(m + 16).is_some_and(|k| k & KIND_MASK == RECURSIVE);
    let nloaded = u32_at(at + 8)?;
    let mut found = None;
    let mut w = at + mutex + 8;
    while w + 2 * mutex + 8 <= end {
        let held_by_tid = u32_at(w).is_some_and(|l| l != 0)
            && u32_at(w + 4).is_some_and(|c| c >= 1)
            && u32_at(w + 8) == Some(tid)
            && recursive(w);
        if held_by_tid
            && recursive(w - mutex)
            && u64_at(w - mutex - 8) == Some(1)
            && locked.0.wrapping_sub(u64::from(nloaded)) == locked.1
        {
            // glibc >= 2.35 has `_dl_load_tls_lock` between the list lock and the counter.
            let with_tls_lock = recursive(w + mutex) && u64_at(w + 2 * mutex) == Some(locked.0);
            let without = u64_at(w + mutex) == Some(locked.0);
            let adds = match (with_tls_lock, without) {
                (true, false) => Some(w + 2 * mutex),
                (false, true) => Some(w + mutex),
                _ => None,
            };
            if let Some(adds) = adds {
                if found.is_some() {
                    return None;
                }
                found = Some(Places {
                    nns: w - mutex - 8,
                    load_lock: w - mutex,
                    adds,
                    nloaded: at + 8,
                });
            }
        }
        w += 8;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: usize = 40;

    /// A fake `_rtld_global` of 1 KiB at address 0x1000: list head, object count, the
    /// namespace count, three recursive mutexes of `m` bytes (the middle one held by `tid`),
    /// the counter.
    struct Fake {
        words: [u32; 256],
        m: usize,
    }

    impl Fake {
        const AT: usize = 0x1000;
        fn new(nloaded: u32, nns: u64, w: usize, tid: u32, adds: u64) -> Fake {
            Self::with_mutex(M, nloaded, nns, w, tid, adds)
        }
        fn with_mutex(m: usize, nloaded: u32, nns: u64, w: usize, tid: u32, adds: u64) -> Fake {
            let mut f = Fake { words: [0; 256], m };
            f.put(8, nloaded);
            f.put64(w - m - 8, nns);
            for x in [w - m, w, w + m] {
                f.put(x + 16, RECURSIVE);
            }
            f.put(w, 1);
            f.put(w + 4, 1);
            f.put(w + 8, tid);
            f.put64(w + 2 * m, adds);
            f
        }
        fn put(&mut self, off: usize, v: u32) {
            self.words[off / 4] = v;
        }
        fn put64(&mut self, off: usize, v: u64) {
            self.put(off, v as u32);
            self.put(off + 4, (v >> 32) as u32);
        }
        fn find(&self, tid: u32, locked: (u64, u64)) -> Option<Places> {
            let u32_at = |a: usize| {
                a.checked_sub(Self::AT)
                    .filter(|o| o % 4 == 0)
                    .and_then(|o| self.words.get(o / 4).copied())
            };
            find(u32_at, Self::AT, 1024, tid, locked, self.m)
        }
    }

    #[test]
    fn the_one_mutex_held_by_this_thread_with_the_right_neighbours_is_found() {
        let f = Fake::new(7, 1, 0x200, 4242, 31);
        assert_eq!(
            f.find(4242, (31, 24)),
            Some(Places {
                nns: Fake::AT + 0x200 - M - 8,
                load_lock: Fake::AT + 0x200 - M,
                adds: Fake::AT + 0x200 + 2 * M,
                nloaded: Fake::AT + 8,
            })
        );
    }

    #[test]
    fn nothing_is_found_when_any_check_fails() {
        let ok = Fake::new(7, 1, 0x200, 4242, 31);
        assert!(ok.find(4243, (31, 24)).is_none(), "held by another thread");
        assert!(ok.find(4242, (32, 25)).is_none(), "the add counter differs");
        assert!(
            ok.find(4242, (31, 23)).is_none(),
            "the object count does not add up"
        );
        let mut f = Fake::new(7, 1, 0x200, 4242, 31);
        f.put(0x200, 0);
        assert!(f.find(4242, (31, 24)).is_none(), "not locked");
        let mut f = Fake::new(7, 1, 0x200, 4242, 31);
        f.put(0x200 + M + 16, 0);
        assert!(
            f.find(4242, (31, 24)).is_none(),
            "the next lock is not recursive"
        );
        let mut f = Fake::new(7, 1, 0x200, 4242, 31);
        f.put(0x200 - M + 16, 2);
        assert!(
            f.find(4242, (31, 24)).is_none(),
            "the lock before is not recursive"
        );
        let f = Fake::new(7, 2, 0x200, 4242, 31);
        assert!(f.find(4242, (31, 24)).is_none(), "a second namespace");
    }

    #[test]
    fn the_counter_right_after_the_list_lock_is_found_where_no_tls_lock_sits_between() {
        let mut f = Fake::new(7, 1, 0x200, 4242, 0);
        // glibc < 2.35: no third mutex, the counter follows the list lock.
        f.put(0x200 + M + 16, 0);
        f.put64(0x200 + M, 31);
        assert_eq!(
            f.find(4242, (31, 24)).map(|p| p.adds),
            Some(Fake::AT + 0x200 + M)
        );
        // Both readings possible (a recursive third mutex whose first words equal the counter,
        // followed by the counter as well): ambiguous, not taken.
        f.put(0x200 + M + 16, RECURSIVE);
        f.put64(0x200 + 2 * M, 31);
        assert!(f.find(4242, (31, 24)).is_none());
    }

    #[test]
    fn a_list_lock_at_the_lowest_possible_place_and_a_counter_over_32_bits_are_found() {
        // The namespace count right after the list head and object count (offset 16).
        let w = 16 + 8 + M;
        let adds = (5u64 << 32) | 9;
        let mut f = Fake::new(3, 1, w, 77, adds);
        // Non-zero words right before the counter and the namespace count: a 64-bit read must
        // take its own two words, low first.
        f.put(w + 2 * M - 4, 0xdead);
        f.put(w - M - 12, 0xbeef);
        assert_eq!(
            f.find(77, (adds, adds - 3)),
            Some(Places {
                nns: Fake::AT + w - M - 8,
                load_lock: Fake::AT + w - M,
                adds: Fake::AT + w + 2 * M,
                nloaded: Fake::AT + 8,
            })
        );
        assert!(
            f.find(77, (9, 6)).is_none(),
            "only the low half of the counter"
        );
    }

    #[test]
    fn mutexes_of_24_bytes_are_the_smallest_searched_and_bad_arguments_find_nothing() {
        let f = Fake::with_mutex(24, 7, 1, 0x200, 4242, 31);
        assert!(f.find(4242, (31, 24)).is_some(), "24-byte mutexes");
        let f = Fake::with_mutex(16, 7, 1, 0x200, 4242, 31);
        assert!(
            f.find(4242, (31, 24)).is_none(),
            "16-byte mutexes cannot be glibc's"
        );
        // 28-byte mutexes would put the counter off its 8-byte alignment.
        let f = Fake::with_mutex(28, 7, 1, 0x204, 4242, 31);
        assert!(f.find(4242, (31, 24)).is_none(), "28-byte mutexes");
        let f = Fake::new(7, 1, 0x200, 4242, 31);
        let u32_at = |a: usize| {
            a.checked_sub(Fake::AT)
                .filter(|o| o % 4 == 0)
                .and_then(|o| f.words.get(o / 4).copied())
        };
        assert!(find(u32_at, Fake::AT, 1024, 4242, (31, 24), M).is_some());
        // A pattern that would match if the object started 4 bytes later: not searched.
        let mut g = Fake::new(0, 1, 0x204, 4242, 31);
        g.put(12, 7);
        let g_at = |a: usize| {
            a.checked_sub(Fake::AT)
                .filter(|o| o % 4 == 0)
                .and_then(|o| g.words.get(o / 4).copied())
        };
        assert!(find(g_at, Fake::AT, 1024, 4242, (31, 24), M).is_none());
        assert!(
            find(g_at, Fake::AT + 4, 1020, 4242, (31, 24), M).is_none(),
            "misaligned"
        );
        assert!(
            find(u32_at, Fake::AT, 60, 4242, (31, 24), M).is_none(),
            "too small"
        );
        assert!(
            find(u32_at, Fake::AT, (1 << 20) + 8, 4242, (31, 24), M).is_none(),
            "too large"
        );
        assert!(
            find(u32_at, Fake::AT, 1024, 4242, (31, 24), 44).is_none(),
            "odd mutex size"
        );
    }

    #[test]
    fn a_locked_read_agrees_only_with_the_same_counters_and_a_sane_namespace_count() {
        assert!(agrees(1, 31, 7, (31, 24)));
        assert!(!agrees(1, 32, 7, (31, 24)), "another add counter");
        assert!(!agrees(1, 31, 7, (31, 25)), "another remove counter");
        assert!(
            agrees(2, 31, 7, (31, 20)),
            "two namespaces: the remove counter is not ours"
        );
        assert!(
            !agrees(2, 30, 7, (31, 20)),
            "two namespaces, another add counter"
        );
        assert!(agrees(16, 31, 7, (31, 0)));
        assert!(
            !agrees(17, 31, 7, (31, 24)),
            "more namespaces than glibc has"
        );
        assert!(!agrees(0, 31, 7, (31, 24)), "no namespace");
    }

    #[test]
    fn two_matching_places_are_one_too_many() {
        let mut f = Fake::new(7, 1, 0x200, 4242, 31);
        // A second copy of the same pattern further on.
        let w = 0x300;
        f.put64(w - M - 8, 1);
        for m in [w - M, w, w + M] {
            f.put(m + 16, RECURSIVE);
        }
        f.put(w, 1);
        f.put(w + 4, 1);
        f.put(w + 8, 4242);
        f.put64(w + 2 * M, 31);
        assert!(f.find(4242, (31, 24)).is_none());
    }

    #[test]
    fn a_pattern_that_runs_past_the_object_is_not_read() {
        let f = Fake::new(7, 1, 0x200, 4242, 31);
        let u32_at = |a: usize| {
            a.checked_sub(Fake::AT)
                .and_then(|o| f.words.get(o / 4).copied())
        };
        // The object ends inside the add counter.
        assert!(find(u32_at, Fake::AT, 0x200 + 2 * M + 4, 4242, (31, 24), M).is_none());
        assert!(find(u32_at, Fake::AT, 0x200 + 2 * M + 8, 4242, (31, 24), M).is_some());
    }
}
