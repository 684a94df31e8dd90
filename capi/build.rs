//! Generates include/gothook.h from this crate with cbindgen.
//! The checked-in header is only rewritten when GOTHOOK_UPDATE_HEADER=1; GOTHOOK_HEADER_OUT names
//! a file to write the freshly generated header to (the header-freshness test compares the two).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=GOTHOOK_UPDATE_HEADER");
    println!("cargo:rerun-if-env-changed=GOTHOOK_HEADER_OUT");
    // 0.x releases are compatible only within a minor version, so the SONAME carries both.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("version");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgothook.so.{major}.{minor}");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate gothook.h");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("gothook.h");
    bindings.write_to_file(&out);
    if let Ok(path) = env::var("GOTHOOK_HEADER_OUT") {
        bindings.write_to_file(path);
    }
    if env::var("GOTHOOK_UPDATE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(crate_dir.join("../include/gothook.h"));
    }
}
