/* Two sets hooking malloc stack in install order (set 2's original is set 1's replacement; a
 * call runs hook 2, then hook 1, then malloc); uninstalling either, in either order, leaves the
 * other working, and uninstalling both leaves no hook.  Usage: hooks_stacking <fixture.so>... */
#include "hk_common.h"

static _Atomic unsigned seen1, seen2;
static void *volatile orig1, *volatile orig2;
static int from_fixture(const void *ret) { return hk_who(ret) < HK_MAX_LIBS; }
static __thread int fixture_call_in_hook2; /* hook 2 is forwarding a fixture's call */
__attribute__((noinline)) static void *malloc1(size_t n) {
  if (from_fixture(__builtin_return_address(0)) || fixture_call_in_hook2) seen1++;
  return ((void *(*)(size_t))__atomic_load_n(&orig1, __ATOMIC_ACQUIRE))(n);
}
__attribute__((noinline)) static void *malloc2(size_t n) {
  int mine = from_fixture(__builtin_return_address(0));
  if (mine) seen2++;
  fixture_call_in_hook2 = mine;
  void *p = ((void *(*)(size_t))__atomic_load_n(&orig2, __ATOMIC_ACQUIRE))(n);
  fixture_call_in_hook2 = 0;
  return p;
}

/* Runs every fixture; returns the fixture's malloc calls; *s1, *s2: calls each hook saw. */
static unsigned run(unsigned *s1, unsigned *s2) {
  unsigned b1 = seen1, b2 = seen2, made = 0;
  for (int i = 0; i < hk_nlibs; i++) {
    struct gothook_fixture_calls c = {0};
    for (unsigned p = 0; p < GF_NPATHS; p++) hk_libs[i].run_path(p, &c);
    for (unsigned p = 0; p < GF_NPATHS; p++) made += c.calls[p][GF_MALLOC];
  }
  *s1 = seen1 - b1, *s2 = seen2 - b2;
  return made;
}

int main(int argc, char **argv) {
  hk_init_main();
  for (int a = 1; a < argc; a++) hk_open(argv[a], 0);
  void *real = dlsym(RTLD_DEFAULT, "malloc");
  gothook_filter filter = {0};
  filter.path_suffix = ".so";
  unsigned scenarios = 0, checks_calls = 0;
  for (int order = 0; order < 2; order++) {
    gothook_hook h1 = {"malloc", (void *)malloc1, (void **)&orig1};
    gothook_hook h2 = {"malloc", (void *)malloc2, (void **)&orig2};
    gothook_set s1 = 0, s2 = 0;
    gothook_report r1 = {0}, r2 = {0};
    CHECK_ST(gothook_install(&h1, 1, &filter, &s1, &r1), GOTHOOK_OK);
    CHECK_ST(gothook_install(&h2, 1, &filter, &s2, &r2), GOTHOOK_OK);
    if (order == 0) hk_print_report("set 1 install", &r1), hk_print_report("set 2 install", &r2);
    CHECK(s1 != s2, "two sets share handle %u", s1);
    CHECK(orig1 == real, "set 1 original %p, want malloc %p", orig1, real);
    CHECK(orig2 == (void *)malloc1, "set 2 original %p, want set 1's replacement %p", orig2, (void *)malloc1);
    CHECK(r2.slots_patched == r1.slots_patched && r1.slots_patched > 0, "set 2 patched %u slots, set 1 %u",
          r2.slots_patched, r1.slots_patched);
    unsigned a, b, made = run(&a, &b);
    CHECK(a == made && b == made, "stacked: hook 1 saw %u, hook 2 saw %u of %u calls", a, b, made);
    checks_calls += made;
    gothook_set first = order == 0 ? s1 : s2, second = order == 0 ? s2 : s1;
    gothook_report u = {0};
    CHECK_ST(gothook_uninstall(first, &u), GOTHOOK_OK);
    CHECK(u.slots_changed == 0, "uninstall of set %d found %u changed slots", order == 0 ? 1 : 2, u.slots_changed);
    made = run(&a, &b);
    if (order == 0) {
      CHECK(orig2 == real, "after set 1 left, set 2's original is %p, want malloc", orig2);
      CHECK(a == 0 && b == made, "set 1 uninstalled: hook 1 saw %u, hook 2 saw %u of %u", a, b, made);
    } else {
      CHECK(a == made && b == 0, "set 2 uninstalled: hook 1 saw %u of %u, hook 2 saw %u", a, made, b);
    }
    checks_calls += made;
    CHECK_ST(gothook_uninstall(second, &u), GOTHOOK_OK);
    made = run(&a, &b);
    CHECK(a == 0 && b == 0, "both uninstalled: hooks saw %u and %u calls", a, b);
    for (int i = 0; i < hk_nlibs; i++) {
      struct hk_slots ss;
      hk_snapshot(hk_libs[i].path, &ss);
      for (int k = 0; k < ss.n; k++)
        if (ss.s[k].func == GF_MALLOC)
          CHECK(ss.s[k].value == real, "[%s] malloc slot holds %p after both left", hk_libs[i].shape, ss.s[k].value);
    }
    scenarios++;
  }
  printf("hooks_stacking: %d fixtures, %u uninstall orders, %u fixture malloc calls checked; %s\n",
         hk_nlibs, scenarios, checks_calls, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
