//! What the kernel says about this process's pages: shared by the slot tests.

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
