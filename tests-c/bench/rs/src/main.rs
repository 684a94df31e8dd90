//! gothook benchmark: install / refresh / uninstall / probe / scan and its floor / the naive
//! strcmp patcher and the crates.io peers / interference / dlopen cost with the interception /
//! a malloc hook that refreshes on every call / footprint.
//! Usage: gothook-bench LIBDIR [L...]   (LIBDIR holds libblNNNN.so and libbchurn.so made by
//! gen.py; needs max(L) + 5 libraries: the extra ones are loaded for refresh-one, interference
//! and the dlopen lines).
//! Prints a markdown table on stdout and writes `bench.csv` (figure rows for the plot) in the
//! current directory.  Every ratio is computed from figures measured in this one process.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- gothook C API (the header's)
#[repr(C)]
struct GHook {
    symbol: *const c_char,
    replacement: *mut c_void,
    original: *mut *mut c_void,
    flags: u32,
}
#[repr(C)]
struct GFilter {
    flags: u32,
    reserved: u32,
    path_suffix: *const c_char,
    contains: *const c_void,
    next_after: *const c_void,
    accept: Option<extern "C" fn(*const GLib, *mut c_void) -> c_int>,
    accept_ctx: *mut c_void,
    exclude: *const c_void,
}
#[repr(C)]
#[derive(Default, Clone, Copy, Debug)]
struct GReport {
    libs_patched: u32,
    libs_not_ready: u32,
    libs_filtered: u32,
    libs_failed: u32,
    slots_patched: u32,
    slots_already: u32,
    slots_repaired: u32,
    slots_conflict: u32,
    slots_restored: u32,
    slots_changed: u32,
    libs_untracked: u32,
    slots_foreign: u32,
    missing_hook: u32,
    hooks_missing: u32,
    libs_skipped: u32,
    libs_skipped_more: u32,
    skipped: [[u64; 8]; 4],
}
#[repr(C)]
struct GLib {
    bias: usize,
    name: *const c_char,
    phdr: *const c_void,
    phnum: u16,
    kind: u8,
    readiness: u8,
    index: u32,
    adds: u64,
    subs: u64,
}
#[repr(C)]
struct GDynamic {
    opaque: [u64; 80],
}
#[repr(C)]
struct GImport {
    name: *const c_char,
    slot: *mut *mut c_void,
    addend: i64,
    sym_index: u32,
    r_type: u32,
    kind: u8,
    table: u8,
    reserved: [u8; 6],
}

extern "C" {
    fn gothook_install(h: *const GHook, n: usize, f: *const GFilter, out: *mut u32, rep: *mut GReport) -> u32;
    fn gothook_refresh(flags: u32, rep: *mut GReport) -> u32;
    fn gothook_uninstall(set: u32, rep: *mut GReport) -> u32;
    fn gothook_intercept_dlopen(set: *mut u32, rep: *mut GReport) -> u32;
    fn gothook_libs_each(cb: extern "C" fn(*const GLib, *mut c_void) -> c_int, ctx: *mut c_void, flags: u32) -> u32;
    fn gothook_lib_decode(lib: *const GLib, out: *mut GDynamic) -> u32;
    fn gothook_dynamic_imports(d: *const GDynamic, cb: extern "C" fn(*const GImport, *mut c_void) -> c_int, ctx: *mut c_void) -> u32;
    fn gothook_status_str(s: u32) -> *const c_char;

    // shim.c
    fn shim_count_begin();
    fn shim_count_end() -> u64;
    fn shim_hits() -> u64;
    fn shim_stack_run(f: extern "C" fn(*mut c_void), arg: *mut c_void) -> usize;
    fn shim_floor_read(dyn_: *const c_void, entries: *mut usize) -> u64;
    fn bench_refresh_malloc(n: usize) -> *mut c_void;
    fn bench_refresh_cached_malloc(n: usize) -> *mut c_void;
    // naive.c
    fn naive_install(names: *const *const c_char, hooks: *const *mut c_void, plain: c_int, libs: *mut u32, slots: *mut u32) -> c_int;
    fn naive_restore() -> libc::c_long;
    fn naive_put_back(names: *const *const c_char, hooks: *const *mut c_void, originals: *const *mut c_void) -> libc::c_long;
    fn bench_hook_malloc(n: usize) -> *mut c_void;
    fn bench_hook_calloc(a: usize, b: usize) -> *mut c_void;
    fn bench_hook_realloc(p: *mut c_void, n: usize) -> *mut c_void;
    fn bench_hook_free(p: *mut c_void);
    fn bench_hook_posix_memalign(o: *mut *mut c_void, a: usize, n: usize) -> c_int;
    fn bench_hook_aligned_alloc(a: usize, n: usize) -> *mut c_void;
}

/// `GOTHOOK_REFRESH_CACHED` (include/gothook.h).
const GOTHOOK_REFRESH_CACHED: u32 = 2;
const NAMES: [&CStr; 6] = [c"malloc", c"calloc", c"realloc", c"free", c"posix_memalign", c"aligned_alloc"];

fn replacements() -> [usize; 6] {
    [
        bench_hook_malloc as *const () as usize,
        bench_hook_calloc as *const () as usize,
        bench_hook_realloc as *const () as usize,
        bench_hook_free as *const () as usize,
        bench_hook_posix_memalign as *const () as usize,
        bench_hook_aligned_alloc as *const () as usize,
    ]
}

fn st(s: u32) -> String {
    unsafe { CStr::from_ptr(gothook_status_str(s)).to_string_lossy().into_owned() }
}

// ---------------------------------------------------------------- footprint accounting
static GH_CALLS: AtomicU64 = AtomicU64::new(0);
static GH_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// Runs one gothook call with allocation counting on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> T {
    unsafe { shim_count_begin() };
    let r = f();
    let n = unsafe { shim_count_end() };
    GH_CALLS.fetch_add(1, Ordering::Relaxed);
    GH_ALLOCS.fetch_add(n, Ordering::Relaxed);
    r
}

struct Set {
    originals: Box<[*mut c_void; 6]>,
    hooks: Vec<GHook>,
}

impl Set {
    fn new() -> Set {
        let mut originals = Box::new([std::ptr::null_mut(); 6]);
        let reps = replacements();
        let hooks = (0..6)
            .map(|i| GHook { symbol: NAMES[i].as_ptr(), replacement: reps[i] as *mut c_void, original: &mut originals[i], flags: 0 })
            .collect();
        Set { originals, hooks }
    }
    fn install(&self, filter: Option<&GFilter>) -> (u32, GReport) {
        let mut id = 0u32;
        let mut rep = GReport::default();
        let s = counted(|| unsafe {
            gothook_install(self.hooks.as_ptr(), 6, filter.map_or(std::ptr::null(), |f| f as *const _), &mut id, &mut rep)
        });
        assert!(s == 0, "gothook_install: {}", st(s));
        let _ = &self.originals;
        (id, rep)
    }
}

fn uninstall(id: u32) -> GReport {
    let mut rep = GReport::default();
    let s = counted(|| unsafe { gothook_uninstall(id, &mut rep) });
    assert!(s == 0, "gothook_uninstall: {}", st(s));
    rep
}

fn refresh(flags: u32) -> GReport {
    let mut rep = GReport::default();
    let s = counted(|| unsafe { gothook_refresh(flags, &mut rep) });
    assert!(s == 0, "gothook_refresh: {}", st(s));
    rep
}

fn empty_filter() -> GFilter {
    GFilter {
        flags: 0,
        reserved: 0,
        path_suffix: std::ptr::null(),
        contains: std::ptr::null(),
        next_after: std::ptr::null(),
        accept: None,
        accept_ctx: std::ptr::null_mut(),
        exclude: std::ptr::null(),
    }
}

