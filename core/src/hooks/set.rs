//! Hook sets and filters: which libraries a set applies to and the originals it forwards to.
//! Never allocates; originals are looked up heap-free inside walk callbacks.

use core::ffi::{c_char, c_int, c_void};

use crate::dynamic::Dynamic;
use crate::error::{Error, Result};
use crate::loader::{self, LibInfo, LibKind};

use super::*;

/// One loaded object as `gothook_libs_each` reports it and a filter's `accept` predicate
/// receives it.  Valid only during the callback.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct gothook_lib {
    /// Load bias (`dlpi_addr`).
    pub bias: usize,
    /// Path as the loader recorded it; never NULL ("" for the main program on glibc).
    pub name: *const c_char,
    /// Program headers (`ElfW(Phdr) *`).
    pub phdr: *const c_void,
    /// Number of program headers.
    pub phnum: u16,
    /// `GOTHOOK_KIND_*`.
    pub kind: u8,
    /// `GOTHOOK_READY`, `GOTHOOK_LOADING` or `GOTHOOK_UNKNOWN`.
    pub readiness: u8,
    /// Position in this walk, from 0.
    pub index: u32,
    /// The loader's add counter (compare for change only).
    pub adds: u64,
    /// The loader's remove counter (compare for change only: it underflows on glibc with dlmopen).
    pub subs: u64,
}

impl gothook_lib {
    /// The C record of `l`, borrowing its name and program headers (valid while `l` is).
    pub fn of(l: &LibInfo<'_>) -> gothook_lib {
        gothook_lib {
            bias: l.bias,
            name: l.name_ptr.cast(),
            phdr: l.phdr as *const c_void,
            phnum: l.phnum,
            kind: l.kind as u8,
            readiness: l.readiness as u8,
            index: l.index,
            adds: l.adds,
            subs: l.subs,
        }
    }
}

/// A C library predicate: non-zero keeps the library.  Called only with a record valid for the
/// call and the context registered with it; what the function may assume beyond that is the
/// contract of the (unsafe) install that registered it.
pub type ForeignAcceptFn = extern "C" fn(lib: *const gothook_lib, ctx: *mut c_void) -> c_int;

#[derive(Clone, Copy)]
pub(super) struct Set {
    pub(super) id: SetId,
    pub(super) order: u32,
    pub(super) hooks: [SetHook; MAX_HOOKS],
    pub(super) nhooks: usize,
    pub(super) originals: [usize; MAX_HOOKS],
    pub(super) filter: Filter,
    /// Identical installs share the set: uninstall removes it when the last owner leaves.
    pub(super) owners: u32,
    /// Bit k: hook k is optional and its symbol has no definition (it patches nothing).
    pub(super) skipped: u32,
    /// Bit k: hook k has `HOOK_OPTIONAL` (its flags are kept as bits, not per hook).
    pub(super) optional: u32,
    /// Bit k: hook k has `HOOK_UNDEFINED`.
    pub(super) undefined: u32,
    /// Per hook: the canonical PLT entry of the symbol in a non-PIE main program that takes its
    /// address (0: none).  The loader binds other objects' GLOB_DAT and ABS slots to it for
    /// function-pointer equality, so a slot holding it counts as bound to the original.
    pub(super) canonical: [usize; MAX_HOOKS],
}

/// An unused set, to be filled in place.
pub(super) const EMPTY_SET: Set = Set {
    id: 0,
    order: 0,
    hooks: [EMPTY_HOOK; MAX_HOOKS],
    nhooks: 0,
    originals: [0; MAX_HOOKS],
    filter: Filter {
        flags: 0,
        path_suffix: None,
        contains: 0,
        next_after: 0,
        exclude: 0,
        accept: None,
        accept_foreign: None,
    },
    owners: 0,
    skipped: 0,
    optional: 0,
    undefined: 0,
    canonical: [0; MAX_HOOKS],
};

impl Set {
    /// The hooks that take part in passes (optional hooks without a definition do not).
    pub(super) fn active(&self) -> impl Iterator<Item = (usize, &SetHook)> {
        self.hooks[..self.nhooks]
            .iter()
            .enumerate()
            .filter(move |(k, _)| self.skipped & (1 << k) == 0)
    }

