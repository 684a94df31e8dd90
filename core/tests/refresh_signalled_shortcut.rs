//! With a set installed that signals every loader change (the dlopen interception declares
//! itself with `signal_changes_with`), a plain refresh within the probe interval of a completed
//! probe answers lock-free: it does not wait for a thread that holds the loader's list lock,
//! also where glibc's counters cannot be read without that lock.  Without the declaration it
//! must probe (nothing would tell it about a `dlopen`), so it waits.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gothook_core::hooks::{self, Report, REFRESH_FULL};
use gothook_core::{loader, probe, rtld};

mod this_binary;
use this_binary::install_getppid_here;

extern "C" fn fake_getppid() -> libc::pid_t {
    -9
}

/// How long the holder keeps the loader's list lock unless told to leave earlier.
const HOLD: Duration = Duration::from_secs(2);

/// Whether `refresh(0)` returns while another thread sits inside a `dl_iterate_phdr` callback
/// (holding the loader's list lock), with the last probe made recent for as long as the test
/// runs; `false` when the refresh only returned once that thread left on its own.
fn plain_refresh_answers_while_the_list_lock_is_held() -> bool {
    static INSIDE: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicBool = AtomicBool::new(false);
    static TIMED_OUT: AtomicU32 = AtomicU32::new(0);
    INSIDE.store(false, Ordering::SeqCst);
    DONE.store(false, Ordering::SeqCst);
    TIMED_OUT.store(0, Ordering::SeqCst);
    // A probe stamped in the far future stays "less than the interval ago" until invalidated:
    // the decision below does not depend on how fast this thread runs.
    probe::probed(u64::MAX / 2);
    let holder = std::thread::spawn(|| {
        loader::each(0, |_| {
            INSIDE.store(true, Ordering::SeqCst);
            let until = Instant::now() + HOLD;
            while !DONE.load(Ordering::SeqCst) {
                if Instant::now() >= until {
                    TIMED_OUT.store(1, Ordering::SeqCst);
                    break;
                }
                std::thread::yield_now();
            }
            false
        })
        .unwrap();
    });
    while !INSIDE.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let r = hooks::refresh(0, &mut Report::default());
    DONE.store(true, Ordering::SeqCst);
    holder.join().unwrap();
    probe::invalidate();
    assert_eq!(r, Ok(()));
    TIMED_OUT.load(Ordering::SeqCst) == 0
}

#[test]
fn a_set_that_signals_loader_changes_lets_a_recent_refresh_skip_the_loaders_lock() {
    // The locked path: where glibc's counters are read lock-free a refresh never waits anyway.
    rtld::turn_off();
    let id = install_getppid_here(fake_getppid);
    // A walk that leaves every library settled.
    hooks::refresh(REFRESH_FULL, &mut Report::default()).unwrap();
    assert!(
        !plain_refresh_answers_while_the_list_lock_is_held(),
        "without the declaration a plain refresh must probe, and wait for the loader's lock"
    );
    hooks::refresh(REFRESH_FULL, &mut Report::default()).unwrap();
    hooks::signal_changes_with(id);
    assert!(
        plain_refresh_answers_while_the_list_lock_is_held(),
        "a refresh waited for the loader's lock although a recent probe and the declared \
         interception vouch that nothing changed"
    );
    hooks::uninstall(id, &mut Report::default()).unwrap();
}
