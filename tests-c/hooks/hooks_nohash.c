/* A library with no symbol hash table (neither DT_GNU_HASH nor DT_HASH: the loader binds its
 * imports through the other objects' tables) is hooked all the same: its symbols are searched
 * linearly.  So is one with a DT_HASH table only (its symbols are looked up through it).
 * Usage: hooks_nohash <libhk_nohash.so> <libhk_sysv.so> */
#include "hk_common.h"

int hk_filt_target(void);

static int (*volatile registered)(void), (*volatile sysv_registered)(void);
void hk_nohash_register(int (*call)(void)) { registered = call; }
void hk_sysv_register(int (*call)(void)) { sysv_registered = call; }

static void *volatile orig;
static int hook(void) { return 40 + ((int (*)(void))orig)(); }

static void sysv_only(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  if (!h || !sysv_registered) return;
  gothook_hook hk = {"hk_filt_target", (void *)hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_sysv.so";
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&hk, 1, &f, &s, &r), GOTHOOK_OK);
  CHECK(r.slots_patched == 1 && sysv_registered() == 41,
        "DT_HASH only, installed: %u slots patched, the call returned %d (want 1, 41)", r.slots_patched,
        sysv_registered());
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  CHECK(sysv_registered() == 1, "DT_HASH only, uninstalled: the call returned %d", sysv_registered());
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", argv[1], dlerror());
  if (!h || !registered) return 1;
  CHECK(registered() == 1, "before: the call returned %d", registered());
  gothook_hook hk = {"hk_filt_target", (void *)hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_nohash.so";
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&hk, 1, &f, &s, &r), GOTHOOK_OK);
  hk_print_report("install", &r);
  CHECK(orig == (void *)hk_filt_target, "the original %p, want %p", orig, (void *)hk_filt_target);
  CHECK(r.slots_patched == 1 && registered() == 41, "installed: %u slots patched, the call returned %d (want 1, 41)",
        r.slots_patched, registered());
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  CHECK(registered() == 1, "uninstalled: the call returned %d", registered());
  sysv_only(argv[2]);
  printf("hooks_nohash: libraries without hash tables and with DT_HASH only are hooked; %s\n", hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
