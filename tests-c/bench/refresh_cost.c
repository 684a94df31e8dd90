/* Cost of gothook_refresh where it matters to a profiler (not part of ctest):
 *   - the "nothing changed" probe, uncontended, without and with the dlopen interception;
 *   - a malloc-heavy loop whose malloc hook calls gothook_refresh(0) on every call, next to the
 *     same hook without the refresh (the ratio the issue targets is <= 2x);
 *   - the same with 4 threads allocating at once.
 * Build and run from the repository root after `cargo build --release -p gothook-capi`:
 *   gcc -O2 -Iinclude tests-c/bench/refresh_cost.c -Ltarget/release -lgothook \
 *       -Wl,-rpath,$PWD/target/release -lpthread -o /tmp/refresh_cost && /tmp/refresh_cost
 * Prints one line per figure (medians of 5 runs; with 4 threads, wall time divided by all pairs).
 * The fast path's cost is one vDSO clock read plus a few shared atomic loads; on machines where
 * that clock read is slow (a VM without a usable TSC in the vDSO) the ratios grow with it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gothook.h"

static void *(*real_malloc)(size_t);
static _Atomic int refresh_in_hook;
static void *hook_malloc(size_t n) {
  if (atomic_load_explicit(&refresh_in_hook, memory_order_relaxed)) gothook_refresh(0, NULL);
  return real_malloc(n);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median5(double v[5]) {
  qsort(v, 5, sizeof v[0], cmp);
  return v[2];
}

static double probe_ns(void) {
  enum { N = 1000000 };
  double v[5];
  for (int r = 0; r < 5; r++) {
    double t0 = now_ns();
    for (int i = 0; i < N; i++) gothook_refresh(0, NULL);
    v[r] = (now_ns() - t0) / N;
  }
  return median5(v);
}

enum { ALLOCS = 2000000 };
static void *alloc_loop(void *arg) {
  (void)arg;
  for (int i = 0; i < ALLOCS; i++) {
    void *p = malloc(16 + (i & 63));
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
  return NULL;
}
static double alloc_ns(int threads) {
  double v[5];
  for (int r = 0; r < 5; r++) {
    pthread_t th[8];
    double t0 = now_ns();
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, alloc_loop, NULL);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    v[r] = (now_ns() - t0) / ((double)ALLOCS * threads); /* wall time per pair of throughput */
  }
  return median5(v);
}

int main(void) {
  gothook_hook h = {"malloc", (void *)hook_malloc, (void **)&real_malloc};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set set = 0, icpt = 0;
  if (gothook_install(&h, 1, &f, &set, NULL) != GOTHOOK_OK) return 1;
  for (int pass = 0; pass < 2; pass++) {
    const char *mode = pass ? "with interception" : "without interception";
    if (pass && gothook_intercept_dlopen(&icpt, NULL) != GOTHOOK_OK) return 1;
    for (int i = 0; i < 8; i++) gothook_refresh(0, NULL); /* settle lazy re-checks */
    printf("probe (no change, uncontended), %s: %.0f ns\n", mode, probe_ns());
    for (int threads = 1; threads <= 4; threads += 3) {
      refresh_in_hook = 0;
      double plain = alloc_ns(threads);
      refresh_in_hook = 1;
      double with = alloc_ns(threads);
      refresh_in_hook = 0;
      printf("malloc+free, %d thread%s, %s: hook %.0f ns, hook+refresh %.0f ns per pair (%.2fx)\n", threads,
             threads > 1 ? "s" : "", mode, plain, with, with / plain);
    }
  }
  gothook_uninstall(icpt, NULL);
  gothook_uninstall(set, NULL);
  return 0;
}
