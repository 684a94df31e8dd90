//! What the kernel says about this process's pages: shared by the slot tests.
#![allow(dead_code)] // each test crate uses some of these

use gothook_core::{loader, Dynamic};

/// The word at `addr`, read once.
pub fn read(addr: usize) -> usize {
    // SAFETY: callers pass mapped, aligned words of this binary.
    unsafe { (addr as *const usize).read_volatile() }
}

/// This test binary, decoded (it embeds gothook and is linked with full RELRO), and the first
/// `n` whole pages of its RELRO range, all read-only.
pub fn relro_pages(n: usize) -> (Dynamic, Vec<usize>) {
    // SAFETY: the address is in this binary's code, which stays mapped for the whole test.
    let d = unsafe { loader::decode_containing(relro_pages as *const () as usize) }.unwrap();
    let ps = page_size();
    let first = (d.relro.0 + ps - 1) & !(ps - 1);
    let pages: Vec<usize> = (0..n).map(|i| first + i * ps).collect();
    assert!(
        pages[n - 1] + ps <= d.relro.1 & !(ps - 1),
        "this binary's RELRO spans {n} whole pages: {:x?}",
        d.relro
    );
    for &p in &pages {
        assert!(!writable(p), "{p:#x} starts read-only");
    }
    (d, pages)
}

/// The page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Whether the kernel maps `addr` writable now.
pub fn writable(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let (range, rest) = line.split_once(' ').unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let lo = usize::from_str_radix(lo, 16).unwrap();
        let hi = usize::from_str_radix(hi, 16).unwrap();
        if addr >= lo && addr < hi {
            return rest.as_bytes()[1] == b'w';
        }
    }
    panic!("{addr:#x} is not mapped");
}

/// This process's open descriptors onto a `/proc/<pid>/maps` file: (descriptor, open flags).
pub fn maps_descriptors() -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue; // the directory's own descriptor, closed by now
        };
        let target = target.to_string_lossy().into_owned();
        if !(target.starts_with("/proc/") && target.ends_with("/maps")) {
            continue;
        }
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map_or(0, |f| u32::from_str_radix(f.trim(), 8).unwrap());
        out.push((fd, flags));
    }
    out
}
