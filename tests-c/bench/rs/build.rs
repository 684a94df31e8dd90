// Compiles the C helpers and links the benchmark against libgothook.so from GOTHOOK_LIB_DIR.
fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/naive.c");
    println!("cargo:rerun-if-env-changed=GOTHOOK_LIB_DIR");
    cc::Build::new().file("src/shim.c").file("src/naive.c").opt_level(2).compile("benchshim");
    let dir = std::env::var("GOTHOOK_LIB_DIR").expect("set GOTHOOK_LIB_DIR to the directory holding libgothook.so");
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=dylib=gothook");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    // Export the malloc interposer so every library's allocator imports bind to it.
    println!("cargo:rustc-link-arg=-rdynamic");
}