// ---------------------------------------------------------------- workload
struct Lib {
    handle: *mut c_void,
    alloc: extern "C" fn() -> c_int,
    /// The library's table of the six allocator addresses (its ABS64 slots).
    table: *const [usize; 6],
}

/// Allocator calls one `blNNNN_alloc` makes (5 allocations, 4 frees): all of them reach the
/// hooks when the library's PLT/GLOB_DAT slots are all hooked.
const CALLS_PER_ALLOC: u64 = 9;

fn lib_path(dir: &str, k: usize) -> String {
    format!("{dir}/libbl{k:04}.so")
}

fn open_lib(dir: &str, k: usize) -> Lib {
    let p = CString::new(lib_path(dir, k)).unwrap();
    let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {}: {:?}", lib_path(dir, k), unsafe { CStr::from_ptr(libc::dlerror()) });
    let sym = CString::new(format!("bl{k:04}_alloc")).unwrap();
    let f = unsafe { libc::dlsym(h, sym.as_ptr()) };
    assert!(!f.is_null());
    let tsym = CString::new(format!("bl{k:04}_table")).unwrap();
    let table = unsafe { libc::dlsym(h, tsym.as_ptr()) } as *const [usize; 6];
    assert!(!table.is_null());
    Lib { handle: h, alloc: unsafe { std::mem::transmute::<*mut c_void, extern "C" fn() -> c_int>(f) }, table }
}

/// Hook calls counted while `lib`'s allocator test runs (6 calls when all six are hooked).
fn hits_through(lib: &Lib) -> u64 {
    let before = unsafe { shim_hits() };
    let r = (lib.alloc)();
    assert!(r >= 0);
    unsafe { shim_hits() - before }
}

/// Libraries of `libs` whose every allocator slot holds the benchmark's hooks: all calls of
/// their allocator test reach the hooks and their ABS64 table holds the hooks' addresses.
fn fully_hooked(libs: &[Lib]) -> usize {
    let reps = replacements();
    libs.iter().filter(|l| hits_through(l) == CALLS_PER_ALLOC && unsafe { *l.table } == reps).count()
}

/// Libraries of `libs` with no slot holding a hook.
fn unhooked(libs: &[Lib]) -> usize {
    let reps = replacements();
    libs.iter()
        .filter(|l| hits_through(l) == 0 && unsafe { *l.table }.iter().zip(reps.iter()).all(|(a, b)| a != b))
        .count()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// BENCH_CPU_TIME=1: the single-thread timings (`time_us`) read this thread's CPU clock
/// instead of the wall clock.  On a machine shared with other work the wall clock also counts
/// the other processes' time slices, and a call that enters the kernel often (mprotect) is
/// preempted more often than a plain memory read.
fn cpu_time() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("BENCH_CPU_TIME").is_ok_and(|v| v == "1"))
}

fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn time_us(f: impl FnOnce()) -> f64 {
    if cpu_time() {
        let t = thread_cpu_ns();
        f();
        return (thread_cpu_ns() - t) as f64 / 1e3;
    }
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e6
}

// ---------------------------------------------------------------- scan
struct ScanCtx {
    imports: u64,
    libs: u64,
    sum: u64,
}

extern "C" fn import_cb(imp: *const GImport, ctx: *mut c_void) -> c_int {
    let c = unsafe { &mut *(ctx as *mut ScanCtx) };
    c.imports += 1;
    c.sum = c.sum.wrapping_add(unsafe { (*imp).sym_index } as u64);
    0
}

extern "C" fn scan_lib_cb(lib: *const GLib, ctx: *mut c_void) -> c_int {
    let mut d = GDynamic { opaque: [0; 80] };
    unsafe {
        if gothook_lib_decode(lib, &mut d) == 0 {
            let c = &mut *(ctx as *mut ScanCtx);
            c.libs += 1;
            gothook_dynamic_imports(&d, import_cb, ctx);
        }
    }
    0
}

fn scan_api() -> ScanCtx {
    let mut c = ScanCtx { imports: 0, libs: 0, sum: 0 };
    counted(|| unsafe { gothook_libs_each(scan_lib_cb, &mut c as *mut _ as *mut c_void, 1) });
    c
}

fn scan_core() -> (u64, u64) {
    let mut n = 0u64;
    let mut sum = 0u64;
    let _ = gothook_core::loader::each(gothook_core::loader::LIBS_ALL, |lib| {
        if let Ok(d) = lib.decode() {
            let _ = d.for_each_reloc(|r| {
                n += 1;
                sum = sum.wrapping_add(r.sym as u64);
                true
            });
        }
        true
    });
    (n, sum)
}

struct FloorCtx {
    entries: usize,
    sum: u64,
}

unsafe extern "C" fn floor_cb(info: *mut libc::dl_phdr_info, _sz: usize, ctx: *mut c_void) -> c_int {
    let c = &mut *(ctx as *mut FloorCtx);
    let i = &*info;
    for k in 0..i.dlpi_phnum as usize {
        let ph = &*i.dlpi_phdr.add(k);
        if ph.p_type == libc::PT_DYNAMIC {
            let name = CStr::from_ptr(i.dlpi_name).to_bytes();
            // The vDSO's .dynamic is not rewritten: skip it (it has no relocations anyway).
            if name.starts_with(b"linux-vdso") {
                return 0;
            }
            let d = (i.dlpi_addr as usize + ph.p_vaddr as usize) as *const c_void;
            c.sum = c.sum.wrapping_add(shim_floor_read(d, &mut c.entries));
        }
    }
    0
}

fn scan_floor() -> FloorCtx {
    let mut c = FloorCtx { entries: 0, sum: 0 };
    unsafe { libc::dl_iterate_phdr(Some(floor_cb), &mut c as *mut _ as *mut c_void) };
    c
}

/// What the system-call floor walk keeps: the `/proc/self/maps` descriptor its page queries
/// use, and how many libraries it opened and closed.
struct SysFloorCtx {
    maps: c_int,
    libs: usize,
}

unsafe extern "C" fn sys_floor_cb(info: *mut libc::dl_phdr_info, _sz: usize, ctx: *mut c_void) -> c_int {
    let c = &mut *(ctx as *mut SysFloorCtx);
    let i = &*info;
    let name = CStr::from_ptr(i.dlpi_name).to_bytes();
    // The libraries gothook's default filter leaves out: the loader and gothook itself (the vDSO
    // has no PT_GNU_RELRO).
    if name.windows(6).any(|w| w == b"ld-lin") || name.windows(10).any(|w| w == b"libgothook") {
        return 0;
    }
    for k in 0..i.dlpi_phnum as usize {
        let ph = &*i.dlpi_phdr.add(k);
        if ph.p_type != libc::PT_GNU_RELRO {
            continue;
        }
        let ps = 4096usize;
        let start = (i.dlpi_addr as usize + ph.p_vaddr as usize) & !(ps - 1);
        let end = (i.dlpi_addr as usize + (ph.p_vaddr + ph.p_memsz) as usize) & !(ps - 1);
        if end <= start {
            continue;
        }
        // struct procmap_query: size, flags, address; the answer is not used.
        let mut q = [0u64; 13];
        q[0] = 104;
        q[2] = start as u64;
        const PROCMAP_QUERY: u64 = (3 << 30) | (104 << 16) | ((b'f' as u64) << 8) | 17;
        libc::ioctl(c.maps, PROCMAP_QUERY as _, q.as_mut_ptr());
        assert_eq!(libc::mprotect(start as *mut c_void, end - start, libc::PROT_READ | libc::PROT_WRITE), 0);
        assert_eq!(libc::mprotect(start as *mut c_void, end - start, libc::PROT_READ), 0);
        c.libs += 1;
    }
    0
}

