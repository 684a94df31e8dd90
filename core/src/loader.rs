//! The walk over loaded libraries and the readiness rule (design rule 1).
//! Never allocates, never takes a lock but the loader's own list lock, and never keeps a pointer
//! into a library past the `dl_iterate_phdr` callback that reported it.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::dynamic::{self, Dynamic, Mapped};
use crate::elf;
use crate::error::{Error, Result};
use crate::lock::OwnedLock;
use crate::mem::Segments;
use crate::probe;
use crate::read::Memory;
use crate::sys;

mod scope;

/// Whether a listed library may be read and patched.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Not decided: no lock-free signal says the library is finished (e.g. no RELRO page on
    /// glibc < 2.35).  Left alone; a later refresh retries.
    Unknown = 0,
    /// Listed but still being loaded (not yet relocated, or a failed dlopen about to vanish).
    Loading = 1,
    /// Fully relocated and RELRO-protected: safe to read and patch.
    Ready = 2,
}

/// What a listed object is.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibKind {
    /// A shared library.
    Other = 0,
    /// The main program.
    Main = 1,
    /// The kernel's vDSO.
    Vdso = 2,
    /// The dynamic loader (on musl, this is also libc).
    Loader = 3,
    /// The object containing gothook's code: libgothook.so, a shared library embedding the
    /// archive, or the main program when the archive is linked into it (SELF wins over MAIN).
    SelfLib = 4,
}

/// How readiness is decided in this process.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Not yet detected.
    Undetected = 0,
    /// glibc >= 2.35: `_dl_find_object` succeeds and its link map has the listed bias.
    FindObject = 1,
    /// glibc < 2.35: the RELRO pages glibc protects (start and end rounded down to pages) exist
    /// and are no longer writable.
    Relro = 2,
    /// musl (and static programs): list membership; musl lists a library only once relocated.
    Listed = 3,
}

/// Walk flag: report every listed library, whatever its readiness (default: READY only).
pub const LIBS_ALL: u32 = 1;
/// Mask of valid walk flags.
pub const LIBS_FLAGS: u32 = LIBS_ALL;

static RULE: AtomicU8 = AtomicU8::new(Rule::Undetected as u8);
static FIND_OBJECT: AtomicUsize = AtomicUsize::new(0);
/// The rule detection picked (kept when another rule is forced).
static DETECTED: AtomicU8 = AtomicU8::new(Rule::Undetected as u8);

/// One listed library, valid during the walk callback only.  Only the walk creates these
/// (`non_exhaustive`), so `decode` may trust `phdr`, `phnum` and `segs`.
#[derive(Debug)]
#[non_exhaustive]
pub struct LibInfo<'a> {
    /// Load bias.
    pub bias: usize,
    /// Path as the loader recorded it, without NUL ("" for the main program on glibc).
    pub name: &'a [u8],
    /// The NUL-terminated name as the loader owns it (never NULL).
    pub name_ptr: *const u8,
    /// Address of the program headers.
    pub phdr: usize,
    /// Number of program headers.
    pub phnum: u16,
    /// What the object is.
    pub kind: LibKind,
    /// Its readiness by the rule in force.
    pub readiness: Readiness,
    /// The loader's add counter at this callback (compare for change only).
    pub adds: u64,
    /// The loader's remove counter (compare for change only; it underflows on glibc with dlmopen).
    pub subs: u64,
    /// Position in this walk, from 0.
    pub index: u32,
    /// The PT_LOAD ranges.
    pub segs: &'a Segments,
}

impl<'a> LibInfo<'a> {
    /// Decodes this library's dynamic section, borrowed for this callback.
    pub fn decode(&self) -> Result<Mapped<'a>> {
        // SAFETY: phdr/phnum come from the loader's dl_phdr_info for a listed object.
        let raw = unsafe {
            dynamic::phdr_bytes(
                self.phdr,
                self.phnum as usize,
                cfg!(target_pointer_width = "64"),
            )?
        };
        // SAFETY: this library was listed by the loader in the walk callback that handed out
        // `self`; the result borrows `'a`, which ends with that callback, so the PT_LOAD ranges
        // stay mapped while it is used.
        unsafe { Dynamic::decode(self.bias, raw, 0) }.map(Mapped::new)
    }

    /// [`LibInfo::decode`] in place, into `out` (see `Dynamic::decode_into`), for the crate's
    /// own passes, which keep the decoded image in static memory instead of on the stack of
    /// malloc hooks.  The caller must unmap `out` (`Dynamic::unmap`) before the callback returns:
    /// the library may be unloaded after it.
    pub(crate) fn decode_into(&self, out: &mut Dynamic) -> Result<()> {
        // SAFETY: phdr/phnum come from the loader's dl_phdr_info for a listed object.
        let raw = unsafe {
            dynamic::phdr_bytes(
                self.phdr,
                self.phnum as usize,
                cfg!(target_pointer_width = "64"),
            )?
        };
        // SAFETY: this library is listed (we are inside its walk callback); the caller's
        // contract unmaps `out` before the callback returns.
        unsafe { Dynamic::decode_into(out, self.bias, raw, 0, true) }
    }

    /// Whether `addr` lies in one of this library's segments.
    pub fn contains(&self, addr: usize) -> bool {
        self.segs.contains(addr, 1)
    }
}

/// The readiness rule in force, detecting it on first use.
pub fn rule() -> Rule {
    match RULE.load(Ordering::Acquire) {
        1 => Rule::FindObject,
        2 => Rule::Relro,
        3 => Rule::Listed,
        _ => detect(),
    }
}

/// The readiness rule in force if it is already detected; never detects it (detection walks
/// the loaded objects, which is not signal-safe).
pub fn rule_if_detected() -> Option<Rule> {
    match RULE.load(Ordering::Acquire) {
        1 => Some(Rule::FindObject),
        2 => Some(Rule::Relro),
        3 => Some(Rule::Listed),
        _ => None,
    }
}

/// Forces a readiness rule (tests of the older-glibc path on a newer glibc).  `Undetected`
/// re-runs detection on next use.  Forcing `FindObject` fails when the function is absent, and
/// forcing `Listed` fails (`Unsupported`) unless detection picks it too: on glibc a library is
/// listed before it is relocated, so trusting the list would patch libraries mid-relocation.
pub fn force_rule(r: Rule) -> Result<()> {
    if r == Rule::FindObject && find_object_fn() == 0 {
        return Err(Error::Unsupported);
    }
    if r == Rule::Listed && detected_rule() != Rule::Listed {
        return Err(Error::Unsupported);
    }
    RULE.store(r as u8, Ordering::Release);
    Ok(())
}

/// The cached address of `_dl_find_object`, or 0 when this libc has none.
pub fn find_object_fn() -> usize {
    if RULE.load(Ordering::Acquire) == Rule::Undetected as u8 {
        detect();
    }
    FIND_OBJECT.load(Ordering::Acquire)
}

