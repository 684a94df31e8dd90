/* A position-dependent main program that takes the address of malloc (and the other allocator
 * functions) gets canonical PLT entries for them, and the loader binds every other object's
 * GLOB_DAT/ABS slot for those symbols to the entries, for function-pointer equality.  Such a slot
 * is bound to the real allocator even though it does not hold its address: the hook set must
 * patch it like any other (no "foreign" skip), and every call from a -fno-plt fixture is seen.
 * Built with -no-pie.  Usage: hooks_canonical_plt <-fno-plt fixture.so> */
#include "hk_common.h"

/* Taking the addresses in position-dependent code (an absolute immediate) is what creates the
 * canonical PLT entries. */
void *volatile taken[GF_NFUNCS];
__attribute__((noinline)) static void take_addresses(void) {
  taken[0] = (void *)malloc, taken[1] = (void *)calloc, taken[2] = (void *)realloc;
  taken[3] = (void *)free, taken[4] = (void *)posix_memalign, taken[5] = (void *)aligned_alloc;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  take_addresses();
  hk_init_main();
  int fx = hk_open(argv[1], 0);
  struct hk_slots pre;
  hk_snapshot(argv[1], &pre);
  int canonical = 0;
  for (int k = 0; k < pre.n; k++)
    if (pre.s[k].func >= 0 && (uintptr_t)pre.s[k].value >= hk_main_lo && (uintptr_t)pre.s[k].value < hk_main_hi)
      canonical++;
  if (canonical == 0) {
    printf("hooks_canonical_plt: no slot bound to a canonical PLT entry here; skipped\n");
    return 77;
  }
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter filter = {0};
  filter.path_suffix = argv[1];
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, &r), GOTHOOK_OK);
  hk_print_report("install", &r);
  CHECK(r.slots_foreign == 0, "%u slots bound to canonical PLT entries were skipped as foreign", r.slots_foreign);
  unsigned calls = hk_run_and_compare(fx, 1, "hooked");
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  hk_run_and_compare(fx, 0, "uninstalled");
  printf("hooks_canonical_plt: %d slots bound to canonical PLT entries, %u calls checked; %s\n", canonical, calls,
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
