/*
 * Hooking and the dlopen interception on a second architecture (built for aarch64, run under
 * qemu-user): a program that embeds libgothook.a installs a malloc set and the interception, then
 * dlopens and dlcloses a lazy and a now plugin from 4 threads; every plugin malloc call must reach
 * the hook when dlopen returns, without any refresh call.  Then the interception rows that make
 * sense in one process: the same file, handle and error text before and after installing it.
 *
 *   hooks_aarch64 <dir>   (dir holds lib/libaa_{lazy,now,wm}.so, wm1/libaa_wm.so (another
 *                          machine) and libaa_caller.so (RUNPATH $ORIGIN/wm1:$ORIGIN/lib))
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gothook.h"
#include "gothook_test_check.h"

#define THREADS 4
#define ROUNDS 30
#define CALLS 5

static void *(*real_malloc)(size_t);
static __thread unsigned long hooked;
static void *count_malloc(size_t n) {
  hooked++;
  return real_malloc(n);
}

static const char *dir;
static unsigned long reached[THREADS], expected[THREADS];
static unsigned failed_loads[THREADS];

static void *worker(void *arg) {
  long t = (long)arg;
  char path[2][512];
  snprintf(path[0], sizeof path[0], "%s/lib/libaa_lazy.so", dir);
  snprintf(path[1], sizeof path[1], "%s/lib/libaa_now.so", dir);
  for (int r = 0; r < ROUNDS; r++) {
    for (int k = 0; k < 2; k++) {
      void *h = dlopen(path[k], k ? RTLD_NOW : RTLD_LAZY);
      if (!h) {
        failed_loads[t]++;
        continue;
      }
      unsigned (*run)(unsigned) = (unsigned (*)(unsigned))dlsym(h, "aa_plugin_run");
      unsigned long before = hooked;
      unsigned made = run ? run(CALLS) : 0;
      reached[t] += hooked - before;
      expected[t] += made;
      dlclose(h);
    }
  }
  return NULL;
}

struct seen {
  int ok, marker;
  unsigned long dev, ino;
  char err[256];
};

static void *(*caller_open)(const char *, int);

/* Loads `name` from this program, or through the caller library when `via_caller`. */
static struct seen load(const char *name, int flags, int via_caller, void **out) {
  struct seen s;
  memset(&s, 0, sizeof s);
  void *h = via_caller ? caller_open(name, flags) : dlopen(name, flags);
  if (out) *out = h;
  if (!h) {
    snprintf(s.err, sizeof s.err, "%s", dlerror());
    return s;
  }
  s.ok = 1;
  int (*m)(void) = (int (*)(void))dlsym(h, "aa_marker");
  s.marker = m ? m() : -1;
  struct link_map *lm = NULL;
  struct stat st;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && stat(lm->l_name, &st) == 0) {
    s.dev = (unsigned long)st.st_dev;
    s.ino = (unsigned long)st.st_ino;
  }
  return s;
}

