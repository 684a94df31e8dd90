//! Lookup scopes rebuilt from public data: which objects `dlsym(RTLD_DEFAULT)` and
//! `dlsym(RTLD_NEXT)` search, and in which order.  Never allocates: the object table is a
//! fixed-size value the caller places (the lookup keeps one in static memory), the search
//! orders are small tables on the stack.
//!
//! glibc (2.36, `elf/dl-sym.c`, `elf/dl-object.c`, `elf/dl-lookup.c`) answers `RTLD_NEXT` from
//! a caller by following the caller's `l_loader` chain to its root and searching that root's
//! local scope (`l_searchlist`: the root, then its DT_NEEDED closure breadth first), skipping
//! every object up to and including the caller.  `l_loader` is private, so it is derived here
//! from what every loader publishes (the `dl_iterate_phdr` list order and each object's
//! DT_NEEDED and DT_SONAME):
//! - The global scope is the main program, then the LD_PRELOAD objects (listed right after the
//!   main program and the vDSO, before anything the main program needs), then the DT_NEEDED
//!   closure of those, breadth first: the main program's `l_searchlist`.  Objects dlopen'ed
//!   with RTLD_GLOBAL are appended to it by glibc but are not visible here: they are not
//!   searched.
//! - An object outside the global scope was mapped by a dlopen.  Its root is the latest object
//!   listed at or before it that is outside the global scope, that no earlier-listed object
//!   needs (a dlopen maps its argument first, then its new dependencies), and whose closure
//!   contains it.  Its scope is that root's breadth-first DT_NEEDED closure, which includes
//!   already loaded objects such as libc.
//!
//! Names match by DT_SONAME, by the listed path's file name and by the whole path, compared as
//! 32-bit FNV-1a hashes (a collision between two loaded names can misorder a scope).

/// Most objects a scope computation tracks; a process with more answers `Full`.
pub const OBJ_MAX: usize = 256;
/// Most DT_NEEDED entries over all tracked objects.
pub const NEEDED_MAX: usize = 1024;
/// No object: the value of an empty `u16` slot.
pub const NONE: u16 = u16::MAX;

/// FNV-1a over `s`; never 0 (0 means "no name").
pub fn name_hash(s: &[u8]) -> u32 {
    let h = s.iter().fold(0x811c_9dc5u32, |h, &c| {
        (h ^ c as u32).wrapping_mul(0x0100_0193)
    });
    h.max(1)
}

/// The file-name part of a path.
pub fn base_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The listed objects as the scopes need them: names and dependency names, in list order.
pub struct Objects {
    /// Number of objects recorded.
    pub n: usize,
    /// Load bias of each object (to recognise it again in a later walk).
    pub bias: [usize; OBJ_MAX],
    /// Hashes of DT_SONAME, the path's file name and the whole path (0: none).
    pub names: [[u32; 3]; OBJ_MAX],
    /// Whether the object is the main program / the vDSO.
    pub main: u16,
    /// Index of the vDSO, or `NONE`.
    pub vdso: u16,
    /// End (exclusive) of each object's entries in `needed`.
    pub needed_end: [u16; OBJ_MAX],
    /// Hashes of DT_NEEDED names, object after object, in DT_NEEDED order.
    pub needed: [u32; NEEDED_MAX],
    /// Entries used in `needed`.
    pub n_needed: usize,
    /// More objects or DT_NEEDED entries were listed than fit.
    pub overflow: bool,
}

impl Objects {
    /// An empty table.
    pub const fn new() -> Self {
        Objects {
            n: 0,
            bias: [0; OBJ_MAX],
            names: [[0; 3]; OBJ_MAX],
            main: NONE,
            vdso: NONE,
            needed_end: [0; OBJ_MAX],
            needed: [0; NEEDED_MAX],
            n_needed: 0,
            overflow: false,
        }
    }

    /// Empties the table for a new walk (the arrays are overwritten as objects are pushed).
    pub fn clear(&mut self) {
        self.n = 0;
        self.n_needed = 0;
        self.main = NONE;
        self.vdso = NONE;
        self.overflow = false;
    }

