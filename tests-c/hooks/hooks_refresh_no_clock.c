/* A "nothing changed" gothook_refresh, with gothook's counters read lock-free (glibc), reads no
 * clock and takes no lock of the loader's: this program defines clock_gettime and
 * dl_iterate_phdr itself (every call of gothook's reaches them first; they count the calls this
 * thread makes while counting, then forward to libc's) and checks, for 2,000 refreshes each:
 *  - plain refreshes, GOTHOOK_REFRESH_CACHED refreshes, and both again with the dlopen
 *    interception installed: 0 clock reads, 0 dl_iterate_phdr calls, every call GOTHOOK_OK;
 *  - right after an install and after an uninstall (within the probe interval of the last
 *    probe, where a cached refresh could trust that probe's stamp instead): after at most two
 *    refreshes, the same;
 *  - the counting sees gothook's calls: a GOTHOOK_REFRESH_FULL refresh is seen reading the clock
 *    and walking, and so is the first refresh after a dlopen and after a dlclose.
 * The program is linked -z now and the allocator set applies to the bind-now fixture only: a
 * hook written into a slot that still holds its lazy PLT stub is watched, and that re-check
 * (due once per probe interval) makes every refresh read the clock, by design.
 * Skipped (77) where the counters are not read lock-free (musl, static programs).
 * Usage: hooks_refresh_no_clock <libhk_fx_now.so> <libhk_probe_mod.so> */
#include "hk_common.h"

#include "hk_count_walks.h"

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static __thread long clock_reads;

int clock_gettime(clockid_t c, struct timespec *t) {
  if (counting) clock_reads++;
  if (!real_clock_gettime) /* called before main */
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  return real_clock_gettime(c, t);
}

static void *(*orig_malloc)(size_t);
static void (*orig_free)(void *);
static void *nc_malloc(size_t n) { return orig_malloc(n); }
static void nc_free(void *p) { orig_free(p); }

/* `n` refreshes with `flags`, counted: the calls that did not answer OK go to *bad. */
static void counted_refreshes(uint32_t flags, int n, long *reads, long *nwalks, int *bad) {
  clock_reads = walks = 0;
  *bad = 0;
  counting = 1;
  for (int i = 0; i < n; i++)
    if (gothook_refresh(flags, NULL) != GOTHOOK_OK) ++*bad;
  counting = 0;
  *reads = clock_reads;
  *nwalks = walks;
}

/* Settles (a few refreshes, as a caller's loop would), then checks 2,000 refreshes. */
static void check_quiet(const char *what, uint32_t flags) {
  for (int i = 0; i < 2; i++) gothook_refresh(flags, NULL);
  long reads, nwalks;
  int bad;
  counted_refreshes(flags, 2000, &reads, &nwalks, &bad);
  printf("%-44s clock reads %ld, dl_iterate_phdr %ld, not OK %d (of 2000)\n", what, reads, nwalks,
         bad);
  CHECK(reads == 0 && nwalks == 0 && bad == 0,
        "%s: %ld clock reads, %ld dl_iterate_phdr calls, %d not OK in 2000 refreshes", what, reads,
        nwalks, bad);
}

static uint32_t install_alloc_set(const char *suffix) {
  gothook_hook hooks[2] = {
      {.symbol = "malloc", .replacement = (void *)nc_malloc, .original = (void **)&orig_malloc},
      {.symbol = "free", .replacement = (void *)nc_free, .original = (void **)&orig_free},
  };
  gothook_filter filter = {.path_suffix = suffix};
  uint32_t id = 0;
  CHECK_ST(gothook_install(hooks, 2, &filter, &id, NULL), GOTHOOK_OK);
  return id;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <libhk_fx_now.so> <libhk_probe_mod.so>\n", argv[0]);
    return 2;
  }
  real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  real_dl_iterate_phdr = (int (*)(int (*)(struct dl_phdr_info *, size_t, void *), void *))dlsym(
      RTLD_NEXT, "dl_iterate_phdr");
  if (!real_clock_gettime || !real_dl_iterate_phdr) {
    fprintf(stderr, "no clock_gettime / dl_iterate_phdr to forward to\n");
    return 2;
  }
  void *fx = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(fx != NULL, "dlopen %s: %s", argv[1], dlerror());
  if (!fx) return 1;
  /* Only the bind-now fixture: no lazily bound slot is watched (the lazy re-check reads the
   * clock, once per interval). */
  const char *slash = strrchr(argv[1], '/');
  const char *suffix = slash ? slash + 1 : argv[1];
  uint32_t id = install_alloc_set(suffix);
  gothook_refresh(0, NULL);
  if (!gothook_counters_lock_free()) {
    printf("SKIP: gothook does not read the loader's counters lock-free here\n");
    return 77;
  }

  /* The counting sees gothook's calls: a full refresh walks. */
  long reads, nwalks;
  int bad;
  counted_refreshes(GOTHOOK_REFRESH_FULL, 1, &reads, &nwalks, &bad);
  printf("one GOTHOOK_REFRESH_FULL refresh: clock reads %ld, dl_iterate_phdr %ld\n", reads, nwalks);
  CHECK(nwalks >= 1 && reads >= 1 && bad == 0,
        "a full refresh was not seen walking and reading the clock (%ld, %ld): the counting "
        "does not see gothook's calls",
        nwalks, reads);

  check_quiet("plain", 0);
  check_quiet("GOTHOOK_REFRESH_CACHED", GOTHOOK_REFRESH_CACHED);

  /* Right after an install and an uninstall: at most two refreshes take the loader's lock. */
  uint32_t id2 = install_alloc_set(suffix);
  check_quiet("cached, right after an install", GOTHOOK_REFRESH_CACHED);
  CHECK_ST(gothook_uninstall(id2, NULL), GOTHOOK_OK);
  check_quiet("cached, right after an uninstall", GOTHOOK_REFRESH_CACHED);

  uint32_t dl_id = 0;
  CHECK_ST(gothook_intercept_dlopen(&dl_id, NULL), GOTHOOK_OK);
  check_quiet("plain, dlopen intercepted", 0);
  check_quiet("GOTHOOK_REFRESH_CACHED, dlopen intercepted", GOTHOOK_REFRESH_CACHED);

  CHECK_ST(gothook_uninstall(dl_id, NULL), GOTHOOK_OK);
  gothook_refresh(0, NULL);

  /* Something changed: the refresh right after a dlopen, and after a dlclose, walks. */
  void *m = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK(m != NULL, "dlopen %s: %s", argv[2], dlerror());
  counted_refreshes(0, 1, &reads, &nwalks, &bad);
  printf("the refresh right after a dlopen: clock reads %ld, dl_iterate_phdr %ld\n", reads, nwalks);
  CHECK(nwalks >= 1 && bad == 0, "the refresh after a dlopen did not walk");
  check_quiet("plain, after that dlopen", 0);
  if (m) dlclose(m);
  counted_refreshes(0, 1, &reads, &nwalks, &bad);
  printf("the refresh right after a dlclose: clock reads %ld, dl_iterate_phdr %ld\n", reads, nwalks);
  CHECK(nwalks >= 1 && bad == 0, "the refresh after a dlclose did not walk");
  check_quiet("plain, after that dlclose", 0);

  CHECK_ST(gothook_uninstall(id, NULL), GOTHOOK_OK);
  if (hk_failures) {
    fprintf(stderr, "%d failure(s)\n", hk_failures);
    return 1;
  }
  printf("OK\n");
  return 0;
}
