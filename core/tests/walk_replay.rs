//! A walk from a position, repeated under the loader's list lock while the loader's counters
//! have not moved, processes the objects the last walk reported without walking again (a
//! refresh that patches a library it saw LOADING does not visit every listed object while a
//! `dlclose` waits for the lock), and reports exactly what a walk would.  Any load or unload in
//! between, another start position, a walk outside the lock (also another thread's, while this
//! one holds it), a walk stopped early or one with many objects walks again.  A `dl_iterate_phdr` of the test binary counts the walks (the
//! linker prefers it to libc's for every call gothook makes, since gothook is linked into the
//! test binary).  One test: the replay record is shared by every walk of the process.
#![cfg(all(target_env = "gnu", target_pointer_width = "64"))]

mod counted_walks;

use gothook_core::loader::{self, LibInfo, Readiness};
use gothook_core::{probe, rtld};

use counted_walks::{libc_iterate, walks};

/// What a walk reported of one object, by value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    index: u32,
    bias: usize,
    name: Vec<u8>,
    phdr: usize,
    phnum: u16,
    segs: usize,
    readiness: Readiness,
}

fn seen(lib: &LibInfo<'_>) -> Seen {
    Seen {
        index: lib.index,
        bias: lib.bias,
        name: lib.name.to_vec(),
        phdr: lib.phdr,
        phnum: lib.phnum,
        segs: lib.segs.iter().count(),
        readiness: lib.readiness,
    }
}

/// Every object from `from` on (all of them, READY or not), and the walks that took.
fn from_pos(from: u32) -> (Vec<Seen>, usize) {
    let before = walks();
    let mut out = Vec::new();
    loader::each_from(from, loader::LIBS_ALL, |lib| {
        out.push(seen(lib));
        true
    })
    .unwrap();
    (out, walks() - before)
}

/// [`from_pos`] inside one hold of the loader's list lock.
fn held<R>(f: impl FnOnce() -> R) -> R {
    let mut f = Some(f);
    let mut out = None;
    probe::under_list_lock(|_| {
        out = Some((f.take().unwrap())());
        Ok(())
    })
    .unwrap();
    out.unwrap()
}

fn listed() -> u32 {
    loader::count().unwrap() as u32
}

fn dlopen(name: &str) -> *mut libc::c_void {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: dlopen of a glibc library with no constructor of consequence.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {name}");
    h
}

fn dlclose(h: *mut libc::c_void) {
    // SAFETY: a handle opened by `dlopen` above; nothing of the library is used after this.
    assert_eq!(unsafe { libc::dlclose(h) }, 0);
}

fn names(v: &[Seen]) -> Vec<String> {
    v.iter()
        .map(|s| String::from_utf8_lossy(&s.name).into_owned())
        .collect()
}

