//! The few libc calls gothook makes, each thin, documented and allocation-free by construction.
//! Never calls stdio, `dlsym`, `dlerror`, `getenv` or anything else that may allocate.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// `dl_iterate_phdr`'s record, as far as gothook reads it (glibc and musl share this prefix).
pub use libc::dl_phdr_info as PhdrInfo;

/// Byte offset just past `dlpi_subs`: records at least this long carry the load counters.
pub const INFO_WITH_COUNTERS: usize = core::mem::offset_of!(PhdrInfo, dlpi_subs) + 8;

/// Callback type of `dl_iterate_phdr`.
pub type IterCallback = unsafe extern "C" fn(*mut PhdrInfo, usize, *mut c_void) -> c_int;

/// gothook's walks in flight in this process (a forked child inherits the parent's count).
static WALKS: AtomicU64 = AtomicU64::new(0);
/// The process that last proved it may walk: its pid (survives fork, unlike [`MARK`]).
static WALK_PID: AtomicU32 = AtomicU32::new(0);

/// Address of one page, mapped by the first walk of the process and never unmapped, that the
/// kernel hands to a forked child zeroed (`MADV_WIPEONFORK`, Linux >= 4.14): a non-zero mark in
/// its first word proves "same process as the one that set it" without a syscall.  Mapped at
/// run time, not a static, so that no page-aligned static (and the alignment padding before it)
/// sits in the library's data: one page of the system's size, whatever the architecture's
/// largest page.  0: not mapped (yet, or refused).  A child inherits the address and the
/// (wiped) mapping.
static MARK: AtomicUsize = AtomicUsize::new(0);
/// 1 once `MARK` is known to be wiped in children, 2 if the kernel refused (then every walk asks
/// `getpid`).
static MARK_STATE: AtomicU32 = AtomicU32::new(0);

/// The mark word of the wipe-on-fork page, if it is mapped.
fn mark() -> Option<&'static AtomicU32> {
    let page = MARK.load(Ordering::Acquire);
    // SAFETY: a non-zero `MARK` is a readable and writable anonymous page of this process
    // (inherited, zeroed, by a child), mapped by `arm_mark` and never unmapped; its first word
    // is only ever accessed atomically.
    (page != 0).then(|| unsafe { &*(page as *const AtomicU32) })
}

/// What [`dl_iterate_phdr`] returns when it refuses to walk (see [`walks_blocked`]).
pub const WALK_REFUSED: c_int = -1;

/// Whether this process is a child forked while another thread of its parent was inside (or
/// about to enter, or just leaving) a gothook walk.  glibc (2.36 checked) does not reset its
/// list lock (`dl_load_write_lock`) in a forked child, so the lock may belong to a thread that
/// does not exist here and any `dl_iterate_phdr` would block forever; gothook then refuses to
/// walk in this process.
pub fn walks_blocked() -> bool {
    !may_walk()
}

/// Whether this process may walk: cheap (one load) after the first walk of the process.
fn may_walk() -> bool {
    if mark().is_some_and(|m| m.load(Ordering::Acquire) != 0) {
        return true;
    }
    let me = getpid();
    if WALK_PID.load(Ordering::Acquire) == me {
        return true;
    }
    // A new process: the first ever, or a child.  Walks in flight now were started by the
    // parent (none of this process's threads has passed here yet, or it would have set the
    // pid), and their threads do not exist here.
    if WALKS.load(Ordering::Acquire) != 0 {
        // Unless a thread of this process proved it first (it stores the pid before counting).
        return WALK_PID.load(Ordering::Acquire) == me;
    }
    WALK_PID.store(me, Ordering::Release);
    arm_mark();
    true
}