/// The system calls an install of READY-only, protection-restoring patches cannot avoid: per
/// library with read-only relocations (PT_GNU_RELRO), one page query (`PROCMAP_QUERY`) and one
/// `mprotect` pair over its RELRO pages, as gothook's swap batch makes for its slots (the
/// descriptor is opened before timing, as install's is before its walk).  Returns the libraries.
fn sys_floor(maps: c_int) -> usize {
    let mut c = SysFloorCtx { maps, libs: 0 };
    unsafe { libc::dl_iterate_phdr(Some(sys_floor_cb), &mut c as *mut _ as *mut c_void) };
    c.libs
}

// ---------------------------------------------------------------- peers
fn plthook_install(libs: &[Lib]) -> Vec<plthook::Replacement> {
    let reps = replacements();
    let mut out = Vec::with_capacity(libs.len() * 6);
    for l in libs {
        let obj = unsafe { plthook::ObjectFile::open_by_handle(l.handle) }.expect("plthook_open_by_handle");
        for i in 0..6 {
            match unsafe { obj.replace(NAMES[i].to_str().unwrap(), reps[i] as *const c_void) } {
                Ok(r) => out.push(r),
                Err(e) => panic!("plthook replace {}: {:?}", NAMES[i].to_str().unwrap(), e.message()),
            }
        }
    }
    out
}

fn gotter_install() -> usize {
    let reps = replacements();
    let mut n = 0;
    for i in 0..6 {
        let r = unsafe { libdd_gotter::hook_symbol(NAMES[i], reps[i]) }.expect("gotter hook_symbol");
        n += r.entries_patched;
    }
    n
}

/// The naive strcmp patcher (naive.c) over every loaded library: (libraries, slots).
/// `plain`: six strcmp calls per import; else only where the first byte matches.
fn naive_patch(plain: bool) -> (u32, u32) {
    let plain = plain as c_int;
    let names: Vec<*const c_char> = NAMES.iter().map(|n| n.as_ptr()).collect();
    let hooks: Vec<*mut c_void> = replacements().iter().map(|&r| r as *mut c_void).collect();
    let (mut libs, mut slots) = (0u32, 0u32);
    let r = unsafe { naive_install(names.as_ptr(), hooks.as_ptr(), plain, &mut libs, &mut slots) };
    assert!(r == 0, "naive patcher failed (mprotect or record table full)");
    (libs, slots)
}

fn naive_unpatch() -> i64 {
    let n = unsafe { naive_restore() } as i64;
    assert!(n >= 0, "naive restore failed");
    n
}

/// dlopen+dlclose of a distinct library per thread, `threads` threads for `dur`: (the latency
/// of each dlopen+dlclose in µs, wall seconds).
fn dl_cost(dir: &str, ks: &[usize], threads: usize, dur: Duration) -> (Vec<f64>, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(std::sync::Barrier::new(threads + 1));
    let mut th = Vec::new();
    for &k in &ks[..threads] {
        let (stop, start) = (stop.clone(), start.clone());
        let p = CString::new(lib_path(dir, k)).unwrap();
        th.push(std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(1 << 16);
            start.wait();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
                assert!(!h.is_null());
                unsafe { libc::dlclose(h) };
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            lat
        }));
    }
    start.wait();
    let t = Instant::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in th {
        all.extend(t.join().unwrap());
    }
    (all, t.elapsed().as_secs_f64())
}

/// Latencies and wall time of one dlopen+dlclose configuration, gathered over several rounds.
#[derive(Default)]
struct DlLine {
    lat: Vec<f64>,
    secs: f64,
}
impl DlLine {
    fn add(&mut self, (lat, secs): (Vec<f64>, f64)) {
        self.lat.extend(lat);
        self.secs += secs;
    }
    fn put(mut self, row: &mut Row, what: &str) {
        let n = self.lat.len() as f64;
        row.put(&format!("dlopen+dlclose latency, {what}"), median(&mut self.lat));
        row.put(&format!("dlopen+dlclose/s, {what}"), n / self.secs);
    }
}

/// The malloc-heavy program (`bchurn_run`: malloc+free pairs through libbchurn.so's GOT) with
/// its malloc and free hooked; `refreshing` picks the malloc hook: `None` a plain one, `Some(flags)`
/// one that calls `gothook_refresh(flags, NULL)` on every call (flags 0 or
/// `GOTHOOK_REFRESH_CACHED`).  Pushes ns per malloc+free pair of each of `n` batches of `batch`
/// pairs onto `out`, checking that every call reached the hooks.
fn churn_batches(churn: extern "C" fn(libc::c_long), refreshing: Option<u32>, batch: i64, n: usize, filter: &GFilter, out: &mut Vec<f64>) {
    let malloc_hook = match refreshing {
        Some(0) => bench_refresh_malloc as *const () as usize,
        Some(_) => bench_refresh_cached_malloc as *const () as usize,
        None => bench_hook_malloc as *const () as usize,
    };
    let mut originals = [std::ptr::null_mut::<c_void>(); 2];
    let (o0, o1) = originals.split_at_mut(1);
    let hook = |symbol: &CStr, replacement: usize, original: *mut *mut c_void| {
        // SAFETY: all-zero is a valid gothook_hook (NULL pointers, no flags); this way fields
        // a newer header adds stay zero.
        let mut h: GHook = unsafe { std::mem::zeroed() };
        h.symbol = symbol.as_ptr();
        h.replacement = replacement as *mut c_void;
        h.original = original;
        h
    };
    let hooks = [hook(c"malloc", malloc_hook, &mut o0[0]), hook(c"free", bench_hook_free as *const () as usize, &mut o1[0])];
    let mut id = 0u32;
    let mut rep = GReport::default();
    let s = counted(|| unsafe { gothook_install(hooks.as_ptr(), 2, filter, &mut id, &mut rep) });
    assert!(s == 0 && rep.slots_patched >= 2, "churn install: {} {rep:?}", st(s));
    churn(batch.min(1000) as libc::c_long); // settle (the first refreshes may walk)
    for _ in 0..n {
        let before = unsafe { shim_hits() };
        let t = Instant::now();
        churn(batch as libc::c_long);
        out.push(t.elapsed().as_secs_f64() * 1e9 / batch as f64);
        let hits = unsafe { shim_hits() } - before;
        assert_eq!(hits, 2 * batch as u64, "malloc/free of the churn library not hooked");
    }
    uninstall(id);
}

/// Median ns per malloc+free pair with a plain hook and with the refreshing hook.  Many short
/// batches (~100 µs each; a long batch on a loaded machine mostly measures the other
/// processes' time slices), in rounds that alternate the two variants so that drift hits both
/// alike.
fn churn_cost(churn: extern "C" fn(libc::c_long), filter: &GFilter, flags: u32) -> (f64, f64) {
    let batch = |refreshing: Option<u32>| {
        let mut cal = Vec::new();
        churn_batches(churn, refreshing, 50, 3, filter, &mut cal);
        ((100e-6 / (median(&mut cal) * 1e-9).max(1e-9)) as i64).clamp(16, 1_000_000)
    };
    let (bp, br) = (batch(None), batch(Some(flags)));
    let (mut plain, mut refr) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        churn_batches(churn, None, bp, 15, filter, &mut plain);
        churn_batches(churn, Some(flags), br, 15, filter, &mut refr);
    }
    (median(&mut plain), median(&mut refr))
}