    /// Hook `k`'s `HOOK_*` flags.
    pub(super) fn flags(&self, k: usize) -> u32 {
        let bit = |mask: u32, flag: u32| if mask & (1 << k) != 0 { flag } else { 0 };
        bit(self.optional, HOOK_OPTIONAL) | bit(self.undefined, HOOK_UNDEFINED)
    }
}

/// A hook as a set keeps it: its flags live in the set's bit masks (8 bytes less per hook).
#[derive(Clone, Copy, Debug)]
pub(super) struct SetHook {
    pub(super) symbol: &'static [u8],
    pub(super) replacement: usize,
    pub(super) original: Option<&'static AtomicUsize>,
}

impl SetHook {
    pub(super) fn of(h: &Hook) -> SetHook {
        SetHook {
            symbol: h.symbol,
            replacement: h.replacement,
            original: h.original,
        }
    }
}

pub(super) const EMPTY_HOOK: SetHook = SetHook {
    symbol: b"",
    replacement: 0,
    original: None,
};

pub(super) fn suffix_matches(name: &[u8], suffix: &[u8]) -> bool {
    name.len() >= suffix.len() && &name[name.len() - suffix.len()..] == suffix
}

impl Filter {
    pub(super) fn accepts(&self, lib: &LibInfo<'_>) -> bool {
        match lib.kind {
            LibKind::Vdso | LibKind::Loader => return false,
            LibKind::SelfLib if self.flags & FILTER_INCLUDE_SELF == 0 => return false,
            LibKind::Main if self.flags & FILTER_EXCLUDE_MAIN != 0 => return false,
            _ => {}
        }
        if let Some(s) = self.path_suffix {
            if !suffix_matches(lib.name, s) {
                return false;
            }
        }
        if self.contains != 0 && !lib.contains(self.contains) {
            return false;
        }
        if self.exclude != 0 && lib.contains(self.exclude) {
            return false;
        }
        if let Some((f, a, b)) = self.accept {
            if !f(lib, a, b) {
                return false;
            }
        }
        match self.accept_foreign {
            Some((f, ctx)) => f(&gothook_lib::of(lib), ctx as *mut c_void) != 0,
            None => true,
        }
    }
}

impl State {
    pub(super) fn set_pos(&self, id: SetId) -> Option<usize> {
        self.sets
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id))
    }

    /// Active set positions in install order.
    pub(super) fn ordered(&self) -> ([u8; MAX_SETS], usize) {
        ordered(&self.sets)
    }
}

/// Active positions of `sets` in install order.
/// Positions are bytes (`MAX_SETS` is small): the tables of positions live in the frames of
/// walk callbacks.
pub(super) fn ordered(sets: &[Option<Set>; MAX_SETS]) -> ([u8; MAX_SETS], usize) {
    let mut out = [0u8; MAX_SETS];
    let mut n = 0;
    for (i, s) in sets.iter().enumerate() {
        if s.is_some() {
            out[n] = i as u8;
            n += 1;
        }
    }
    out[..n].sort_unstable_by_key(|&i| sets[i as usize].as_ref().map_or(0, |s| s.order));
    (out, n)
}