fn arm_mark() {
    if MARK_STATE.load(Ordering::Acquire) == 0 {
        let size = page_size();
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let page = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let page = if page == libc::MAP_FAILED {
            None
        } else {
            Some(page)
        };
        // SAFETY: `page` is the whole mapping made above; wiping it in children is exactly what
        // this module wants, and nothing else lives in it.
        let wiped = page.filter(|&p| unsafe { libc::madvise(p, size, libc::MADV_WIPEONFORK) == 0 });
        match wiped {
            Some(p)
                if MARK
                    .compare_exchange(0, p as usize, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok() =>
            {
                MARK_STATE.store(1, Ordering::Release);
            }
            _ => {
                if let Some(p) = page {
                    // Refused, or another thread mapped its page first: this one is not used.
                    // SAFETY: the mapping made above, never published.
                    unsafe { libc::munmap(p, size) };
                }
                if wiped.is_none() {
                    let _ = MARK_STATE.compare_exchange(0, 2, Ordering::AcqRel, Ordering::Acquire);
                }
            }
        }
    }
    if MARK_STATE.load(Ordering::Acquire) == 1 {
        if let Some(m) = mark() {
            m.store(1, Ordering::Release);
        }
    }
}

/// Calls `dl_iterate_phdr(3)`.  Takes the loader's list lock (glibc: `dl_load_write_lock`,
/// recursive, so a callback may walk again; musl: its read lock, only between callbacks), so it
/// is not async-signal-safe; it does not allocate.  Returns [`WALK_REFUSED`] without calling it
/// when [`walks_blocked`].
///
/// # Safety
/// `cb` must be safe to call with `data` for every listed object.
pub unsafe fn dl_iterate_phdr(cb: IterCallback, data: *mut c_void) -> c_int {
    if !may_walk() {
        return WALK_REFUSED;
    }
    WALKS.fetch_add(1, Ordering::AcqRel);
    // SAFETY: forwarded contract; dl_iterate_phdr itself has no other precondition.
    let rc = unsafe { libc::dl_iterate_phdr(Some(cb), data) };
    WALKS.fetch_sub(1, Ordering::AcqRel);
    rc
}

/// Calls `f` once, inside `dl_iterate_phdr`'s callback for the first listed object (so on glibc
/// holding the loader's list lock, which a nested walk takes again recursively), with that
/// object's `(dlpi_adds, dlpi_subs)` counters (`(0, 0)` from a libc whose records lack them).
/// Returns false, without calling `f`, when [`walks_blocked`].  Not signal-safe; no allocation.
pub fn with_list_lock(f: &mut dyn FnMut((u64, u64))) -> bool {
    /// # Safety
    /// Called by `dl_iterate_phdr` only: `info` is its record of `size` bytes and `data` the
    /// `&mut dyn FnMut` passed below, alive for the walk.
    unsafe extern "C" fn first(info: *mut PhdrInfo, size: usize, data: *mut c_void) -> c_int {
        // SAFETY: dl_iterate_phdr passes a valid record of `size` bytes; `data` is the `&mut dyn
        // FnMut` below, alive for the whole walk.
        let (info, f) = unsafe { (&*info, &mut *(data as *mut &mut dyn FnMut((u64, u64)))) };
        let counters = if size >= INFO_WITH_COUNTERS {
            (info.dlpi_adds, info.dlpi_subs)
        } else {
            (0, 0)
        };
        holding_list_lock(|| f(counters));
        1
    }
    let mut f = f;
    // SAFETY: `first` matches the callback ABI and uses `data` only as the closure reference.
    unsafe {
        dl_iterate_phdr(
            first,
            &mut f as *mut &mut dyn FnMut((u64, u64)) as *mut c_void,
        ) != WALK_REFUSED
    }
}

/// The thread ([`thread_self`]) running a [`with_list_lock`] callback right now, 0 for none.
/// Only the thread holding the loader's list lock writes it (on entry to its callback, and back
/// to the outer value on the way out), so a thread that reads its own value here is inside such
/// a callback; any other thread reads some other value.
static LIST_HOLDER: AtomicUsize = AtomicUsize::new(0);

/// Whether the calling thread is inside a [`with_list_lock`] callback, on a libc whose list lock
/// is held through its callbacks (glibc; the caller checks that, e.g. with `rtld::counters`).
pub fn in_list_lock() -> bool {
    LIST_HOLDER.load(Ordering::Acquire) == thread_self()
}

/// Marks the calling thread as inside a [`with_list_lock`] callback while `f` runs.
fn holding_list_lock<R>(f: impl FnOnce() -> R) -> R {
    let outer = LIST_HOLDER.swap(thread_self(), Ordering::AcqRel);
    let r = f();
    LIST_HOLDER.store(outer, Ordering::Release);
    r
}

/// A number that tells the calling thread from every other live thread of this process: the
/// thread pointer where the architecture has one (x86_64: the TCB self pointer at %fs:0;
/// aarch64: TPIDR_EL0), else the kernel thread id.  Never 0.  Signal-safe.
pub fn thread_self() -> usize {
    #[cfg(target_arch = "x86_64")]
    let tp: usize = {
        let tp: usize;
        // SAFETY: on x86_64 Linux %fs:0 holds the thread control block's own address (glibc and
        // musl); reading it has no side effect.
        unsafe {
            core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        tp
    };
    #[cfg(target_arch = "aarch64")]
    let tp: usize = {
        let tp: usize;
        // SAFETY: reading TPIDR_EL0 has no side effect.
        unsafe {
            core::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nostack, nomem, preserves_flags))
        };
        tp
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let tp: usize = gettid() as usize;
    tp.max(1)
}

/// One 8-byte word of the dynamic loader's own data at `addr`, read atomically (an acquire
/// load): for [`crate::rtld`], which passes only 8-aligned addresses it found inside
/// `_rtld_global` (the loader is never unmapped).  Async-signal-safe.
pub fn loader_word(addr: usize) -> u64 {
    debug_assert!(addr != 0 && addr.is_multiple_of(8));
    // SAFETY: `rtld` found `addr` inside the dynamic loader's `_rtld_global` object, which is
    // mapped for the life of the process, aligned for a u64; the loader writes it with plain
    // stores under its lock, and an aligned 8-byte load on a 64-bit target sees one of them.
    unsafe { AtomicU64::from_ptr(addr as *mut u64) }.load(Ordering::Acquire)
}

/// [`loader_word`] for a 4-byte word (4-aligned).
pub fn loader_u32(addr: usize) -> u32 {
    debug_assert!(addr != 0 && addr.is_multiple_of(4));
    // SAFETY: as `loader_word`, for a 4-aligned u32 inside `_rtld_global`.
    unsafe { AtomicU32::from_ptr(addr as *mut u32) }.load(Ordering::Acquire)
}

/// `getauxval(3)`: async-signal-safe, reads the saved auxiliary vector.
pub fn auxval(kind: u64) -> usize {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(kind as _) as usize }
}

