/* A library the decoder refuses is reported once per set: the install that meets it counts it in
 * libs_failed, later refreshes that walk for another dlopen leave it alone (nothing about it
 * changed), and only a full refresh tries it again (and answers EMALFORMED).
 * Usage: hooks_undecodable_once <libhk_bad_hash.so> <any other module> */
#include "hk_common.h"

int hk_filt_target(void);

static void *volatile orig;
static int hook(void) { return 40 + ((int (*)(void))orig)(); }

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  void *bad = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(bad != NULL, "dlopen %s: %s", argv[1], dlerror());
  gothook_hook h = {"hk_filt_target", (void *)hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_bad_hash.so";
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&h, 1, &f, &s, &r), GOTHOOK_OK);
  CHECK(r.libs_failed == 1, "install: %u libraries failed, want 1", r.libs_failed);
  CHECK(orig == (void *)hk_filt_target, "the original %p, want %p", orig, (void *)hk_filt_target);

  void *other = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK(other != NULL, "dlopen %s: %s", argv[2], dlerror());
  gothook_report walk = {0};
  CHECK_ST(gothook_refresh(0, &walk), GOTHOOK_OK);
  hk_print_report("refresh after a dlopen", &walk);
  CHECK(walk.libs_filtered >= 1, "the refresh after a dlopen did not walk (%u filtered)", walk.libs_filtered);
  CHECK(walk.libs_failed == 0, "the refresh after a dlopen decoded the refused library again (%u failed)",
        walk.libs_failed);

  gothook_report full = {0};
  CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_FULL, &full), GOTHOOK_EMALFORMED);
  CHECK(full.libs_failed == 1, "a full refresh: %u libraries failed, want 1 (it tries again)", full.libs_failed);
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  printf("hooks_undecodable_once: a refused library is reported by install and full refreshes only; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
