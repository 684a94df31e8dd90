/* A library that is not READY is named in the report of every pass that would apply a set to it
 * (and only of those), and keeps the state unsettled: with the dlopen interception installed,
 * the refresh right after still walks and names it again instead of answering from the
 * lock-free shortcut.  Under the RELRO readiness rule, libhk_norelro.so (no PT_GNU_RELRO) is
 * never READY.  Usage: hooks_not_ready_retried <libhk_norelro.so> */
#include "hk_common.h"

int hk_filt_target(void);
int hk_filt_x_call(void);

static void *volatile orig, *volatile x_orig;
static int hook(void) { return 40 + ((int (*)(void))orig)(); }
static int x_hook(void) { return 50 + ((int (*)(void))x_orig)(); }

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  if (gothook_set_readiness_rule(GOTHOOK_RULE_RELRO) != GOTHOOK_OK) {
    printf("hooks_not_ready_retried: the RELRO rule cannot be forced here; skipped\n");
    return 77;
  }
  gothook_set iset = 0;
  CHECK_ST(gothook_intercept_dlopen(&iset, NULL), GOTHOOK_OK);
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", argv[1], dlerror());
  int (*call)(void) = h ? (int (*)(void))dlsym(h, "hk_norelro_call") : NULL;
  if (!call) return 1;

  gothook_hook hk = {"hk_filt_target", (void *)hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_norelro.so";
  gothook_set s = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&hk, 1, &f, &s, &r), GOTHOOK_OK);
  hk_print_report("install", &r);
  CHECK(r.libs_not_ready == 1 && r.libs_skipped == 1 && r.skipped[0].reason == GOTHOOK_SKIP_NOT_READY,
        "install: %u not ready, %u named (reason %u), want 1, 1, NOT_READY", r.libs_not_ready, r.libs_skipped,
        r.skipped[0].reason);
  CHECK(call() == 1, "not READY: the call returned %d, want 1 (untouched)", call());

  gothook_report again = {0};
  CHECK_ST(gothook_refresh(0, &again), GOTHOOK_OK);
  CHECK(again.libs_not_ready == 1, "the refresh right after: %u not ready, want 1 (it walks: not settled)",
        again.libs_not_ready);

  /* A set whose filter refuses the library: its install does not name it. */
  gothook_hook hx = {"hk_filt_target", (void *)x_hook, (void **)&x_orig, 0};
  gothook_filter fx = {0};
  fx.path_suffix = "/libhk_filt_x.so";
  gothook_set sx = 0;
  gothook_report rx = {0};
  CHECK_ST(gothook_install(&hx, 1, &fx, &sx, &rx), GOTHOOK_OK);
  CHECK(rx.libs_not_ready == 0 && rx.libs_skipped == 0, "a set refusing it: %u not ready, %u named, want 0, 0",
        rx.libs_not_ready, rx.libs_skipped);
  CHECK(hk_filt_x_call() == 51, "libhk_filt_x.so's call returned %d, want 51", hk_filt_x_call());
  CHECK_ST(gothook_uninstall(sx, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(s, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(iset, NULL), GOTHOOK_OK);
  printf("hooks_not_ready_retried: a library never READY is named by the passes that want it, and retried; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
