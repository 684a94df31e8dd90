//! gothook's own locks: one word that holds the kernel thread id of the holder, so re-entry on
//! the same thread (a signal handler, a malloc hook) answers `Error::Busy` at once instead of
//! deadlocking, a waiter blocks in the kernel (a futex on that word) instead of burning CPU, and
//! a child forked while a parent thread held the lock takes it over instead of waiting forever.
//! Never allocates; the only syscalls are futex, gettid, getpid and tgkill (all signal-safe).
//!
//! Lock order (design rule 6).  A thread may already hold the loader's list lock when it enters
//! gothook (its malloc hook fired inside its own `dl_iterate_phdr` callback).  So a thread that
//! holds one of these locks never waits for the loader's list lock, or it took the lock inside a
//! walk callback (then it already held the loader's lock, and the order is always loader lock,
//! then gothook lock).  Everyone else uses [`OwnedLock::try_lock`] and reports `Busy`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::sys;

/// Set in the lock word while a thread may be blocked in `futex_wait` on it.
const WAITERS: u32 = 1 << 31;
/// Spins before blocking: a holder is normally out within a microsecond or two.
const SPINS: u32 = 100;

/// A lock over `T` whose word is the holder's thread id (0: free), plus a waiters bit.
pub struct OwnedLock<T> {
    word: AtomicU32,
    /// Holders are named by kernel thread id and checked for existence (fork takeover), or, for
    /// a lock only ever held inside a walk, by [`sys::thread_token`] (no syscall).
    by_tid: bool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a Guard, and the word admits one holder at a time.
unsafe impl<T: Send> Sync for OwnedLock<T> {}

/// Access to the locked value; releases on drop.
pub struct Guard<'a, T> {
    lock: &'a OwnedLock<T>,
    taken_over: bool,
}

impl<T> OwnedLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> Self {
        OwnedLock {
            word: AtomicU32::new(0),
            by_tid: true,
            value: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked lock that is only ever taken inside a `dl_iterate_phdr` callback.  Its
    /// holder is named without a syscall, and it needs no fork takeover: a child forked while a
    /// parent thread was inside a walk refuses to walk at all (`sys::walks_blocked`).
    pub const fn new_in_walks(value: T) -> Self {
        OwnedLock {
            word: AtomicU32::new(0),
            by_tid: false,
            value: UnsafeCell::new(value),
        }
    }

    fn me(&self) -> u32 {
        if self.by_tid {
            sys::gettid()
        } else {
            sys::thread_token()
        }
    }

    /// Takes the lock if no other thread holds it: `Ok(None)` when one does, `Error::Busy` when
    /// this thread already holds it.  Never waits.
    pub fn try_lock(&self) -> Result<Option<Guard<'_, T>>> {
        self.attempt(self.me(), true)
    }

    /// Takes the lock, waiting for another holder (a few microseconds spinning, then blocked in
    /// the kernel without using CPU); `Error::Busy` if this thread already holds it.
    ///
    /// Only call this where the holder cannot be waiting for something the caller holds: see
    /// the lock order in the module comment.
    pub fn lock(&self) -> Result<Guard<'_, T>> {
        let me = self.me();
        for _ in 0..SPINS {
            if let Some(g) = self.attempt(me, false)? {
                return Ok(g);
            }
            core::hint::spin_loop();
        }
        loop {
            if let Some(g) = self.attempt(me, true)? {
                return Ok(g);
            }
            let v = self.word.load(Ordering::Relaxed);
            if v == 0 {
                continue;
            }
            if v & WAITERS == 0
                && self
                    .word
                    .compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            sys::futex_wait(&self.word, v | WAITERS);
        }
    }

    fn attempt(&self, me: u32, check_owner: bool) -> Result<Option<Guard<'_, T>>> {
        let v = self.word.load(Ordering::Relaxed);
        let owner = v & !WAITERS;
        if owner == me {
            return Err(Error::Busy);
        }
        // A holder that is no thread of this process: the lock was held when this process was
        // forked and can never be released.  Take it over (a freshly started thread cannot have
        // the number of a thread of the parent that is still alive, so this is never a live
        // holder in the parent).
        let taken_over = owner != 0;
        if taken_over && !(check_owner && self.by_tid && !sys::thread_alive(owner)) {
            return Ok(None);
        }
        // WAITERS survives a takeover, so the release still wakes whoever blocked meanwhile.
        let want = me | (v & WAITERS);
        Ok(self
            .word
            .compare_exchange(v, want, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Guard {
                lock: self,
                taken_over,
            }))
    }
}

impl<T> Guard<'_, T> {
    /// Whether the lock was taken over from a thread that does not exist in this process (a
    /// fork while it was held): the value may be half-updated, so the caller re-verifies it.
    pub fn taken_over(&self) -> bool {
        self.taken_over
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a Guard exists only while its thread holds the lock word, so no other
        // reference to the value exists; the borrow ends with the guard's.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the guard is borrowed mutably, so this is the only
        // reference for the borrow's duration.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // One store ends the hold: until it, this thread's signal handlers see its own id and
        // answer Busy.
        if self.lock.word.swap(0, Ordering::Release) & WAITERS != 0 {
            sys::futex_wake(&self.lock.word, u32::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_gets_busy_and_others_get_none() {
        let l = OwnedLock::new(5u32);
        let g = l.lock().unwrap();
        assert_eq!(*g, 5);
        assert_eq!(l.try_lock().err(), Some(Error::Busy));
        assert_eq!(l.lock().err(), Some(Error::Busy));
        drop(g);
        assert!(l.try_lock().unwrap().is_some());
    }

    #[test]
    fn a_lock_held_by_a_thread_of_no_process_is_taken_over() {
        let l = OwnedLock::new(0u32);
        // PID_MAX_LIMIT is 2^22: no thread has this id, as a parent thread does not exist in a
        // forked child.
        l.word.store((1 << 22) + 1, Ordering::Relaxed);
        let g = l.try_lock().unwrap().expect("taken over");
        assert!(g.taken_over());
        drop(g);
        let g = l.lock().unwrap();
        assert!(!g.taken_over());
    }
}
