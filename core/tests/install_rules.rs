//! What an install accepts and what a set's handle, flags and names mean: a bad hook or filter is
//! refused with nothing installed, optional and undefined hooks are told apart per hook, the
//! hooked names of all sets together fit the per-library want table, a handle dies with its set,
//! and a set taken off from under a set stacked on it hands that set its own original.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use gothook_core::hooks::{
    self, Filter, Hook, Report, FILTER_FLAGS, FILTER_INCLUDE_SELF, HOOK_FLAGS, HOOK_OPTIONAL,
    HOOK_UNDEFINED, MAX_WANTS,
};
use gothook_core::slot::Batch;
use gothook_core::Error;

mod this_binary;
use this_binary::{getppid_slot, read, this_binary};

/// Every test rewrites this binary's slots and uses the one set table: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
static ORIG_A: AtomicUsize = AtomicUsize::new(0);
static ORIG_B: AtomicUsize = AtomicUsize::new(0);
static ORIG_G: AtomicUsize = AtomicUsize::new(0);
static ORIG_M: AtomicUsize = AtomicUsize::new(0);

/// Names no library defines.
const MISSING: [&[u8]; 33] = [
    b"gothook_test_missing_00",
    b"gothook_test_missing_01",
    b"gothook_test_missing_02",
    b"gothook_test_missing_03",
    b"gothook_test_missing_04",
    b"gothook_test_missing_05",
    b"gothook_test_missing_06",
    b"gothook_test_missing_07",
    b"gothook_test_missing_08",
    b"gothook_test_missing_09",
    b"gothook_test_missing_10",
    b"gothook_test_missing_11",
    b"gothook_test_missing_12",
    b"gothook_test_missing_13",
    b"gothook_test_missing_14",
    b"gothook_test_missing_15",
    b"gothook_test_missing_16",
    b"gothook_test_missing_17",
    b"gothook_test_missing_18",
    b"gothook_test_missing_19",
    b"gothook_test_missing_20",
    b"gothook_test_missing_21",
    b"gothook_test_missing_22",
    b"gothook_test_missing_23",
    b"gothook_test_missing_24",
    b"gothook_test_missing_25",
    b"gothook_test_missing_26",
    b"gothook_test_missing_27",
    b"gothook_test_missing_28",
    b"gothook_test_missing_29",
    b"gothook_test_missing_30",
    b"gothook_test_missing_31",
    b"gothook_test_missing_32",
];

extern "C" fn fake_a() -> libc::pid_t {
    -10
}
extern "C" fn fake_b() -> libc::pid_t {
    -20
}
extern "C" fn fake_g() -> libc::pid_t {
    -30
}
extern "C" fn fake_missing() {}

fn addr(f: extern "C" fn() -> libc::pid_t) -> usize {
    f as *const () as usize
}

/// This binary only (it embeds gothook, so it must be included explicitly).
fn here() -> Filter {
    Filter {
        flags: FILTER_INCLUDE_SELF,
        contains: this_binary as *const () as usize,
        ..Filter::default()
    }
}

fn hook(symbol: &'static [u8], replacement: usize, flags: u32) -> Hook {
    Hook {
        symbol,
        replacement,
        original: None,
        flags,
    }
}

fn install(hooks: &[Hook], filter: &Filter) -> Result<u32, Error> {
    let mut rep = Report::default();
    // SAFETY: every replacement has the type of what it replaces and calls no original.
    unsafe { hooks::install(hooks, filter, &mut rep) }
}

