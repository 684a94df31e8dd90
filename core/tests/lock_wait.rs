//! gothook's lock makes a waiter block in the kernel (a futex) instead of spinning while
//! another thread holds it.

use core::sync::atomic::{AtomicU32, Ordering};

use gothook_core::lock::OwnedLock;
use gothook_core::sys;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn a_waiter_blocks_in_the_kernel_instead_of_spinning() {
    static L: OwnedLock<u32> = OwnedLock::new(0);
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let g = L.lock().unwrap();
    let waiter = std::thread::spawn(|| {
        STARTED.store(1, Ordering::Release);
        let cpu0 = thread_cpu_ns();
        let mut g = L.lock().unwrap();
        *g += 1;
        thread_cpu_ns() - cpu0
    });
    while STARTED.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    // Hold the lock for 200 ms of wall time: a spinning waiter would burn about as much CPU.
    let t0 = sys::monotonic_ns();
    while sys::monotonic_ns() - t0 < 200_000_000 {
        core::hint::spin_loop();
    }
    drop(g);
    let waiter_cpu = waiter.join().unwrap();
    assert_eq!(
        *L.lock().unwrap(),
        1,
        "the waiter got the lock after the release"
    );
    assert!(
        waiter_cpu < 20_000_000,
        "the waiter used {waiter_cpu} ns of CPU while the lock was held 200 ms"
    );
}