/// Finds `_dl_find_object` (glibc >= 2.35) or `gnu_get_libc_version` (older glibc) in the
/// dynamic symbols of the loaded objects with gothook's own decoder (never `dlsym`: it takes the
/// loader lock and may allocate).  Neither means musl or a static program.  Runs once per
/// process; not inlined into the walks that call it first.
#[cold]
#[inline(never)]
fn detect() -> Rule {
    struct Found {
        find_object: usize,
        glibc: bool,
    }
    let mut found = Found {
        find_object: 0,
        glibc: false,
    };
    let _ = raw_walk(|info| {
        if let Ok(d) = info.decode() {
            if let Ok(Some(s)) = d.lookup(b"_dl_find_object") {
                found.find_object = d.bias.wrapping_add(s.value as usize);
                return false;
            }
            if let Ok(Some(_)) = d.lookup(b"gnu_get_libc_version") {
                found.glibc = true;
            }
        }
        true
    });
    let rule = if found.find_object != 0 {
        FIND_OBJECT.store(found.find_object, Ordering::Release);
        Rule::FindObject
    } else if found.glibc {
        Rule::Relro
    } else {
        Rule::Listed
    };
    // Racing detections compute the same answer; the first store wins harmlessly.
    DETECTED.store(rule as u8, Ordering::Release);
    let _ = RULE.compare_exchange(
        Rule::Undetected as u8,
        rule as u8,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    rule
}

/// The rule detection picks for this process, whichever rule is forced.
fn detected_rule() -> Rule {
    match DETECTED.load(Ordering::Acquire) {
        1 => Rule::FindObject,
        2 => Rule::Relro,
        3 => Rule::Listed,
        _ => detect(),
    }
}

/// The raw record of one `dl_iterate_phdr` callback, with segments and counters read: the
/// library as [`each`] reports it, before [`each_from`] classifies it (`kind`, `readiness` and
/// `index` are placeholders until then), and its RELRO range.  One record, not a second copy
/// for the classified library: it is on the stack of every walk callback.
struct Raw<'a> {
    lib: LibInfo<'a>,
    relro: (usize, usize),
}

impl<'a> core::ops::Deref for Raw<'a> {
    type Target = LibInfo<'a>;
    fn deref(&self) -> &LibInfo<'a> {
        &self.lib
    }
}

impl Raw<'_> {
    /// The object's program headers, as bytes.
    fn phdr_bytes(&self) -> Result<&[u8]> {
        // SAFETY: phdr/phnum come from the loader for a listed object.
        unsafe {
            dynamic::phdr_bytes(
                self.phdr,
                self.phnum as usize,
                cfg!(target_pointer_width = "64"),
            )
        }
    }

    fn decode(&self) -> Result<Dynamic> {
        let raw = self.phdr_bytes()?;
        // SAFETY: a listed object, decoded inside the walk callback that reported it.
        unsafe { Dynamic::decode(self.bias, raw, 0) }
    }

    /// [`Raw::decode`] up to the string table, in place: the object's names and DT_NEEDED
    /// entries only.  The caller unmaps `out` before the callback returns.
    fn decode_names_into(&self, out: &mut Dynamic) -> Result<()> {
        let raw = self.phdr_bytes()?;
        // SAFETY: a listed object, decoded inside the walk callback that reported it; the
        // caller unmaps `out` before that callback returns.
        unsafe { Dynamic::decode_into(out, self.bias, raw, 0, false) }
    }
}

fn c_name<'a>(p: *const core::ffi::c_char) -> (&'a [u8], *const u8) {
    static EMPTY: [u8; 1] = [0];
    if p.is_null() {
        return (&EMPTY[..0], EMPTY.as_ptr());
    }
    // SAFETY: the loader's dlpi_name is a NUL-terminated string valid during the callback.
    let s = unsafe { core::ffi::CStr::from_ptr(p) };
    (s.to_bytes(), p as *const u8)
}

/// Calls `f` for each listed object, inside `dl_iterate_phdr`; `f` returns false to stop.
fn raw_walk<F: FnMut(&mut Raw<'_>) -> bool>(f: F) -> c_int {
    raw_walk_from(0, None, f).0
}

/// What a walk's callback carries: how many leading objects to pass over, how many it has seen.
struct Walk<'r, F> {
    skip: usize,
    seen: usize,
    /// Where [`each_from`] records the reported objects for a later replay (see [`Snapshot`]).
    rec: Option<&'r mut Snapshot>,
    f: F,
}

/// What the loader's walk reports of one listed object, as plain numbers: kept by
/// [`each_from`] so that the same objects can be processed again without walking while nothing
/// was listed or unlisted (see [`Snapshot`]).
#[derive(Clone, Copy)]
struct Reported {
    bias: usize,
    /// `dlpi_name` (NUL-terminated, owned by the loader; 0 for none).
    name: usize,
    phdr: usize,
    phnum: u16,
}

/// Most objects a [`Snapshot`] keeps: a focused pass's tail is usually one or two objects.
const SNAPSHOT_MAX: usize = 8;

/// The objects the last complete [`each_from`] walk reported from its start position on, with
/// the loader's counters it read.  While those counters are unchanged, the loader has listed
/// nothing (every listing bumps the add counter) and unlisted nothing (every unlisting lowers
/// the object count, so the remove counter moves): the same objects are listed, in the same
/// order, with the same records, and a walk from the same position under the list lock would
/// report exactly these (only their readiness may have changed, and it is decided again).
/// Written and read only inside walk callbacks, so under the loader's list lock.
struct Snapshot {
    from: u32,
    /// Objects recorded; more than [`SNAPSHOT_MAX`] when some did not fit (then not kept).
    n: usize,
    /// The counters the recorded walk read; `None`: nothing to replay (no walk kept, or it
    /// reported no object).
    counters: Option<(u64, u64)>,
    objs: [Reported; SNAPSHOT_MAX],
}

impl Snapshot {
    /// Records one object a walk reported, with the counters it read.  Not inlined: the walk
    /// callback's frame, on the stack of every walk, stays as it was.
    #[inline(never)]
    fn record(&mut self, info: &sys::PhdrInfo, counters: (u64, u64)) {
        if let Some(slot) = self.objs.get_mut(self.n) {
            *slot = Reported {
                bias: info.dlpi_addr as usize,
                name: info.dlpi_name as usize,
                phdr: info.dlpi_phdr as usize,
                phnum: info.dlpi_phnum,
            };
        }
        self.n = self.n.saturating_add(1);
        self.counters = Some(counters);
    }
}

static SNAPSHOT: OwnedLock<Snapshot> = OwnedLock::new_in_walks(Snapshot {
    from: 0,
    n: 0,
    counters: None,
    objs: [Reported {
        bias: 0,
        name: 0,
        phdr: 0,
        phnum: 0,
    }; SNAPSHOT_MAX],
});

