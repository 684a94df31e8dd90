//! When refresh may answer "nothing changed" without any lock, and how much of the time locked
//! passes may hold the loader's list lock.  Owns the probe clock and the pacing budget.
//! Never sleeps, never waits, never allocates.
//!
//! The guarantee: a library that finished loading at time t (its `dlopen` returned, or glibc
//! loaded it for itself: an iconv module, an NSS module, `libgcc_s`) is hooked by the first
//! refresh that starts at or after t + [`PROBE_INTERVAL_NS`], unless that refresh answers `Busy`.
//! Why: refresh skips the locked probe only while the last *completed* locked probe started less
//! than [`PROBE_INTERVAL_NS`] ago, i.e. after t; that probe read the loader's counters after the
//! library was listed, and either patched it or found them equal to those of a pass that had
//! (the quiet probe), or, if it was not READY yet, left the state unsettled, which disables the
//! shortcut until it is.
//!
//! The clock: stamps are read from CLOCK_MONOTONIC_COARSE (a vDSO read of the last tick's time,
//! a few nanoseconds) when its tick is at most half the interval, else from CLOCK_MONOTONIC
//! (a clock-source read, 20-30 ns on a VM).  A coarse stamp is never later than the real time and
//! earlier by less than one tick (the kernel advances it at every tick, `clock_getres`), so every
//! comparison adds the tick: "less than the interval ago" holds when the stamps differ by less than
//! interval - tick, which with a tick of at most interval/2 still lets one probe serve for at least
//! half the interval.  The same lag makes "at least the interval passed" (the lazy re-check)
//! answer yes early, never late.
use core::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::sys;

/// Longest time a refresh may trust the last locked probe instead of taking the loader's list
/// lock for a new one (10 ms).
pub const PROBE_INTERVAL_NS: u64 = 10_000_000;
/// Locked passes hold the loader lock at most 1/LOCK_SHARE_INVERSE of the time on average: each
/// spends LOCK_SHARE_INVERSE times its duration from a budget that refills at one nanosecond per
/// nanosecond, up to [`LOCK_BURST_NS`]; a refresh that finds the budget spent does no pass and
/// answers `Busy` at once (the cheap locked probe itself is never held back).
pub const LOCK_SHARE_INVERSE: u64 = 4;
/// How much budget (nanoseconds of wall time) can be saved up for a burst of passes.
pub const LOCK_BURST_NS: u64 = 50_000_000;

/// Start stamp of the last completed locked probe (0: none yet).
static LAST_PROBE: AtomicU64 = AtomicU64::new(0);
/// How far a probe stamp may lag the real time: the coarse clock's tick, or `PRECISE` when the
/// tick is longer than half the interval and the precise clock is read instead; 0 until first
/// read.
static STAMP_LAG: AtomicU64 = AtomicU64::new(0);
const PRECISE: u64 = u64::MAX;

/// Budget in nanoseconds, biased by `LOCK_BURST_NS` so it fits an unsigned atomic (a value below
/// the bias means overdrawn); together with the time it was last brought up to date.
static BUDGET_BIASED_NS: AtomicU64 = AtomicU64::new(2 * LOCK_BURST_NS);
static BUDGET_AT_NS: AtomicU64 = AtomicU64::new(0);

/// The coarse clock is not used after all: on a tickless kernel its lag is not bounded by its
/// resolution.  Measured here (kernel 6.18, `clock_getres` 4 ms): right after a 10 ms sleep on
/// an idle machine it lagged the precise clock by up to 6.7 ms, and a cached refresh one
/// interval after a `dlopen` then trusted a probe older than the interval
/// (`hooks_refresh_cached` failed 6 to 9 of 12 runs on an idle machine).  Stamps read the
/// precise clock (a vDSO read, 20-30 ns on a VM).
const USE_COARSE_CLOCK: bool = false;

fn stamp_lag() -> u64 {
    match STAMP_LAG.load(Ordering::Relaxed) {
        0 => {
            let tick = sys::coarse_resolution_ns();
            let lag = if USE_COARSE_CLOCK && tick.saturating_mul(2) <= PROBE_INTERVAL_NS {
                tick.max(1)
            } else {
                PRECISE
            };
            STAMP_LAG.store(lag, Ordering::Relaxed);
            lag
        }
        lag => lag,
    }
}

/// A probe stamp: never later than the real time, and earlier by less than the lag.
fn stamp(lag: u64) -> u64 {
    if lag == PRECISE {
        sys::monotonic_ns()
    } else {
        sys::coarse_ns()
    }
}

/// The time a locked probe starts (before it reads any counter); pass it to [`probed`].
pub fn probe_start() -> u64 {
    stamp(stamp_lag())
}

/// Records that the locked probe stamped `start` completed (its pass, if any, is done).
pub fn probed(start: u64) {
    let start = start.max(1);
    // A coarse stamp often equals the last one: no read-modify-write then.
    if LAST_PROBE.load(Ordering::Acquire) < start {
        LAST_PROBE.fetch_max(start, Ordering::AcqRel);
    }
}

/// Forgets the last probe, so that the next refresh takes the loader's lock (a pass was held
/// back, or the state was found half-updated).
pub fn invalidate() {
    LAST_PROBE.store(0, Ordering::Release);
}

/// Lock-free: whether a locked probe that started less than [`PROBE_INTERVAL_NS`] ago has
/// completed.  A few nanoseconds (one atomic load and a vDSO read of the coarse clock).
pub fn probed_recently() -> bool {
    let last = LAST_PROBE.load(Ordering::Acquire);
    if last == 0 {
        return false;
    }
    let lag = stamp_lag();
    within_interval(last, stamp(lag), lag)
}

