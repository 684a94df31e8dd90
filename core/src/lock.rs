//! gothook's own locks: spin locks that know their owner thread, so re-entry on the same thread
//! (a signal handler, a malloc hook) answers `Error::Busy` at once instead of deadlocking.
//! Never allocates; never blocks in the kernel.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::sys;

/// A spin lock over `T` that records the kernel thread id of its holder.
pub struct OwnedLock<T> {
    inner: spin::Mutex<T>,
    owner: AtomicU32,
}

/// Access to the locked value; releases on drop.
pub struct Guard<'a, T> {
    guard: spin::MutexGuard<'a, T>,
    owner: &'a AtomicU32,
}

impl<T> OwnedLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> Self {
        OwnedLock {
            inner: spin::Mutex::new(value),
            owner: AtomicU32::new(0),
        }
    }

    /// Takes the lock, spinning while another thread holds it; `Error::Busy` if this thread
    /// already holds it.
    pub fn lock(&self) -> Result<Guard<'_, T>> {
        let me = sys::gettid();
        let mut spins = 0u32;
        loop {
            if let Some(g) = self.try_lock_as(me)? {
                return Ok(g);
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                sys::yield_now();
            } else {
                core::hint::spin_loop();
            }
        }
    }

    /// Takes the lock only if it is free: `Ok(None)` when another thread holds it.
    pub fn try_lock(&self) -> Result<Option<Guard<'_, T>>> {
        self.try_lock_as(sys::gettid())
    }

    fn try_lock_as(&self, me: u32) -> Result<Option<Guard<'_, T>>> {
        if self.owner.load(Ordering::Acquire) == me {
            return Err(Error::Busy);
        }
        match self.inner.try_lock() {
            Some(guard) => {
                self.owner.store(me, Ordering::Release);
                Ok(Some(Guard {
                    guard,
                    owner: &self.owner,
                }))
            }
            None => Ok(None),
        }
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // Cleared before the inner guard releases, so no other thread sees a stale owner.
        self.owner.store(0, Ordering::Release);
    }
}
