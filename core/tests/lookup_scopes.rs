//! The scopes the lookup rebuilds from the loader's list and each object's DT_NEEDED entries:
//! a library dlopen'ed RTLD_LOCAL stays out of the default scope and is the root of its own
//! "after" scope, which includes the dependencies its dlopen mapped; a lookup after libc
//! searches only what the global scope lists after libc.  Every test sees the same objects:
//! libz, then libstdc++ with its new dependency libm, dlopen'ed RTLD_LOCAL once for all.

use std::ffi::CString;
use std::sync::OnceLock;

use gothook_core::{loader, Error};

/// The handles of libz (which needs libc only) and libstdc++ (which needs libm, which nothing
/// else in this process loads: listed last).  Never closed.
fn locals() -> (usize, usize) {
    static HANDLES: OnceLock<(usize, usize)> = OnceLock::new();
    *HANDLES.get_or_init(|| {
        let open = |name: &str| {
            let c = CString::new(name).unwrap();
            // SAFETY: dlopen of a system library; never closed.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            assert!(!h.is_null(), "dlopen {name}");
            h as usize
        };
        (open("libz.so.1"), open("libstdc++.so.6"))
    })
}

fn dlsym(handle: *mut libc::c_void, name: &str) -> usize {
    let c = CString::new(name).unwrap();
    // SAFETY: a plain symbol lookup; nothing is called through the result.
    unsafe { libc::dlsym(handle, c.as_ptr()) as usize }
}

#[test]
fn a_locally_dlopened_library_is_searched_only_by_lookups_after_itself() {
    let h = locals().0 as *mut libc::c_void;
    let version = dlsym(h, "zlibVersion");
    assert_ne!(version, 0);
    assert_eq!(dlsym(libc::RTLD_DEFAULT, "zlibVersion"), 0, "RTLD_LOCAL");

    // Not in the global scope, whether looked up alone or with other names.
    assert_eq!(
        loader::global_lookup(b"zlibVersion", None),
        Err(Error::NotFound)
    );
    let names: [&[u8]; 2] = [b"malloc", b"zlibVersion"];
    let mut out = [0usize; 2];
    let found = loader::global_lookup_many(2, |k| Some(names[k]), None, &mut out).unwrap();
    assert_eq!(found, 0b01);
    assert_eq!(out, [dlsym(libc::RTLD_DEFAULT, "malloc"), 0]);

    // After libz: its own scope (libz, then libc and the dynamic loader), past libz itself.
    // libc's malloc is there; libz's own symbol is not, nor is libgcc_s, which only this
    // program needs.
    assert_ne!(
        dlsym(libc::RTLD_DEFAULT, "_Unwind_Resume"),
        0,
        "libgcc_s is loaded"
    );
    assert_eq!(
        loader::global_lookup(b"malloc", Some(version)),
        Ok(dlsym(libc::RTLD_DEFAULT, "malloc"))
    );
    assert_eq!(
        loader::global_lookup(b"__tls_get_addr", Some(version)),
        Ok(dlsym(libc::RTLD_DEFAULT, "__tls_get_addr"))
    );
    for name in [&b"zlibVersion"[..], b"_Unwind_Resume"] {
        assert_eq!(
            loader::global_lookup(name, Some(version)),
            Err(Error::NotFound),
            "{}",
            String::from_utf8_lossy(name)
        );
    }
}

#[test]
fn a_lookup_after_libc_finds_the_dynamic_loader_but_nothing_of_libc_or_before_it() {
    locals();
    let getppid = dlsym(libc::RTLD_DEFAULT, "getppid");
    assert_ne!(getppid, 0);
    // The global scope is this program, its DT_NEEDED objects (libc, the dynamic loader and
    // libgcc_s), then theirs: the dynamic loader comes after libc.
    assert_eq!(
        loader::global_lookup(b"__tls_get_addr", Some(getppid)),
        Ok(dlsym(libc::RTLD_DEFAULT, "__tls_get_addr"))
    );
    for name in [&b"getppid"[..], b"malloc"] {
        assert_eq!(
            loader::global_lookup(name, Some(getppid)),
            Err(Error::NotFound),
            "{}",
            String::from_utf8_lossy(name)
        );
    }
    // `_dl_catch_error` is defined by libc and by the dynamic loader: after libc, the loader's.
    let catch = loader::global_lookup(b"_dl_catch_error", Some(getppid)).unwrap();
    assert_ne!(catch, dlsym(libc::RTLD_DEFAULT, "_dl_catch_error"));
    assert!(
        // SAFETY: the dynamic loader is never unloaded.
        unsafe { loader::decode_containing(catch) }
            .is_ok_and(|d| d.contains(dlsym(libc::RTLD_DEFAULT, "__tls_get_addr"))),
        "in the dynamic loader"
    );
}

#[test]
fn a_lookup_after_an_address_no_object_maps_finds_nothing() {
    locals();
    let heap = Box::new(0u64);
    let addr = &*heap as *const u64 as usize;
    assert_eq!(
        loader::global_lookup(b"malloc", Some(addr)),
        Err(Error::NotFound)
    );
    let mut out = [0usize; 1];
    assert_eq!(
        loader::global_lookup_many(1, |_| Some(&b"malloc"[..]), Some(addr), &mut out),
        Ok(0)
    );
    assert_eq!(out[0], 0);
}

#[test]
fn a_lookup_after_a_locally_dlopened_library_searches_the_dependency_its_dlopen_mapped() {
    let h = locals().1 as *mut libc::c_void;
    // dlsym on the handle searches libstdc++'s own scope: libm's cos.
    let cos = dlsym(h, "cos");
    assert_ne!(cos, 0);
    assert_eq!(dlsym(libc::RTLD_DEFAULT, "cos"), 0, "libm is not global");
    let after = dlsym(h, "__cxa_begin_catch");
    assert_ne!(after, 0);
    assert_eq!(loader::global_lookup(b"cos", Some(after)), Ok(cos));
    assert_eq!(loader::global_lookup(b"cos", None), Err(Error::NotFound));
    // After libm itself, which libstdc++'s dlopen mapped: the rest of that scope.
    assert_eq!(
        loader::global_lookup(b"cos", Some(cos)),
        Err(Error::NotFound)
    );
    assert_eq!(
        loader::global_lookup(b"malloc", Some(cos)),
        Ok(dlsym(libc::RTLD_DEFAULT, "malloc"))
    );
}
