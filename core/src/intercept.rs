//! Optional dlopen/dlclose interception: a ready-made hook set whose replacements call the real
//! functions and then refresh every installed set.  Keeps the real caller's RUNPATH/`$ORIGIN`
//! lookups working on glibc, which resolves a bare name against the *calling* object's search
//! path (the caller would otherwise be gothook's replacement).  Never allocates.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::hooks::{self, Filter, Hook, Report, SetId};
use crate::loader::{self, Rule};
use crate::sys;

static REAL_DLOPEN: AtomicUsize = AtomicUsize::new(0);
static REAL_DLCLOSE: AtomicUsize = AtomicUsize::new(0);
/// The handle of the interception set (0: not installed).
pub static SET: AtomicU32 = AtomicU32::new(0);

/// Longest path built while resolving a bare name against the caller's search path.
const PATH_MAX: usize = 4096;

/// Entry of the dlopen replacement: passes the caller's return address on as a third argument,
/// so the caller's RUNPATH can be honoured.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn dlopen_entry(_file: *const c_char, _flags: c_int) -> *mut c_void {
    // At entry [rsp] holds the return address into the caller.
    core::arch::naked_asm!("mov rdx, [rsp]", "jmp {target}", target = sym dlopen_with_caller)
}

#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
unsafe extern "C" fn dlopen_entry(_file: *const c_char, _flags: c_int) -> *mut c_void {
    // At entry x30 (lr) holds the return address into the caller.
    core::arch::naked_asm!("mov x2, x30", "b {target}", target = sym dlopen_with_caller)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe extern "C" fn dlopen_entry(file: *const c_char, flags: c_int) -> *mut c_void {
    // No portable way to read the caller here: bare names resolve as the loader does for us.
    unsafe { dlopen_with_caller(file, flags, 0) }
}

unsafe extern "C" fn dlopen_with_caller(
    file: *const c_char,
    flags: c_int,
    caller: usize,
) -> *mut c_void {
    let real = REAL_DLOPEN.load(Ordering::Acquire);
    let mut path = [0u8; PATH_MAX];
    // SAFETY: `file` is dlopen's argument: NULL or a C string.
    let name = if file.is_null() {
        None
    } else {
        Some(unsafe { core::ffi::CStr::from_ptr(file) }.to_bytes())
    };
    let resolved = match name {
        Some(n) if caller != 0 && !n.contains(&b'/') && loader::rule() != Rule::Listed => {
            resolve_with_caller(n, caller, &mut path)
        }
        _ => None,
    };
    let arg = if resolved.is_some() {
        path.as_ptr() as *const c_char
    } else {
        file
    };
    // SAFETY: `real` is the original dlopen published when the set was installed.
    let handle = unsafe {
        let f: unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void =
            core::mem::transmute(real);
        f(arg, flags)
    };
    after_loader_change();
    handle
}

unsafe extern "C" fn dlclose_hook(handle: *mut c_void) -> c_int {
    let real = REAL_DLCLOSE.load(Ordering::Acquire);
    // SAFETY: `real` is the original dlclose published when the set was installed.
    let rc = unsafe {
        let f: unsafe extern "C" fn(*mut c_void) -> c_int = core::mem::transmute(real);
        f(handle)
    };
    after_loader_change();
    rc
}

fn after_loader_change() {
    hooks::GENERATION.fetch_add(1, Ordering::AcqRel);
    let mut rep = Report::default();
    // Busy means this thread is already inside gothook (a dlopen from a filter callback):
    // the generation bump makes the next refresh catch up.
    let _ = hooks::refresh(0, &mut rep);
}

/// Finds `name` in the search path (DT_RUNPATH, else DT_RPATH) of the object containing
/// `caller`, expanding `$ORIGIN`; writes the NUL-terminated path of the first existing file.
fn resolve_with_caller<'p>(
    name: &[u8],
    caller: usize,
    out: &'p mut [u8; PATH_MAX],
) -> Option<&'p [u8]> {
    let mut found = false;
    let _ = loader::each(0, |lib| {
        if !lib.contains(caller) {
            return true;
        }
        if let Ok(d) = lib.decode() {
            if let Some(search) = d.search_path() {
                let origin = origin_of(lib.name);
                for dir in search.split(|&c| c == b':').filter(|d| !d.is_empty()) {
                    if build_path(dir, origin, name, out).is_some() && sys::file_exists(&out[..]) {
                        found = true;
                        break;
                    }
                }
            }
        }
        false
    });
    found.then(|| &out[..])
}

/// The directory of a loaded object's path ("" for the main program: resolved by the caller).
fn origin_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b"",
    }
}

/// Writes `dir` (with `$ORIGIN`/`${ORIGIN}` expanded) + "/" + `name` + NUL into `out`.
fn build_path(dir: &[u8], origin: &[u8], name: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut push = |bytes: &[u8], n: &mut usize| -> Option<()> {
        let end = n.checked_add(bytes.len())?;
        out.get_mut(*n..end)?.copy_from_slice(bytes);
        *n = end;
        Some(())
    };
    let mut rest = dir;
    while !rest.is_empty() {
        if let Some(r) = rest
            .strip_prefix(b"${ORIGIN}")
            .or_else(|| rest.strip_prefix(b"$ORIGIN"))
        {
            if origin.is_empty() {
                return None; // the main program's directory is not known without allocation here
            }
            push(origin, &mut n)?;
            rest = r;
        } else {
            push(&rest[..1], &mut n)?;
            rest = &rest[1..];
        }
    }
    push(b"/", &mut n)?;
    push(name, &mut n)?;
    push(b"\0", &mut n)?;
    Some(n)
}

/// Installs the dlopen/dlclose interception set (idempotent).  After it, a library loaded
/// through `dlopen` anywhere in the process (but gothook's own object) is hooked by every
/// installed set before `dlopen` returns, and refresh's change probe becomes lock-free.
///
/// Context: malloc-safe.
pub fn install(rep: &mut Report) -> Result<SetId> {
    let hooks = [
        Hook {
            symbol: b"dlopen",
            replacement: dlopen_entry as *const () as usize,
            original: REAL_DLOPEN.as_ptr(),
            flags: 0,
        },
        Hook {
            symbol: b"dlclose",
            replacement: dlclose_hook as *const () as usize,
            original: REAL_DLCLOSE.as_ptr(),
            flags: 0,
        },
    ];
    let id = hooks::install(&hooks, &Filter::default(), rep)?;
    if REAL_DLOPEN.load(Ordering::Acquire) == 0 || REAL_DLCLOSE.load(Ordering::Acquire) == 0 {
        return Err(Error::NotFound);
    }
    SET.store(id, Ordering::Release);
    hooks::DLOPEN_HOOKED.store(1, Ordering::Release);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_expands_in_search_path_entries() {
        let mut out = [0u8; PATH_MAX];
        let n = build_path(b"$ORIGIN/sub", b"/opt/app/lib", b"libx.so", &mut out).unwrap();
        assert_eq!(&out[..n], b"/opt/app/lib/sub/libx.so\0");
        let n = build_path(b"${ORIGIN}/../l", b"/a", b"y.so", &mut out).unwrap();
        assert_eq!(&out[..n], b"/a/../l/y.so\0");
        assert_eq!(build_path(b"$ORIGIN", b"", b"y.so", &mut out), None);
        assert_eq!(origin_of(b"/usr/lib/libc.so.6"), b"/usr/lib");
        assert_eq!(origin_of(b"/libz.so"), b"/");
    }
}
