/* One name carried by more symbol-table entries than a pass tracks per name (six versions of
 * hk_multi, defined by libhk_multi_def.so and all imported by libhk_multi_user.so): install and
 * uninstall succeed without a crash, no old version's slot is touched (each call still returns
 * its version), and uninstall leaves every call as it was.  libhk_multi_def.so also calls its
 * own default version through its PLT: that slot is hooked (its symbol is among the entries the
 * pass looks up by hash, the first of which is an old version).
 * Usage: hooks_many_versions */
#include "hk_common.h"

int hk_multi_user_call(void);
int hk_multi_def_call(void);

static void *volatile orig;
static int hook(void) { return 9; }

int main(void) {
  hk_init_main();
  CHECK(hk_multi_user_call() == 123456, "before: the call returned %d, want 123456", hk_multi_user_call());
  gothook_hook h = {"hk_multi", (void *)hook, (void **)&orig, 0};
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&h, 1, NULL, &s, &r), GOTHOOK_OK);
  hk_print_report("install", &r);
  int hooked = hk_multi_user_call();
  /* The default version's slot may or may not be hooked (9 instead of 6); the others never. */
  CHECK(hooked / 10 == 12345, "installed: the call returned %d, want 12345x: an old version was hooked", hooked);
  CHECK(hk_multi_def_call() == 9, "installed: libhk_multi_def.so's own call returned %d, want 9 (hooked)",
        hk_multi_def_call());
  CHECK(r.slots_patched >= 1 && r.slots_patched <= 2,
        "install patched %u slots, want the default version's in each library (1 or 2)", r.slots_patched);
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  CHECK(hk_multi_user_call() == 123456, "uninstalled: the call returned %d, want 123456", hk_multi_user_call());
  CHECK(hk_multi_def_call() == 6, "uninstalled: libhk_multi_def.so's own call returned %d", hk_multi_def_call());
  printf("hooks_many_versions: six versions of one name, the default %s; %s\n",
         hooked == 123459 ? "hooked" : "not hooked (beyond the per-name index capacity)",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
