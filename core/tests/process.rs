//! The Rust API on this very process: the walk, the decoder against the loader's own answers
//! (`dlsym`), and a hook set round trip on a libc import of this test binary.

use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use gothook_core::hooks::{self, Filter, Hook, Report};
use gothook_core::loader::{self, LibKind, Readiness, Rule};

/// Hook sets are process-wide: tests that install them take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn dlsym(name: &str) -> usize {
    let c = CString::new(name).unwrap();
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) as usize }
}

#[test]
fn walk_reports_main_vdso_and_libc_ready_with_find_object_rule() {
    assert_eq!(
        loader::rule(),
        Rule::FindObject,
        "glibc 2.36 here has _dl_find_object"
    );
    let (mut main, mut vdso, mut libc_seen, mut total) = (0, 0, 0, 0);
    loader::each(loader::LIBS_ALL, |lib| {
        total += 1;
        assert_eq!(
            lib.readiness,
            Readiness::Ready,
            "{:?} is loaded and relocated",
            lib.name
        );
        match lib.kind {
            // This test binary embeds gothook: the main program is gothook's own object.
            LibKind::SelfLib => main += 1,
            LibKind::Vdso => vdso += 1,
            _ => {}
        }
        if lib.name.ends_with(b"/libc.so.6") {
            libc_seen += 1;
        }
        true
    })
    .unwrap();
    assert_eq!((main, vdso, libc_seen), (1, 1, 1), "out of {total} objects");
}

#[test]
fn lookups_agree_with_dlsym_for_every_defined_libc_symbol() {
    let mut checked = 0;
    loader::each(0, |lib| {
        if !lib.name.ends_with(b"/libc.so.6") {
            return true;
        }
        let d = lib.decode().unwrap();
        d.for_each_symbol(|s| {
            if s.is_default_definition() && s.kind() != gothook_core::elf::STT_GNU_IFUNC {
                let name = std::str::from_utf8(s.name).unwrap();
                let ours = d.lookup(s.name).unwrap().map(|f| d.bias + f.value as usize);
                let theirs = dlsym(name);
                // dlsym may bind a name to an earlier object (interposition); compare where libc wins.
                if theirs != 0 && lib.contains(theirs) {
                    assert_eq!(ours, Some(theirs), "{name}");
                    checked += 1;
                }
            }
            true
        })
        .unwrap();
        false
    })
    .unwrap();
    assert!(checked > 1000, "only {checked} libc symbols compared");
    assert_eq!(
        loader::global_lookup(b"malloc", None).unwrap(),
        dlsym("malloc")
    );
    assert_eq!(
        loader::global_lookup(b"no_such_symbol_anywhere", None),
        Err(gothook_core::Error::NotFound)
    );
}

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

#[test]
fn hook_set_redirects_this_binarys_getppid_and_uninstall_restores_it() {
    let _g = SERIAL.lock().unwrap();
    let real = unsafe { libc::getppid() };
    static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
    let hooks = [Hook {
        symbol: b"getppid",
        replacement: fake_getppid as *const () as usize,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    // This binary embeds gothook, so the default filter excludes it: include it explicitly.
    let filter = Filter {
        flags: hooks::FILTER_INCLUDE_SELF,
        ..Filter::default()
    };
    let mut rep = Report::default();
    // SAFETY: fake_getppid has getppid's type and is static code.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    assert!(rep.slots_patched >= 1, "{rep:?}");
    assert_eq!(
        ORIGINAL.load(Ordering::Acquire),
        dlsym("getppid"),
        "the original is the real function"
    );
    assert_eq!(
        unsafe { libc::getppid() },
        -42,
        "calls from this binary reach the hook"
    );
    let mut again = Report::default();
    assert_eq!(
        // SAFETY: as above.
        unsafe { hooks::install(&hooks, &filter, &mut again) },
        Ok(id),
        "same set, same handle, one more owner"
    );
    assert_eq!(again.slots_patched, 0);
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(un.slots_restored, 0, "the second owner still holds the set");
    assert_eq!(unsafe { libc::getppid() }, -42);
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        un.slots_restored,
        rep.slots_patched + rep.slots_already,
        "{un:?}"
    );
    assert_eq!(unsafe { libc::getppid() }, real);
    assert_eq!(
        hooks::uninstall(id, &mut un),
        Err(gothook_core::Error::NotFound),
        "stale handle"
    );
}

#[cfg(target_env = "gnu")]
#[test]
fn forcing_the_listed_rule_on_glibc_is_refused_and_keeps_the_rule() {
    let _g = SERIAL.lock().unwrap();
    let before = loader::rule();
    assert_ne!(
        before,
        Rule::Listed,
        "glibc lists libraries before relocating them"
    );
    assert_eq!(
        loader::force_rule(Rule::Listed),
        Err(gothook_core::Error::Unsupported)
    );
    assert_eq!(loader::rule(), before);
}
