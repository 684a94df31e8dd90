//! Several names looked up at once answer exactly as one lookup per name does, and as the
//! loader's own `dlsym` does, in both scopes (global and "after this object").

use std::ffi::CString;

use gothook_core::loader;

fn dlsym(handle: *mut libc::c_void, name: &str) -> usize {
    let c = CString::new(name).unwrap();
    unsafe { libc::dlsym(handle, c.as_ptr()) as usize }
}

const NAMES: [&[u8]; 6] = [
    b"malloc",
    b"no_such_symbol_anywhere",
    b"free",
    b"pthread_create",
    b"getppid",
    b"strlen",
];

#[test]
fn many_names_in_one_lookup_match_dlsym_and_one_lookup_per_name() {
    let mut out = [0usize; 6];
    // Name 5 is not wanted: its slot stays as it was.
    out[5] = 7;
    let found = loader::global_lookup_many(5, |k| Some(NAMES[k]), None, &mut out).unwrap();
    assert_eq!(found, 0b11101, "every name but the missing one is found");
    for (k, name) in NAMES.iter().enumerate().take(5) {
        let name = std::str::from_utf8(name).unwrap();
        if found & (1 << k) != 0 {
            assert_eq!(out[k], dlsym(libc::RTLD_DEFAULT, name), "{name}");
            assert_eq!(loader::global_lookup(name.as_bytes(), None), Ok(out[k]));
        } else {
            assert_eq!(out[k], 0, "{name}: nothing written");
        }
    }
    assert_eq!(out[5], 7);

    // Names a caller leaves out (None) are neither searched nor written.
    let mut out = [0usize; 6];
    let found = loader::global_lookup_many(6, |k| (k % 2 == 0).then_some(NAMES[k]), None, &mut out)
        .unwrap();
    assert_eq!(found, 0b10101);
    assert_eq!(out[1] | out[3] | out[5], 0);
}

#[test]
fn many_names_after_this_program_match_rtld_next() {
    let here = many_names_after_this_program_match_rtld_next as *const () as usize;
    let mut out = [0usize; 6];
    let found = loader::global_lookup_many(6, |k| Some(NAMES[k]), Some(here), &mut out).unwrap();
    for (k, name) in NAMES.iter().enumerate() {
        let single = loader::global_lookup(name, Some(here));
        if found & (1 << k) != 0 {
            assert_eq!(single, Ok(out[k]));
            let name = std::str::from_utf8(name).unwrap();
            assert_eq!(out[k], dlsym(libc::RTLD_NEXT, name), "{name}");
        } else {
            assert_eq!(single, Err(gothook_core::Error::NotFound));
        }
    }
    assert_eq!(found & 0b10, 0);
    assert_ne!(found & 1, 0, "malloc is defined after the main program");
}

#[test]
fn too_many_names_or_too_short_an_output_is_invalid_input() {
    let mut out = [0usize; loader::LOOKUP_MANY_MAX + 1];
    assert_eq!(
        loader::global_lookup_many(out.len(), |_| Some(&b"malloc"[..]), None, &mut out),
        Err(gothook_core::Error::Invalid)
    );
    assert_eq!(
        loader::global_lookup_many(3, |_| Some(&b"malloc"[..]), None, &mut out[..2]),
        Err(gothook_core::Error::Invalid)
    );
    assert_eq!(out.iter().sum::<usize>(), 0, "nothing written");
}