/// The system page size (AT_PAGESZ), never 0.
pub fn page_size() -> usize {
    let p = auxval(libc::AT_PAGESZ);
    if p.is_power_of_two() {
        p
    } else {
        4096
    }
}

/// The kernel thread id of the caller (raw `gettid` syscall: signal-safe, no libc state).
pub fn gettid() -> u32 {
    // SAFETY: SYS_gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// A number that identifies the calling thread among the live threads of this process, read
/// without a syscall where the architecture has a thread pointer (x86_64: the TCB self pointer
/// at %fs:0; aarch64: TPIDR_EL0), else the kernel thread id.  Never 0.  Signal-safe.  Unlike a
/// thread id it is the same in a forked child for the forking thread, so it cannot tell a
/// parent's thread from a live one: use [`gettid`] where that matters.
pub fn thread_token() -> u32 {
    let tp = thread_self();
    // Thread control blocks are at least 16-byte aligned and far apart: fold to 32 bits.
    let folded = ((tp >> 4) as u64 ^ ((tp as u64) >> 36)) as u32;
    (folded & 0x7fff_ffff).max(1)
}

/// The process id (raw `getpid` syscall: glibc no longer caches it, and a forked child must see
/// its own id even when `fork` was called from a signal handler).  Signal-safe.
pub fn getpid() -> u32 {
    // SAFETY: SYS_getpid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as u32 }
}

/// Whether thread `tid` belongs to this process (raw `tgkill(getpid(), tid, 0)`: signal 0 checks
/// existence and sends nothing).  A lock word that names a thread of the parent reads false in a
/// forked child.  Signal-safe.
pub fn thread_alive(tid: u32) -> bool {
    // SAFETY: signal 0 performs only the existence and permission checks.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, getpid() as c_int, tid as c_int, 0) };
    // SAFETY: reading errno of this thread.
    rc == 0 || unsafe { *libc::__errno_location() } != libc::ESRCH
}

/// Blocks while `*word == expected` (raw `FUTEX_WAIT_PRIVATE`, no timeout).  Returns at once if
/// the word differs; may also return spuriously or on a signal: callers re-check.  Allocates
/// nothing; signal-safe.
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; a NULL timeout waits
    // until woken.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            core::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes up to `n` threads blocked in [`futex_wait`] on `word` (raw `FUTEX_WAKE_PRIVATE`).
pub fn futex_wake(word: &AtomicU32, n: u32) {
    // SAFETY: `word` is a valid, aligned u32; waking has no other precondition.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n.min(i32::MAX as u32) as c_int,
        );
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// CLOCK_MONOTONIC in nanoseconds (`clock_gettime`: vDSO, async-signal-safe, no allocation).
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last timer tick, read from the vDSO
/// without touching the clock source (a few nanoseconds on every machine).  It lags the real
/// time by less than [`coarse_resolution_ns`].
pub fn coarse_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC_COARSE)
}

