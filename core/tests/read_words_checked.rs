//! The fault-safe word reader behind the lazy re-check without a walk
//! (`gothook_core::sys::read_words_checked`): it reads what is mapped, and answers `false`
//! instead of faulting for memory that is unmapped or unreadable, for too many addresses, and
//! where a sandbox refuses its system call.
mod seccomp;

use gothook_core::sys::{read_words_checked, CHECKED_WORDS};

/// One anonymous page with `prot`, or its unmapped address when `prot` is `None`.
fn page(prot: Option<i32>) -> usize {
    // SAFETY: a fresh private anonymous mapping, unmapped again or kept as the test says.
    unsafe {
        let p = libc::mmap(
            core::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        *(p as *mut usize) = 0x5eed;
        match prot {
            Some(prot) => assert_eq!(libc::mprotect(p, 4096, prot), 0),
            None => assert_eq!(libc::munmap(p, 4096), 0),
        }
        p as usize
    }
}

#[test]
fn mapped_words_are_read_as_they_are() {
    let words: Vec<usize> = (0..CHECKED_WORDS).map(|k| 0x1000 + k * 3).collect();
    let at: Vec<usize> = words
        .iter()
        .rev()
        .map(|w| w as *const usize as usize)
        .collect();
    let mut got = [0usize; CHECKED_WORDS];
    assert!(read_words_checked(&at, &mut got));
    let want: Vec<usize> = words.iter().rev().copied().collect();
    assert_eq!(&got[..], &want[..]);
    assert!(read_words_checked(&[], &mut []), "an empty list is read");
    let ro = page(Some(libc::PROT_READ));
    let mut one = [0usize];
    assert!(read_words_checked(&[ro], &mut one));
    assert_eq!(one[0], 0x5eed, "a read-only page is read");
}

#[test]
fn unmapped_or_unreadable_memory_fails_the_read_instead_of_faulting() {
    let here = 7usize;
    let gone = page(None);
    let none = page(Some(libc::PROT_NONE));
    let mut got = [0usize; 2];
    assert!(
        !read_words_checked(&[&here as *const usize as usize, gone], &mut got),
        "an unmapped page was read"
    );
    assert!(
        !read_words_checked(&[none, &here as *const usize as usize], &mut got),
        "a PROT_NONE page was read"
    );
    assert!(
        !read_words_checked(&[0], &mut got[..1]),
        "address 0 was read"
    );
}

#[test]
fn more_addresses_than_it_takes_or_a_short_destination_fail() {
    let w = 1usize;
    let at = vec![&w as *const usize as usize; CHECKED_WORDS + 1];
    let mut got = vec![0usize; CHECKED_WORDS + 1];
    assert!(!read_words_checked(&at, &mut got));
    assert!(!read_words_checked(&at[..2], &mut got[..1]));
}

#[test]
fn a_refused_system_call_fails_the_read() {
    std::thread::spawn(|| {
        let w = 9usize;
        let at = [&w as *const usize as usize];
        let mut got = [0usize];
        assert!(read_words_checked(&at, &mut got), "read before the filter");
        seccomp::refuse_on_this_thread(libc::SYS_process_vm_readv, libc::EPERM, None);
        assert!(
            !read_words_checked(&at, &mut got),
            "read through a refused process_vm_readv"
        );
    })
    .join()
    .unwrap();
}