/// Looks up the originals of `hooks` for a set with `filter`: the replacement of the latest
/// installed set hooking the same name in a READY library both filters accept (sets stack only
/// where their filters overlap), else the global-scope definition (after `next_after` if set).
/// A slot bound elsewhere than the chosen original is skipped by the binding rule.
/// `out` must be all zero.
#[inline(never)]
pub(super) fn originals(
    sets: &[Option<Set>; MAX_SETS],
    hooks: &[SetHook],
    flags: impl Fn(usize) -> u32,
    filter: &Filter,
    out: &mut [usize],
    rep: &mut Report,
) -> Result<u32> {
    let mut skipped = 0u32;
    // Per hook: install order of the latest set found stacked under it (0: none); that set's
    // replacement goes straight to `out`.
    let below = stacked_below(sets, hooks, filter, out)?;
    // The hooks nothing is stacked under take the global definition: all of them in one
    // lookup (one scope computation, one search walk), written to `out` as found.  Install
    // runs inside a walk (under the list lock): the lookup nests no walk to take it again.
    let next = filter.next_after;
    let found = loader::global_lookup_many_in_walk(
        hooks.len(),
        |k| (below & (1 << k) == 0).then_some(hooks[k].symbol),
        (next != 0).then_some(next),
        out,
    )?;
    for (k, o) in out.iter_mut().take(hooks.len()).enumerate() {
        if below & (1 << k) != 0 || found & (1 << k) != 0 {
            // Stacked (written above) or found (written by the lookup).
        } else if flags(k) & HOOK_UNDEFINED != 0 {
            rep.hooks_missing |= 1 << k;
            *o = 0;
        } else if flags(k) & HOOK_OPTIONAL != 0 {
            skipped |= 1 << k;
            rep.hooks_missing |= 1 << k;
            if rep.missing_hook == 0 {
                rep.missing_hook = k as u32 + 1;
            }
            *o = 0;
        } else {
            rep.missing_hook = k as u32 + 1;
            return Err(Error::NotFound);
        }
    }
    Ok(skipped)
}

/// The first part of [`originals`]: for each hook, the replacement of the latest installed set
/// (in install order) that hooks the same name in a READY library both filters accept, written
/// to `out`.  Returns the mask of the hooks so stacked.  Not inlined: its walk is never on the
/// stack with the lookup that follows.
#[inline(never)]
fn stacked_below(
    sets: &[Option<Set>; MAX_SETS],
    hooks: &[SetHook],
    filter: &Filter,
    out: &mut [usize],
) -> Result<u32> {
    let (order, n) = ordered(sets);
    // Per hook: install order of the latest set found stacked under it (0: none).
    let mut below = [0u32; MAX_HOOKS];
    loader::each(0, |lib| {
        if !filter.accepts(lib) {
            return true;
        }
        for s in order[..n].iter().filter_map(|&p| sets[p as usize].as_ref()) {
            if !s.filter.accepts(lib) {
                continue;
            }
            for ((h, b), o) in hooks.iter().zip(below.iter_mut()).zip(out.iter_mut()) {
                if let Some((_, x)) = s.active().find(|(_, x)| x.symbol == h.symbol) {
                    if s.order > *b {
                        (*b, *o) = (s.order, x.replacement);
                    }
                }
            }
        }
        true
    })?;
    Ok(below
        .iter()
        .take(hooks.len())
        .enumerate()
        .fold(0, |m, (k, &b)| if b != 0 { m | 1 << k } else { m }))
}

/// Finds the canonical PLT entries the main program gives `hooks` (see `Set::canonical`): an
/// undefined symbol with a non-zero value in a position-dependent executable.
/// The main program is decoded into `image` (unmapped again before its callback returns).
#[inline(never)]
pub(super) fn canonical_entries(
    hooks: &[SetHook],
    image: &mut Dynamic,
    out: &mut [usize],
) -> Result<()> {
    loader::each(0, |lib| {
        if lib.kind != LibKind::Main {
            return true;
        }
        if lib.decode_into(image).is_ok() {
            let d = &*image;
            for (h, o) in hooks.iter().zip(out.iter_mut()) {
                let _ = d.find_named(h.symbol, false, |s| {
                    if !s.is_defined() && s.value != 0 && s.binding() != crate::elf::STB_LOCAL {
                        *o = d.bias.wrapping_add(s.value as usize);
                        return false;
                    }
                    true
                });
            }
        }
        image.unmap();
        false
    })
}

/// Whether set `s` is the set of the `count` hooks `hook` supplies with filter `f`.
pub(super) fn same_set(
    s: &Set,
    count: usize,
    hook: &dyn Fn(usize) -> Result<Hook>,
    f: &Filter,
) -> bool {
    s.nhooks == count
        && s.hooks[..s.nhooks].iter().enumerate().all(|(k, a)| {
            hook(k).is_ok_and(|b| {
                a.symbol == b.symbol
                    && a.replacement == b.replacement
                    && a.original.map(core::ptr::from_ref) == b.original.map(core::ptr::from_ref)
                    && s.flags(k) == b.flags
            })
        })
        && s.filter.flags == f.flags
        && s.filter.path_suffix == f.path_suffix
        && s.filter.contains == f.contains
        && s.filter.next_after == f.next_after
        && s.filter.exclude == f.exclude
        && s.filter.accept.map(|(g, a, b)| (g as usize, a, b))
            == f.accept.map(|(g, a, b)| (g as usize, a, b))
        && s.filter.accept_foreign.map(|(g, c)| (g as usize, c))
            == f.accept_foreign.map(|(g, c)| (g as usize, c))
}

