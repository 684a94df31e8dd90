/* A library with no symbol hash table (neither DT_GNU_HASH nor DT_HASH: the loader binds its
 * imports through the other objects' tables) is hooked all the same: its symbols are searched
 * linearly.  Usage: hooks_nohash <libhk_nohash.so> */
#include "hk_common.h"

int hk_filt_target(void);

static int (*volatile registered)(void);
void hk_nohash_register(int (*call)(void)) { registered = call; }

static void *volatile orig;
static int hook(void) { return 40 + ((int (*)(void))orig)(); }

int main(int argc, char **argv) {
  if (argc != 2) return 2;
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
  printf("hooks_nohash: a library without hash tables is hooked; %s\n", hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