/// [`raw_walk`] for the objects from position `skip` on: the callbacks for the ones before only
/// count (no program header is read), so skipping costs the loader's own per-object work.
/// Returns `dl_iterate_phdr`'s result and the number of objects it reported.
fn raw_walk_from<F: FnMut(&mut Raw<'_>) -> bool>(
    skip: usize,
    rec: Option<&mut Snapshot>,
    f: F,
) -> (c_int, usize) {
    let mut walk = Walk {
        skip,
        seen: 0,
        rec,
        f,
    };
    // SAFETY: `walk_cb::<F>` matches the callback ABI and only uses `data` as `&mut Walk<F>`.
    let rc =
        unsafe { sys::dl_iterate_phdr(walk_cb::<F>, &mut walk as *mut Walk<'_, F> as *mut c_void) };
    (rc, walk.seen)
}

/// The callback of [`raw_walk_from`]'s walks: builds the raw record of the object reported (its
/// segments and RELRO range from its program headers) and hands it to the walk's `f`; records
/// the object in the walk's [`Snapshot`] if it has one.
///
/// # Safety
/// `info` is a record of `size` bytes that the loader reported for an object listed now, inside
/// a walk (so its name and program headers stay valid until this returns), and `data` the
/// `Walk<F>` of that walk.
unsafe extern "C" fn walk_cb<F: FnMut(&mut Raw<'_>) -> bool>(
    info: *mut sys::PhdrInfo,
    size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `data` is the caller's Walk, alive for the whole walk.
    let walk = unsafe { &mut *(data as *mut Walk<'_, F>) };
    walk.seen += 1;
    if walk.seen <= walk.skip {
        return 0;
    }
    // SAFETY: the caller passes a valid record of `size` bytes.
    let info = unsafe { &*info };
    let (adds, subs) = if size >= sys::INFO_WITH_COUNTERS {
        (info.dlpi_adds, info.dlpi_subs)
    } else {
        (0, 0)
    };
    if let Some(s) = walk.rec.as_deref_mut() {
        s.record(info, (adds, subs));
    }
    let f = &mut walk.f;
    let (name, name_ptr) = c_name(info.dlpi_name);
    let is64 = cfg!(target_pointer_width = "64");
    let bias = info.dlpi_addr as usize;
    let (phdr, phnum) = (info.dlpi_phdr as usize, info.dlpi_phnum);
    let mut segs = Segments::default();
    let mut relro = (0, 0);
    // SAFETY: dlpi_phdr/dlpi_phnum describe the object's program headers.
    if let Ok(bytes) = unsafe { dynamic::phdr_bytes(phdr, phnum as usize, is64) } {
        for p in dynamic::phdrs(bytes, is64) {
            let start = bias.wrapping_add(p.vaddr as usize);
            if p.p_type == elf::PT_LOAD {
                let _ = segs.push(start, p.memsz as usize, p.flags);
            } else if p.p_type == elf::PT_GNU_RELRO {
                relro = (start, start.wrapping_add(p.memsz as usize));
            }
        }
    }
    let mut raw = Raw {
        lib: LibInfo {
            bias,
            name,
            name_ptr,
            phdr,
            phnum,
            kind: LibKind::Other,
            readiness: Readiness::Unknown,
            adds,
            subs,
            index: 0,
            segs: &segs,
        },
        relro,
    };
    if f(&mut raw) {
        0
    } else {
        1
    }
}

/// The number of listed objects (one walk whose callbacks only count).  Taken inside a walk
/// callback (`probe::under_list_lock`), it stays true until that callback returns on glibc.
///
/// Context: malloc-safe; not signal-safe.  `Busy` when walks are refused in this process.
pub fn count() -> Result<usize> {
    match raw_walk_from(usize::MAX, None, |_| true) {
        (sys::WALK_REFUSED, _) => Err(Error::Busy),
        (_, n) => Ok(n),
    }
}

fn self_marker() {}

/// The auxiliary-vector values that identify the special objects, read once per walk.
#[derive(Clone, Copy)]
struct Aux {
    vdso: usize,
    base: usize,
    at_phdr: usize,
}

impl Aux {
    fn read() -> Aux {
        Aux {
            vdso: sys::auxval(libc::AT_SYSINFO_EHDR),
            base: sys::auxval(libc::AT_BASE),
            at_phdr: sys::auxval(libc::AT_PHDR),
        }
    }
}

/// What a listed object is.  The object containing gothook's own code is `SelfLib` whatever
/// else it is: a shared library embedding the archive, libgothook.so, or the main program when
/// the archive is linked into it (so the default filter never patches gothook's own imports, whose
/// hooks would re-enter gothook).
fn kind_of(raw: &Raw<'_>, aux: &Aux) -> LibKind {
    let Aux {
        vdso,
        base,
        at_phdr,
    } = *aux;
    if vdso != 0 && raw.segs.contains(vdso, 1) {
        LibKind::Vdso
    } else if base != 0 && raw.segs.contains(base, 1) && raw.phdr != at_phdr {
        LibKind::Loader
    } else if raw.segs.contains(self_marker as *const () as usize, 1) {
        LibKind::SelfLib
    } else if raw.phdr == at_phdr {
        LibKind::Main
    } else {
        LibKind::Other
    }
}

/// Page-protection reader for the RELRO rule, opened lazily once per walk.
struct Protections {
    maps: Option<sys::Fd>,
    opened: bool,
    ioctl_works: bool,
}

/// `PROCMAP_QUERY` (Linux >= 6.11): `_IOWR('f', 17, struct procmap_query)`, 104-byte struct.
const PROCMAP_QUERY: u64 = (3 << 30) | (104 << 16) | ((b'f' as u64) << 8) | 17;
const PROCMAP_QUERY_VMA_WRITABLE: u64 = 2;

impl Protections {
    fn new() -> Self {
        Protections {
            maps: None,
            opened: false,
            ioctl_works: true,
        }
    }

    /// Whether the page at `addr` is writable: Some(true/false), None when unknown.
    fn writable(&mut self, addr: usize) -> Option<bool> {
        if !self.opened {
            self.opened = true;
            self.maps = sys::Fd::open(b"/proc/self/maps\0");
        }
        let fd = self.maps.as_ref()?;
        if self.ioctl_works {
            // struct procmap_query { u64 size, query_flags, query_addr, vma_start, vma_end,
            //   vma_flags, vma_page_size, vma_offset, inode; u32 dev_major, dev_minor,
            //   vma_name_size, build_id_size; u64 vma_name_addr, build_id_addr; }
            let mut q = [0u64; 13];
            q[0] = 104;
            q[2] = addr as u64;
            // SAFETY: `q` is a 104-byte procmap_query with no name/build-id buffers requested.
            if unsafe { fd.ioctl(PROCMAP_QUERY, q.as_mut_ptr() as *mut c_void) } {
                return Some(q[5] & PROCMAP_QUERY_VMA_WRITABLE != 0);
            }
            self.ioctl_works = false;
        }
        // Older kernels: parse /proc/self/maps line by line with a stack buffer.
        let fd = sys::Fd::open(b"/proc/self/maps\0")?;
        maps_writable(&fd, addr)
    }
}

/// Scans /proc/self/maps for the mapping containing `addr`; returns its write permission.
/// Kept out of line with a small buffer: only kernels without PROCMAP_QUERY pay its stack.
#[inline(never)]
fn maps_writable(fd: &sys::Fd, addr: usize) -> Option<bool> {
    let mut buf = [0u8; 512];
    let mut line = [0u8; 64];
    let mut len = 0usize;
    loop {
        let n = fd.read(&mut buf)?;
        if n == 0 {
            return None;
        }
        for &c in &buf[..n] {
            if c == b'\n' {
                if let Some(w) = parse_maps_line(&line[..len], addr) {
                    return Some(w);
                }
                len = 0;
            } else if len < line.len() {
                line[len] = c;
                len += 1;
            }
        }
    }
}

/// Parses "start-end perms ..." and returns the write bit if `addr` is inside.
fn parse_maps_line(line: &[u8], addr: usize) -> Option<bool> {
    let hex = |s: &[u8]| -> Option<usize> {
        s.iter().try_fold(0usize, |acc, &c| {
            let d = (c as char).to_digit(16)? as usize;
            acc.checked_mul(16)?.checked_add(d)
        })
    };
    let dash = line.iter().position(|&c| c == b'-')?;
    let space = line.iter().position(|&c| c == b' ')?;
    let start = hex(&line[..dash])?;
    let end = hex(line.get(dash + 1..space)?)?;
    if addr >= start && addr < end {
        Some(*line.get(space + 2)? == b'w')
    } else {
        None
    }
}

fn readiness(raw: &Raw<'_>, kind: LibKind, rule: Rule, prot: &mut Protections) -> Readiness {
    readiness_parts(raw.segs, raw.relro, raw.bias, kind, rule, prot)
}

/// The readiness of an already decoded image (for swaps on a captured `Dynamic`).  Signal-safe:
/// `_dl_find_object` is lock-free, the RELRO rule uses raw syscalls only.
pub fn readiness_of(d: &Dynamic) -> Readiness {
    let vdso = sys::auxval(libc::AT_SYSINFO_EHDR);
    let kind = if vdso != 0 && d.segs.contains(vdso, 1) {
        LibKind::Vdso
    } else {
        LibKind::Other
    };
    readiness_parts(
        &d.segs,
        d.relro,
        d.bias,
        kind,
        rule(),
        &mut Protections::new(),
    )
}

/// The readiness of an already decoded image now, without walking: `None` while the rule is not
/// yet detected.  Signal-safe (`_dl_find_object` is lock-free; the RELRO rule uses raw syscalls).
pub fn readiness_now(d: &Dynamic) -> Option<Readiness> {
    let rule = rule_if_detected()?;
    let vdso = sys::auxval(libc::AT_SYSINFO_EHDR);
    let kind = if vdso != 0 && d.segs.contains(vdso, 1) {
        LibKind::Vdso
    } else {
        LibKind::Other
    };
    Some(readiness_parts(
        &d.segs,
        d.relro,
        d.bias,
        kind,
        rule,
        &mut Protections::new(),
    ))
}

/// Whether the image with load bias `bias` and program headers `phdr[0..phnum)` maps `addr` in
/// one of its PT_LOAD segments.
///
/// # Safety
/// `phdr` points to `phnum` readable program headers of this process's class (a listed object's,
/// e.g. from a walk callback).
pub unsafe fn maps(bias: usize, phdr: usize, phnum: u16, addr: usize) -> bool {
    let is64 = cfg!(target_pointer_width = "64");
    // SAFETY: forwarded contract.
    let Ok(raw) = (unsafe { dynamic::phdr_bytes(phdr, phnum as usize, is64) }) else {
        return false;
    };
    dynamic::phdrs(raw, is64).any(|p| {
        let start = bias.wrapping_add(p.vaddr as usize);
        p.p_type == elf::PT_LOAD
            && addr >= start
            && (addr - start) < usize::try_from(p.memsz).unwrap_or(usize::MAX)
    })
}

/// Decodes the listed object that maps `addr`, inside the walk that reports it, and says how
/// ready it was.  Errors: `NotFound` (no listed object maps `addr`), `NotReady` (it is not
/// READY: nothing decoded), decode errors.
///
/// Context: malloc-safe.
///
/// # Safety
/// The result reads the library's memory after the walk that decoded it has ended: the caller
/// must make sure the library stays loaded while the result is used (e.g. a library that is
/// never unloaded, such as libjvm in a running JVM, or one it holds a `dlopen` handle of).
pub unsafe fn decode_containing(addr: usize) -> Result<Dynamic> {
    let mut out = Err(Error::NotFound);
    each(LIBS_ALL, |lib| {
        if !lib.contains(addr) {
            return true;
        }
        out = if lib.readiness == Readiness::Ready {
            // SAFETY: phdr/phnum come from the loader's dl_phdr_info for this listed object.
            unsafe {
                dynamic::phdr_bytes(
                    lib.phdr,
                    lib.phnum as usize,
                    cfg!(target_pointer_width = "64"),
                )
            }
            // SAFETY: mapped now (inside its walk callback); afterwards by the caller's contract.
            .and_then(|raw| unsafe { Dynamic::decode(lib.bias, raw, 0) })
        } else {
            Err(Error::NotReady)
        };
        false
    })?;
    out
}

/// Whether the library mapping `addr` (an address of its first segment) may have become READY:
/// false only when `_dl_find_object` does not know `addr` yet, which under the `_dl_find_object`
/// rule means it is not READY.  True (ask the walk) under any other rule.  Lock-free and
/// signal-safe: nothing of the library is read.
pub fn maybe_ready(addr: usize) -> bool {
    if rule_if_detected() != Some(Rule::FindObject) {
        return true;
    }
    let f = FIND_OBJECT.load(Ordering::Acquire);
    // SAFETY: `f` is glibc's _dl_find_object (found by detect()); it only looks `addr` up.
    f == 0 || unsafe { sys::dl_find_object(f, addr) }.is_some()
}

/// The `_dl_find_object` rule (glibc >= 2.35) as a decision over the loader's answer for the
/// library's first PT_LOAD address: its return code `rc` and the returned link map's `l_addr`
/// (`None` for a NULL link map).  READY exactly when `rc` is 0 and `l_addr` is the listed `bias`:
/// glibc enters an object into this table only once it is relocated and its RELRO protected, and
/// an entry with another bias is another object (one being unloaded from, or loaded into, the
/// same address range).  Anything else is LOADING.
pub fn find_object_decision(rc: c_int, l_addr: Option<usize>, bias: usize) -> Readiness {
    match (rc, l_addr) {
        (0, Some(a)) if a == bias => Readiness::Ready,
        _ => Readiness::Loading,
    }
}

fn readiness_parts(
    segs: &Segments,
    relro: (usize, usize),
    bias: usize,
    kind: LibKind,
    rule: Rule,
    prot: &mut Protections,
) -> Readiness {
    // The vDSO is never relocated; the dynamic loader relocates itself before anything runs.
    if matches!(kind, LibKind::Vdso | LibKind::Loader) {
        return Readiness::Ready;
    }
    let first = match segs.iter().next() {
        Some(r) => r.start,
        None => return Readiness::Unknown,
    };
    match rule {
        Rule::Listed => Readiness::Ready,
        Rule::FindObject => {
            let f = FIND_OBJECT.load(Ordering::Acquire);
            // SAFETY: `f` is glibc's _dl_find_object (found by detect()).
            let (rc, l_addr) = match unsafe { sys::dl_find_object(f, first) } {
                // SAFETY: a link_map returned by _dl_find_object stays valid while the object is
                // listed (we are inside its callback); l_addr is its first word.
                Some(map) if map != 0 => (0, Some(unsafe { sys::read_word(map) })),
                Some(_) => (0, None),
                None => (-1, None),
            };
            find_object_decision(rc, l_addr, bias)
        }
        Rule::Relro | Rule::Undetected => {
            let page = sys::page_size();
            // The pages glibc's _dl_protect_relro makes read-only: start and end both rounded
            // down (rounding the start up would leave every library whose RELRO is shorter
            // than a page, i.e. most small ones, UNKNOWN forever).
            let start = relro.0 & !(page - 1);
            let end = relro.1 & !(page - 1);
            if relro.1 <= relro.0 || end <= start {
                return Readiness::Unknown;
            }
            match prot.writable(start) {
                Some(false) => Readiness::Ready,
                Some(true) => Readiness::Loading,
                None => Readiness::Unknown,
            }
        }
    }
}

/// Walks the loaded libraries inside `dl_iterate_phdr`, classifying each.  With `LIBS_ALL` every
/// listed object reaches `f`; otherwise only READY ones.  `f` returns false to stop.
///
/// Context: malloc-safe (no allocation, no lock but the loader's list lock); not signal-safe.
pub fn each(flags: u32, f: impl FnMut(&LibInfo<'_>) -> bool) -> Result<()> {
    each_from(0, flags, f)
}

/// [`each`] for the listed objects from position `from` on (`LibInfo::index >= from`): the
/// ones before are passed over without being classified or reported.
///
/// Inside a walk callback (a refresh's pass), when the last complete walk from the same
/// position reported at most a few objects and the loader's counters have not moved since,
/// those objects are processed again without a walk ([`Snapshot`]): a walk visits every listed
/// object before `from` while it holds the loader's list lock, which every `dlclose` needs.
///
/// Context: malloc-safe; not signal-safe.
pub fn each_from(from: u32, flags: u32, mut f: impl FnMut(&LibInfo<'_>) -> bool) -> Result<()> {
    if flags & !LIBS_FLAGS != 0 {
        return Err(Error::Invalid);
    }
    let rule = rule();
    let aux = Aux::read();
    let mut prot = Protections::new();
    let mut index = from;
    let mut classify = |raw: &mut Raw<'_>| {
        let kind = kind_of(raw, &aux);
        let readiness = readiness(raw, kind, rule, &mut prot);
        let i = index;
        index += 1;
        if readiness != Readiness::Ready && flags & LIBS_ALL == 0 {
            return true;
        }
        raw.lib.kind = kind;
        raw.lib.readiness = readiness;
        raw.lib.index = i;
        f(&raw.lib)
    };
    if !sys::in_list_lock() {
        // Nothing keeps the objects listed between two walks: walk, record nothing.
        raw_walk_from(from as usize, None, &mut classify);
        return Ok(());
    }
    let mut snap = match replay(from, &mut classify) {
        Ok(()) => return Ok(()),
        Err(snap) => snap,
    };
    let (rc, _) = raw_walk_from(from as usize, snap.as_deref_mut(), &mut classify);
    if let Some(s) = snap.as_deref_mut() {
        // Kept only from a walk that reached the end of the list, with room for every object.
        if rc != 0 || s.n > SNAPSHOT_MAX {
            s.counters = None;
        }
        s.from = from;
    }
    Ok(())
}

/// [`each_from`]'s replay, called inside a hold of the loader's list lock
/// (`sys::in_list_lock`): `Ok` when the objects of the [`Snapshot`] were handed to `f` through
/// the walk callback itself, in place of a walk from `from`; else the snapshot to record the
/// walk in (`None` in a nested walk, whose outer walk holds it).  Not inlined: its record of an
/// object is never on the stack together with a walk's.
#[inline(never)]
fn replay<F: FnMut(&mut Raw<'_>) -> bool>(
    from: u32,
    f: &mut F,
) -> core::result::Result<(), Option<crate::lock::Guard<'static, Snapshot>>> {
    debug_assert!(sys::in_list_lock());
    let mut snap = match SNAPSHOT.try_lock() {
        Ok(Some(g)) => g,
        _ => return Err(None),
    };
    let now = crate::rtld::counters();
    if snap.from == from && now.is_some() && now == snap.counters {
        let (adds, subs) = now.unwrap_or_default();
        let mut walk = Walk {
            skip: 0,
            seen: 0,
            rec: None,
            f,
        };
        for obj in &snap.objs[..snap.n.min(SNAPSHOT_MAX)] {
            let mut info = sys::PhdrInfo {
                dlpi_addr: obj.bias as _,
                dlpi_name: obj.name as *const core::ffi::c_char,
                dlpi_phdr: obj.phdr as *const _,
                dlpi_phnum: obj.phnum,
                dlpi_adds: adds,
                dlpi_subs: subs,
                dlpi_tls_modid: 0,
                dlpi_tls_data: core::ptr::null_mut(),
            };
            // SAFETY: this thread holds the loader's list lock (`in_list_lock`, on glibc:
            // `rtld::counters` answered), and the counters equal those of the walk that
            // reported `obj`, so it is still listed with the same record (see `Snapshot`);
            // `info` is a whole record and `walk` a Walk for `F`.
            let stop = unsafe {
                walk_cb::<&mut F>(
                    &mut info,
                    core::mem::size_of::<sys::PhdrInfo>(),
                    &mut walk as *mut Walk<'_, &mut F> as *mut c_void,
                )
            };
            if stop != 0 {
                break;
            }
        }
        return Ok(());
    }
    snap.n = 0;
    snap.counters = None;
    Err(Some(snap))
}

/// The loader's (adds, subs) counters, read from the first listed object only: O(1), but it
/// takes the loader's list lock for one callback.  Compare for change, never order.
pub fn counters() -> (u64, u64) {
    let mut c = (0, 0);
    raw_walk(|raw| {
        c = (raw.adds, raw.subs);
        false
    });
    c
}

/// Calls `f` with each DT_NEEDED name of `d`, in order.  Reads are bounds-checked against the
/// image's segments; a bad entry ends the list.
fn needed_names(d: &Dynamic, mut f: impl FnMut(&[u8])) {
    let is64 = d.class == elf::ELFCLASS64;
    let ws = if is64 { 8 } else { 4 };
    // No real object has thousands of dynamic entries; the bound keeps a corrupt one finite.
    for i in 0..4096usize {
        let e = d.dynamic.wrapping_add(i * 2 * ws);
        let Ok(tag) = d.segs.word(e, is64) else {
            return;
        };
        let tag = if is64 {
            tag as i64
        } else {
            tag as u32 as i32 as i64
        };
        if tag == elf::dt::NULL {
            return;
        }
        if tag == elf::dt::NEEDED {
            if let Ok(off) = d.segs.word(e + ws, is64) {
                if let Some(name) = u32::try_from(off).ok().and_then(|o| d.string(o).ok()) {
                    f(name);
                }
            }
        }
    }
}

/// Records every listed object's names and DT_NEEDED entries for the scope computation.
/// Returns the index of the object containing `addr` (if `addr` is non-zero and mapped).
/// Not inlined, nor is [`search`]: their walks are never on the stack together.
#[inline(never)]
fn record(objs: &mut scope::Objects, image: &mut Dynamic, addr: usize) -> Option<usize> {
    let aux = Aux::read();
    let mut host = None;
    raw_walk(|raw| {
        let Some(i) = record_one(objs, image, raw) else {
            return false;
        };
        if raw.phdr == aux.at_phdr {
            objs.main = i as u16;
        } else if aux.vdso != 0 && raw.segs.contains(aux.vdso, 1) {
            objs.vdso = i as u16;
        }
        if addr != 0 && host.is_none() && raw.segs.contains(addr, 1) {
            host = Some(i);
        }
        true
    });
    host
}

/// Records one listed object's names and DT_NEEDED entries, decoding it into `image` (unmapped
/// again before returning); returns its index (`None`: the table is full).  Not inlined: the
/// decoder's frame is never on the stack with the walk callback's record of the object.
#[inline(never)]
fn record_one(objs: &mut scope::Objects, image: &mut Dynamic, raw: &Raw<'_>) -> Option<usize> {
    let decoded = raw.decode_names_into(image).is_ok();
    let soname = if decoded { image.soname() } else { None };
    let i = objs.push(raw.bias, soname, raw.name);
    if i.is_some() && decoded {
        needed_names(image, |n| objs.push_needed(n));
    }
    image.unmap();
    i
}

/// Looks the names of `want` (a mask over `names`) up in the listed `lib`, decoded into
/// `image` (unmapped again before returning), writing each definition found to `out`; returns
/// the mask of those found.  Not inlined, for the same reason as [`record_one`].
#[inline(never)]
fn define_in(
    lib: &LibInfo<'_>,
    image: &mut Dynamic,
    names: &Names<'_, '_>,
    want: u64,
    out: &mut [usize],
) -> u64 {
    if lib.decode_into(image).is_err() {
        return 0;
    }
    let mut found = 0;
    for (k, name) in names.each().filter(|&(k, _)| want & (1 << k) != 0) {
        if let Some(addr) = defined_at(image, name) {
            out[k] = addr;
            found |= 1 << k;
        }
    }
    image.unmap();
    found
}

/// The address the decoded `d` defines `name` at (IFUNCs resolved), if it does.  Not
/// inlined: the hash lookup's frame is never on the stack with the decoder's.
#[inline(never)]
fn defined_at(d: &Dynamic, name: &[u8]) -> Option<usize> {
    let s = d.lookup(name).ok()??;
    let addr = s.address(d.bias);
    Some(if s.kind() == elf::STT_GNU_IFUNC {
        // SAFETY: a defined IFUNC of a READY library (decoded inside its walk callback); the
        // loader would call it the same way.
        unsafe { sys::call_ifunc(addr) }
    } else {
        addr
    })
}

/// Most names one [`global_lookup_many`] looks up.
pub const LOOKUP_MANY_MAX: usize = 64;

/// Looks `name` up the way `dlsym` would, without allocation and with little stack (the scope
/// tables are static, see [`SCOPE`]).  IFUNC definitions are resolved by calling their
/// resolver; only READY objects are searched.
///
/// - `after == None` (`RTLD_DEFAULT`): the global scope, i.e. the main program, the LD_PRELOAD
///   objects and their DT_NEEDED closure in breadth-first order.  RTLD_LOCAL libraries are not
///   searched; neither are libraries dlopen'ed with RTLD_GLOBAL (glibc would search those).
/// - `after == Some(addr)` (`RTLD_NEXT` from the object containing `addr`): the scope of that
///   object's root loader object, after the object itself: the global scope for the main
///   program, its DT_NEEDED closure and LD_PRELOAD objects; for an object dlopen'ed (or
///   mapped as a new dependency of a dlopen'ed object) the dlopen'ed object's breadth-first
///   DT_NEEDED closure.  See the `scope` module for how the root is derived from public data.
///
/// Two walks: the first records names and dependencies, the second searches.  An object is
/// recognised again by its load bias (two listed objects never share one), so objects loaded
/// between the walks are not searched and objects unloaded meanwhile are simply not found.
///
/// On musl and static programs (rule `Listed`), in processes listing more objects than the
/// scope tables hold, and on re-entry from this thread (an IFUNC resolver or a hook that looks
/// a symbol up while this thread is inside a lookup), the search is the list order (after the
/// object containing `addr`).
///
/// Errors: `NotFound`.
pub fn global_lookup(name: &[u8], after: Option<usize>) -> Result<usize> {
    let mut out = [0usize; 1];
    match global_lookup_many(1, |_| Some(name), after, &mut out)? {
        0 => Err(Error::NotFound),
        _ => Ok(out[0]),
    }
}

/// [`global_lookup`] of several names at once, each answered exactly as [`global_lookup`] would:
/// one scope computation and one search walk, whatever the number of names.  `name(k)` for `k`
/// in `0..count` is the k-th name (`None`: not wanted); its address goes to `out[k]`.  Returns
/// the mask of the names found (bit k: `out[k]` is written).
///
/// Errors: `Invalid` when `count` exceeds [`LOOKUP_MANY_MAX`] or `out` is shorter than `count`.
///
/// Context: malloc-safe; not signal-safe.
pub fn global_lookup_many<'n>(
    count: usize,
    name: impl Fn(usize) -> Option<&'n [u8]>,
    after: Option<usize>,
    out: &mut [usize],
) -> Result<u64> {
    lookup_many(&Names { count, name: &name }, after, out, false)
}

/// [`global_lookup_many`] for a caller inside a walk callback (e.g. under
/// [`probe::under_list_lock`]), and only there: the loader's list lock it holds keeps the list
/// unchanged from the scope computation to the search and orders the holders of the scope
/// tables (whose lock is only ever taken inside walks), so no walk is nested just to take it.
/// Install looks its originals up this way, inside malloc hooks, where stack is short.
///
/// Context: malloc-safe; not signal-safe.
pub(crate) fn global_lookup_many_in_walk<'n>(
    count: usize,
    name: impl Fn(usize) -> Option<&'n [u8]>,
    after: Option<usize>,
    out: &mut [usize],
) -> Result<u64> {
    lookup_many(&Names { count, name: &name }, after, out, true)
}

/// The scoped search, under the list lock unless `in_walk` says it is held, with the
/// list-order fallbacks of [`global_lookup`].
fn lookup_many(
    names: &Names<'_, '_>,
    after: Option<usize>,
    out: &mut [usize],
    in_walk: bool,
) -> Result<u64> {
    if names.count > LOOKUP_MANY_MAX || out.len() < names.count {
        return Err(Error::Invalid);
    }
    let scoped = if rule() == Rule::Listed {
        // musl and static programs: the list order is the search order.
        Err(Error::Full)
    } else if in_walk {
        scoped_lookup(names, after, out)
    } else {
        probe::under_list_lock(|_| scoped_lookup(names, after, out))
    };
    match scoped {
        Err(Error::Busy) | Err(Error::Full) if in_walk => match SCOPE.lock() {
            // Inside a walk (install), the scope tables' image is free unless this thread is
            // inside a lookup already: the search decodes into it, not onto the stack.
            Ok(mut tables) => list_lookup_into(names, after, out, &mut tables.image),
            Err(_) => list_lookup(names, after, out),
        },
        Err(Error::Busy) | Err(Error::Full) => list_lookup(names, after, out),
        r => r,
    }
}

/// The names one lookup looks for (see [`global_lookup_many`]).
struct Names<'a, 'n> {
    count: usize,
    name: &'a dyn Fn(usize) -> Option<&'n [u8]>,
}

impl<'n> Names<'_, 'n> {
    /// The wanted names with their index.
    fn each(&self) -> impl Iterator<Item = (usize, &'n [u8])> + '_ {
        (0..self.count).filter_map(|k| (self.name)(k).map(|n| (k, n)))
    }

    /// The mask of the wanted names.
    fn wanted(&self) -> u64 {
        self.each().fold(0, |m, (k, _)| m | 1 << k)
    }
}

/// The scope computation's tables (about 11 KiB), and the place each object is decoded in.
struct ScopeTables {
    objs: scope::Objects,
    order: [u16; scope::OBJ_MAX],
    pos: [u16; scope::OBJ_MAX],
    /// The object being recorded or searched, decoded (unmapped between objects).
    image: Dynamic,
    /// Per name: the scope position of the definition the search kept so far (NONE: none yet).
    best: [u16; LOOKUP_MANY_MAX],
}

/// Static, so that a lookup (which install runs inside malloc hooks) needs little stack.  Only
/// taken inside a walk, so the loader's list lock already orders its holders: it is never
/// waited for, and a thread that re-enters a lookup gets `Busy` (then searches in list order).
static SCOPE: OwnedLock<ScopeTables> = OwnedLock::new_in_walks(ScopeTables {
    objs: scope::Objects::new(),
    order: [scope::NONE; scope::OBJ_MAX],
    pos: [scope::NONE; scope::OBJ_MAX],
    image: Dynamic::UNMAPPED,
    best: [scope::NONE; LOOKUP_MANY_MAX],
});

/// [`global_lookup_many`] through the scope tables; `Full` when the process lists more objects
/// than they hold, `Busy` when this thread is inside a lookup already.
fn scoped_lookup(names: &Names<'_, '_>, after: Option<usize>, out: &mut [usize]) -> Result<u64> {
    let mut scratch = SCOPE.lock()?;
    let ScopeTables {
        objs,
        order,
        pos,
        image,
        best,
    } = &mut *scratch;
    objs.clear();
    let host = record(objs, image, after.unwrap_or(0));
    if objs.overflow {
        return Err(Error::Full);
    }
    let (len, start) = match (after, host) {
        (None, _) => (objs.global(order), 0),
        (Some(_), None) => return Ok(0),
        (Some(_), Some(h)) => {
            let len = objs.next_scope(h, order);
            let at = order[..len].iter().position(|&x| x as usize == h);
            (len, at.map_or(len, |p| p + 1))
        }
    };
    // Position of each recorded object in the part of the scope that is searched.  `pos` is
    // all NONE between lookups: set entry by entry and put back below (a bulk fill would be a
    // libc `memset` on shared static memory, which a race detector blind to the lock reports).
    for (k, &i) in order[start..len].iter().enumerate() {
        pos[i as usize] = k as u16;
    }
    let found = search(names, objs, pos, image, best, out);
    for &i in &order[start..len] {
        pos[i as usize] = scope::NONE;
    }
    found
}

/// Each name's definition in the READY object of lowest `pos` (NONE: not searched), all names
/// in one walk that decodes each searched object once.
#[inline(never)]
fn search(
    names: &Names<'_, '_>,
    objs: &scope::Objects,
    pos: &[u16; scope::OBJ_MAX],
    image: &mut Dynamic,
    best: &mut [u16; LOOKUP_MANY_MAX],
    out: &mut [usize],
) -> Result<u64> {
    // Entry by entry (see `pos` in `scoped_lookup`).
    for b in best.iter_mut().take(names.count) {
        *b = scope::NONE;
    }
    let mut found = 0u64;
    each(0, |lib| {
        if lib.kind == LibKind::Vdso {
            return true;
        }
        // Usually at the same index; after an unload in between, found by bias.
        let i = lib.index as usize;
        let i = if i < objs.n && objs.bias[i] == lib.bias {
            Some(i)
        } else {
            objs.bias[..objs.n].iter().position(|&b| b == lib.bias)
        };
        let Some(p) = i.map(|i| pos[i]) else {
            return true;
        };
        if p == scope::NONE {
            return true;
        }
        // Only names whose kept definition (if any) comes later in the scope are looked up.
        let want = names
            .each()
            .filter(|&(k, _)| best[k] > p)
            .fold(0, |m, (k, _)| m | 1 << k);
        if want != 0 {
            let here = define_in(lib, image, names, want, out);
            for (k, b) in best.iter_mut().enumerate().take(names.count) {
                if here & (1 << k) != 0 {
                    *b = p;
                }
            }
            found |= here;
        }
        true
    })?;
    Ok(found)
}

/// The list-order search: every READY object in `dl_iterate_phdr` order, after the object
/// containing `after` if given; each name's first definition.
/// The image is decoded on this frame (a lookup outside a walk, or re-entered): see
/// [`list_lookup_into`].  Not inlined: the image is on the stack only when this runs.
#[inline(never)]
fn list_lookup(names: &Names<'_, '_>, after: Option<usize>, out: &mut [usize]) -> Result<u64> {
    let mut image = Dynamic::UNMAPPED;
    list_lookup_into(names, after, out, &mut image)
}

/// [`list_lookup`] decoding each object into `image`.  Not inlined, for [`list_lookup`]'s sake.
#[inline(never)]
fn list_lookup_into(
    names: &Names<'_, '_>,
    after: Option<usize>,
    out: &mut [usize],
    image: &mut Dynamic,
) -> Result<u64> {
    let wanted = names.wanted();
    let mut found = 0u64;
    if wanted == 0 {
        return Ok(0);
    }
    let mut skipping = after.is_some();
    each(0, |lib| {
        if skipping {
            if lib.contains(after.unwrap_or(0)) {
                skipping = false;
            }
            return true;
        }
        if lib.kind == LibKind::Vdso {
            return true;
        }
        found |= define_in(lib, image, names, wanted & !found, out);
        found != wanted
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_object_makes_ready_only_a_zero_return_with_the_listed_bias() {
        let bias = 0x7f00_0000_0000;
        assert_eq!(find_object_decision(0, Some(bias), bias), Readiness::Ready);
        // Another object's link map at this address (a reload, or one being unloaded).
        assert_eq!(
            find_object_decision(0, Some(bias + 0x1000), bias),
            Readiness::Loading
        );
        assert_eq!(find_object_decision(0, Some(0), bias), Readiness::Loading);
        // Only 0 is success: any other return code leaves the library alone, whatever l_addr.
        for rc in [-1, 1, 2] {
            assert_eq!(
                find_object_decision(rc, Some(bias), bias),
                Readiness::Loading
            );
        }
        // A NULL link map.
        assert_eq!(find_object_decision(0, None, bias), Readiness::Loading);
    }

    #[test]
    fn maps_lines_parse_by_range_and_permission() {
        let l = b"7f0000001000-7f0000003000 r--p 00000000 08:01 123 /usr/lib/libc.so.6";
        assert_eq!(parse_maps_line(l, 0x7f00_0000_1000), Some(false));
        assert_eq!(parse_maps_line(l, 0x7f00_0000_3000), None);
        let w = b"55d000-55e000 rw-p 00000000 00:00 0";
        assert_eq!(parse_maps_line(w, 0x55d100), Some(true));
        assert_eq!(parse_maps_line(b"garbage", 1), None);
    }

    /// The names of the re-entry test: `_dl_catch_error` is defined by libc and again by the
    /// dynamic loader listed after it (the first definition is the answer), one name is defined
    /// nowhere (so the list-order search visits every object), `_Unwind_Resume` by libgcc_s only.
    const REENTRY_NAMES: [&[u8]; 5] = [
        b"malloc",
        b"no_such_symbol_anywhere",
        b"_dl_catch_error",
        b"_Unwind_Resume",
        b"getppid",
    ];

    fn lookup_all(after: Option<usize>, in_walk: bool) -> (Result<u64>, [usize; 5]) {
        let mut out = [0usize; 5];
        let names = |k: usize| Some(REENTRY_NAMES[k]);
        let r = if in_walk {
            global_lookup_many_in_walk(5, names, after, &mut out)
        } else {
            global_lookup_many(5, names, after, &mut out)
        };
        (r, out)
    }

    /// A lookup re-entered on a thread that is inside one already (an IFUNC resolver or a hook
    /// that looks a symbol up) finds the scope tables busy and searches in list order instead:
    /// for this process's objects that gives the scoped lookup's answers, in and outside a
    /// walk, by default and after this program.
    #[test]
    fn a_reentered_lookup_searches_in_list_order_and_answers_as_the_scoped_one() {
        let here = a_reentered_lookup_searches_in_list_order_and_answers_as_the_scoped_one
            as *const () as usize;
        for after in [None, Some(here)] {
            let scoped = lookup_all(after, false);
            assert_eq!(scoped.0, Ok(0b11101), "{after:x?}");
            // SAFETY: reading the loader's own answer for a name (no call through it).
            let catch = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_dl_catch_error".as_ptr()) };
            assert_eq!(
                scoped.1[2], catch as usize,
                "libc's definition, not the loader's"
            );
            for in_walk in [false, true] {
                let listed = probe::under_list_lock(|_| {
                    let _held = SCOPE.lock()?;
                    Ok(lookup_all(after, in_walk))
                })
                .unwrap();
                assert_eq!(listed, scoped, "{after:x?}, in walk {in_walk}");
            }
        }
    }

    /// DT_NEEDED entries are read entry by entry up to DT_NULL, after an entry whose value is 0
    /// (DT_DEBUG, as linkers write it) and whatever the low byte of DT_STRTAB's value.
    #[test]
    fn needed_names_are_read_entry_by_entry_up_to_dt_null() {
        const DT_DEBUG: u64 = 21;
        // One read-only PT_LOAD of 1 KiB at this buffer, its dynamic array at 0x100 and its
        // string table at 0x200.
        let mut img = [0u64; 128];
        let dynamic: [(u64, u64); 6] = [
            (elf::dt::STRTAB as u64, 0x200),
            (elf::dt::STRSZ as u64, 18),
            (DT_DEBUG, 0),
            (elf::dt::NEEDED as u64, 1),
            (elf::dt::NEEDED as u64, 9),
            (elf::dt::NULL as u64, 0),
        ];
        for (k, &(tag, val)) in dynamic.iter().enumerate() {
            img[0x100 / 8 + 2 * k] = tag;
            img[0x100 / 8 + 2 * k + 1] = val;
        }
        let strtab = b"\0liba.so\0libbb.so\0";
        for (k, chunk) in strtab.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            img[0x200 / 8 + k] = u64::from_le_bytes(w);
        }
        let mut phdrs = [0u8; 112];
        let phdr = |out: &mut [u8], p_type: u32, off: u64, memsz: u64| {
            out[0..4].copy_from_slice(&p_type.to_le_bytes());
            out[4..8].copy_from_slice(&elf::PF_R.to_le_bytes());
            for (at, v) in [
                (8, off),
                (16, off),
                (24, off),
                (32, memsz),
                (40, memsz),
                (48, 8),
            ] {
                out[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        };
        phdr(&mut phdrs[..56], elf::PT_LOAD, 0, 0x400);
        phdr(
            &mut phdrs[56..],
            elf::PT_DYNAMIC,
            0x100,
            16 * dynamic.len() as u64,
        );
        let mut d = Dynamic::UNMAPPED;
        // SAFETY: the one PT_LOAD is `img`, alive and unchanged while `d` is used.
        unsafe { Dynamic::decode_into(&mut d, img.as_ptr() as usize, &phdrs, 0, false) }.unwrap();
        let mut seen = 0;
        needed_names(&d, |n| {
            assert_eq!(
                n,
                [&b"liba.so"[..], b"libbb.so"][seen.min(1)],
                "entry {seen}"
            );
            seen += 1;
        });
        assert_eq!(seen, 2);
    }

    /// The count walk agrees with the classifying walk, both taken under one hold of the list
    /// lock (so no dlopen of another test lands in between).
    #[test]
    fn count_is_the_number_of_objects_the_walk_reports() {
        let (walked, counted) = probe::under_list_lock(|_| {
            let mut n = 0;
            each(LIBS_ALL, |_| {
                n += 1;
                true
            })?;
            Ok((n, count()?))
        })
        .unwrap();
        assert!(
            walked >= 4,
            "this program, the vDSO, libc, the loader: {walked}"
        );
        assert_eq!(counted, walked);
    }

    /// `LOOKUP_MANY_MAX` names are accepted, and the last of them is answered.
    #[test]
    fn a_lookup_of_the_most_names_allowed_answers_them() {
        let mut out = [0usize; LOOKUP_MANY_MAX];
        let last = LOOKUP_MANY_MAX - 1;
        let r = global_lookup_many(
            LOOKUP_MANY_MAX,
            |k| (k == last).then_some(&b"malloc"[..]),
            None,
            &mut out,
        );
        assert_eq!(r, Ok(1 << last));
        assert_eq!(Ok(out[last]), global_lookup(b"malloc", None));
    }

    /// Two fresh anonymous pages, the first read-write and the second read-only, unmapped on
    /// drop.
    struct TwoPages(usize);

    impl TwoPages {
        fn new() -> TwoPages {
            let ps = sys::page_size();
            // SAFETY: a fresh private anonymous mapping, then a change of its own protection.
            unsafe {
                let p = libc::mmap(
                    core::ptr::null_mut(),
                    2 * ps,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                assert_eq!(
                    libc::mprotect((p as usize + ps) as *mut c_void, ps, libc::PROT_READ),
                    0
                );
                TwoPages(p as usize)
            }
        }
    }

    impl Drop for TwoPages {
        fn drop(&mut self) {
            // SAFETY: the mapping made by `new`.
            unsafe { libc::munmap(self.0 as *mut c_void, 2 * sys::page_size()) };
        }
    }

    /// Whether this kernel's release is 6.11 or later (`PROCMAP_QUERY` exists).
    fn kernel_has_procmap_query() -> bool {
        // SAFETY: utsname is plain bytes; all zeros is a valid value.
        let mut u: libc::utsname = unsafe { core::mem::zeroed() };
        // SAFETY: uname fills the struct it is given.
        assert_eq!(unsafe { libc::uname(&mut u) }, 0);
        let mut parts = u.release.split(|&c| c == b'.' as libc::c_char).map(|p| {
            p.iter()
                .take_while(|c| (**c as u8).is_ascii_digit())
                .fold(0u32, |n, &c| n * 10 + (c as u8 - b'0') as u32)
        });
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (6, 11)
    }

    /// Kernels without `PROCMAP_QUERY` answer from `/proc/self/maps`, read through a small
    /// buffer and a line truncated after the permissions: every address of a writable page is
    /// writable, every address of a read-only one is not, and an address no line holds is not
    /// decided.
    #[test]
    fn the_maps_file_fallback_tells_writable_pages_from_read_only_ones() {
        let pages = TwoPages::new();
        let ps = sys::page_size();
        let ask = |addr: usize| maps_writable(&sys::Fd::open(b"/proc/self/maps\0").unwrap(), addr);
        assert_eq!(ask(pages.0), Some(true));
        assert_eq!(ask(pages.0 + ps - 1), Some(true));
        assert_eq!(ask(pages.0 + ps), Some(false));
        assert_eq!(ask(pages.0 + 2 * ps - 1), Some(false));
        // Below vm.mmap_min_addr nothing is ever mapped: the whole file is read, no line holds it.
        assert_eq!(ask(0x10), None);
        // The same answers through the page-protection reader, with its ioctl and without it.
        for ioctl_works in [true, false] {
            let mut prot = Protections {
                maps: None,
                opened: false,
                ioctl_works,
            };
            assert_eq!(prot.writable(pages.0), Some(true), "ioctl {ioctl_works}");
            assert_eq!(
                prot.writable(pages.0 + ps),
                Some(false),
                "ioctl {ioctl_works}"
            );
            // Kernels from 6.11 on answer the ioctl: the file is never parsed there.
            assert_eq!(prot.ioctl_works, ioctl_works && kernel_has_procmap_query());
        }
    }
}
