//! A pass whose page restore the kernel refuses reports it: the install does not answer as if
//! every page got its protection back.

use core::sync::atomic::AtomicUsize;

use gothook_core::hooks::{self, Filter, Hook, Report, FILTER_INCLUDE_SELF};
use gothook_core::Error;

mod pages;
use pages::{page_size, writable};

mod this_binary;
use this_binary::{getppid_slot, this_binary};

extern "C" fn fake_getppid() -> libc::pid_t {
    -42
}

/// Makes every later `mprotect(.., .., PROT_READ)` of the calling thread fail with EPERM: a
/// batch can open read-only pages (read and write) but not restore them.
fn refuse_restores_on_this_thread() {
    const LD_W_ABS: u16 = 0x20;
    const JEQ: u16 = 0x15;
    const RET: u16 = 0x06;
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let filter = [
        ins(LD_W_ABS, 0, 0, 0),
        ins(JEQ, 0, 3, libc::SYS_mprotect as u32),
        ins(LD_W_ABS, 0, 0, 32), // args[2], low half: the protection
        ins(JEQ, 0, 1, libc::PROT_READ as u32),
        ins(RET, 0, 0, RET_ERRNO | libc::EPERM as u32),
        ins(RET, 0, 0, RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog),
            0
        );
    }
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
        refuse_restores_on_this_thread();
        let hooks = [Hook {
            symbol: b"getppid",
            replacement: fake_getppid as *const () as usize,
            original: Some(&ORIGINAL),
            flags: 0,
        }];
        let filter = Filter {
            flags: FILTER_INCLUDE_SELF,
            ..Filter::default()
        };
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