/// The tick length of CLOCK_MONOTONIC_COARSE (`clock_getres`), in nanoseconds.
pub fn coarse_resolution_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } != 0 {
        return u64::MAX;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// `mprotect(2)` on whole pages.  Returns false when the kernel refuses.
///
/// # Safety
/// `[page, page + len)` must be pages of a loaded image whose new protection does not break a
/// concurrent user: gothook only adds PROT_WRITE briefly and then restores the derived protection.
pub unsafe fn mprotect(page: usize, len: usize, elf_flags: u32) -> bool {
    let mut prot = 0;
    if elf_flags & crate::elf::PF_R != 0 {
        prot |= libc::PROT_READ;
    }
    if elf_flags & crate::elf::PF_W != 0 {
        prot |= libc::PROT_WRITE;
    }
    if elf_flags & crate::elf::PF_X != 0 {
        prot |= libc::PROT_EXEC;
    }
    // SAFETY: forwarded contract.
    unsafe { libc::mprotect(page as *mut c_void, len, prot) == 0 }
}

/// An open file descriptor closed on drop (raw `openat`/`close` syscalls, signal-safe).
pub struct Fd(c_int);

impl Fd {
    /// Opens the NUL-terminated `path` read-only with O_CLOEXEC.
    pub fn open(path: &[u8]) -> Option<Fd> {
        if path.last() != Some(&0) {
            return None;
        }
        // SAFETY: `path` is NUL-terminated; flags are valid.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            None
        } else {
            Some(Fd(fd as c_int))
        }
    }

    /// Reads into `buf`; returns the count, 0 at end of file, None on error (EINTR retried).
    pub fn read(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
            let n = unsafe { libc::syscall(libc::SYS_read, self.0, buf.as_mut_ptr(), buf.len()) };
            if n >= 0 {
                return Some(n as usize);
            }
            // SAFETY: reading errno of this thread.
            if unsafe { *libc::__errno_location() } != libc::EINTR {
                return None;
            }
        }
    }

    /// `ioctl(2)` with a pointer argument; returns true on success.
    ///
    /// # Safety
    /// `arg` must be valid for the request's reads and writes.
    pub unsafe fn ioctl(&self, request: u64, arg: *mut c_void) -> bool {
        // SAFETY: forwarded contract.
        unsafe { libc::syscall(libc::SYS_ioctl, self.0, request, arg) == 0 }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe {
            libc::syscall(libc::SYS_close, self.0);
        }
    }
}

/// Reads one pointer-sized word at `addr` of loader-owned memory (a `link_map` field).
///
/// # Safety
/// `addr` must be readable and aligned (a pointer the loader itself handed out).
pub unsafe fn read_word(addr: usize) -> usize {
    // SAFETY: forwarded contract.
    unsafe { core::ptr::read_volatile(addr as *const usize) }
}

/// `_dl_find_object`'s signature (glibc >= 2.35).
pub type DlFindObject = unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int;

/// Calls `_dl_find_object(addr, result)` and returns `dlfo_link_map` on success (0 only).
///
/// # Safety
/// `f` must be glibc's `_dl_find_object`.  It is lock-free and async-signal-safe (glibc manual).
pub unsafe fn dl_find_object(f: usize, addr: usize) -> Option<usize> {
    // struct dl_find_object: unsigned long long dlfo_flags; void *dlfo_map_start, *dlfo_map_end;
    // struct link_map *dlfo_link_map; ... (plus reserved words).  256 bytes is ample.
    let mut out = [0u64; 32];
    // SAFETY: `f` is _dl_find_object by contract; `out` is larger than struct dl_find_object.
    let rc = unsafe {
        let f: DlFindObject = core::mem::transmute(f);
        f(addr as *mut c_void, out.as_mut_ptr() as *mut c_void)
    };
    if rc != 0 {
        return None;
    }
    let base = out.as_ptr() as usize + 8 + 2 * core::mem::size_of::<usize>();
    // SAFETY: `base` is inside `out` and aligned for usize.
    Some(unsafe { core::ptr::read(base as *const usize) })
}

/// Calls an IFUNC resolver the way the loader does for this architecture and returns the
/// implementation it picks.
///
/// # Safety
/// `resolver` must be the resolver of a defined STT_GNU_IFUNC symbol of a relocated library.
pub unsafe fn call_ifunc(resolver: usize) -> usize {
    let hwcap = auxval(libc::AT_HWCAP);
    // SAFETY: resolvers take (hwcap, ...) on aarch64 and ignore arguments elsewhere.
    unsafe {
        let f: unsafe extern "C" fn(usize, usize) -> usize = core::mem::transmute(resolver);
        f(hwcap, 0)
    }
}
