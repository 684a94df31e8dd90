//! How often a swap batch asks the kernel about page permissions: one `PROCMAP_QUERY` per
//! mapping, however many runs of pages it opens in it.  The questions are counted by a
//! seccomp user-notification listener: a filter on the batch's thread hands each
//! `ioctl(PROCMAP_QUERY)` to a listener thread, which counts it and lets it through unchanged.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gothook_core::loader;
use gothook_core::slot::{Batch, PageQuery};

mod pages;
mod seccomp;
use pages::{page_size, relro_pages, writable};

/// Swaps change this binary's RELRO pages: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// `_IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: u64 = (3 << 30) | (104 << 16) | ((b'f' as u64) << 8) | 17;

/// `struct seccomp_notif` (80 bytes) and `struct seccomp_notif_resp` (24 bytes).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const fn iowr(nr: u64, size: usize) -> u64 {
    (3 << 30) | ((size as u64) << 16) | ((b'!' as u64) << 8) | nr
}
const NOTIF_RECV: u64 = iowr(0, std::mem::size_of::<Notif>());
const NOTIF_SEND: u64 = iowr(1, std::mem::size_of::<NotifResp>());
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;
const FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// Installs, on the calling thread only, a filter that hands every `ioctl(.., PROCMAP_QUERY,
/// ..)` to a listener; returns the listener's descriptor, or `None` where user notifications
/// are not available (then nothing is installed).
fn notify_page_queries() -> Option<i32> {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const RET_USER_NOTIF: u32 = 0x7fc0_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let filter = [
        ins(LD_W_ABS, 0, 0, 0),                 // nr
        ins(JEQ, 0, 3, libc::SYS_ioctl as u32), // ioctl?
        ins(LD_W_ABS, 0, 0, 24),                // args[1], low half
        ins(JEQ, 0, 1, PROCMAP_QUERY as u32),   // PROCMAP_QUERY?
        ins(RET, 0, 0, RET_USER_NOTIF),
        ins(RET, 0, 0, RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let fd = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        );
        (fd >= 0).then_some(fd as i32)
    }
}

/// Counts the notifications on `fd` and lets each call through, until `stop` is set.
fn listen(fd: i32, count: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Acquire) {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        if unsafe { libc::poll(&mut p, 1, 20) } <= 0 {
            continue;
        }
        let mut n = Notif::default();
        if unsafe { libc::ioctl(fd, NOTIF_RECV as _, &mut n) } != 0 {
            continue; // the caller gave up (a signal) or went away
        }
        count.fetch_add(1, Ordering::AcqRel);
        let mut r = NotifResp {
            id: n.id,
            flags: USER_NOTIF_FLAG_CONTINUE,
            ..NotifResp::default()
        };
        unsafe { libc::ioctl(fd, NOTIF_SEND as _, &mut r) };
    }
}

/// Runs `f` on a thread whose `PROCMAP_QUERY` ioctls are counted; `None` where they cannot be
/// counted (no user notifications here).
fn count_page_queries<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<(R, usize)> {
    let (fd_tx, fd_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let fd = notify_page_queries();
        fd_tx.send(fd).unwrap();
        fd?;
        go_rx.recv().unwrap();
        Some(f())
    });
    let fd = fd_rx.recv().unwrap()?;
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let listener = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || listen(fd, count, stop))
    };
    go_tx.send(()).unwrap();
    let r = worker.join().unwrap();
    stop.store(true, Ordering::Release);
    listener.join().unwrap();
    unsafe { libc::close(fd) };
    r.map(|r| (r, count.load(Ordering::Acquire)))
}

/// Whether this kernel answers `PROCMAP_QUERY` (Linux >= 6.11).
fn supports_procmap_query() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 11)
}

#[test]
fn runs_far_apart_in_one_read_only_mapping_take_one_page_query() {
    let _g = SERIAL.lock().unwrap();
    if !supports_procmap_query() {
        return;
    }
    // Two pages with nine between (more than a run bridges): two runs, one mapping.
    let (d, all) = relro_pages(11);
    let far = [all[0], all[10]];
    let Some((opened, queries)) = count_page_queries(move || {
        let mut query = PageQuery::new();
        let mut batch = Batch::begin_with(&mut query).unwrap();
        unsafe { batch.open_ready(&d, &far) };
        let opened: Vec<bool> = all.iter().map(|&p| writable(p)).collect();
        batch.finish().unwrap();
        assert!(all.iter().all(|&p| !writable(p)), "every page restored");
        opened
    }) else {
        eprintln!("seccomp user notifications unavailable: nothing counted");
        return;
    };
    let mut want = [false; 11];
    (want[0], want[10]) = (true, true);
    assert_eq!(opened, want, "the two pages open, those between not");
    assert_eq!(queries, 1, "one question about the one mapping");
}

