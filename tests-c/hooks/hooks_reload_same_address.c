/* A library unloaded and loaded again at the same address, with no refresh in between, is hooked
 * by ONE refresh afterwards: gothook must not take the new copy for the one it patched (the
 * loader's counters changed, but the library table still holds a record at that address).
 * The same address is forced by retrying dlclose + dlopen (no refresh) until the loader reuses
 * it; the test says how many tries it took and fails if it never did.
 * Usage: hooks_reload_same_address <fixture.so> */
#include "hk_common.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  int fx = hk_open(argv[1], 0);
  uintptr_t first_lo = hk_libs[fx].lo;
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter filter = {0};
  filter.path_suffix = argv[1];
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, &rep), GOTHOOK_OK);
  hk_run_and_compare(fx, 1, "first load");
  int tries = 0, same = 0;
  for (; tries < 50 && !same; tries++) {
    dlclose(hk_libs[fx].handle);
    hk_libs[fx].handle = dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL);
    CHECK(hk_libs[fx].handle, "dlopen again: %s", dlerror());
    if (!hk_libs[fx].handle) return 1;
    hk_libs[fx].run_path = (gothook_fixture_run_path_fn)dlsym(hk_libs[fx].handle, "gothook_fixture_run_path");
    hk_relocate(fx);
    same = hk_libs[fx].lo == first_lo;
  }
  CHECK(same, "the loader never reused address %#lx in %d tries", (unsigned long)first_lo, tries);
  hk_run_and_compare(fx, 0, "reloaded, before the refresh");
  gothook_report r = {0};
  CHECK_ST(gothook_refresh(0, &r), GOTHOOK_OK);
  hk_print_report("one refresh", &r);
  hk_run_and_compare(fx, 1, "reloaded at the same address, after one refresh");
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_reload_same_address: reloaded at %#lx after %d tries, one refresh patched %u slots; %s\n",
         (unsigned long)first_lo, tries, r.slots_patched + r.slots_repaired, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
