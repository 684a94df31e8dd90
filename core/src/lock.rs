//! gothook's own locks: spin locks that know their owner thread, so re-entry on the same thread
//! (a signal handler, a malloc hook) answers `Error::Busy` at once instead of deadlocking.
//! Never allocates; never blocks in the kernel.

use core::mem::ManuallyDrop;
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
    // Released by hand in `drop`, before the owner is cleared (see there).
    guard: ManuallyDrop<spin::MutexGuard<'a, T>>,
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

    fn try_lock_as(&self, me: u32) -> Result<Option<Guard<'_, T>>> {
        // The owner word is the lock: it is claimed before the inner mutex is taken and cleared
        // only after the inner mutex is released, so a signal handler interrupting this thread
        // anywhere inside lock/unlock sees its own id and answers Busy instead of spinning on a
        // mutex its own thread holds (a self-deadlock).
        match self
            .owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => {}
            Err(cur) if cur == me => return Err(Error::Busy),
            Err(_) => return Ok(None),
        }
        match self.inner.try_lock() {
            Some(guard) => Ok(Some(Guard {
                guard: ManuallyDrop::new(guard),
                owner: &self.owner,
            })),
            None => {
                // Unreachable: only the owner-word holder touches the inner mutex.
                self.owner.store(0, Ordering::Release);
                Ok(None)
            }
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
        // The inner mutex is released first and the owner word last: until then every other
        // thread keeps spinning and this thread's signal handlers answer Busy.
        // SAFETY: `guard` is dropped exactly once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        self.owner.store(0, Ordering::Release);
    }
}
