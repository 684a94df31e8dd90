/* gothook_refresh and gothook_install called from inside a malloc hook (context class
 * malloc-safe): the hook refreshes on every call, so a fixture dlopened later is hooked by the
 * refresh that the next hooked malloc runs (no explicit refresh by the test), and the first hook
 * call installs a second set (free) from inside the hook.
 * Usage: hooks_in_malloc_hook <fixture A.so> <fixture B.so> */
#include "hk_common.h"

static void *volatile real_malloc, *volatile real_free;
static _Atomic unsigned mallocs[HK_MAX_LIBS + 2], frees[HK_MAX_LIBS + 2];
static _Atomic unsigned refresh_ok, refresh_bad, installs_ok, installs_bad, patched_in_hook;
static __thread int in_hook;
static gothook_set free_set;

static int fixtures_only(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  return strstr(lib->name, "/libhk_fx_") != NULL;
}
static gothook_filter filter = {.accept = fixtures_only};

__attribute__((noinline)) static void hooked_free(void *p) {
  frees[hk_who(__builtin_return_address(0))]++;
  ((void (*)(void *))real_free)(p);
}
static gothook_hook free_hook = {"free", (void *)hooked_free, (void **)&real_free};

__attribute__((noinline)) static void *hooked_malloc(size_t n) {
  mallocs[hk_who(__builtin_return_address(0))]++;
  if (!in_hook) {
    in_hook = 1;
    gothook_report r = {0};
    gothook_status s = gothook_refresh(0, &r);
    if (s == GOTHOOK_OK) {
      refresh_ok++;
      patched_in_hook += r.slots_patched;
    }
    else refresh_bad++;
    if (!free_set) {
      gothook_status i = gothook_install(&free_hook, 1, &filter, &free_set, &r);
      if (i == GOTHOOK_OK) installs_ok++;
      else installs_bad++;
    }
    in_hook = 0;
  }
  return ((void *(*)(size_t))real_malloc)(n);
}

static void run(int i, unsigned *m, unsigned *f, unsigned *made_m, unsigned *made_f) {
  unsigned m0 = mallocs[i], f0 = frees[i];
  struct gothook_fixture_calls c = {0};
  hk_libs[i].run_path(GF_PATH_PLT, &c);
  *m = mallocs[i] - m0, *f = frees[i] - f0;
  *made_m = c.calls[GF_PATH_PLT][GF_MALLOC], *made_f = c.calls[GF_PATH_PLT][GF_FREE];
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  int a = hk_open(argv[1], 0);
  gothook_hook mh = {"malloc", (void *)hooked_malloc, (void **)&real_malloc};
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(&mh, 1, &filter, &set, &rep), GOTHOOK_OK);
  hk_print_report("install malloc set", &rep);
  unsigned m, f, mm, mf;
  run(a, &m, &f, &mm, &mf);
  CHECK(installs_ok == 1 && installs_bad == 0, "install from the hook: %u ok, %u failed", installs_ok, installs_bad);
  CHECK(m == mm, "A: malloc hook saw %u of %u", m, mm);
  run(a, &m, &f, &mm, &mf);
  CHECK(f == mf, "A: free set installed inside the malloc hook saw %u of %u frees", f, mf);
  /* B arrives; only the hook's own refresh may patch it. */
  int b = hk_open(argv[2], 0);
  run(a, &m, &f, &mm, &mf); /* A's malloc -> hook -> refresh patches B */
  run(b, &m, &f, &mm, &mf);
  CHECK(m == mm && f == mf, "B after a hooked malloc elsewhere: malloc %u/%u, free %u/%u", m, mm, f, mf);
  CHECK(refresh_bad == 0 && refresh_ok >= 3, "refresh in hook: %u ok, %u failed", refresh_ok, refresh_bad);
  CHECK(patched_in_hook >= 2, "refreshes inside the hook patched only %u slots", patched_in_hook);
  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(free_set, &u), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(set, &u), GOTHOOK_OK);
  run(b, &m, &f, &mm, &mf);
  CHECK(m == 0 && f == 0, "after uninstall hooks saw %u mallocs, %u frees", m, f);
  printf("hooks_in_malloc_hook: %u refreshes and %u install inside the malloc hook, %u slots patched by them "
         "(fixture B hooked without an outside refresh); %s\n",
         (unsigned)refresh_ok, (unsigned)installs_ok, (unsigned)patched_in_hook, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