fn uninstall(id: u32) -> Result<(), Error> {
    hooks::uninstall(id, &mut Report::default())
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn an_install_with_a_bad_hook_or_filter_is_refused_and_patches_nothing() {
    let _g = serial();
    let at = getppid_slot(&this_binary());
    let real = read(at);
    let a = addr(fake_a);
    let bad: [&[Hook]; 6] = [
        &[],
        &[hook(b"", a, 0)],
        &[hook(b"getppid", 0, 0)],
        &[hook(b"getppid", a, HOOK_FLAGS + 1)],
        &[hook(b"getppid", a, 0), hook(b"getppid", addr(fake_b), 0)],
        &[hook(b"getppid", a, 0), hook(b"", addr(fake_b), 0)],
    ];
    for hooks in bad {
        assert_eq!(install(hooks, &here()), Err(Error::Invalid), "{hooks:?}");
        assert_eq!(read(at), real, "a refused install patched: {hooks:?}");
    }
    let bad_filter = Filter {
        flags: FILTER_FLAGS + 1,
        ..here()
    };
    assert_eq!(
        install(&[hook(b"getppid", a, 0)], &bad_filter),
        Err(Error::Invalid)
    );
    assert_eq!(read(at), real);
    // Every valid flag is accepted, and a set of distinct names.
    for flags in [0, HOOK_OPTIONAL, HOOK_UNDEFINED, HOOK_FLAGS] {
        let id = install(
            &[
                hook(b"getppid", a, flags),
                hook(b"getpgrp", addr(fake_g), 0),
            ],
            &here(),
        )
        .unwrap_or_else(|e| panic!("flags {flags}: {e:?}"));
        assert_eq!(read(at), a, "flags {flags}");
        assert_eq!(unsafe { libc::getppid() }, -10);
        uninstall(id).unwrap();
        assert_eq!(read(at), real);
    }
}

#[test]
fn optional_and_undefined_hooks_without_a_definition_are_told_apart_per_hook() {
    let _g = serial();
    let a = addr(fake_a);
    let m = fake_missing as *const () as usize;
    // Not flagged: the install fails and names the hook.
    for hooks in [
        [hook(MISSING[0], m, 0), hook(b"getppid", a, HOOK_OPTIONAL)],
        [hook(b"getppid", a, HOOK_UNDEFINED), hook(MISSING[0], m, 0)],
    ] {
        let mut rep = Report::default();
        // SAFETY: as in `install`.
        let r = unsafe { hooks::install(&hooks, &here(), &mut rep) };
        assert_eq!(r, Err(Error::NotFound), "{hooks:?}");
        let k = hooks.iter().position(|h| h.flags == 0).unwrap() as u32;
        assert_eq!(rep.missing_hook, k + 1, "{rep:?}");
    }
    // Optional as the second hook: skipped and reported.
    let mut rep = Report::default();
    let hooks = [hook(b"getppid", a, 0), hook(MISSING[0], m, HOOK_OPTIONAL)];
    // SAFETY: as in `install`.
    let id = unsafe { hooks::install(&hooks, &here(), &mut rep) }.unwrap();
    assert_eq!((rep.missing_hook, rep.hooks_missing), (2, 0b10), "{rep:?}");
    assert_eq!(unsafe { libc::getppid() }, -10);
    uninstall(id).unwrap();
    // Undefined as the second hook: installed with a null original, not counted as skipped.
    ORIG_M.store(1, Ordering::Relaxed);
    let mut rep = Report::default();
    let hooks = [
        hook(b"getppid", a, 0),
        Hook {
            original: Some(&ORIG_M),
            ..hook(MISSING[0], m, HOOK_UNDEFINED)
        },
    ];
    // SAFETY: as in `install`; the replacement never calls its (null) original.
    let id = unsafe { hooks::install(&hooks, &here(), &mut rep) }.unwrap();
    assert_eq!((rep.missing_hook, rep.hooks_missing), (0, 0b10), "{rep:?}");
    assert_eq!(
        ORIG_M.load(Ordering::Acquire),
        0,
        "the null original published"
    );
    uninstall(id).unwrap();
}

#[test]
fn a_handle_dies_with_its_set_even_when_its_place_is_taken_again() {
    let _g = serial();
    let at = getppid_slot(&this_binary());
    let real = read(at);
    let mut handles = Vec::new();
    for round in 0..3 {
        let first = install(&[hook(b"getppid", addr(fake_a), 0)], &here()).unwrap();
        assert_ne!(first, 0);
        uninstall(first).unwrap();
        let second = install(&[hook(b"getppid", addr(fake_b), 0)], &here()).unwrap();
        assert_ne!(
            second, first,
            "round {round}: a new set got the dead handle"
        );
        assert_eq!(uninstall(first), Err(Error::NotFound), "round {round}");
        assert_eq!(
            read(at),
            addr(fake_b),
            "round {round}: the stale handle took the new set off"
        );
        handles.push(second);
        uninstall(second).unwrap();
        assert_eq!(read(at), real);
    }
    for h in handles {
        assert_eq!(uninstall(h), Err(Error::NotFound));
    }
}

#[test]
fn a_first_install_refused_busy_leaves_no_set_behind() {
    let _g = serial();
    let at = getppid_slot(&this_binary());
    let real = read(at);
    let batch = Batch::begin().unwrap();
    let r = install(&[hook(b"getppid", addr(fake_a), 0)], &here());
    drop(batch);
    assert_eq!(r, Err(Error::Busy), "the pass needed the swap lock");
    assert_eq!(read(at), real);
    // No set was left installed: installing it now patches, and one uninstall takes it off.
    let id = install(&[hook(b"getppid", addr(fake_a), 0)], &here()).unwrap();
    assert_eq!(read(at), addr(fake_a));
    uninstall(id).unwrap();
    assert_eq!(
        read(at),
        real,
        "a set from the refused install was still there"
    );
}

#[test]
fn a_set_taken_off_below_a_stacked_set_hands_it_its_original() {
    let _g = serial();
    let at = getppid_slot(&this_binary());
    let real = read(at);
    let real_pgrp = unsafe { libc::getpgrp() };
    let lower = install(
        &[Hook {
            original: Some(&ORIG_A),
            ..hook(b"getppid", addr(fake_a), 0)
        }],
        &here(),
    )
    .unwrap();
    let upper = install(
        &[
            Hook {
                original: Some(&ORIG_G),
                ..hook(b"getpgrp", addr(fake_g), 0)
            },
            Hook {
                original: Some(&ORIG_B),
                ..hook(b"getppid", addr(fake_b), 0)
            },
        ],
        &here(),
    )
    .unwrap();
    assert_eq!(
        ORIG_B.load(Ordering::Acquire),
        addr(fake_a),
        "stacked on the lower set"
    );
    let real_def = ORIG_A.load(Ordering::Acquire);
    let pgrp_def = ORIG_G.load(Ordering::Acquire);
    assert_eq!(read(at), addr(fake_b));
    assert_eq!(unsafe { libc::getpgrp() }, -30);
    uninstall(lower).unwrap();
    assert_eq!(
        ORIG_B.load(Ordering::Acquire),
        real_def,
        "handed the lower set's original"
    );
    assert_eq!(
        ORIG_G.load(Ordering::Acquire),
        pgrp_def,
        "a name the lower set did not hook"
    );
    assert_eq!(read(at), addr(fake_b), "the upper set's slot left alone");
    uninstall(upper).unwrap();
    assert_eq!(read(at), real);
    assert_eq!(unsafe { libc::getpgrp() }, real_pgrp);
    assert_eq!(uninstall(lower), Err(Error::NotFound));
}

fn missing_hooks(names: &[&'static [u8]]) -> Vec<Hook> {
    let m = fake_missing as *const () as usize;
    names.iter().map(|&n| hook(n, m, HOOK_OPTIONAL)).collect()
}

#[test]
fn the_hooked_names_of_all_sets_together_fit_the_want_table() {
    let _g = serial();
    assert_eq!(MAX_WANTS, 32);
    let one = [hook(b"getppid", addr(fake_a), 0)];
    // One set with exactly MAX_WANTS names fits; one name more, in any set, does not.
    let full = install(&missing_hooks(&MISSING[..32]), &here()).unwrap();
    assert_eq!(install(&one, &here()), Err(Error::Full), "a 33rd name");
    // A name already hooked by another set takes no new entry.
    let shared = install(&missing_hooks(&MISSING[5..6]), &Filter::default()).unwrap();
    uninstall(shared).unwrap();
    uninstall(full).unwrap();
    // A name of another set counts: 1 + 32 does not fit, 1 + 31 does, then 1 + 31 + 1 does not.
    let other = install(&one, &here()).unwrap();
    assert_eq!(
        install(&missing_hooks(&MISSING[..32]), &here()),
        Err(Error::Full)
    );
    let most = install(&missing_hooks(&MISSING[..31]), &here()).unwrap();
    assert_eq!(
        install(&missing_hooks(&MISSING[31..33]), &here()),
        Err(Error::Full),
        "two more names"
    );
    assert_eq!(
        install(&missing_hooks(&MISSING[32..33]), &here()),
        Err(Error::Full),
        "a 33rd name in a third set"
    );
    let again = install(&missing_hooks(&MISSING[30..31]), &Filter::default()).unwrap();
    uninstall(again).unwrap();
    uninstall(most).unwrap();
    uninstall(other).unwrap();
}

#[test]
fn with_every_set_taken_an_install_is_full_unless_its_hooks_are_bad() {
    let _g = serial();
    let suffixes: [&[u8]; 8] = [
        b"/no-such-0.so",
        b"/no-such-1.so",
        b"/no-such-2.so",
        b"/no-such-3.so",
        b"/no-such-4.so",
        b"/no-such-5.so",
        b"/no-such-6.so",
        b"/no-such-7.so",
    ];
    let mut ids = Vec::new();
    for s in suffixes {
        let nowhere = Filter {
            path_suffix: Some(s),
            ..Filter::default()
        };
        ids.push(install(&missing_hooks(&MISSING[..1]), &nowhere).unwrap());
    }
    let a = addr(fake_a);
    let g = addr(fake_g);
    assert_eq!(
        install(&[hook(b"getppid", a, 0)], &here()),
        Err(Error::Full)
    );
    assert_eq!(
        install(&[hook(b"getppid", a, 0), hook(b"getpgrp", g, 0)], &here()),
        Err(Error::Full)
    );
    for hooks in [
        &[hook(b"", a, 0)][..],
        &[hook(b"getppid", 0, 0)][..],
        &[hook(b"getppid", a, 0), hook(b"getppid", g, 0)][..],
        &[hook(b"getpgrp", g, 0), hook(b"getppid", a, 4)][..],
    ] {
        assert_eq!(install(hooks, &here()), Err(Error::Invalid), "{hooks:?}");
    }
    for id in ids {
        uninstall(id).unwrap();
    }
}

#[test]
fn an_install_reports_what_its_own_set_patched_when_it_is_not_the_first_set() {
    let _g = serial();
    let d = this_binary();
    let at = getppid_slot(&d);
    let real = read(at);
    // A set that applies to no library takes the first place in the set table.
    let nowhere = Filter {
        path_suffix: Some(b"/no-such-library-anywhere.so"),
        ..Filter::default()
    };
    let first = install(&missing_hooks(&MISSING[..1]), &nowhere).unwrap();
    let hooks = [hook(b"getppid", addr(fake_a), 0)];
    let mut rep = Report::default();
    // SAFETY: as in `install`.
    let id = unsafe { hooks::install(&hooks, &here(), &mut rep) }.unwrap();
    assert_eq!((rep.libs_patched, rep.slots_patched), (1, 1), "{rep:?}");
    // The other libraries are filtered out, this binary is not.
    let mut listed = 0;
    gothook_core::loader::each(gothook_core::loader::LIBS_ALL, |_| {
        listed += 1;
        true
    })
    .unwrap();
    assert_eq!(rep.libs_filtered, listed - 1, "{rep:?}");
    // A second install of the same set patches again what the set lost, and reports it.
    // SAFETY: the slot of this binary's getppid import; `real` is what it held before.
    unsafe { gothook_core::slot::swap_if_ready(&d, true, at, addr(fake_a), real) }.unwrap();
    let mut again = Report::default();
    // SAFETY: as in `install`.
    assert_eq!(
        unsafe { hooks::install(&hooks, &here(), &mut again) },
        Ok(id)
    );
    assert_eq!(read(at), addr(fake_a));
    assert_eq!(
        (
            again.libs_patched,
            again.slots_patched + again.slots_repaired
        ),
        (1, 1),
        "{again:?}"
    );
    assert_eq!(again.libs_filtered, listed - 1, "{again:?}");
    uninstall(id).unwrap();
    uninstall(id).unwrap();
    uninstall(first).unwrap();
    assert_eq!(read(at), real);
}
