/* RTLD_NEXT-style originals (filter.next_after): the main program exports hk_probe, as an
 * LD_PRELOADed profiler exports dlopen; libhk_next_def.so defines the real one.  A set with
 * next_after = an address in the main program gets the definition dlsym(RTLD_NEXT) names; without
 * it, the main program's own (what dlsym(RTLD_DEFAULT) names).  Calls from libhk_next_user.so then
 * run hook -> that original.  The same holds for malloc. */
#include "hk_common.h"

int hk_user_call(void);
__attribute__((noinline, visibility("default"))) int hk_probe(void) { return 1; }

static void *volatile probe_orig;
static _Atomic unsigned probe_calls;
__attribute__((noinline)) static int probe_hook(void) {
  probe_calls++;
  return 100 + ((int (*)(void))probe_orig)();
}

static void check_case(const char *what, const void *next_after, void *want_orig, int want_result) {
  gothook_hook h = {"hk_probe", (void *)probe_hook, (void **)&probe_orig};
  gothook_filter f = {0};
  f.next_after = next_after;
  f.path_suffix = "libhk_next_user.so";
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(&h, 1, &f, &set, &rep), GOTHOOK_OK);
  CHECK(rep.slots_patched >= 1, "%s: patched %u slots", what, rep.slots_patched);
  CHECK(probe_orig == want_orig, "%s: original %p, want %p", what, probe_orig, want_orig);
  unsigned c0 = probe_calls;
  int r = hk_user_call();
  CHECK(r == want_result && probe_calls == c0 + 1, "%s: call returned %d (want %d), hook ran %u times", what, r,
        want_result, probe_calls - c0);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("  %s: original %p, call returned %d\n", what, probe_orig, r);
}

int main(void) {
  void *deflt = dlsym(RTLD_DEFAULT, "hk_probe"), *next = dlsym(RTLD_NEXT, "hk_probe");
  CHECK(deflt == (void *)hk_probe && next && next != deflt, "dlsym: default %p, next %p", deflt, next);
  CHECK(hk_user_call() == 1, "interposition: main's hk_probe should win");
  void *g = NULL;
  CHECK_ST(gothook_global_lookup("hk_probe", NULL, &g), GOTHOOK_OK);
  CHECK(g == deflt, "global lookup %p, dlsym(RTLD_DEFAULT) %p", g, deflt);
  CHECK_ST(gothook_global_lookup("hk_probe", (const void *)main, &g), GOTHOOK_OK);
  CHECK(g == next, "next-after lookup %p, dlsym(RTLD_NEXT) %p", g, next);
  check_case("no next_after", NULL, deflt, 101);
  check_case("next_after main", (const void *)main, next, 102);
  /* malloc: the main program does not define it, so "next after main" is libc's. */
  void *mnext = dlsym(RTLD_NEXT, "malloc");
  CHECK_ST(gothook_global_lookup("malloc", (const void *)main, &g), GOTHOOK_OK);
  CHECK(g == mnext, "malloc next-after %p, dlsym(RTLD_NEXT) %p", g, mnext);
  printf("hooks_next_after: default and RTLD_NEXT originals match dlsym for hk_probe and malloc; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
