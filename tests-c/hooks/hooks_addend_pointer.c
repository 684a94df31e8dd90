/* A data word holding a hooked function's address plus an offset (an absolute relocation with an
 * addend) is not an import slot: install leaves it alone and does not count it at all (neither
 * patched nor foreign), while the library's call through its GOT is hooked.
 * Usage: hooks_addend_pointer (linked with libhk_addend.so) */
#include "hk_common.h"

int hk_filt_target(void);
int hk_addend_call(void);
extern char *const hk_addend_ptr;

static void *volatile orig;
static int hook(void) { return 40 + ((int (*)(void))orig)(); }

int main(void) {
  hk_init_main();
  char *want = (char *)hk_filt_target + 4;
  CHECK(hk_addend_ptr == want, "before: the data word holds %p, want %p", (void *)hk_addend_ptr, (void *)want);
  gothook_hook h = {"hk_filt_target", (void *)hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_addend.so";
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&h, 1, &f, &s, &r), GOTHOOK_OK);
  hk_print_report("install", &r);
  CHECK(r.slots_patched == 1 && r.slots_foreign == 0, "install: %u slots patched, %u foreign (want 1, 0)",
        r.slots_patched, r.slots_foreign);
  CHECK(hk_addend_call() == 41, "installed: the call returned %d, want 41", hk_addend_call());
  CHECK(hk_addend_ptr == want, "installed: the data word holds %p, want %p", (void *)hk_addend_ptr, (void *)want);
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  CHECK(hk_addend_call() == 1 && hk_addend_ptr == want, "uninstalled: call %d, data word %p", hk_addend_call(),
        (void *)hk_addend_ptr);
  printf("hooks_addend_pointer: a function address plus an addend is left alone; %s\n", hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
