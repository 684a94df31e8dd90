/* While another thread is inside dlclose (a destructor runs: that thread holds the loader's
 * load lock, and the library is still listed) and nothing was loaded or unloaded, a plain
 * gothook_refresh answers from glibc's counters read lock-free: it does not walk the loader's
 * list (dl_iterate_phdr takes the loader's list lock, which every dlopen and dlclose of the
 * process then waits for).  This program defines dl_iterate_phdr itself (gothook's calls reach it
 * first; it counts the calls this thread makes while counting, then forwards to libc's) and
 * checks 2,000 such refreshes: 0 dl_iterate_phdr calls, every one GOTHOOK_OK; and that the
 * counting sees gothook's walks (a GOTHOOK_REFRESH_FULL refresh is seen walking).
 * The set applies to the bind-now fixture only, so no lazily bound slot is watched (that
 * re-check walks once per probe interval, by design); the refreshes are counted more than one
 * probe interval after the last walk.
 * Skipped (77) where the counters are not read lock-free (musl, static programs).
 * Usage: hooks_refresh_during_dlclose <libhk_fx_now.so> <libhk_dtor_gated.so> */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>

#include "hk_count_walks.h"

static void *(*orig_malloc)(size_t);
static void *dc_malloc(size_t n) { return orig_malloc(n); }

static _Atomic int in_dtor, release_dtor;

static void wait_for(_Atomic int *flag, const char *what) {
  uint64_t deadline = hk_now_ns() + 10000000000u;
  while (!*flag && hk_now_ns() < deadline) sched_yield();
  CHECK(*flag, "timed out waiting for %s", what);
}

/* Called by libhk_dtor_gated.so's destructor, inside thread X's dlclose. */
void hk_in_dtor(void) {
  in_dtor = 1;
  wait_for(&release_dtor, "the main thread to release the destructor");
}

static void *gated;
static void *thread_x(void *arg) {
  (void)arg;
  dlclose(gated);
  return NULL;
}

/* `n` refreshes with `flags`, counted: the dl_iterate_phdr calls, and the calls not OK. */
static long counted_walks(uint32_t flags, int n, int *bad) {
  walks = 0;
  *bad = 0;
  counting = 1;
  for (int i = 0; i < n; i++)
    if (gothook_refresh(flags, NULL) != GOTHOOK_OK) ++*bad;
  counting = 0;
  return walks;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <libhk_fx_now.so> <libhk_dtor_gated.so>\n", argv[0]);
    return 2;
  }
  real_dl_iterate_phdr = (int (*)(int (*)(struct dl_phdr_info *, size_t, void *), void *))dlsym(
      RTLD_NEXT, "dl_iterate_phdr");
  if (!real_dl_iterate_phdr) {
    fprintf(stderr, "no dl_iterate_phdr to forward to\n");
    return 2;
  }
  void *fx = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(fx != NULL, "dlopen %s: %s", argv[1], dlerror());
  gated = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK(gated != NULL, "dlopen %s: %s", argv[2], dlerror());
  if (!fx || !gated) return 1;
  const char *slash = strrchr(argv[1], '/');
  gothook_hook h = {.symbol = "malloc", .replacement = (void *)dc_malloc, .original = (void **)&orig_malloc};
  gothook_filter filter = {.path_suffix = slash ? slash + 1 : argv[1]};
  uint32_t id = 0;
  CHECK_ST(gothook_install(&h, 1, &filter, &id, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  if (!gothook_counters_lock_free()) {
    printf("SKIP: gothook does not read the loader's counters lock-free here\n");
    CHECK_ST(gothook_uninstall(id, NULL), GOTHOOK_OK);
    release_dtor = 1; /* the destructor runs at exit */
    return 77;
  }
  int bad;
  long nwalks = counted_walks(GOTHOOK_REFRESH_FULL, 1, &bad);
  CHECK(nwalks >= 1 && bad == 0,
        "a full refresh was not seen walking (%ld): the counting does not see gothook's calls",
        nwalks);
  /* Settle (the refreshes a caller's loop would make), then let the probe interval pass. */
  for (int i = 0; i < 2; i++) gothook_refresh(0, NULL);
  uint64_t settled = hk_now_ns();
  while (hk_now_ns() < settled + 2 * GOTHOOK_PROBE_INTERVAL_NS) sched_yield();

  pthread_t x;
  CHECK(pthread_create(&x, NULL, thread_x, NULL) == 0, "pthread_create");
  wait_for(&in_dtor, "the destructor of the library thread X unloads");
  nwalks = counted_walks(0, 2000, &bad);
  printf("2000 plain refreshes during another thread's dlclose, nothing changed: dl_iterate_phdr %ld, "
         "not OK %d\n", nwalks, bad);
  CHECK(nwalks == 0 && bad == 0,
        "%ld dl_iterate_phdr calls, %d not OK in 2000 refreshes while another thread was inside "
        "dlclose and nothing changed", nwalks, bad);
  release_dtor = 1;
  pthread_join(x, NULL);

  CHECK_ST(gothook_uninstall(id, NULL), GOTHOOK_OK);
  printf("hooks_refresh_during_dlclose: %s\n", hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
