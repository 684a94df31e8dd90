/* The ABI of every struct in gothook.h, pinned for LP64 targets (x86_64, aarch64, riscv64,
 * ppc64le): sizes, alignments and field offsets written out by hand from the C layout rules.
 * capi/src/lib.rs asserts the same numbers on the Rust side (static_assertions), so the two
 * sides cannot drift apart silently.  consumer.sh checks that every `typedef struct` of the
 * header has a LAYOUT_STRUCT line here.  Compiled (never run) with -std=c11 for each LP64
 * compiler available. */
#include <gothook.h>

#include <stddef.h>

#if !defined(__LP64__)
#error "layout.c pins the LP64 ABI"
#endif

#define LAYOUT_STRUCT(T, size, align)                                              \
  _Static_assert(sizeof(T) == (size), "sizeof(" #T ") != " #size);                 \
  _Static_assert(_Alignof(T) == (align), "alignof(" #T ") != " #align)
#define LAYOUT_FIELD(T, f, off, size)                                              \
  _Static_assert(offsetof(T, f) == (off), "offsetof(" #T ", " #f ") != " #off);    \
  _Static_assert(sizeof(((T *)0)->f) == (size), "sizeof(" #T "." #f ") != " #size)

_Static_assert(sizeof(gothook_status) == 4, "gothook_status is 32-bit");
_Static_assert(sizeof(gothook_set) == 4, "gothook_set is 32-bit");
_Static_assert(GOTHOOK_OK == 0, "GOTHOOK_OK is 0");

LAYOUT_STRUCT(gothook_lib, 48, 8);
LAYOUT_FIELD(gothook_lib, bias, 0, 8);
LAYOUT_FIELD(gothook_lib, name, 8, 8);
LAYOUT_FIELD(gothook_lib, phdr, 16, 8);
LAYOUT_FIELD(gothook_lib, phnum, 24, 2);
LAYOUT_FIELD(gothook_lib, kind, 26, 1);
LAYOUT_FIELD(gothook_lib, readiness, 27, 1);
LAYOUT_FIELD(gothook_lib, index, 28, 4);
LAYOUT_FIELD(gothook_lib, adds, 32, 8);
LAYOUT_FIELD(gothook_lib, subs, 40, 8);

LAYOUT_STRUCT(gothook_dynamic, 640, 8);
LAYOUT_FIELD(gothook_dynamic, opaque, 0, 640);

LAYOUT_STRUCT(gothook_dynamic_info, 40, 8);
LAYOUT_FIELD(gothook_dynamic_info, bias, 0, 8);
LAYOUT_FIELD(gothook_dynamic_info, soname, 8, 8);
LAYOUT_FIELD(gothook_dynamic_info, nsyms, 16, 4);
LAYOUT_FIELD(gothook_dynamic_info, machine, 20, 2);
LAYOUT_FIELD(gothook_dynamic_info, elf_class, 22, 1);
LAYOUT_FIELD(gothook_dynamic_info, bind_now, 23, 1);
LAYOUT_FIELD(gothook_dynamic_info, relro_start, 24, 8);
LAYOUT_FIELD(gothook_dynamic_info, relro_end, 32, 8);

LAYOUT_STRUCT(gothook_symbol, 48, 8);
LAYOUT_FIELD(gothook_symbol, name, 0, 8);
LAYOUT_FIELD(gothook_symbol, address, 8, 8);
LAYOUT_FIELD(gothook_symbol, value, 16, 8);
LAYOUT_FIELD(gothook_symbol, size, 24, 8);
LAYOUT_FIELD(gothook_symbol, index, 32, 4);
LAYOUT_FIELD(gothook_symbol, shndx, 36, 2);
LAYOUT_FIELD(gothook_symbol, versym, 38, 2);
LAYOUT_FIELD(gothook_symbol, info, 40, 1);
LAYOUT_FIELD(gothook_symbol, other, 41, 1);
LAYOUT_FIELD(gothook_symbol, reserved, 42, 6);

LAYOUT_STRUCT(gothook_import, 40, 8);
LAYOUT_FIELD(gothook_import, name, 0, 8);
LAYOUT_FIELD(gothook_import, slot, 8, 8);
LAYOUT_FIELD(gothook_import, addend, 16, 8);
LAYOUT_FIELD(gothook_import, sym_index, 24, 4);
LAYOUT_FIELD(gothook_import, r_type, 28, 4);
LAYOUT_FIELD(gothook_import, kind, 32, 1);
LAYOUT_FIELD(gothook_import, table, 33, 1);
LAYOUT_FIELD(gothook_import, reserved, 34, 6);

LAYOUT_STRUCT(gothook_hook, 32, 8);
LAYOUT_FIELD(gothook_hook, symbol, 0, 8);
LAYOUT_FIELD(gothook_hook, replacement, 8, 8);
LAYOUT_FIELD(gothook_hook, original, 16, 8);
LAYOUT_FIELD(gothook_hook, flags, 24, 4);

LAYOUT_STRUCT(gothook_filter, 56, 8);
LAYOUT_FIELD(gothook_filter, flags, 0, 4);
LAYOUT_FIELD(gothook_filter, reserved, 4, 4);
LAYOUT_FIELD(gothook_filter, path_suffix, 8, 8);
LAYOUT_FIELD(gothook_filter, contains, 16, 8);
LAYOUT_FIELD(gothook_filter, next_after, 24, 8);
LAYOUT_FIELD(gothook_filter, accept, 32, 8);
LAYOUT_FIELD(gothook_filter, accept_ctx, 40, 8);
LAYOUT_FIELD(gothook_filter, exclude, 48, 8);

LAYOUT_STRUCT(gothook_report, 320, 8);
LAYOUT_FIELD(gothook_report, libs_patched, 0, 4);
LAYOUT_FIELD(gothook_report, libs_not_ready, 4, 4);
LAYOUT_FIELD(gothook_report, libs_filtered, 8, 4);
LAYOUT_FIELD(gothook_report, libs_failed, 12, 4);
LAYOUT_FIELD(gothook_report, slots_patched, 16, 4);
LAYOUT_FIELD(gothook_report, slots_already, 20, 4);
LAYOUT_FIELD(gothook_report, slots_repaired, 24, 4);
LAYOUT_FIELD(gothook_report, slots_conflict, 28, 4);
LAYOUT_FIELD(gothook_report, slots_restored, 32, 4);
LAYOUT_FIELD(gothook_report, slots_changed, 36, 4);
LAYOUT_FIELD(gothook_report, libs_untracked, 40, 4);
LAYOUT_FIELD(gothook_report, slots_foreign, 44, 4);
LAYOUT_FIELD(gothook_report, missing_hook, 48, 4);
LAYOUT_FIELD(gothook_report, hooks_missing, 52, 4);
LAYOUT_FIELD(gothook_report, libs_skipped, 56, 4);
LAYOUT_FIELD(gothook_report, libs_skipped_more, 60, 4);
LAYOUT_FIELD(gothook_report, skipped, 64, 256);

LAYOUT_STRUCT(gothook_skipped_lib, 64, 8);
LAYOUT_FIELD(gothook_skipped_lib, bias, 0, 8);
LAYOUT_FIELD(gothook_skipped_lib, reason, 8, 4);
LAYOUT_FIELD(gothook_skipped_lib, name_len, 12, 4);
LAYOUT_FIELD(gothook_skipped_lib, name, 16, 48);

int gothook_layout_checked(void);
int gothook_layout_checked(void) { return 0; }
