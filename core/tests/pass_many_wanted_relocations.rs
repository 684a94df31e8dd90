//! A library with more relocations of wanted names than one round of the pass's relocation
//! scan notes (32) has every one of them decided: libc.so.6 binds a GLOB_DAT slot (some also
//! an absolute one) to each of the 32 data objects hooked here.  Each "replacement" is the
//! object's own address, the value its slots already hold, so the test changes nothing: every
//! slot is counted as already hooked, by the install and by a full refresh.

use core::ffi::CStr;
use core::sync::atomic::AtomicUsize;

use gothook_core::dynamic::ImportKind;
use gothook_core::hooks::{self, Filter, Hook, Report, REFRESH_FULL};
use gothook_core::loader;

const NAMES: [&CStr; 32] = [
    c"stdout",
    c"stdin",
    c"stderr",
    c"optarg",
    c"optind",
    c"opterr",
    c"optopt",
    c"program_invocation_name",
    c"program_invocation_short_name",
    c"re_syntax_options",
    c"obstack_exit_failure",
    c"obstack_alloc_failed_handler",
    c"__fpu_control",
    c"_nl_msg_cat_cntr",
    c"getdate_err",
    c"error_print_progname",
    c"error_one_per_line",
    c"error_message_count",
    c"argp_program_version_hook",
    c"argp_program_version",
    c"argp_program_bug_address",
    c"argp_err_exit_status",
    c"__tzname",
    c"__timezone",
    c"__daylight",
    c"__progname",
    c"__progname_full",
    c"__environ",
    c"_IO_2_1_stdout_",
    c"_IO_2_1_stdin_",
    c"_IO_2_1_stderr_",
    c"__libc_single_threaded",
];

static ORIGINALS: [AtomicUsize; 32] = [const { AtomicUsize::new(0) }; 32];

#[test]
fn every_wanted_relocation_of_a_library_with_more_than_one_rounds_worth_is_decided() {
    let hooks: Vec<Hook> = NAMES
        .iter()
        .zip(&ORIGINALS)
        .map(|(name, original)| {
            // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
            let at = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
            assert_ne!(at, 0, "{name:?}");
            Hook {
                symbol: name.to_bytes(),
                replacement: at,
                original: Some(original),
                flags: 0,
            }
        })
        .collect();
    // The slots a pass can redirect: libc's imports of these names (a data slot with an
    // addend holds an address inside the object, not a pointer to it).
    // SAFETY: stdout's address lies in libc, mapped for the whole test.
    let libc_image = unsafe { loader::decode_containing(hooks[0].replacement) }.unwrap();
    let mut expected = 0;
    libc_image
        .for_each_import(|i| {
            let pointer = !(i.reloc.kind == ImportKind::Abs && i.reloc.addend != 0);
            if pointer && NAMES.iter().any(|n| n.to_bytes() == i.name) {
                expected += 1;
            }
            true
        })
        .unwrap();
    assert!(
        expected > 32,
        "libc binds every name at least once: {expected}"
    );
    let filter = Filter {
        path_suffix: Some(b"/libc.so.6"),
        ..Filter::default()
    };
    let mut rep = Report::default();
    // SAFETY: every replacement is the symbol's own definition: no slot changes.
    let id = unsafe { hooks::install(&hooks, &filter, &mut rep) }.unwrap();
    let mut verify = Report::default();
    let refreshed = hooks::refresh(REFRESH_FULL, &mut verify);
    hooks::uninstall(id, &mut Report::default()).unwrap();
    refreshed.unwrap();
    assert_eq!(
        (rep.slots_already + rep.slots_patched, rep.slots_conflict),
        (expected, 0),
        "each object's slots in libc: {rep:?}"
    );
    assert_eq!(
        (verify.slots_already, verify.slots_patched),
        (expected, 0),
        "{verify:?}"
    );
}