#[test]
fn a_walk_repeated_while_nothing_was_listed_or_unlisted_is_replayed_and_anything_else_walks() {
    libc_iterate();
    assert!(
        rtld::in_use(),
        "glibc's counters were not found in _rtld_global"
    );
    let n = listed();
    assert!(n >= 3, "{n} objects listed");
    let from = n - 2;

    // One hold: the second walk from the same position is a replay with the same result.
    let ((a, wa), (b, wb)) = held(|| (from_pos(from), from_pos(from)));
    assert_eq!(wa, 1, "the first walk walks");
    assert_eq!(
        wb, 0,
        "the same walk again under the same hold walks nothing"
    );
    assert_eq!(a.len(), 2, "{:?}", names(&a));
    assert_eq!(a, b, "a replay reports what the walk reported");
    assert_eq!(a[0].index, from);

    // Another hold, nothing loaded or unloaded since: still a replay, same result.
    let (c, wc) = held(|| from_pos(from));
    assert_eq!(wc, 0, "nothing changed since the last walk: no walk");
    assert_eq!(c, a);

    // Outside a hold of the list lock: always a walk (nothing keeps the objects listed).
    let (d, wd) = from_pos(from);
    assert_eq!(wd, 1, "outside the list lock a walk walks");
    assert_eq!(d, a);

    // Another start position: a walk.
    let (e, we) = held(|| from_pos(from - 1));
    assert_eq!(we, 1, "another position walks");
    assert_eq!(e.len(), 3);
    assert_eq!(e[1..], a[..]);

    // A library loaded since the walk: the same position walks again and reports it.
    let _ = held(|| from_pos(from));
    let h = dlopen("libanl.so.1");
    let (f, wf) = held(|| from_pos(from));
    assert_eq!(wf, 1, "a load since the walk: walk again");
    assert_eq!(f.len(), 3, "{:?}", names(&f));
    assert!(
        names(&f)[2].contains("libanl"),
        "the new library is reported: {:?}",
        names(&f)
    );
    assert_eq!(f[..2], a[..]);

    // Recorded with the new library last; unloaded since: walk again, it is gone.
    let (g, _) = held(|| from_pos(from + 2));
    assert!(names(&g)[0].contains("libanl"), "{:?}", names(&g));
    let (g2, wg2) = held(|| from_pos(from + 2));
    assert_eq!((wg2, &g2), (0, &g), "replayed while nothing changed");
    dlclose(h);
    let (k, wk) = held(|| from_pos(from + 2));
    assert_eq!(wk, 1, "an unload since the walk: walk again");
    assert!(
        k.is_empty(),
        "the unloaded library is not reported: {:?}",
        names(&k)
    );
    let (k2, wk2) = held(|| from_pos(from));
    assert_eq!(wk2, 1, "another position after the unload walks");
    assert_eq!(k2, a, "the list is as before the load");

    // A walk stopped early leaves nothing to replay.
    let wstop = held(|| {
        let _ = from_pos(from - 1);
        let before = walks();
        let mut visited = 0;
        loader::each_from(from, loader::LIBS_ALL, |_| {
            visited += 1;
            false
        })
        .unwrap();
        assert_eq!(visited, 1);
        let (again, w) = from_pos(from);
        assert_eq!(again, a);
        (walks() - before, w)
    });
    assert_eq!(
        wstop,
        (2, 1),
        "after a walk stopped early the next one walks"
    );

    // A walk nested in another one's callback walks (the outer walk keeps the record).
    let (outer, inner) = held(|| {
        let _ = from_pos(from);
        let before = walks();
        let mut inner = Vec::new();
        loader::each_from(from, loader::LIBS_ALL, |_| {
            inner.push(from_pos(from));
            true
        })
        .unwrap();
        (walks() - before, inner)
    });
    assert_eq!(
        outer, 2,
        "outer replayed, each of its two objects walked once inside: {inner:?}"
    );
    assert!(inner.iter().all(|(v, w)| *w == 1 && *v == a));

    // Another thread, while this one holds the list lock with a walk recorded: it does not
    // hold the lock, so it walks, which waits for this hold to end (it must not replay).
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let done = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (walked_during_hold, other) = held(|| {
            let _ = from_pos(from);
            let (d, s) = (done.clone(), started.clone());
            let other = std::thread::spawn(move || {
                s.store(true, Ordering::SeqCst);
                let r = from_pos(from);
                d.store(true, Ordering::SeqCst);
                r
            });
            while !started.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            (done.load(Ordering::SeqCst), other)
        });
        let (seen_other, walks_other) = other.join().unwrap();
        assert!(
            !walked_during_hold,
            "another thread finished a walk while this one held the list lock: it replayed"
        );
        assert_eq!(walks_other, 1, "another thread walks");
        assert_eq!(seen_other, a);
    }

    // Many objects (more than the record keeps): never replayed.
    let extra: Vec<_> = [
        "libanl.so.1",
        "libresolv.so.2",
        "libutil.so.1",
        "librt.so.1",
        "libBrokenLocale.so.1",
        "libnss_files.so.2",
        "libnss_dns.so.2",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
    ]
    .iter()
    .map(|l| dlopen(l))
    .collect();
    let many = listed();
    assert!(many > 8 + 2, "{many} objects listed");
    let (all1, all2) = held(|| (from_pos(0), from_pos(0)));
    assert_eq!((all1.1, all2.1), (1, 1), "a long walk is walked every time");
    assert_eq!(all1.0, all2.0);
    assert_eq!(all1.0.len() as u32, many);
    let (few1, few2) = held(|| (from_pos(many - 8), from_pos(many - 8)));
    assert_eq!((few1.1, few2.1), (1, 0), "eight objects are replayed");
    assert_eq!(few1.0, few2.0);
    let (nine1, nine2) = held(|| (from_pos(many - 9), from_pos(many - 9)));
    assert_eq!((nine1.1, nine2.1), (1, 1), "nine objects are not");
    assert_eq!(nine1.0, nine2.0);
    extra.into_iter().rev().for_each(dlclose);
}
