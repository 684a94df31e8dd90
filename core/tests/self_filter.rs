//! The default filter never patches the object that contains gothook (here: this test binary),
//! whose own imports a hook would re-enter.

use core::sync::atomic::AtomicUsize;

use gothook_core::hooks::{self, Filter, Hook, Report};

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

#[test]
fn default_filter_leaves_the_object_containing_gothook_alone() {
    let real = unsafe { libc::getppid() };
    static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
    let hooks = [Hook {
        symbol: b"getppid",
        replacement: fake_getppid as *const () as usize,
        original: Some(&ORIGINAL),
        flags: 0,
    }];
    let mut rep = Report::default();
    // The replacement has getppid's type.
    let id = unsafe { hooks::install(&hooks, &Filter::default(), &mut rep) }.unwrap();
    let during = unsafe { libc::getppid() };
    let mut un = Report::default();
    hooks::uninstall(id, &mut un).unwrap();
    assert_eq!(
        during, real,
        "this binary's getppid slot was not patched: {rep:?}"
    );
    assert_eq!(unsafe { libc::getppid() }, real);
}