/// Puts the global definitions (the interposer in this executable, which every allocator slot
/// binds to) back into every slot that holds one of the benchmark's hooks: the cleanup after a
/// tool without an uninstall.
fn gotter_put_back() -> i64 {
    let names: Vec<*const c_char> = NAMES.iter().map(|n| n.as_ptr()).collect();
    let hooks: Vec<*mut c_void> = replacements().iter().map(|&r| r as *mut c_void).collect();
    let originals: Vec<*mut c_void> = NAMES.iter().map(|n| unsafe { libc::dlsym(libc::RTLD_DEFAULT, n.as_ptr()) }).collect();
    assert!(originals.iter().all(|p| !p.is_null()));
    let n = unsafe { naive_put_back(names.as_ptr(), hooks.as_ptr(), originals.as_ptr()) } as i64;
    assert!(n >= 0, "put back failed");
    n
}

/// Median cost of `gothook_refresh` when nothing changed (settled first; a few counted
/// refreshes afterwards feed the allocation check).
fn time_probe() -> f64 {
    for _ in 0..4 {
        refresh(0);
    }
    let mut probe_rep = GReport::default();
    // Batches of at least ~2 ms, so a nanosecond probe is not lost in timer resolution.
    let t = Instant::now();
    for _ in 0..100 {
        unsafe { gothook_refresh(0, &mut probe_rep) };
    }
    let each = t.elapsed().as_secs_f64() / 100.0;
    let batch = ((2e-3 / each.max(1e-9)) as usize).clamp(100, 1_000_000);
    let mut tp = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        for _ in 0..batch {
            unsafe { gothook_refresh(0, &mut probe_rep) };
        }
        tp.push(t.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    for _ in 0..10 {
        refresh(0);
    }
    median(&mut tp)
}

// ---------------------------------------------------------------- interference
/// The third party of an interference storm.
#[derive(Clone, Copy)]
enum Third {
    /// Nothing: the storm alone.
    Nobody,
    /// A thread of this process spinning on the other CPU, touching no memory and no lock: what
    /// any running thread of the process costs the storm (on a VM, every `munmap` and
    /// `mprotect` of the storm then interrupts that CPU to flush its TLB).
    SpinThread,
    /// A separate process spinning: the same CPU pressure without sharing the address space.
    SpinProcess,
    /// A thread calling `gothook_refresh(flags)` as fast as it can.
    Refresh(u32),
}

/// What one storm window measured.
struct Storm {
    /// dlopen+dlclose per second.
    rate: f64,
    /// Refreshes made (or spinner rounds).
    refreshes: u64,
    /// The share of the storm's loads that the refresh thread patched (its reports'
    /// `libs_patched` over the loads).
    covered: f64,
    /// The storm threads' CPU time over the window (1.0: one storm thread always on a CPU).
    cpu: f64,
    /// TLB-shootdown interrupts (/proc/interrupts "TLB") per dlopen+dlclose; NaN if unreadable.
    tlb_per_op: f64,
}

/// The machine's TLB-shootdown interrupt count, all CPUs (None where /proc/interrupts has no
/// such line: not x86, or not readable).
fn tlb_shootdowns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/interrupts").ok()?;
    let line = s.lines().find(|l| l.trim_start().starts_with("TLB:"))?;
    Some(line.split_whitespace().skip(1).map_while(|w| w.parse::<u64>().ok()).sum())
}

fn dl_storm(dir: &str, ks: &[usize], dur: Duration, third: Third) -> Storm {
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let cpu_ns = Arc::new(AtomicU64::new(0));
    let refreshes = Arc::new(AtomicU64::new(0));
    let patched = Arc::new(AtomicU64::new(0));
    let mut child = None;
    if let Third::SpinProcess = third {
        // The child only spins until it is killed (no allocation, no lock after fork).
        match unsafe { libc::fork() } {
            0 => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
                }
            }
            pid if pid > 0 => child = Some(pid),
            _ => panic!("fork failed"),
        }
    }
    let tlb0 = tlb_shootdowns();
    let mut th = Vec::new();
    for &k in ks {
        let (stop, ops, cpu_ns) = (stop.clone(), ops.clone(), cpu_ns.clone());
        let p = CString::new(lib_path(dir, k)).unwrap();
        th.push(std::thread::spawn(move || {
            let c0 = thread_cpu_ns();
            while !stop.load(Ordering::Relaxed) {
                let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
                assert!(!h.is_null());
                unsafe { libc::dlclose(h) };
                ops.fetch_add(1, Ordering::Relaxed);
            }
            cpu_ns.fetch_add(thread_cpu_ns() - c0, Ordering::Relaxed);
        }));
    }
    if matches!(third, Third::SpinThread | Third::Refresh(_)) {
        let (stop, refreshes, patched) = (stop.clone(), refreshes.clone(), patched.clone());
        th.push(std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Third::Refresh(flags) = third {
                    let mut rep = GReport::default();
                    unsafe { gothook_refresh(flags, &mut rep) };
                    if rep.libs_patched != 0 {
                        patched.fetch_add(u64::from(rep.libs_patched), Ordering::Relaxed);
                    }
                } else {
                    // Same CPU pressure, no loader lock.
                    for _ in 0..1000 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
                    }
                }
                refreshes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t = Instant::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for t in th {
        t.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let tlb1 = tlb_shootdowns();
    if let Some(pid) = child {
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    let n = ops.load(Ordering::Relaxed);
    Storm {
        rate: n as f64 / secs,
        refreshes: refreshes.load(Ordering::Relaxed),
        covered: patched.load(Ordering::Relaxed) as f64 / n.max(1) as f64,
        cpu: cpu_ns.load(Ordering::Relaxed) as f64 / 1e9 / secs,
        tlb_per_op: match (tlb0, tlb1) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / n.max(1) as f64,
            _ => f64::NAN,
        },
    }
}


// ---------------------------------------------------------------- stack probe
struct StackJob<'a> {
    f: &'a mut dyn FnMut(),
}
extern "C" fn stack_tramp(arg: *mut c_void) {
    let j = unsafe { &mut *(arg as *mut StackJob) };
    (j.f)();
}
fn stack_of(mut f: impl FnMut()) -> usize {
    let mut fm: &mut dyn FnMut() = &mut f;
    let mut job = StackJob { f: &mut fm };
    unsafe { shim_stack_run(stack_tramp, &mut job as *mut _ as *mut c_void) }
}

// ---------------------------------------------------------------- main
/// The sections BENCH_ONLY can select, in the order they run.
const SECTIONS: [&str; 9] = ["install", "install-one", "refresh-one", "probe", "storm", "dlopen", "churn", "scan", "peers"];

struct Row {
    l: usize,
    fig: Vec<(String, f64)>,
}
impl Row {
    fn put(&mut self, k: &str, v: f64) {
        self.fig.push((k.to_string(), v));
    }
    fn get(&self, k: &str) -> f64 {
        self.fig.iter().find(|(n, _)| n == k).map_or(f64::NAN, |x| x.1)
    }
}