    /// Appends an object; `needed` is then filled by `push_needed`.  Returns its index.
    pub fn push(&mut self, bias: usize, soname: Option<&[u8]>, path: &[u8]) -> Option<usize> {
        if self.n == OBJ_MAX {
            self.overflow = true;
            return None;
        }
        let i = self.n;
        self.bias[i] = bias;
        let base = base_name(path);
        self.names[i] = [
            soname.map_or(0, name_hash),
            if base.is_empty() { 0 } else { name_hash(base) },
            if path.is_empty() { 0 } else { name_hash(path) },
        ];
        self.needed_end[i] = self.n_needed as u16;
        self.n += 1;
        Some(i)
    }

    /// Adds one DT_NEEDED name to the object pushed last.
    pub fn push_needed(&mut self, name: &[u8]) {
        if self.n == 0 || self.n_needed == NEEDED_MAX {
            self.overflow = true;
            return;
        }
        self.needed[self.n_needed] = name_hash(name);
        self.n_needed += 1;
        self.needed_end[self.n - 1] = self.n_needed as u16;
    }

    fn needed_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 {
            0
        } else {
            self.needed_end[i - 1] as usize
        };
        &self.needed[start..self.needed_end[i] as usize]
    }

    /// The first listed object a DT_NEEDED name refers to (the loader reuses a loaded object
    /// whose name matches).
    fn resolve(&self, h: u32) -> Option<usize> {
        (0..self.n).find(|&i| i != self.vdso as usize && self.names[i].contains(&h))
    }

    /// Whether any of `from`'s DT_NEEDED entries names object `i`.
    fn needs(&self, from: usize, i: usize) -> bool {
        self.needed_of(from)
            .iter()
            .any(|&h| self.resolve(h) == Some(i))
    }

    /// Breadth-first closure over DT_NEEDED from `roots`, in the loader's search order.
    /// Returns the number of entries written to `order`.
    pub fn closure(&self, roots: &[u16], order: &mut [u16; OBJ_MAX]) -> usize {
        let mut seen = [false; OBJ_MAX];
        let mut len = 0;
        for &r in roots {
            if (r as usize) < self.n && !seen[r as usize] {
                seen[r as usize] = true;
                order[len] = r;
                len += 1;
            }
        }
        let mut next = 0;
        while next < len {
            let cur = order[next] as usize;
            next += 1;
            for &h in self.needed_of(cur) {
                if let Some(j) = self.resolve(h) {
                    if !seen[j] {
                        seen[j] = true;
                        order[len] = j as u16;
                        len += 1;
                    }
                }
            }
        }
        len
    }

    /// The global scope: the main program, the LD_PRELOAD objects and their DT_NEEDED
    /// closure, in search order.  Empty when no main program was listed.
    pub fn global(&self, order: &mut [u16; OBJ_MAX]) -> usize {
        let main = self.main as usize;
        if main >= self.n {
            return 0;
        }
        let mut roots = [NONE; OBJ_MAX];
        roots[0] = main as u16;
        let mut nroots = 1;
        // LD_PRELOAD objects are mapped right after the main program (and the vDSO), before
        // the first object the main program or an earlier preload needs.
        for i in main + 1..self.n {
            if i == self.vdso as usize {
                continue;
            }
            if roots[..nroots].iter().any(|&r| self.needs(r as usize, i)) {
                break;
            }
            roots[nroots] = i as u16;
            nroots += 1;
        }
        self.closure(&roots[..nroots], order)
    }

    /// The scope `dlsym(RTLD_NEXT)` searches for a caller in object `host`: the local scope of
    /// its root loader object (see the module comment).  Returns the length written to `order`.
    #[inline(never)]
    pub fn next_scope(&self, host: usize, order: &mut [u16; OBJ_MAX]) -> usize {
        let len = self.global(order);
        if order[..len].contains(&(host as u16)) {
            return len;
        }
        let mut in_global = [false; OBJ_MAX];
        for &g in &order[..len] {
            in_global[g as usize] = true;
        }
        for root in (0..=host).rev() {
            if in_global[root] || root == self.vdso as usize {
                continue;
            }
            if (0..root).any(|j| self.needs(j, root)) {
                continue;
            }
            let len = self.closure(&[root as u16], order);
            if order[..len].contains(&(host as u16)) {
                return len;
            }
        }
        self.closure(&[host as u16], order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a table from (path, soname, needed) rows; row 0 is the main program.
    fn table(rows: &[Row], vdso: Option<usize>) -> Objects {
        let mut o = Objects::new();
        for (i, (path, soname, needed)) in rows.iter().enumerate() {
            let so = (!soname.is_empty()).then_some(soname.as_bytes());
            o.push(0x1000 * (i + 1), so, path.as_bytes()).unwrap();
            for n in needed.iter() {
                o.push_needed(n.as_bytes());
            }
        }
        o.main = 0;
        o.vdso = vdso.map_or(NONE, |v| v as u16);
        o
    }

    type Row = (&'static str, &'static str, &'static [&'static str]);

    fn names(o: &[Row], order: &[u16]) -> [&'static str; 16] {
        let mut out = [""; 16];
        for (k, &i) in order.iter().enumerate() {
            out[k] = o[i as usize].0;
        }
        out
    }

    const PROCESS: &[Row] = &[
        ("", "", &["libhost.so", "libc.so.6"]),
        ("linux-vdso.so.1", "linux-vdso.so.1", &[]),
        ("/p/libpre.so", "libpre.so", &["libm.so.6"]),
        ("/l/libhost.so", "libhost.so", &["libc.so.6"]),
        ("/l/libc.so.6", "libc.so.6", &["ld-linux.so.2"]),
        ("/l/ld-linux.so.2", "ld-linux.so.2", &[]),
        ("/l/libm.so.6", "libm.so.6", &["libc.so.6"]),
        // dlopen("libplug.so"), which needs libdep.so (new) and libc (loaded).
        ("/x/libplug.so", "libplug.so", &["libdep.so", "libc.so.6"]),
        ("/x/libdep.so", "libdep.so", &["libc.so.6"]),
        // dlopen("libother.so"), which needs the already loaded libdep.so.
        ("/x/libother.so", "libother.so", &["libdep.so"]),
    ];

    #[test]
    fn global_scope_is_main_then_preloads_then_their_needed_breadth_first() {
        let o = table(PROCESS, Some(1));
        let mut order = [NONE; OBJ_MAX];
        let len = o.global(&mut order);
        assert_eq!(
            names(PROCESS, &order[..len])[..len],
            [
                "",
                "/p/libpre.so",
                "/l/libhost.so",
                "/l/libc.so.6",
                "/l/libm.so.6",
                "/l/ld-linux.so.2"
            ]
        );
    }

    #[test]
    fn next_scope_of_a_linked_or_preloaded_object_is_the_global_scope() {
        let o = table(PROCESS, Some(1));
        let mut order = [NONE; OBJ_MAX];
        for host in [0, 2, 3, 4] {
            let len = o.next_scope(host, &mut order);
            assert_eq!(len, 6, "host {host}");
            assert_eq!(order[0], 0);
        }
    }

    #[test]
    fn next_scope_of_a_dlopened_object_and_its_new_dependency_is_the_dlopened_root() {
        let o = table(PROCESS, Some(1));
        let mut order = [NONE; OBJ_MAX];
        for host in [7, 8] {
            let len = o.next_scope(host, &mut order);
            assert_eq!(
                names(PROCESS, &order[..len])[..len],
                [
                    "/x/libplug.so",
                    "/x/libdep.so",
                    "/l/libc.so.6",
                    "/l/ld-linux.so.2"
                ],
                "host {host}"
            );
        }
        // libother.so is a root of its own; its closure reaches libdep.so and libc.
        let len = o.next_scope(9, &mut order);
        assert_eq!(
            names(PROCESS, &order[..len])[..len],
            [
                "/x/libother.so",
                "/x/libdep.so",
                "/l/libc.so.6",
                "/l/ld-linux.so.2"
            ]
        );
    }

    #[test]
    fn names_hash_by_fnv_1a() {
        // The published FNV-1a values (offset basis 0x811c9dc5, prime 0x01000193).
        assert_eq!(name_hash(b""), 0x811c_9dc5);
        assert_eq!(name_hash(b"a"), 0xe40c_292c);
        assert_eq!(name_hash(b"foobar"), 0xbf9c_f968);
        assert_ne!(name_hash(b"libc.so.6"), name_hash(b"libm.so.6"));
    }

    #[test]
    fn the_base_name_is_what_follows_the_last_slash() {
        assert_eq!(base_name(b"/usr/lib/libz.so.1"), b"libz.so.1");
        assert_eq!(base_name(b"libz.so.1"), b"libz.so.1");
        assert_eq!(base_name(b"/lib/"), b"");
        assert_eq!(base_name(b""), b"");
    }

    /// An object without DT_SONAME is found by its file name or its whole path, as the loader
    /// matches a DT_NEEDED entry against the loaded objects.
    #[test]
    fn a_needed_name_matches_a_listed_file_name_or_path_without_a_soname() {
        const ROWS: &[Row] = &[
            ("", "", &["libc.so.6"]),
            ("/l/libc.so.6", "libc.so.6", &[]),
            // dlopen("/x/libplug.so"): needs a library without DT_SONAME by file name and
            // another by its path.
            ("/x/libplug.so", "", &["libbare.so", "/y/libpath.so"]),
            ("/x/libbare.so", "", &[]),
            ("/y/libpath.so", "", &[]),
        ];
        let o = table(ROWS, None);
        let mut order = [NONE; OBJ_MAX];
        let len = o.next_scope(4, &mut order);
        assert_eq!(
            names(ROWS, &order[..len])[..len],
            ["/x/libplug.so", "/x/libbare.so", "/y/libpath.so"]
        );
    }

    #[test]
    fn a_cleared_table_starts_again_from_its_first_entry() {
        let mut o = table(PROCESS, Some(1));
        o.clear();
        assert_eq!((o.n, o.n_needed, o.main, o.vdso), (0, 0, NONE, NONE));
        assert_eq!(o.push(0x1000, None, b"/a/liba.so"), Some(0));
        o.push_needed(b"libb.so");
        assert!(!o.overflow);
        assert_eq!(o.needed_of(0), [name_hash(b"libb.so")]);
    }

    #[test]
    fn a_needed_name_before_any_object_is_an_overflow_not_a_write() {
        let mut o = Objects::new();
        o.push_needed(b"libc.so.6");
        assert!(o.overflow);
        assert_eq!(o.n_needed, 0);
    }

    #[test]
    fn a_closure_lists_each_root_once_and_ignores_unknown_ones() {
        let o = table(PROCESS, Some(1));
        let mut order = [NONE; OBJ_MAX];
        let len = o.closure(&[8, NONE, 8, 5], &mut order);
        assert_eq!(
            names(PROCESS, &order[..len])[..len],
            ["/x/libdep.so", "/l/ld-linux.so.2", "/l/libc.so.6"]
        );
        assert_eq!(o.closure(&[NONE, 10], &mut order), 0);
    }

    #[test]
    fn tables_that_overflow_say_so() {
        let mut o = Objects::new();
        for i in 0..OBJ_MAX {
            assert!(o.push(i, None, b"/a").is_some());
        }
        assert!(o.push(0, None, b"/a").is_none());
        assert!(o.overflow);
        let mut o = Objects::new();
        o.push(0, None, b"/a");
        for _ in 0..NEEDED_MAX {
            o.push_needed(b"x");
        }
        assert!(!o.overflow);
        o.push_needed(b"x");
        assert!(o.overflow);
    }
}
