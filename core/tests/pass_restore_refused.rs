//! A pass whose page restore the kernel refuses reports it: the install does not answer as if
//! every page got its protection back.

use core::sync::atomic::AtomicUsize;

use gothook_core::hooks::{self, Report};
use gothook_core::Error;

mod pages;
mod seccomp;
use pages::{page_size, writable};

mod this_binary;
use this_binary::{getppid_hook, getppid_slot, including_self, this_binary};

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

#[test]
fn an_install_whose_page_restore_is_refused_reports_protect() {
    let real = unsafe { libc::getppid() };
    let d = this_binary();
    let slot = getppid_slot(&d);
    let page = slot & !(page_size() - 1);
    assert!(!writable(page), "the getppid slot's page starts read-only");
    static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
    let (installed, rep) = std::thread::spawn(|| {
        // A batch can open read-only pages (read and write) but not restore them.
        seccomp::refuse_on_this_thread(
            libc::SYS_mprotect,
            libc::EPERM,
            Some(libc::PROT_READ as u32),
        );
        let hooks = [getppid_hook(fake_getppid, &ORIGINAL)];
        let filter = including_self();
        let mut rep = Report::default();
        // SAFETY: the replacement has getppid's type.
        let r = unsafe { hooks::install(&hooks, &filter, &mut rep) };
        (r, rep)
    })
    .join()
    .unwrap();
    let left_writable = writable(page);
    // Put the page back (this thread may) and take the hook off.
    assert_eq!(
        unsafe { libc::mprotect(page as *mut _, page_size(), libc::PROT_READ) },
        0
    );
    if let Ok(id) = installed {
        let mut un = Report::default();
        let _ = hooks::uninstall(id, &mut un);
    }
    assert!(left_writable, "the refused restore left the page writable");
    assert_eq!(unsafe { libc::getppid() }, real, "hook taken off");
    assert!(
        matches!(installed, Err(Error::Protect)) && rep.libs_failed == 1,
        "the refused restore went unreported: {installed:?} {rep:?}"
    );
}
