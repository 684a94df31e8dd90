//! The few libc calls gothook makes, each thin, documented and allocation-free by construction.
//! Never calls stdio, `dlsym`, `dlerror`, `getenv` or anything else that may allocate.

use core::ffi::{c_int, c_void};

/// `dl_iterate_phdr`'s record, as far as gothook reads it (glibc and musl share this prefix).
pub use libc::dl_phdr_info as PhdrInfo;

/// Byte offset just past `dlpi_subs`: records at least this long carry the load counters.
pub const INFO_WITH_COUNTERS: usize = core::mem::offset_of!(PhdrInfo, dlpi_subs) + 8;

/// Callback type of `dl_iterate_phdr`.
pub type IterCallback = unsafe extern "C" fn(*mut PhdrInfo, usize, *mut c_void) -> c_int;

/// Calls `dl_iterate_phdr(3)`.  Takes the loader's list lock (glibc: `dl_load_write_lock`; musl:
/// its read lock), so it is not async-signal-safe; it does not allocate.
///
/// # Safety
/// `cb` must be safe to call with `data` for every listed object.
pub unsafe fn dl_iterate_phdr(cb: IterCallback, data: *mut c_void) -> c_int {
    // SAFETY: forwarded contract; dl_iterate_phdr itself has no other precondition.
    unsafe { libc::dl_iterate_phdr(Some(cb), data) }
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

/// Gives up the CPU (raw `sched_yield`).
pub fn yield_now() {
    // SAFETY: sched_yield has no preconditions.
    unsafe {
        libc::syscall(libc::SYS_sched_yield);
    }
}

/// CLOCK_MONOTONIC in nanoseconds (`clock_gettime`: vDSO, async-signal-safe, no allocation).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Sleeps for `ns` nanoseconds (raw `nanosleep`; an interrupted sleep simply ends early).
pub fn sleep_ns(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    };
    // SAFETY: `ts` is a valid timespec; a NULL remainder is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts as *const libc::timespec,
            core::ptr::null_mut::<libc::timespec>(),
        );
    }
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

/// Whether the NUL-terminated `path` names an existing file (raw `faccessat(F_OK)`).
pub fn file_exists(path: &[u8]) -> bool {
    if !path.contains(&0) {
        return false;
    }
    // SAFETY: `path` contains a NUL within its bounds.
    unsafe {
        libc::syscall(
            libc::SYS_faccessat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::F_OK,
            0,
        ) == 0
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