#[cfg(test)]
#[allow(unsafe_code)] // the C predicate reads the record it is passed
mod tests {
    use super::*;
    use crate::loader::Readiness;

    /// A library listed at `mem` (its one segment) under `name`, of `kind`.
    fn lib_over<'a>(
        mem: &'a [AtomicUsize],
        segs: &'a mut crate::mem::Segments,
        name: &'a core::ffi::CStr,
        kind: LibKind,
    ) -> LibInfo<'a> {
        let base = mem.as_ptr() as usize;
        segs.push(base, core::mem::size_of_val(mem), crate::elf::PF_R)
            .unwrap();
        LibInfo {
            bias: base,
            name: name.to_bytes(),
            name_ptr: name.as_ptr().cast(),
            phdr: base + 8,
            phnum: 5,
            kind,
            readiness: Readiness::Loading,
            adds: 11,
            subs: 3,
            index: 7,
            segs,
        }
    }

    fn by_args(lib: &LibInfo<'_>, a: usize, b: usize) -> bool {
        lib.index as usize == a && b == 1
    }

    /// Accepts when the record it gets describes the library the test expects (through `ctx`).
    extern "C" fn foreign_checks(lib: *const gothook_lib, ctx: *mut c_void) -> c_int {
        // SAFETY: the filter passes a record valid for the call, and the tests pass a
        // `gothook_lib` as the context.
        let (l, want) = unsafe { (&*lib, &*(ctx as *const gothook_lib)) };
        let same = l.bias == want.bias
            && l.name == want.name
            && l.phdr == want.phdr
            && l.phnum == want.phnum
            && l.kind == want.kind
            && l.readiness == want.readiness
            && l.index == want.index
            && l.adds == want.adds
            && l.subs == want.subs;
        c_int::from(same)
    }

    #[test]
    fn a_filter_takes_a_library_only_when_every_one_of_its_conditions_holds() {
        let mem: [AtomicUsize; 4] = Default::default();
        let mut segs = crate::mem::Segments::default();
        let lib = lib_over(&mem, &mut segs, c"/opt/x/libfake.so", LibKind::Other);
        let inside = lib.bias + 8;
        let outside = lib.bias + 64;
        let any = Filter::default();
        assert!(any.accepts(&lib));
        let with = |f: Filter| f.accepts(&lib);
        assert!(with(Filter {
            path_suffix: Some(b"/libfake.so"),
            ..any
        }));
        assert!(with(Filter {
            path_suffix: Some(b"/opt/x/libfake.so"),
            ..any
        }));
        assert!(!with(Filter {
            path_suffix: Some(b"libfakes.so"),
            ..any
        }));
        assert!(!with(Filter {
            path_suffix: Some(b"/usr/opt/x/libfake.so"),
            ..any
        }));
        assert!(with(Filter {
            contains: inside,
            ..any
        }));
        assert!(!with(Filter {
            contains: outside,
            ..any
        }));
        assert!(!with(Filter {
            exclude: inside,
            ..any
        }));
        assert!(with(Filter {
            exclude: outside,
            ..any
        }));
        assert!(with(Filter {
            accept: Some((by_args, 7, 1)),
            ..any
        }));
        assert!(!with(Filter {
            accept: Some((by_args, 7, 0)),
            ..any
        }));
        assert!(!with(Filter {
            accept: Some((by_args, 6, 1)),
            ..any
        }));
        let want = gothook_lib {
            bias: lib.bias,
            name: lib.name_ptr.cast(),
            phdr: lib.phdr as *const c_void,
            phnum: 5,
            kind: LibKind::Other as u8,
            readiness: Readiness::Loading as u8,
            index: 7,
            adds: 11,
            subs: 3,
        };
        let foreign = |w: &gothook_lib| Filter {
            accept_foreign: Some((foreign_checks, w as *const gothook_lib as usize)),
            ..any
        };
        assert!(
            with(foreign(&want)),
            "the C predicate sees the library's record"
        );
        assert!(!with(foreign(&gothook_lib { index: 8, ..want })));
        // Every condition must hold, whatever the others say.
        let all = Filter {
            path_suffix: Some(b"libfake.so"),
            contains: inside,
            exclude: outside,
            accept: Some((by_args, 7, 1)),
            accept_foreign: Some((foreign_checks, &want as *const gothook_lib as usize)),
            ..any
        };
        assert!(with(all));
        assert!(!with(Filter {
            path_suffix: Some(b"libother.so"),
            ..all
        }));
        assert!(!with(Filter {
            contains: outside,
            ..all
        }));
        assert!(!with(Filter {
            exclude: inside,
            ..all
        }));
        assert!(!with(Filter {
            accept: Some((by_args, 7, 0)),
            ..all
        }));
        let other = gothook_lib { adds: 12, ..want };
        assert!(!with(Filter {
            accept_foreign: Some((foreign_checks, &other as *const gothook_lib as usize)),
            ..all
        }));
    }

    #[test]
    fn a_filter_never_takes_the_vdso_or_the_loader_and_takes_itself_and_the_program_by_its_flags() {
        let mem: [AtomicUsize; 4] = Default::default();
        let any = Filter::default();
        let both = Filter {
            flags: FILTER_INCLUDE_SELF,
            ..any
        };
        let no_main = Filter {
            flags: FILTER_EXCLUDE_MAIN,
            ..any
        };
        let all = Filter {
            flags: FILTER_INCLUDE_SELF | FILTER_EXCLUDE_MAIN,
            ..any
        };
        for (kind, want) in [
            (LibKind::Vdso, [false, false, false, false]),
            (LibKind::Loader, [false, false, false, false]),
            (LibKind::SelfLib, [false, true, false, true]),
            (LibKind::Main, [true, true, false, false]),
            (LibKind::Other, [true, true, true, true]),
        ] {
            let mut segs = crate::mem::Segments::default();
            let lib = lib_over(&mem, &mut segs, c"", kind);
            let got = [any, both, no_main, all].map(|f| f.accepts(&lib));
            assert_eq!(got, want, "{kind:?}");
        }
    }

    #[test]
    fn a_name_ends_with_a_suffix_only_when_its_last_bytes_are_the_suffix() {
        assert!(suffix_matches(b"/lib/libc.so.6", b"libc.so.6"));
        assert!(suffix_matches(b"libc.so.6", b"libc.so.6"));
        assert!(suffix_matches(b"libc.so.6", b""));
        assert!(
            !suffix_matches(b"libc.so.6", b"/libc.so.6"),
            "longer than the name"
        );
        assert!(!suffix_matches(b"/lib/libc.so.6", b"libc.so"));
    }

    fn hook(symbol: &'static [u8], replacement: usize, flags: u32) -> Hook {
        Hook {
            symbol,
            replacement,
            original: None,
            flags,
        }
    }

    /// A set of `hooks` with `filter`, as install fills it.
    fn set_of(hooks: &[Hook], filter: Filter) -> Set {
        let mut s = EMPTY_SET;
        for (k, h) in hooks.iter().enumerate() {
            s.hooks[k] = SetHook::of(h);
            s.optional |= u32::from(h.flags & HOOK_OPTIONAL != 0) << k;
            s.undefined |= u32::from(h.flags & HOOK_UNDEFINED != 0) << k;
        }
        s.nhooks = hooks.len();
        s.filter = filter;
        s
    }

    static CELL_A: AtomicUsize = AtomicUsize::new(0);
    static CELL_B: AtomicUsize = AtomicUsize::new(0);

    fn never(_: &LibInfo<'_>, _: usize, _: usize) -> bool {
        false
    }

    extern "C" fn never_foreign(_: *const gothook_lib, _: *mut c_void) -> c_int {
        0
    }

    #[test]
    fn an_install_is_the_same_set_only_when_every_hook_and_every_filter_field_match() {
        let hooks = [
            Hook {
                original: Some(&CELL_A),
                ..hook(b"malloc", 0x1000, HOOK_OPTIONAL)
            },
            hook(b"free", 0x2000, HOOK_UNDEFINED),
        ];
        let filter = Filter {
            flags: FILTER_INCLUDE_SELF,
            path_suffix: Some(b"libx.so"),
            contains: 0x10,
            next_after: 0x20,
            exclude: 0x30,
            accept: Some((by_args, 1, 2)),
            accept_foreign: Some((foreign_checks, 0x40)),
        };
        let s = set_of(&hooks, filter);
        let same = |hs: &[Hook], f: &Filter| same_set(&s, hs.len(), &|k| Ok(hs[k]), f);
        assert!(same(&hooks, &filter));
        assert!(!same(&hooks[..1], &filter), "fewer hooks");
        assert!(!same_set(&s, 2, &|_| Err(Error::Invalid), &filter));
        let changed_hooks = [
            [hook(b"calloc", 0x1000, HOOK_OPTIONAL), hooks[1]],
            [
                Hook {
                    replacement: 0x3000,
                    ..hooks[0]
                },
                hooks[1],
            ],
            [
                Hook {
                    original: Some(&CELL_B),
                    ..hooks[0]
                },
                hooks[1],
            ],
            [
                Hook {
                    original: None,
                    ..hooks[0]
                },
                hooks[1],
            ],
            [
                Hook {
                    flags: 0,
                    ..hooks[0]
                },
                hooks[1],
            ],
            [
                hooks[0],
                Hook {
                    flags: HOOK_OPTIONAL,
                    ..hooks[1]
                },
            ],
            [hooks[0], hook(b"free", 0x2001, HOOK_UNDEFINED)],
        ];
        for (n, hs) in changed_hooks.iter().enumerate() {
            assert!(!same(hs, &filter), "hooks change {n}");
        }
        let changed_filters = [
            Filter { flags: 0, ..filter },
            Filter {
                path_suffix: Some(b"liby.so"),
                ..filter
            },
            Filter {
                path_suffix: None,
                ..filter
            },
            Filter {
                contains: 0x11,
                ..filter
            },
            Filter {
                next_after: 0x21,
                ..filter
            },
            Filter {
                exclude: 0x31,
                ..filter
            },
            Filter {
                accept: Some((never, 1, 2)),
                ..filter
            },
            Filter {
                accept: Some((by_args, 1, 3)),
                ..filter
            },
            Filter {
                accept: None,
                ..filter
            },
            Filter {
                accept_foreign: Some((never_foreign, 0x40)),
                ..filter
            },
            Filter {
                accept_foreign: Some((foreign_checks, 0x41)),
                ..filter
            },
            Filter {
                accept_foreign: None,
                ..filter
            },
        ];
        for (n, f) in changed_filters.iter().enumerate() {
            assert!(!same(&hooks, f), "filter change {n}");
        }
    }

    #[test]
    fn a_set_passes_over_its_skipped_hooks_and_reports_each_hooks_own_flags() {
        let hooks = [
            hook(b"a", 1, 0),
            hook(b"b", 2, HOOK_OPTIONAL),
            hook(b"c", 3, HOOK_UNDEFINED),
            hook(b"d", 4, HOOK_OPTIONAL | HOOK_UNDEFINED),
        ];
        let mut s = set_of(&hooks, Filter::default());
        let flags: [u32; 4] = core::array::from_fn(|k| s.flags(k));
        assert_eq!(flags, [0, HOOK_OPTIONAL, HOOK_UNDEFINED, HOOK_FLAGS]);
        s.skipped = 0b0010;
        let mut active = [0usize; 4];
        let mut n = 0;
        for (k, h) in s.active() {
            assert_eq!(h.replacement, k + 1);
            active[n] = k;
            n += 1;
        }
        assert_eq!(&active[..n], &[0, 2, 3]);
    }

    #[test]
    fn sets_are_ordered_by_install_whatever_their_positions() {
        let mut sets = [None; MAX_SETS];
        for (pos, order) in [(5, 2), (1, 9), (6, 1), (3, 4)] {
            sets[pos] = Some(Set { order, ..EMPTY_SET });
        }
        let (out, n) = ordered(&sets);
        assert_eq!(&out[..n], &[6, 5, 3, 1]);
        assert_eq!(ordered(&[None; MAX_SETS]).1, 0);
    }

    /// The originals [`originals`] finds for `hooks` under `filter` with `sets` installed, as
    /// install looks them up (inside a walk): (result, originals, report).
    fn look_up(
        sets: &[Option<Set>; MAX_SETS],
        hooks: &[Hook],
        filter: &Filter,
    ) -> (Result<u32>, [usize; 4], Report) {
        let staged = set_of(hooks, *filter);
        let mut out = [0usize; 4];
        let mut rep = Report::default();
        let r = crate::probe::under_list_lock(|_| {
            originals(
                sets,
                &staged.hooks[..hooks.len()],
                |k| staged.flags(k),
                filter,
                &mut out[..hooks.len()],
                &mut rep,
            )
        });
        (r, out, rep)
    }

    #[test]
    fn an_original_is_the_latest_set_below_in_a_library_both_filters_take_else_the_definition() {
        let libc = Filter {
            path_suffix: Some(b"/libc.so.6"),
            ..Filter::default()
        };
        let nowhere = Filter {
            path_suffix: Some(b"/libnowhere.so"),
            ..Filter::default()
        };
        let mut sets = [None; MAX_SETS];
        let put = |sets: &mut [Option<Set>; MAX_SETS], pos: usize, order, f, repl| {
            let mut s = set_of(&[hook(b"calloc", repl, 0), hook(b"free", repl + 1, 0)], f);
            s.order = order;
            sets[pos] = Some(s);
        };
        put(&mut sets, 2, 1, libc, 0xa10);
        put(&mut sets, 0, 3, nowhere, 0xc30); // latest, but takes no library
        let hooks = [
            hook(b"malloc", 0x2, 0),
            hook(b"calloc", 0x1, 0),
            hook(b"gothook_no_such_symbol_1", 0x3, HOOK_OPTIONAL),
            hook(b"gothook_no_such_symbol_2", 0x4, HOOK_UNDEFINED),
        ];
        let (r, out, rep) = look_up(&sets, &hooks, &Filter::default());
        assert_eq!(
            r,
            Ok(0b0100),
            "the optional hook without a definition is skipped"
        );
        assert_eq!(out[1], 0xa10, "stacked on the set below it in libc");
        assert!(
            out[0] != 0 && out[0] != 0x2,
            "malloc's definition: {:#x}",
            out[0]
        );
        assert_eq!(&out[2..], &[0, 0]);
        assert_eq!((rep.missing_hook, rep.hooks_missing), (3, 0b1100));
        // A later set in libc is the one below.
        put(&mut sets, 5, 2, libc, 0xb20);
        assert_eq!(look_up(&sets, &hooks, &Filter::default()).1[1], 0xb20);
        // Its hook skipped (no definition when it was installed): not stacked on.
        sets[5].as_mut().unwrap().skipped = 0b01;
        assert_eq!(look_up(&sets, &hooks, &Filter::default()).1[1], 0xa10);
        // A set whose filter shares no library with theirs takes the definition.
        let (r, mine, _) = look_up(&sets, &hooks, &nowhere);
        assert_eq!(r, Ok(0b0100));
        let (_, plain, _) = look_up(&[None; MAX_SETS], &hooks, &Filter::default());
        assert!(plain[1] != 0 && plain[1] != 0xa10 && plain[0] == out[0]);
        assert_eq!(
            mine[..2],
            plain[..2],
            "the definitions: {mine:x?} {plain:x?}"
        );
        // A hook with neither flag and no definition fails the lookup, naming it.
        let missing = [hooks[1], hook(b"gothook_no_such_symbol_3", 0x5, 0)];
        let (r, _, rep) = look_up(&sets, &missing, &Filter::default());
        assert_eq!((r, rep.missing_hook), (Err(Error::NotFound), 2));
    }
}