static int same(struct seen a, struct seen b) {
  return a.ok == b.ok && a.marker == b.marker && a.dev == b.dev && a.ino == b.ino &&
         strcmp(a.err, b.err) == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s dir\n", argv[0]);
    return 2;
  }
  dir = argv[1];

  /* Rows before the interception: bare names through this program's RUNPATH $ORIGIN/lib and
   * through the wrong-machine file first in it, a missing name, and the same wrong-machine case
   * from a library's own RUNPATH; later an already loaded soname. */
  char cpath[512];
  snprintf(cpath, sizeof cpath, "%s/libaa_caller.so", dir);
  void *caller = dlopen(cpath, RTLD_NOW);
  CHECK(caller, "dlopen %s: %s", cpath, dlerror());
  if (!caller) return 1;
  caller_open = (void *(*)(const char *, int))dlsym(caller, "it_open");
  const char *names[] = {"libaa_now.so", "libaa_wm.so", "libaa_absent.so", "libaa_wm.so"};
  struct seen plain[4], icpt[4];
  for (int i = 0; i < 4; i++) {
    void *h;
    plain[i] = load(names[i], RTLD_NOW, i == 3, &h);
    if (h) dlclose(h);
  }
  CHECK(plain[0].ok && plain[0].marker == 2, "plain: the RUNPATH library was not found");
  CHECK(plain[1].ok && plain[1].marker == 3, "plain: the loader did not skip the wrong machine");
  CHECK(!plain[2].ok, "plain: a missing library loaded");
  CHECK(plain[3].ok && plain[3].marker == 3, "plain: the library caller did not skip the wrong "
        "machine");

  gothook_set dl_set, alloc_set;
  gothook_report r;
  gothook_status s = gothook_intercept_dlopen(&dl_set, &r);
  CHECK(s == GOTHOOK_OK, "intercept: %s", gothook_status_str(s));
  unsigned intercept_patched = r.slots_patched, same_rows = 0;
  CHECK(intercept_patched >= 2, "the interception patched %u slots (this program imports dlopen "
        "and dlclose)", intercept_patched);
  for (int i = 0; i < 4; i++) {
    void *h;
    icpt[i] = load(names[i], RTLD_NOW, i == 3, &h);
    same_rows += same(plain[i], icpt[i]);
    CHECK(same(plain[i], icpt[i]), "%s: plain ok=%d marker=%d ino=%lu err='%s' vs intercepted "
          "ok=%d marker=%d ino=%lu err='%s'", names[i], plain[i].ok, plain[i].marker,
          plain[i].ino, plain[i].err, icpt[i].ok, icpt[i].marker, icpt[i].ino, icpt[i].err);
    if (h) dlclose(h);
  }
  void *first, *again, *noload;
  char path[512];
  snprintf(path, sizeof path, "%s/lib/libaa_now.so", dir);
  load(path, RTLD_NOW, 0, &first);
  load("libaa_now.so", RTLD_NOW, 0, &again);
  load("libaa_now.so", RTLD_NOW | RTLD_NOLOAD, 0, &noload);
  same_rows += first && again == first && noload == first;
  CHECK(first && again == first && noload == first, "intercepted: an already loaded soname gave "
        "another handle (%p %p %p)", first, again, noload);
  if (noload) dlclose(noload);
  if (again) dlclose(again);
  if (first) dlclose(first);

  /* 4 threads load, run and unload plugins; every plugin malloc must reach the hook. */
  gothook_hook hk = {"malloc", (void *)count_malloc, (void **)&real_malloc};
  s = gothook_install(&hk, 1, NULL, &alloc_set, &r);
  CHECK(s == GOTHOOK_OK, "install malloc set: %s", gothook_status_str(s));
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)t);
  unsigned long all_reached = 0, all_expected = 0;
  unsigned all_failed = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    all_reached += reached[t];
    all_expected += expected[t];
    all_failed += failed_loads[t];
  }
  CHECK(all_failed == 0, "%u plugin loads failed", all_failed);
  CHECK(all_expected == (unsigned long)THREADS * ROUNDS * 2 * CALLS, "plugins made %lu calls",
        all_expected);
  CHECK(all_reached == all_expected, "%lu of %lu plugin malloc calls reached the hook",
        all_reached, all_expected);
  CHECK(gothook_uninstall(alloc_set, NULL) == GOTHOOK_OK, "uninstall malloc set");
  CHECK(gothook_uninstall(dl_set, NULL) == GOTHOOK_OK, "uninstall interception");

  /* Without the interception: glibc's counters are read lock-free here too, and a plain refresh
   * right after each dlopen hooks the plugin. */
  int lock_free = gothook_counters_lock_free();
  CHECK(lock_free == 1, "glibc's loader counters were not found on aarch64");
  s = gothook_install(&hk, 1, NULL, &alloc_set, &r);
  CHECK(s == GOTHOOK_OK, "install malloc set again: %s", gothook_status_str(s));
  unsigned plain_hooked = 0;
  for (int i = 0; i < 10; i++) {
    void *h = dlopen(path, RTLD_NOW);
    CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
    if (!h) break;
    CHECK(gothook_refresh(0, NULL) == GOTHOOK_OK, "plain refresh");
    unsigned (*run)(unsigned) = (unsigned (*)(unsigned))dlsym(h, "aa_plugin_run");
    unsigned long before = hooked;
    unsigned made = run ? run(CALLS) : 0;
    plain_hooked += made == CALLS && hooked - before == CALLS;
    dlclose(h);
  }
  CHECK(plain_hooked == 10, "%u of 10 plugins hooked by the plain refresh right after their dlopen",
        plain_hooked);
  CHECK(gothook_counters_lock_free() == 1, "a locked read disagreed with the lock-free one");
  CHECK(gothook_uninstall(alloc_set, NULL) == GOTHOOK_OK, "uninstall malloc set");
  printf("aarch64: interception patched %u slots; %lu of %lu plugin malloc calls hooked from %d "
         "threads; %u of 5 loader rows unchanged; lock-free counters %d, %u of 10 plugins hooked by "
         "a plain refresh after dlopen\n", intercept_patched, all_reached, all_expected,
         THREADS, same_rows, lock_free, plain_hooked);
  printf("%ld checks, %d failed\n", gt_checks, gt_failures);
  return gt_failures ? 1 : 0;
}
