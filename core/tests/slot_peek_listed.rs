//! `slot::peek_listed` reads a word of a library the walk lends, and answers `None` for an
//! address that is 0, misaligned or outside the library's mapped segments.

use gothook_core::{loader, slot};

/// A word of this test binary's data.
static WORD: usize = 0x1234_5678;

#[test]
fn peek_listed_reads_aligned_words_of_the_listed_library_and_answers_none_otherwise() {
    let addr = &WORD as *const usize as usize;
    let local: usize = 7;
    let stack = &local as *const usize as usize;
    let mut seen = None;
    loader::each(loader::LIBS_ALL, |lib| {
        if !lib.contains(addr) {
            return true;
        }
        seen = Some([
            slot::peek_listed(lib, addr),
            slot::peek_listed(lib, 0),
            slot::peek_listed(lib, addr + 1),
            slot::peek_listed(lib, addr + 4),
            slot::peek_listed(lib, stack),
        ]);
        false
    })
    .unwrap();
    assert_eq!(
        seen.expect("this binary is listed"),
        [Some(0x1234_5678), None, None, None, None],
        "its word; then 0, misaligned by 1 and 4, and a stack word, all refused"
    );
}