#[test]
fn without_the_mapping_query_a_page_someone_made_writable_stays_writable() {
    let _g = SERIAL.lock().unwrap();
    let (d, pages) = relro_pages(3);
    let ps = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    assert_eq!(unsafe { libc::mprotect(pages[1] as *mut _, ps, rw) }, 0);
    // A pass's page query on a kernel that refuses the ioctl: every answer comes page by page.
    let opened = std::thread::spawn({
        let pages = pages.clone();
        move || {
            seccomp::refuse_on_this_thread(libc::SYS_ioctl, libc::ENOTTY, None);
            let mut query = PageQuery::new();
            let mut batch = Batch::begin_with(&mut query).unwrap();
            unsafe { batch.open_ready(&d, &pages) };
            let opened: Vec<bool> = pages.iter().map(|&p| writable(p)).collect();
            batch.finish().unwrap();
            opened
        }
    })
    .join()
    .unwrap();
    let after: Vec<bool> = pages.iter().map(|&p| writable(p)).collect();
    assert_eq!(
        unsafe { libc::mprotect(pages[1] as *mut _, ps, libc::PROT_READ) },
        0
    );
    assert_eq!(
        opened,
        [true, true, true],
        "all three writable during the batch"
    );
    assert_eq!(
        after,
        [false, true, false],
        "its neighbours restored, the page found writable left writable"
    );
}

/// What a scripted listener answers to a `PROCMAP_QUERY` about a page: the mapping it writes
/// into the caller's `struct procmap_query` (start, end, writable), and the error it returns
/// instead of running the call (0: success).
type Script = fn(page: usize, ps: usize) -> ((usize, usize, bool), i32);

/// Answers every notification on `fd` with `script` instead of the kernel, until `stop`.
fn answer(fd: i32, script: Script, count: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let ps = page_size();
    while !stop.load(Ordering::Acquire) {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        if unsafe { libc::poll(&mut p, 1, 20) } <= 0 {
            continue;
        }
        let mut n = Notif::default();
        if unsafe { libc::ioctl(fd, NOTIF_RECV as _, &mut n) } != 0 {
            continue;
        }
        count.fetch_add(1, Ordering::AcqRel);
        // The caller is blocked in the call; its buffer is in this process.
        let q = n.args[2] as *mut u64;
        let page = unsafe { q.add(2).read() } as usize;
        let ((start, end, w), error) = script(page, ps);
        unsafe {
            q.add(3).write(start as u64);
            q.add(4).write(end as u64);
            q.add(5).write(if w { 2 } else { 0 } | 1);
        }
        let mut r = NotifResp {
            id: n.id,
            error: -error,
            ..NotifResp::default()
        };
        unsafe { libc::ioctl(fd, NOTIF_SEND as _, &mut r) };
    }
}

/// Runs `f` on a thread whose `PROCMAP_QUERY` ioctls `script` answers; `None` where
/// user notifications are not available.
fn with_scripted_kernel<R: Send + 'static>(
    script: Script,
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<(R, usize)> {
    let (fd_tx, fd_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let fd = notify_page_queries();
        fd_tx.send(fd).unwrap();
        fd?;
        go_rx.recv().unwrap();
        Some(f())
    });
    let fd = fd_rx.recv().unwrap()?;
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let listener = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || answer(fd, script, count, stop))
    };
    go_tx.send(()).unwrap();
    let r = worker.join().unwrap();
    stop.store(true, Ordering::Release);
    listener.join().unwrap();
    unsafe { libc::close(fd) };
    r.map(|r| (r, count.load(Ordering::Acquire)))
}

#[test]
fn a_mapping_answer_that_does_not_hold_the_page_is_not_trusted() {
    let _g = SERIAL.lock().unwrap();
    let (_, all) = relro_pages(3);
    let this = || unsafe { loader::decode_containing(relro_pages as *const () as usize) }.unwrap();
    // Answers no kernel gives: a writable mapping just after the page asked about; one that
    // ends where the page starts; a writable mapping holding the page, with an error.
    let after: Script = |page, ps| ((page + ps, page + 2 * ps, true), 0);
    let before: Script = |page, ps| ((page - ps, page, false), 0);
    let failed: Script = |page, ps| ((page, page + ps, true), libc::EINVAL);
    for (what, script) in [("after", after), ("failed", failed)] {
        let page = all[0];
        let d = this();
        let Some((opened, _)) = with_scripted_kernel(script, move || {
            let mut query = PageQuery::new();
            let mut batch = Batch::begin_with(&mut query).unwrap();
            unsafe { batch.open_ready(&d, &[page]) };
            let opened = writable(page);
            batch.finish().unwrap();
            opened
        }) else {
            eprintln!("seccomp user notifications unavailable: nothing scripted");
            return;
        };
        assert!(opened, "answer {what}: the page was not opened");
        assert!(!writable(page), "answer {what}: the page was not restored");
    }
    // After an answer it cannot use, the query asks page by page (no more ioctls).
    let (p, q) = (all[0], all[2]);
    let d = this();
    let (_, asked) = with_scripted_kernel(before, move || {
        let mut query = PageQuery::new();
        let mut batch = Batch::begin_with(&mut query).unwrap();
        for page in [p, q] {
            let v = unsafe { (page as *const usize).read_volatile() };
            unsafe { batch.swap_ready(&d, page, v, v) }.unwrap();
        }
        batch.finish().unwrap();
    })
    .unwrap();
    assert_eq!(
        asked, 1,
        "asked the mapping query again after an answer it could not use"
    );
    assert!(!writable(p) && !writable(q), "both pages restored");
}

