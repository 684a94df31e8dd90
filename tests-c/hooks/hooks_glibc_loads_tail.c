/* A refresh after loads hooks every object the loader added since the last refresh, also when
 * several came at once, when the one holding the hooked import is not the last added (a
 * library with a new dependency), and when libraries listed before them were unloaded in
 * between; with and without the dlopen interception.  (Refresh processes only the tail of the
 * loader's list after loads: this is what proves the tail is long enough.)
 * Usage: hooks_glibc_loads_tail <rounds> <fixture A.so> <fixture B.so> <fixture C.so>
 *                              <libhkt_x.so> */
#include "hk_common.h"

/* Imported by libhkt_x.so; exported by this program (the set's original). */
int hkt_main_value(void) { return 1; }
static int main_value_hook(void) { return 2; }
static void *main_value_orig;

static void forget_range(int i) { hk_libs[i].lo = hk_libs[i].hi = 0; }

static void check_hooked(int i, const char *when) {
  int before = hk_failures;
  hk_run_and_compare(i, 1, when);
  if (hk_failures != before) fprintf(stderr, "  (%s)\n", hk_libs[i].path);
}

static unsigned rounds_done;

static void run(int rounds, char **fx, const char *lib_x, int intercepted) {
  for (int r = 0; r < rounds; r++) {
    hk_nlibs = 0;
    /* Two loads, one refresh. */
    int a = hk_open(fx[0], 0);
    int b = hk_open(fx[1], 0);
    if (!intercepted) hk_run_and_compare(b, 0, "loaded, before refresh");
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    check_hooked(a, "two loads: the first");
    check_hooked(b, "two loads: the second");
    /* The earlier one unloaded, another loaded after the survivor. */
    CHECK(dlclose(hk_libs[a].handle) == 0, "dlclose: %s", dlerror());
    forget_range(a);
    int c = hk_open(fx[2], 0);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    check_hooked(c, "after an unload before it");
    check_hooked(b, "the survivor");
    /* A library with a new dependency: the hooked import is in the first of the two new
     * objects, not the last. */
    void *x = dlopen(lib_x, RTLD_NOW | RTLD_LOCAL);
    CHECK(x != NULL, "dlopen %s: %s", lib_x, dlerror());
    if (!x) return;
    int (*call)(void) = (int (*)(void))dlsym(x, "hkt_x_call");
    CHECK(call != NULL, "hkt_x_call: %s", dlerror());
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    if (call) CHECK(call() == 2, "round %d: the import of the library with a new dependency is not hooked", r);
    CHECK(dlclose(x) == 0, "dlclose: %s", dlerror());
    CHECK(dlclose(hk_libs[b].handle) == 0 && dlclose(hk_libs[c].handle) == 0, "dlclose: %s",
          dlerror());
    forget_range(b), forget_range(c);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    rounds_done++;
  }
}

int main(int argc, char **argv) {
  if (argc != 6) return 2;
  int rounds = atoi(argv[1]);
  hk_init_main();
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter filter = {0};
  filter.path_suffix = ".so";
  gothook_set set = 0, filt = 0, dl = 0;
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, NULL), GOTHOOK_OK);
  gothook_hook fh = {0};
  fh.symbol = "hkt_main_value";
  fh.replacement = (void *)main_value_hook;
  fh.original = &main_value_orig;
  CHECK_ST(gothook_install(&fh, 1, NULL, &filt, NULL), GOTHOOK_OK);
  run(rounds, argv + 2, argv[5], 0);
  CHECK_ST(gothook_intercept_dlopen(&dl, NULL), GOTHOOK_OK);
  run(rounds, argv + 2, argv[5], 1);
  CHECK_ST(gothook_uninstall(dl, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(filt, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_glibc_loads_tail: %u rounds of loads and unloads, each library hooked after its "
         "refresh; %s\n", rounds_done, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