/// Whether the stamps `last`, then `now`, taken with `lag`, prove that less than
/// [`PROBE_INTERVAL_NS`] of real time passed between them: `now` may be up to a lag late and
/// `last` exact, so now - last + lag < interval bounds the real elapsed time.
fn within_interval(last: u64, now: u64, lag: u64) -> bool {
    let lag = if lag == PRECISE { 0 } else { lag };
    now.saturating_sub(last).saturating_add(lag) < PROBE_INTERVAL_NS
}

/// Whether at least [`PROBE_INTERVAL_NS`] of real time may have passed between two probe stamps
/// (`since`, then `now`): conservative by the stamp lag, so it never answers no when the real
/// interval was long enough: exactly when [`within_interval`] cannot prove less.
pub fn interval_passed(since: u64, now: u64) -> bool {
    !within_interval(since, now, stamp_lag())
}

/// Spends the whole pacing budget, as a long run of re-scans would, and stops it refilling for
/// a minute (unit tests of the pacing decision: the budget otherwise refills faster than a test
/// can spend it on purpose, and a descheduled test thread must not see it refilled).  The next
/// [`charge`] starts refilling again from then.
#[cfg(test)]
pub fn spend_budget() {
    BUDGET_BIASED_NS.store(0, Ordering::Release);
    BUDGET_AT_NS.store(sys::monotonic_ns() + 60_000_000_000, Ordering::Release);
}

/// Whether the pacing budget allows a locked pass to start now.
pub fn budget_allows() -> bool {
    let now = sys::monotonic_ns();
    let at = BUDGET_AT_NS.load(Ordering::Acquire);
    let earned = if at == 0 {
        LOCK_BURST_NS
    } else {
        now.saturating_sub(at)
    };
    BUDGET_BIASED_NS
        .load(Ordering::Acquire)
        .saturating_add(earned)
        >= LOCK_BURST_NS
}

/// Charges a locked pass that began at `start` ([`sys::monotonic_ns`]) to the budget.  Called
/// with the state lock held, so the budget statics have one writer at a time.
pub fn charge(start: u64) {
    let now = sys::monotonic_ns();
    let cost = now.saturating_sub(start).saturating_mul(LOCK_SHARE_INVERSE);
    let at = BUDGET_AT_NS.load(Ordering::Acquire);
    let earned = if at == 0 {
        LOCK_BURST_NS
    } else {
        now.saturating_sub(at)
    };
    let budget = BUDGET_BIASED_NS
        .load(Ordering::Acquire)
        .saturating_add(earned)
        .min(2 * LOCK_BURST_NS);
    BUDGET_BIASED_NS.store(budget.saturating_sub(cost), Ordering::Release);
    BUDGET_AT_NS.store(now, Ordering::Release);
}

/// Runs `f` inside a `dl_iterate_phdr` callback, with the first listed object's `(adds, subs)`
/// counters: on glibc while holding the loader's list lock, so a gothook lock that `f` waits for
/// is only ever held by a thread that holds the loader's lock too (the one lock order: loader
/// lock, then gothook lock), and walks inside `f` nest (glibc's list lock is recursive).
///
/// `Busy` when walking would block forever in this forked child ([`sys::walks_blocked`]).
pub fn under_list_lock<R>(f: impl FnOnce((u64, u64)) -> Result<R>) -> Result<R> {
    let mut f = Some(f);
    let mut out = None;
    let walked = sys::with_list_lock(&mut |counters| {
        // Every locked read checks the lock-free one.
        crate::rtld::verify(counters);
        if let Some(f) = f.take() {
            out = Some(f(counters));
        }
    });
    match out {
        Some(r) if walked => r,
        _ => Err(Error::Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_probe_is_trusted_and_an_invalidated_one_is_not() {
        invalidate();
        assert!(!probed_recently());
        probed(probe_start());
        assert!(probed_recently());
        invalidate();
        assert!(!probed_recently());
    }

    #[test]
    fn a_probe_is_never_trusted_once_the_interval_has_passed_in_real_time() {
        let lag = stamp_lag();
        assert_eq!(lag, PRECISE, "stamps read the precise clock");
        // Each pair of stamps spans at least the interval of real time (the precise clock, which
        // the stamps read, says so) and must not be trusted.  The waits count from the first
        // stamp itself: this thread may be preempted anywhere on a loaded machine.
        for _ in 0..8 {
            // A probe stamped a moment ago is trusted (retried: a preemption longer than the
            // interval between the two stamps is not a failure).
            assert!(
                (0..100).any(|_| {
                    let last = stamp(lag);
                    within_interval(last, stamp(lag), lag)
                }),
                "a fresh probe is trusted"
            );
            let last = stamp(lag);
            while sys::monotonic_ns().saturating_sub(last) < PROBE_INTERVAL_NS {
                core::hint::spin_loop();
            }
            let now = stamp(lag);
            assert!(
                !within_interval(last, now, lag),
                "trusted after the interval: stamps {last} -> {now}, lag {lag}"
            );
            assert!(interval_passed(last, now), "the lazy re-check is not due");
        }
    }

    #[test]
    fn the_closure_runs_once_with_the_loader_counters() {
        let mut calls = 0;
        let c = under_list_lock(|c| {
            calls += 1;
            Ok(c)
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert!(c.0 > 0, "glibc counts the initial objects as adds: {c:?}");
    }
}
