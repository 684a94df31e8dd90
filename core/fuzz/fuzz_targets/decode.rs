//! Fuzz target: the dynamic-section decoder over an image held in the input itself, read
//! through the byte-slice reader (no process memory involved).  The input format and the
//! checks are in `../harness.rs`, shared with the bounded mutation test of `core/tests`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = harness::run(data);
    if std::env::var_os("GOTHOOK_FUZZ_DEBUG").is_some() {
        eprintln!("{out:?}");
    }
});