fn pm(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: gothook-bench LIBDIR [L...]").clone();
    let mut ls: Vec<usize> = args[2..].iter().map(|s| s.parse().unwrap()).collect();
    if ls.is_empty() {
        ls = vec![10, 100, 1000];
    }
    ls.sort();
    let lmax = *ls.last().unwrap();
    let extra = lmax; // refresh-one library
    // Interference libraries, one per storm thread: two, or one on a machine with fewer than
    // three cores, so that the storm and the third thread never compete for CPU (the figure is
    // the loader-lock interference, not the time-slicing of more runnable threads than cores).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let storm: Vec<usize> = (1..=if cores >= 3 { 2 } else { 1 }).map(|i| lmax + i).collect();
    let dl_libs = [lmax + 1, lmax + 2, lmax + 3, lmax + 4]; // dlopen lines, one per thread
    let storm_secs: f64 = std::env::var("BENCH_STORM_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.8);
    let dl_secs: f64 = std::env::var("BENCH_DLOPEN_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    // BENCH_ONLY=install,scan,...: run only these sections (default: all); targets whose
    // figures were not measured are left out of the table.
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY").ok().filter(|s| !s.is_empty()).map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    for name in only.iter().flatten() {
        assert!(SECTIONS.contains(&name.as_str()), "BENCH_ONLY: unknown section {name:?} (known: {})", SECTIONS.join(","));
    }
    let on = |name: &str| only.as_ref().is_none_or(|v| v.iter().any(|x| x == name));

    // The malloc-heavy library, loaded for the whole run (the set that hooks it names it).
    let churn_path = CString::new(format!("{dir}/libbchurn.so")).unwrap();
    let churn_h = unsafe { libc::dlopen(churn_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!churn_h.is_null(), "dlopen libbchurn.so (rerun gen.py): {:?}", unsafe { CStr::from_ptr(libc::dlerror()) });
    let churn_fn = unsafe { libc::dlsym(churn_h, c"bchurn_run".as_ptr()) };
    assert!(!churn_fn.is_null());
    let churn = unsafe { std::mem::transmute::<*mut c_void, extern "C" fn(libc::c_long)>(churn_fn) };
    let mut churn_filter = empty_filter();
    churn_filter.path_suffix = c"/libbchurn.so".as_ptr();

    let set = Set::new();
    let mut libs: Vec<Lib> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let base_stack = stack_of(|| {});

    for &l in &ls {
        let t_load = Instant::now();
        while libs.len() < l {
            libs.push(open_lib(&dir, libs.len()));
        }
        eprintln!("[L={l}] loaded in {:.2} s", t_load.elapsed().as_secs_f64());
        let reps = if l >= 1000 { 9 } else if l >= 100 { 15 } else { 31 };
        let mut row = Row { l, fig: Vec::new() };

        if on("install") {
            // ---- In each repetition, in turn: the floor (one plain read of every relocation
            // entry), gothook install (every library), the refresh right after it (no library
            // loaded or unloaded since), uninstall, then the naive strcmp patcher over the same
            // libraries (every loaded one but the vDSO, the loader and libgothook, like gothook's
            // default filter) and its restore.  Interleaved, so that the load of a shared machine
            // hits the figures the targets compare alike.  Between repetitions an untimed pause
            // long enough for refresh's lock-time budget to refill, so no timed refresh waits.
            let mut tfl = Vec::new();
            let mut tsf = Vec::new();
            let mut sf_libs = 0;
            let maps = unsafe { libc::open(c"/proc/self/maps".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            assert!(maps >= 0, "open /proc/self/maps");
            let mut tn = Vec::new();
            let mut tnb = Vec::new();
            let mut tnr = Vec::new();
            let mut ti = Vec::new();
            let mut tra = Vec::new();
            let mut tu = Vec::new();
            let mut first = GReport::default();
            let mut after = GReport::default();
            let mut last_refresh_us = 0.0f64;
            for r in 0..reps {
                std::thread::sleep(Duration::from_secs_f64((last_refresh_us * 5.0 + 100.0) * 1e-6));
                tfl.push(time_us(|| {
                    std::hint::black_box(scan_floor().sum);
                }));
                let mut out = (0, GReport::default());
                ti.push(time_us(|| out = set.install(None)));
                if r == 0 {
                    first = out.1;
                    let n = fully_hooked(&libs);
                    assert!(n == libs.len(), "gothook install left {} of {} libraries not fully hooked: {:?}", libs.len() - n, libs.len(), out.1);
                    if l == lmax {
                        let t_stack = Instant::now();
                        let mut id = out.0;
                        // (the set is installed; the next install of the same set is a no-op)
                        let d = stack_of(|| {
                            let mut rep = GReport::default();
                            unsafe { gothook_refresh(1, &mut rep) };
                        });
                        stack.push(("refresh(FULL), all libraries".into(), d));
                        let d = stack_of(|| {
                            uninstall(id);
                        });
                        stack.push(("uninstall, all libraries".into(), d));
                        let d = stack_of(|| {
                            id = set.install(None).0;
                        });
                        stack.push(("install, all libraries".into(), d));
                        out.0 = id;
                        // (the FULL refresh above was charged to the pacing budget: let it refill)
                        std::thread::sleep(t_stack.elapsed() * 5);
                    }
                }
                let mut rep = GReport::default();
                last_refresh_us = time_us(|| rep = refresh(0));
                tra.push(last_refresh_us);
                if r == 0 {
                    after = rep;
                }
                tu.push(time_us(|| {
                    uninstall(out.0);
                }));
                if r == 0 {
                    let n = unhooked(&libs);
                    assert!(n == libs.len(), "gothook uninstall left hooks in {} libraries", libs.len() - n);
                }

                for (plain, times) in [(true, &mut tn), (false, &mut tnb)] {
                    let mut nv = (0, 0);
                    times.push(time_us(|| nv = naive_patch(plain)));
                    let what = if plain { "naive strcmp patcher" } else { "naive patcher with a first-byte pre-check" };
                    if r == 0 {
                        let n = fully_hooked(&libs);
                        assert!(n == libs.len(), "{what} left {} of {} libraries not fully hooked", libs.len() - n, libs.len());
                        notes.push(format!(
                            "L={l}: {what} patched {} slots in {} libraries; every generated library fully hooked (calls and ABS64 table), and none after its restore",
                            nv.1, nv.0
                        ));
                    }
                    let mut n = 0;
                    let t = time_us(|| n = naive_unpatch());
                    if plain {
                        tnr.push(t);
                    }
                    assert_eq!(n, nv.1 as i64);
                    if r == 0 {
                        let n = unhooked(&libs);
                        assert!(n == libs.len(), "{what}: restore left hooks in {} libraries", libs.len() - n);
                    }
                }
                // Last in the repetition, so that the figures above keep their order and neighbours.
                tsf.push(time_us(|| sf_libs = sys_floor(maps)));
        }
        unsafe { libc::close(maps) };
        let (floor_us, sys_us) = (median(&mut tfl), median(&mut tsf));
        row.put("floor: plain read of every JMPREL+RELA entry", floor_us);
        row.put("system-call floor: one page query and one mprotect pair per library", sys_us);
        row.put("naive strcmp patcher install", median(&mut tn));
        row.put("naive strcmp patcher restore", median(&mut tnr));
        row.put("naive patcher with a first-byte pre-check install", median(&mut tnb));
        row.put("gothook install", median(&mut ti));
        row.put("gothook refresh right after install", median(&mut tra));
        row.put("gothook uninstall", median(&mut tu));
        let install_us = row.get("gothook install");
        notes.push(format!(
            "L={l}: system-call floor: {sf_libs} libraries with RELRO pages; install takes {:.1}x (the read floor + the system-call floor) = {install_us:.0} µs vs {:.0} µs",
            install_us / (floor_us + sys_us),
            floor_us + sys_us
        ));
        notes.push(format!(
            "L={l}: gothook install patched {} slots in {} libraries ({} filtered, {} not ready); every generated library fully hooked (calls and ABS64 table), and none after uninstall",
            first.slots_patched, first.libs_patched, first.libs_filtered, first.libs_not_ready
        ));
        notes.push(format!(
            "L={l}: refresh right after install (no library loaded or unloaded since): report {} libraries patched, {} slots patched, {} repaired, {} already",
            after.libs_patched, after.slots_patched, after.slots_repaired, after.slots_already
        ));
        }

        // ---- install into the one extra library alone (filter: contains)
        if on("install-one") {
            let one = open_lib(&dir, extra);
            let mut f = empty_filter();
            f.contains = one.alloc as *const c_void;
            let mut t1 = Vec::new();
            for r in 0..reps {
                let mut out = (0, GReport::default());
                t1.push(time_us(|| out = set.install(Some(&f))));
                if r == 0 {
                    assert_eq!(out.1.libs_patched, 1, "{:?}", out.1);
                    assert!(hits_through(&one) >= 6);
                }
                uninstall(out.0);
        }
        row.put("gothook install-one", median(&mut t1));
        let mut f2 = empty_filter();
        let suffix = CString::new(format!("/libbl{extra:04}.so")).unwrap();
        f2.path_suffix = suffix.as_ptr();
        let mut t1s = Vec::new();
        for _ in 0..reps {
            let mut out = (0, GReport::default());
            t1s.push(time_us(|| out = set.install(Some(&f2))));
            assert_eq!(out.1.libs_patched, 1);
            uninstall(out.0);
        }
        row.put("gothook install-one (path suffix)", median(&mut t1s));
        unsafe { libc::dlclose(one.handle) };
        }

        // ---- refresh-one: set installed over L libraries, one more loaded
        let need_set = on("refresh-one") || on("probe") || on("storm");
        let id = need_set.then(|| set.install(None).0);
        for _ in 0..4 {
            refresh(0);
        }
        if on("refresh-one") {
            let mut tr = Vec::new();
            for r in 0..reps {
                let one = open_lib(&dir, extra);
                let mut rep = GReport::default();
                tr.push(time_us(|| rep = refresh(0)));
                if r == 0 {
                    notes.push(format!("L={l}: refresh-one report: {rep:?}"));
                    assert!(hits_through(&one) >= 6, "refresh did not hook the new library");
                }
                if l == lmax && r == 1 {
                    unsafe { libc::dlclose(one.handle) };
                    refresh(0);
                    let one = open_lib(&dir, extra);
                    let d = stack_of(|| {
                        refresh(0);
                    });
                    stack.push(("refresh, one new library".into(), d));
                    unsafe { libc::dlclose(one.handle) };
                } else {
                    unsafe { libc::dlclose(one.handle) };
                }
                // settle: sweep the unloaded library (untimed)
                for _ in 0..3 {
                    refresh(0);
                }
        }
        row.put("gothook refresh-one", median(&mut tr));
        }

        // ---- probe: nothing changed
        if on("probe") {
            row.put("gothook probe", time_probe());
            if l == lmax {
                let d = stack_of(|| {
                    refresh(0);
                });
                stack.push(("refresh, nothing changed (probe)".into(), d));
        }
        }

        // ---- interference (set installed, settled): the four configurations alternate in
        // rounds, so that the load of a shared machine hits them alike; rates are means over
        // the rounds (equal windows), ratios the median of the rounds' own ratios (each
        // configuration against the "alone" window measured just before it).
        if on("storm") {
            const STORM_ROUNDS: usize = 7;
            let round = Duration::from_secs_f64(storm_secs / STORM_ROUNDS as f64);
            // Per configuration: mean rate, median of the rounds' ratios to "alone", mean CPU
            // share and TLB shootdowns per operation.
            const CONFIGS: [(&str, Third); 5] = [
                ("alone", Third::Nobody),
                ("spinning thread", Third::SpinThread),
                ("spinning process", Third::SpinProcess),
                ("refresh loop", Third::Refresh(0)),
                ("GOTHOOK_REFRESH_CACHED loop", Third::Refresh(GOTHOOK_REFRESH_CACHED)),
            ];
            let k = STORM_ROUNDS as f64;
            let mut rate = [0.0f64; 5];
            let mut cpu = [0.0f64; 5];
            let mut tlb = [0.0f64; 5];
            let mut ratio: [Vec<f64>; 5] = Default::default();
            // The refresh loop against the spinning thread of the same round: what the loop
            // costs beyond being a running thread of the process.
            let mut beyond_spin = Vec::new();
            let (mut nref, mut covered) = (0u64, 0.0);
            for _ in 0..STORM_ROUNDS {
                let mut got = [0.0f64; 5];
                for (i, &(_, third)) in CONFIGS.iter().enumerate() {
                    let r = dl_storm(&dir, &storm, round, third);
                    got[i] = r.rate;
                    rate[i] += r.rate / k;
                    cpu[i] += r.cpu / k;
                    tlb[i] += r.tlb_per_op / k;
                    ratio[i].push(r.rate / got[0]);
                    if i == 3 {
                        nref += r.refreshes;
                        covered += r.covered / k;
                    }
                }
                beyond_spin.push(got[3] / got[1]);
                for _ in 0..4 {
                    refresh(0);
                }
            }
            for (i, &(name, _)) in CONFIGS.iter().enumerate() {
                row.put(&format!("dlopen+dlclose/s {}{name}", if i == 0 { "" } else { "with " }), rate[i]);
            }
            row.put("refreshes/s in storm", nref as f64 / storm_secs);
            row.put("storm loads the refresh loop patched (%)", covered * 100.0);
            row.put("storm thread CPU share alone (%)", cpu[0] * 100.0);
            row.put("storm thread CPU share with refresh loop (%)", cpu[3] * 100.0);
            for (i, &(name, _)) in CONFIGS.iter().enumerate() {
                row.put(&format!("TLB shootdowns per dlopen+dlclose, {name}"), tlb[i]);
            }
            let lo_hi = |v: &[f64]| v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let (lo, hi) = lo_hi(&ratio[3]);
            row.put("interference, refresh loop, lowest round (%)", lo * 100.0);
            row.put("interference, refresh loop, highest round (%)", hi * 100.0);
            for (i, &(name, _)) in CONFIGS.iter().enumerate().skip(1) {
                row.put(&format!("interference, {name} (median of rounds, %)"), median(&mut ratio[i]) * 100.0);
            }
            row.put("refresh loop over spinning thread (median of rounds, %)", median(&mut beyond_spin) * 100.0);
        }

        // ---- probe with the dlopen interception installed: the lock-free fast path
        let need_dl = on("probe") || on("dlopen") || on("churn");
        let mut dl_set = 0u32;
        let mut dl_rep = GReport::default();
        if need_dl {
            let s = counted(|| unsafe { gothook_intercept_dlopen(&mut dl_set, &mut dl_rep) });
            assert!(s == 0, "gothook_intercept_dlopen: {}", st(s));
        }
        if on("probe") {
            row.put("gothook probe (dlopen intercepted)", time_probe());
        }

        // ---- dlopen+dlclose cost, libraries that no set applies to (nothing to patch): the
        // interception alone vs nothing of gothook's installed, alternating in short rounds so
        // that the load of a shared machine hits both alike.
        if let Some(id) = id {
            uninstall(id);
        }
        if on("dlopen") {
            const DL_ROUNDS: u32 = 3;
            let dl_dur = Duration::from_secs_f64(dl_secs / DL_ROUNDS as f64);
            let mut dl_lines: [DlLine; 4] = Default::default(); // plain 1, plain 4, intercepted 1, 4
            for _ in 0..DL_ROUNDS {
                dl_lines[2].add(dl_cost(&dir, &dl_libs, 1, dl_dur));
                dl_lines[3].add(dl_cost(&dir, &dl_libs, 4, dl_dur));
                uninstall(dl_set);
                dl_lines[0].add(dl_cost(&dir, &dl_libs, 1, dl_dur));
                dl_lines[1].add(dl_cost(&dir, &dl_libs, 4, dl_dur));
                let s = counted(|| unsafe { gothook_intercept_dlopen(&mut dl_set, &mut dl_rep) });
                assert!(s == 0, "gothook_intercept_dlopen: {}", st(s));
        }
        for (line, what) in dl_lines.into_iter().zip(["plain, 1 thread", "plain, 4 threads", "intercepted, 1 thread", "intercepted, 4 threads"]) {
            line.put(&mut row, what);
        }
        // With the allocator set installed as well, every dlopen patches the new library
        // before it returns (checked: hooked without any refresh of ours).
        let (id, _) = set.install(None);
        let one = open_lib(&dir, extra);
        assert_eq!(fully_hooked(std::slice::from_ref(&one)), 1, "the intercepted dlopen did not hook the new library");
        unsafe { libc::dlclose(one.handle) };
        let mut applies = DlLine::default();
        applies.add(dl_cost(&dir, &dl_libs, 1, Duration::from_secs_f64(dl_secs)));
        applies.put(&mut row, "intercepted, set applies, 1 thread");
        uninstall(id);
        }

        // ---- the malloc-heavy program: a malloc hook that refreshes on every call vs the same
        // hook without refresh; with the interception (lock-free probe), then without.
        if !on("churn") {
            if need_dl {
                uninstall(dl_set);
            }
        } else {
            let (plain, refr) = churn_cost(churn, &churn_filter, 0);
            row.put("malloc+free pair, hook (ns), intercepted", plain);
            row.put("malloc+free pair, hook refreshing every malloc (ns), intercepted", refr);
            uninstall(dl_set);
            let (plain, refr) = churn_cost(churn, &churn_filter, 0);
            row.put("malloc+free pair, hook (ns)", plain);
            row.put("malloc+free pair, hook refreshing every malloc (ns)", refr);
            let (plain, refr) = churn_cost(churn, &churn_filter, GOTHOOK_REFRESH_CACHED);
            row.put("malloc+free pair, hook (ns), cached", plain);
            row.put("malloc+free pair, hook refreshing every malloc (ns), cached", refr);
        }

        // ---- scan vs floor
        if on("scan") {
            let mut ta = Vec::new();
            let mut tc = Vec::new();
            let mut tf = Vec::new();
            let (mut napi, mut ncore, mut nfloor) = (0, 0, 0);
            for _ in 0..reps {
                ta.push(time_us(|| napi = scan_api().imports));
                tc.push(time_us(|| ncore = scan_core().0));
                tf.push(time_us(|| nfloor = scan_floor().entries));
        }
        row.put("scan gothook_dynamic_imports", median(&mut ta));
        row.put("scan core for_each_reloc", median(&mut tc));
        row.put("scan floor (plain read)", median(&mut tf));
        row.put("scan imports reported", napi as f64);
        row.put("scan relocations visited (core)", ncore as f64);
        row.put("scan relocation entries (floor)", nfloor as f64);
        if l == lmax {
            let d = stack_of(|| {
                scan_api();
            });
            stack.push(("libs_each + lib_decode + dynamic_imports, all libraries".into(), d));
        }
        }

        // ---- peers: plthook (the L generated libraries)
        if on("peers") {
            let mut tpl = Vec::new();
            for r in 0..reps {
                let mut v = Vec::new();
                tpl.push(time_us(|| v = plthook_install(&libs)));
                if r == 0 {
                    let h0 = hits_through(&libs[0]);
                    let h1 = hits_through(&libs[libs.len().min(2) - 1]);
                    notes.push(format!("L={l}: plthook: hook hits through lib 0 (bind-now, .plt.got/GLOB_DAT) = {h0}, lib 1 (lazy, JUMP_SLOT) = {h1} (6 = all six calls)"));
                    assert!(h0 + h1 > 0, "plthook did not hook");
                }
                drop(v); // restores (untimed)
        }
        row.put("plthook install", median(&mut tpl));

        // ---- peers: libdd-gotter (every loaded library; it has no uninstall: naive.c puts the
        // process's definitions back, untimed)
        let mut tg = Vec::new();
        for r in 0..reps {
            let mut n = 0;
            tg.push(time_us(|| n = gotter_install()));
            if r == 0 {
                let h0 = hits_through(&libs[0]);
                let h1 = hits_through(&libs[libs.len().min(2) - 1]);
                notes.push(format!("L={l}: libdd-gotter patched {n} entries; hits lib 0 = {h0}, lib 1 = {h1}"));
                assert!(h0 >= 6 && h1 >= 6, "gotter did not hook");
            }
            let n = gotter_put_back();
            assert!(n > 0);
            let n = unhooked(&libs);
            assert!(n == libs.len(), "slots not restored after gotter in {} libraries", libs.len() - n);
        }
        row.put("libdd-gotter install", median(&mut tg));
        }
        rows.push(row);
    }

    // ------------------------------------------------------------ report
    let lib = std::env::var("GOTHOOK_SO").unwrap_or_default();
    let (data, bss) = section_sizes(&lib);
    let allocs = GH_ALLOCS.load(Ordering::Relaxed);
    let calls = GH_CALLS.load(Ordering::Relaxed);
    let max_stack = stack.iter().map(|s| s.1).max().unwrap_or(0);

    let mut o = String::new();
    let _ = writeln!(o, "### Figures (medians, µs unless stated)\n");
    if cpu_time() {
        let _ = writeln!(o, "Single-thread timings (install, uninstall, refresh, floor, naive patcher, install-one, refresh-one, scan, peers) are this thread's CPU time (BENCH_CPU_TIME=1).\n");
    }
    let _ = write!(o, "| figure |");
    for r in &rows {
        let _ = write!(o, " L={} |", r.l);
    }
    let _ = write!(o, "\n|---|");
    for _ in &rows {
        let _ = write!(o, "---:|");
    }
    o.push('\n');
    for (k, _) in &rows[0].fig {
        let _ = write!(o, "| {k} |");
        for r in &rows {
            let v = r.get(k);
            let _ = if v >= 1000.0 { write!(o, " {v:.0} |") } else if v >= 10.0 { write!(o, " {v:.1} |") } else { write!(o, " {v:.3} |") };
        }
        o.push('\n');
    }
    let _ = writeln!(o, "\n### Targets\n\n| target | figure | result |\n|---|---|---|");
    let targets_from = o.len();
    // The install/refresh/probe/dlopen/malloc targets first, then the earlier ones.
    for r in rows.iter().filter(|r| r.l >= 100) {
        let (g, f) = (r.get("gothook install"), r.get("floor: plain read of every JMPREL+RELA entry"));
        let x = g / f;
        let _ = writeln!(o, "| install L={} <= 3x the floor (one plain read of every JMPREL+RELA entry) | {x:.1}x ({g:.0} µs vs {f:.0} µs) | {} |", r.l, pm(x <= 3.0));
    }
    for r in rows.iter().filter(|r| r.l >= 100) {
        let (g, n) = (r.get("gothook install"), r.get("naive strcmp patcher install"));
        let b = r.get("naive patcher with a first-byte pre-check install");
        let x = n / g;
        let _ = writeln!(
            o,
            "| install L={} >= 3x faster than the naive strcmp patcher | {x:.2}x ({g:.0} µs vs {n:.0} µs; with a first-byte pre-check before each strcmp the naive patcher takes {b:.0} µs: {:.2}x) | {} |",
            r.l,
            b / g,
            pm(x >= 3.0)
        );
    }
    for r in &rows {
        let (g, a) = (r.get("gothook install"), r.get("gothook refresh right after install"));
        let x = a / g;
        let _ = writeln!(o, "| refresh right after install L={} <= 5 % of install | {:.1} % ({a:.1} µs vs {g:.0} µs) | {} |", r.l, x * 100.0, pm(x <= 0.05));
    }
    for r in &rows {
        let (g, u) = (r.get("gothook install"), r.get("gothook uninstall"));
        let _ = writeln!(o, "| uninstall L={} <= install | {u:.0} µs vs {g:.0} µs ({:.2}x) | {} |", r.l, u / g, pm(u <= g));
    }
    for r in &rows {
        let p = r.get("gothook probe (dlopen intercepted)");
        let locked = r.get("gothook probe");
        let _ = writeln!(o, "| probe L={} <= 1 µs without the interception | {locked:.3} µs | {} |", r.l, pm(locked <= 1.0));
        let _ = writeln!(o, "| probe L={} <= 1 µs with the interception | {p:.3} µs | {} |", r.l, pm(p <= 1.0));
    }
    for r in &rows {
        let x = r.get("interference, refresh loop (median of rounds, %)");
        let (lo, hi) = (r.get("interference, refresh loop, lowest round (%)"), r.get("interference, refresh loop, highest round (%)"));
        let y = r.get("interference, spinning thread (median of rounds, %)");
        let yp = r.get("interference, spinning process (median of rounds, %)");
        let z = r.get("refresh loop over spinning thread (median of rounds, %)");
        let (ta, ts, tp, tl) = (
            r.get("TLB shootdowns per dlopen+dlclose, alone"),
            r.get("TLB shootdowns per dlopen+dlclose, spinning thread"),
            r.get("TLB shootdowns per dlopen+dlclose, spinning process"),
            r.get("TLB shootdowns per dlopen+dlclose, refresh loop"),
        );
        let (cb, cw) = (r.get("storm thread CPU share alone (%)"), r.get("storm thread CPU share with refresh loop (%)"));
        let _ = writeln!(o, "| interference L={} >= 80 % | {x:.0} % (median of the rounds' ratios, {lo:.0}-{hi:.0} %; a spinning thread: {y:.0} %, a spinning process: {yp:.0} %; the loop against the spinning thread of the same round: {z:.0} %; TLB shootdowns per dlopen+dlclose alone {ta:.1}, next to the spinning thread {ts:.1}, process {tp:.1}, loop {tl:.1}; storm thread on a CPU {cb:.0} % of the time alone, {cw:.0} % next to the loop) | {} |", r.l, pm(x >= 80.0));
        let c = r.get("interference, GOTHOOK_REFRESH_CACHED loop (median of rounds, %)");
        let _ = writeln!(o, "| interference L={}, a GOTHOOK_REFRESH_CACHED loop, >= 80 % | {c:.0} % | {} |", r.l, pm(c >= 80.0));
    }
    for r in &rows {
        for tag in ["1 thread", "4 threads"] {
            let lat = r.get(&format!("dlopen+dlclose latency, intercepted, {tag}")) / r.get(&format!("dlopen+dlclose latency, plain, {tag}"));
            let thr = r.get(&format!("dlopen+dlclose/s, plain, {tag}")) / r.get(&format!("dlopen+dlclose/s, intercepted, {tag}"));
            let _ = writeln!(o, "| dlopen+dlclose with the interception, nothing to patch, L={}, {tag}: <= 1.25x plain | latency {lat:.2}x, throughput {thr:.2}x lower | {} |", r.l, pm(lat <= 1.25 && thr <= 1.25));
        }
    }
    for r in &rows {
        for (tag, sfx) in [
            ("with the interception", ", intercepted"),
            ("without the interception", ""),
            ("without the interception, GOTHOOK_REFRESH_CACHED", ", cached"),
        ] {
            let (p, f) = (r.get(&format!("malloc+free pair, hook (ns){sfx}")), r.get(&format!("malloc+free pair, hook refreshing every malloc (ns){sfx}")));
            let x = f / p;
            let _ = writeln!(o, "| malloc hook refreshing on every call L={}, {tag}: <= 2x the same hook without refresh | {x:.2}x ({f:.1} ns vs {p:.1} ns per malloc+free) | {} |", r.l, pm(x <= 2.0));
        }
    }
    if !stack.is_empty() {
        let _ = writeln!(o, "| stack <= 4 KiB per call | {max_stack} B deepest (probe harness alone: {base_stack} B) | {} |", pm(max_stack <= 4096));
    }
    for r in rows.iter().filter(|r| r.l >= 100) {
        let g = r.get("gothook install");
        let peer = r.get("plthook install").min(r.get("libdd-gotter install"));
        let x = peer / g;
        let _ = writeln!(o, "| install L={} >= 3x faster than the fastest crates.io peer | {x:.1}x ({g:.0} µs vs {peer:.0} µs) | {} |", r.l, pm(x >= 3.0));
    }
    for r in &rows {
        let x = r.get("gothook refresh-one") / r.get("gothook install-one");
        let _ = writeln!(
            o,
            "| refresh-one L={} <= 2x install-one | {x:.2}x ({:.1} µs vs {:.1} µs) | {} |",
            r.l,
            r.get("gothook refresh-one"),
            r.get("gothook install-one"),
            pm(x <= 2.0)
        );
    }
    let p_ratio = rows.last().unwrap().get("gothook probe (dlopen intercepted)") / rows[0].get("gothook probe (dlopen intercepted)");
    let _ = writeln!(o, "| probe L={} / L={} <= 1.5 (with the interception) | {p_ratio:.2} | {} |", lmax, rows[0].l, pm(p_ratio <= 1.5));
    for r in &rows {
        let floor = r.get("scan floor (plain read)");
        let a = floor / r.get("scan gothook_dynamic_imports");
        let c = floor / r.get("scan core for_each_reloc");
        let _ = writeln!(o, "| scan L={} >= 50 % of floor | API {:.0} %, core {:.0} % | {} |", r.l, a * 100.0, c * 100.0, pm(a.max(c) >= 0.5));
    }
    let _ = writeln!(o, "| heap allocations during gothook calls = 0 | {allocs} in {calls} calls | {} |", pm(allocs == 0));
    let _ = writeln!(o, "| static data <= 64 KiB | .data {data} B + .bss {bss} B = {:.1} KiB (libgothook.so) | {} |", (data + bss) as f64 / 1024.0, pm(data + bss <= 65536));
    // Targets of sections BENCH_ONLY left out compare figures that were not measured.
    let kept: String = o[targets_from..].lines().filter(|t| !t.contains("NaN") && !t.contains("inf")).map(|t| format!("{t}\n")).collect();
    o.truncate(targets_from);
    o.push_str(&kept);
    let _ = writeln!(o, "\n### Stack high-water marks (bytes, L={lmax}, includes ~{base_stack} B of harness)\n");
    for (n, d) in &stack {
        let _ = writeln!(o, "- {n}: {d}");
    }
    let _ = writeln!(o, "\n### Notes\n");
    for n in &notes {
        let _ = writeln!(o, "- {n}");
    }
    print!("{o}");

    let mut csv = String::from("figure");
    for r in &rows {
        let _ = write!(csv, ",{}", r.l);
    }
    csv.push('\n');
    for (k, _) in &rows[0].fig {
        let _ = write!(csv, "\"{k}\"");
        for r in &rows {
            let _ = write!(csv, ",{}", r.get(k));
        }
        csv.push('\n');
    }
    std::fs::write("bench.csv", csv).unwrap();
}

/// `.data` (+ `.data.rel.ro`? no: only writable data) and `.bss` sizes from `readelf -SW`.
fn section_sizes(path: &str) -> (u64, u64) {
    if path.is_empty() {
        return (0, 0);
    }
    let out = match std::process::Command::new("readelf").args(["-SW", path]).output() {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => return (0, 0),
    };
    let (mut data, mut bss) = (0, 0);
    for line in out.lines() {
        let l = line.replace("[ ", "[");
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let size = u64::from_str_radix(f[5], 16).unwrap_or(0);
        match f[1] {
            ".data" | ".tdata" => data += size,
            ".bss" | ".tbss" => bss += size,
            _ => {}
        }
    }
    (data, bss)
}
