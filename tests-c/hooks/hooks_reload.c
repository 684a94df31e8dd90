/* A library loaded, unloaded and loaded again (same path, several rounds), and another library
 * loaded where the first one was, is hooked after every load once gothook_refresh ran; before
 * that refresh the new copy is not hooked (so the refresh is what did it).
 * Usage: hooks_reload <rounds> <fixture A.so> <fixture B.so> */
#include "hk_common.h"

static int listed(const char *path) {
  struct hk_find f;
  return hk_locate(path, &f);
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  int rounds = atoi(argv[1]);
  hk_init_main();
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  /* Only fixtures: an accept callback on the path. */
  gothook_filter filter = {0};
  filter.path_suffix = ".so";
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, &rep), GOTHOOK_OK);
  hk_print_report("install", &rep);
  gothook_report total = {0};
  unsigned loads = 0, hooked_loads = 0, unmapped = 0, same_address = 0;
  uintptr_t last_lo = 0;
  for (int r = 0; r < rounds; r++) {
    for (int which = 0; which < 2; which++) {
      const char *path = argv[2 + which];
      hk_nlibs = 0;
      int i = hk_open(path, 0);
      loads++;
      same_address += hk_libs[i].lo == last_lo;
      last_lo = hk_libs[i].lo;
      hk_run_and_compare(i, 0, "loaded, before refresh");
      gothook_report rr = {0};
      CHECK_ST(gothook_refresh(0, &rr), GOTHOOK_OK);
      CHECK(rr.libs_patched >= 1 && rr.slots_patched + rr.slots_repaired >= 2 * GF_NFUNCS,
            "round %d %s: refresh patched %u libs, %u slots", r, path, rr.libs_patched, rr.slots_patched);
      total.libs_patched += rr.libs_patched, total.slots_patched += rr.slots_patched;
      total.slots_repaired += rr.slots_repaired, total.slots_conflict += rr.slots_conflict;
      int before = hk_failures;
      hk_run_and_compare(i, 1, "after refresh");
      hooked_loads += before == hk_failures;
      CHECK(dlclose(hk_libs[i].handle) == 0, "dlclose: %s", dlerror());
      unmapped += !listed(path);
      CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    }
  }
  CHECK(unmapped == loads, "only %u of %u closes unmapped the library", unmapped, loads);
  gothook_report ur = {0};
  CHECK_ST(gothook_uninstall(set, &ur), GOTHOOK_OK);
  printf("hooks_reload: %u loads (%u unmapped on close, %u at the previous library's address), "
         "%u hooked after refresh; refresh totals: libs patched=%u slots patched=%u repaired=%u "
         "conflict=%u; %s\n", loads, unmapped, same_address, hooked_loads, total.libs_patched,
         total.slots_patched, total.slots_repaired, total.slots_conflict, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