#[test]
fn swaps_on_pages_the_batch_opened_ask_the_kernel_nothing_more() {
    let _g = SERIAL.lock().unwrap();
    if !supports_procmap_query() {
        return;
    }
    let (d, pages) = relro_pages(2);
    let Some((_, queries)) = count_page_queries(move || {
        let mut query = PageQuery::new();
        let mut batch = Batch::begin_with(&mut query).unwrap();
        unsafe { batch.open_ready(&d, &pages) };
        for &p in &pages {
            let v = unsafe { (p as *const usize).read_volatile() };
            unsafe { batch.swap_ready(&d, p, v, v) }.unwrap();
        }
        batch.finish().unwrap();
        assert!(pages.iter().all(|&p| !writable(p)), "both pages restored");
    }) else {
        eprintln!("seccomp user notifications unavailable: nothing counted");
        return;
    };
    assert_eq!(
        queries, 1,
        "one question opens the run; the swaps find it open"
    );
}

#[test]
fn a_run_whose_opening_fails_half_way_is_put_back_whole() {
    use std::os::fd::AsRawFd;
    let _g = SERIAL.lock().unwrap();
    // Three whole pages of this binary's read-only data (not RELRO: the other tests here want
    // its mapping whole, and this test splits the mapping of the pages it uses for good).
    static RODATA: [u8; 3 * 65536] = [7; 3 * 65536];
    let d = unsafe { loader::decode_containing(relro_pages as *const () as usize) }.unwrap();
    let ps = page_size();
    let p0 = (RODATA.as_ptr() as usize + ps - 1) & !(ps - 1);
    let (p1, p2) = (p0 + ps, p0 + 2 * ps);
    assert!(
        !writable(p0) && !writable(p1) && !writable(p2),
        "read-only data"
    );
    // Page 2 becomes a shared mapping of a file opened read-only, with the same bytes: the
    // kernel refuses to make it writable (EACCES), after it changed pages 0 and 1 of the same
    // call.
    let path = std::env::temp_dir().join(format!("gothook-slot-half-{}", std::process::id()));
    let bytes = unsafe { std::slice::from_raw_parts(p2 as *const u8, ps) }.to_vec();
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let shared = libc::MAP_SHARED | libc::MAP_FIXED;
    let m = unsafe {
        libc::mmap(
            p2 as *mut _,
            ps,
            libc::PROT_READ,
            shared,
            file.as_raw_fd(),
            0,
        )
    };
    assert_eq!(m as usize, p2, "page 2 remapped");
    // The page query says pages 0 to 2 are one read-only mapping (as they were when asked).
    let one: Script = |page, ps| ((page, page + 3 * ps, false), 0);
    let opened = with_scripted_kernel(one, move || {
        let mut query = PageQuery::new();
        let mut batch = Batch::begin_with(&mut query).unwrap();
        unsafe { batch.open_ready(&d, &[p0, p1, p2]) };
        let opened = [writable(p0), writable(p1), writable(p2)];
        batch.finish().unwrap();
        opened
    });
    // Page 2 back as it was (private, the same bytes, read-only), the others read-only.
    let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let m = unsafe { libc::mmap(p2 as *mut _, ps, rw, private, -1, 0) };
    assert_eq!(m as usize, p2, "page 2 mapped back");
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p2 as *mut u8, ps) };
    for p in [p0, p1, p2] {
        assert_eq!(
            unsafe { libc::mprotect(p as *mut _, ps, libc::PROT_READ) },
            0
        );
    }
    let _ = std::fs::remove_file(&path);
    let Some((opened, _)) = opened else {
        eprintln!("seccomp user notifications unavailable: nothing scripted");
        return;
    };
    assert_eq!(
        opened,
        [false, false, false],
        "the half-opened run put back to its protection (page 2 cannot be opened)"
    );
}
