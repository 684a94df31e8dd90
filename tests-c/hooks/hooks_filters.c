/* Library filters of a hook set: path suffix, contains-address, accept callback, EXCLUDE_MAIN
 * and INCLUDE_SELF.  Each case installs the six allocator hooks, runs every fixture and the main
 * program's own allocation, and checks exactly the selected objects reach the hooks.
 * Built twice: linked with libgothook.so (SELF is libgothook.so), and (HK_STATIC) with
 * libhk_host.so, a "profiler" library that embeds libgothook.a and allocates itself: SELF is that
 * library, excluded by default and hooked with INCLUDE_SELF.
 * Usage: hooks_filters <fixture.so>... (3 fixtures) */
#include "hk_common.h"

__attribute__((noinline)) static void main_allocates(unsigned *made) {
  void *volatile p = malloc(40); /* through the main program's own PLT slot */
  free(p);
  *made = 1;
}

#ifdef HK_STATIC
void hk_host_allocate(void);
static int host = -1; /* index of libhk_host.so in hk_libs */
#endif

struct accept_ctx { const char *want; unsigned calls; };
static int accept_one(const gothook_lib *lib, void *ctx) {
  struct accept_ctx *a = ctx;
  a->calls++;
  return strcmp(lib->name, a->want) == 0;
}

/* Installs with `filter`, then checks which of main and the fixtures are hooked. */
static int nfix;
static void expect_hooked(const char *what, const gothook_filter *filter, int main_hooked, int fixture_mask,
                          int self_hooked) {
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, filter, &set, &rep), GOTHOOK_OK);
  printf("  %-28s", what);
  hk_print_report("", &rep);
  for (int i = 0; i < nfix; i++) hk_run_and_compare(i, (fixture_mask >> i) & 1, what);
#ifdef HK_STATIC
  unsigned h0 = hk_count[host][GF_MALLOC];
  hk_host_allocate();
  unsigned hs = hk_count[host][GF_MALLOC] - h0;
  CHECK(hs == (self_hooked ? 1u : 0u), "%s: SELF's malloc seen %u times, want %d", what, hs, self_hooked);
#else
  (void)self_hooked;
#endif
  unsigned before = hk_count[HK_MAIN][GF_MALLOC], made = 0;
  main_allocates(&made);
  unsigned seen = hk_count[HK_MAIN][GF_MALLOC] - before;
  CHECK(seen == (main_hooked ? made : 0), "%s: main's malloc seen %u times, want %s", what, seen,
        main_hooked ? "1" : "0");
  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(set, &u), GOTHOOK_OK);
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  hk_init_main();
  for (int a = 1; a < argc; a++) hk_open(argv[a], 0);
  nfix = hk_nlibs;
  int all = (1 << nfix) - 1, cases = 0;
#ifdef HK_STATIC
  Dl_info di;
  if (!dladdr((void *)hk_host_allocate, &di)) return 2;
  struct hk_find hf;
  if (!hk_locate(di.dli_fname, &hf)) return 2;
  host = hk_nlibs++;
  hk_libs[host].path = di.dli_fname, hk_libs[host].lo = hf.lo, hk_libs[host].hi = hf.hi;
  const char *self = "libhk_host.so (embeds libgothook.a)";
#else
  const char *self = "libgothook.so";
#endif
  gothook_filter f = {0};
  const char *slash = strrchr(argv[2], '/');
  f.path_suffix = slash; /* "/libhk_fx_<shape>.so" */
  expect_hooked("path suffix", &f, 0, 1 << 1, 0), cases++;

  memset(&f, 0, sizeof f);
  f.contains = dlsym(hk_libs[2].handle, "gothook_fixture_run");
  expect_hooked("contains address", &f, 0, 1 << 2, 0), cases++;

  memset(&f, 0, sizeof f);
  struct accept_ctx ac = {argv[1], 0};
  f.accept = accept_one;
  f.accept_ctx = &ac;
  expect_hooked("accept callback", &f, 0, 1 << 0, 0), cases++;
  CHECK(ac.calls >= 3, "accept callback called %u times", ac.calls);

  memset(&f, 0, sizeof f);
  expect_hooked("default filter", &f, 1, all, 0), cases++;
  expect_hooked("NULL filter", NULL, 1, all, 0), cases++;

  f.flags = GOTHOOK_FILTER_EXCLUDE_MAIN;
  expect_hooked("EXCLUDE_MAIN", &f, 0, all, 0), cases++;

  f.flags = GOTHOOK_FILTER_INCLUDE_SELF;
  expect_hooked("INCLUDE_SELF", &f, 1, all, 1), cases++;
  f.flags = GOTHOOK_FILTER_INCLUDE_SELF | GOTHOOK_FILTER_EXCLUDE_MAIN;
  expect_hooked("INCLUDE_SELF|EXCLUDE_MAIN", &f, 0, all, 1), cases++;

  printf("hooks_filters: %d filter cases, %d fixtures, SELF is %s; %s\n", cases, nfix, self,
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
