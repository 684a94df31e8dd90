//! Breakdown of gothook's per-library install cost on one generated library (diagnostics for
//! the results note): symbol pass, relocation pass, and the mprotect pairs of 12 slot swaps.
use std::ffi::CString;
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).expect("LIBDIR");
    let p = CString::new(format!("{dir}/libbl0000.so")).unwrap();
    let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW) };
    assert!(!h.is_null());
    let n = 200;
    let _ = gothook_core::loader::each(0, |lib| {
        if !lib.name.ends_with(b"libbl0000.so") {
            return true;
        }
        let d = lib.decode().unwrap();
        let t = Instant::now();
        let mut hits = 0;
        for _ in 0..n {
            for i in 1..d.nsyms {
                if let Ok(s) = d.symbol(i) {
                    hits += (s.name == b"malloc") as u32;
                }
            }
        }
        let sym = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        let mut m = 0;
        for _ in 0..n {
            let _ = d.for_each_reloc(|r| {
                m += (r.sym == 5) as u32;
                true
            });
        }
        let rel = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            let _ = lib.decode();
        }
        let dec = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        // 12 slot swaps = 24 mprotect calls on a RELRO page of this library.
        let page = d.relro.0 & !4095;
        let t = Instant::now();
        for _ in 0..n {
            for _ in 0..12 {
                unsafe {
                    libc::mprotect(page as *mut _, 4096, libc::PROT_READ | libc::PROT_WRITE);
                    libc::mprotect(page as *mut _, 4096, libc::PROT_READ);
                }
            }
        }
        let mp = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("one library: {} symbols, decode {dec:.1} us, symbol pass {sym:.1} us ({:.1} ns/symbol), for_each_reloc {rel:.1} us ({:.1} ns/reloc), 24 mprotect {mp:.1} us [{hits} {m}]",
                 d.nsyms, sym * 1000.0 / d.nsyms as f64, rel * 1000.0 / 2018.0);
        false
    });
}
