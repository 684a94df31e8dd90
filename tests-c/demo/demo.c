/*
 * gothook demo: hook the six allocator functions in every library of this process while other
 * threads keep loading and unloading libraries that take milliseconds to relocate, and show what
 * happened.  Each loader thread dlopens a plugin, calls the allocators through it (PLT calls and
 * calls through pointers stored in data and in RELRO), checks that every call reached the hook,
 * and dlcloses it.  An observer thread walks the library list the way a profiler does and counts
 * the libraries it saw listed but not yet relocated: gothook leaves those alone, a naive hooker
 * patches them (and crashes or loses its hooks).
 *
 * Usage: gothook_demo [seconds] [plugin.so ...]    (exit 0 when no call was missed)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc_fixture.h"
#include "gothook.h"

#define MAX_PLUGINS 16
#define THREADS 3

/* ---- hooks: count per calling thread and in total ---------------------------------------- */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

static __thread unsigned long tl_hooked[GF_NFUNCS];
static atomic_ulong total_hooked[GF_NFUNCS];

static void count(int f) {
  tl_hooked[f]++;
  atomic_fetch_add_explicit(&total_hooked[f], 1, memory_order_relaxed);
}
static void *hook_malloc(size_t n) { count(GF_MALLOC); return real_malloc(n); }
static void *hook_calloc(size_t a, size_t b) { count(GF_CALLOC); return real_calloc(a, b); }
static void *hook_realloc(void *p, size_t n) { count(GF_REALLOC); return real_realloc(p, n); }
static void hook_free(void *p) { count(GF_FREE); real_free(p); }
static int hook_posix_memalign(void **p, size_t a, size_t n) {
  count(GF_POSIX_MEMALIGN);
  return real_posix_memalign(p, a, n);
}
static void *hook_aligned_alloc(size_t a, size_t n) {
  count(GF_ALIGNED_ALLOC);
  return real_aligned_alloc(a, n);
}

/* ---- plugins and what happened to them -------------------------------------------------- */
struct plugin {
  const char *path;
  const char *shape;
  atomic_ulong loads, hooked_loads, calls, missed;
};
static struct plugin plugins[MAX_PLUGINS];
static int nplugins;

static atomic_int stop;
static atomic_ulong walks, seen_loading, seen_ready, refreshes;
static atomic_ulong rep_patched_libs, rep_slots, rep_not_ready, rep_repaired, rep_conflict;

static const char *base(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static void *loader_thread(void *arg) {
  long t = (long)arg;
  unsigned round = 0;
  while (!atomic_load(&stop)) {
    /* Each thread owns its plugins, so no other thread is inside one while it is hooked. */
    int i = t + THREADS * (int)(round++ % (unsigned)((nplugins - t + THREADS - 1) / THREADS));
    if (i >= nplugins) i = t;
    struct plugin *p = &plugins[i];
    void *h = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "dlopen %s: %s\n", p->path, dlerror());
      exit(2);
    }
    atomic_fetch_add(&p->loads, 1);
    gothook_fixture_run_fn run = (gothook_fixture_run_fn)dlsym(h, "gothook_fixture_run");
    struct gothook_fixture_calls made;
    memset(&made, 0, sizeof made);
    unsigned long before[GF_NFUNCS];
    memcpy(before, tl_hooked, sizeof before);
    run(&made);
    unsigned long made_total = 0, missed = 0;
    for (int f = 0; f < GF_NFUNCS; f++) {
      unsigned long expect = 0;
      for (int path = 0; path < GF_NPATHS; path++) expect += made.calls[path][f];
      unsigned long got = tl_hooked[f] - before[f];
      made_total += expect;
      if (got < expect) missed += expect - got;
    }
    atomic_fetch_add(&p->calls, made_total - missed);
    atomic_fetch_add(&p->missed, missed);
    if (missed == 0) atomic_fetch_add(&p->hooked_loads, 1);
    dlclose(h);
  }
  return NULL;
}

/* A profiler-style walker: sees every listed library, READY or not. */
static int observe(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (lib->readiness == GOTHOOK_READY)
    atomic_fetch_add(&seen_ready, 1);
  else
    atomic_fetch_add(&seen_loading, 1);
  return 0;
}

static void *observer_thread(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    gothook_libs_each(observe, NULL, GOTHOOK_LIBS_ALL);
    atomic_fetch_add(&walks, 1);
    /* A refresh, as a profiler's timer would run it; the dlopen interception does the rest. */
    gothook_report r;
    if (gothook_refresh(0, &r) == GOTHOOK_OK) {
      atomic_fetch_add(&refreshes, 1);
      atomic_fetch_add(&rep_not_ready, r.libs_not_ready);
      atomic_fetch_add(&rep_repaired, r.slots_repaired);
      atomic_fetch_add(&rep_conflict, r.slots_conflict);
    }
    usleep(200);
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void table(int tty, double elapsed, int final) {
  unsigned long calls = 0, missed = 0, loads = 0, hooked = 0;
  for (int i = 0; i < nplugins; i++) {
    loads += plugins[i].loads;
    hooked += plugins[i].hooked_loads;
    calls += plugins[i].calls;
    missed += plugins[i].missed;
  }
  if (!tty && !final) {
    printf("t=%4.1fs loads=%lu hooked=%lu calls=%lu missed=%lu walks=%lu seen-loading=%lu "
           "refreshes=%lu repaired=%lu\n",
           elapsed, loads, hooked, calls, missed, (unsigned long)walks,
           (unsigned long)seen_loading, (unsigned long)refreshes, (unsigned long)rep_repaired);
    fflush(stdout);
    return;
  }
  if (tty && !final) printf("\033[H\033[J");
  printf("gothook demo — %.1f s, %d loader threads, %d plugins (~20,000 relocations each)\n\n",
         elapsed, THREADS, nplugins);
  printf("  %-28s %-14s %8s %8s %12s %8s\n", "plugin", "shape", "loads", "hooked", "calls seen",
         "missed");
  for (int i = 0; i < nplugins; i++)
    printf("  %-28s %-14s %8lu %8lu %12lu %8lu\n", base(plugins[i].path), plugins[i].shape,
           (unsigned long)plugins[i].loads, (unsigned long)plugins[i].hooked_loads,
           (unsigned long)plugins[i].calls, (unsigned long)plugins[i].missed);
  printf("\n  library walks by an observer thread:   %lu\n", (unsigned long)walks);
  printf("  libraries seen listed but NOT READY:   %lu  (left alone: a naive hooker patches these)\n",
         (unsigned long)seen_loading);
  printf("  refreshes: %lu, skipped-while-loading: %lu, slots repaired: %lu, CAS conflicts: %lu\n",
         (unsigned long)refreshes, (unsigned long)rep_not_ready, (unsigned long)rep_repaired,
         (unsigned long)rep_conflict);
  printf("  loads: %lu, hooked on every call: %lu, allocator calls through hooks: %lu, missed: %lu\n",
         loads, hooked, calls, missed);
  fflush(stdout);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10.0;
  for (int i = 2; i < argc && nplugins < MAX_PLUGINS; i++) {
    plugins[nplugins].path = argv[i];
    nplugins++;
  }
  if (nplugins < THREADS) {
    fprintf(stderr, "usage: %s seconds plugin.so... (at least %d plugins)\n", argv[0], THREADS);
    return 2;
  }
  /* Read each plugin's shape once (the plugin stays loaded only for this). */
  for (int i = 0; i < nplugins; i++) {
    void *h = dlopen(plugins[i].path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "dlopen %s: %s\n", plugins[i].path, dlerror());
      return 2;
    }
    const char *(*shape)(void) = (const char *(*)(void))dlsym(h, "gothook_fixture_shape");
    plugins[i].shape = strdup(shape ? shape() : "?");
    dlclose(h);
  }

  printf("gothook %s: readiness rule %u (1 = _dl_find_object, 2 = RELRO, 3 = musl list)\n",
         gothook_version(), gothook_readiness_rule());
  gothook_hook hooks[] = {
      {"malloc", (void *)hook_malloc, (void **)&real_malloc},
      {"calloc", (void *)hook_calloc, (void **)&real_calloc},
      {"realloc", (void *)hook_realloc, (void **)&real_realloc},
      {"free", (void *)hook_free, (void **)&real_free},
      {"posix_memalign", (void *)hook_posix_memalign, (void **)&real_posix_memalign},
      {"aligned_alloc", (void *)hook_aligned_alloc, (void **)&real_aligned_alloc},
  };
  gothook_set alloc_set, dlopen_set;
  gothook_report r;
  gothook_status s = gothook_install(hooks, 6, NULL, &alloc_set, &r);
  if (s != GOTHOOK_OK) {
    fprintf(stderr, "gothook_install: %s\n", gothook_status_str(s));
    return 1;
  }
  printf("installed allocator hooks: %u libraries, %u slots patched\n", r.libs_patched,
         r.slots_patched);
  s = gothook_intercept_dlopen(&dlopen_set, &r);
  if (s != GOTHOOK_OK) {
    fprintf(stderr, "gothook_intercept_dlopen: %s\n", gothook_status_str(s));
    return 1;
  }
  printf("intercepting dlopen/dlclose: every new library is hooked before dlopen returns\n\n");

  pthread_t th[THREADS + 1];
  for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, loader_thread, (void *)t);
  pthread_create(&th[THREADS], NULL, observer_thread, NULL);

  int tty = isatty(STDOUT_FILENO);
  double start = now_s(), next = start;
  while (now_s() - start < seconds) {
    usleep(50000);
    if (now_s() >= next) {
      table(tty, now_s() - start, 0);
      next += tty ? 0.25 : 1.0;
    }
  }
  atomic_store(&stop, 1);
  for (int t = 0; t <= THREADS; t++) pthread_join(th[t], NULL);

  gothook_report u1, u2;
  gothook_status s1 = gothook_uninstall(dlopen_set, &u1);
  gothook_status s2 = gothook_uninstall(alloc_set, &u2);
  printf("\n=== summary ===\n");
  table(tty, now_s() - start, 1);
  printf("  uninstall: %s / %s, slots restored %u, changed by others %u\n", gothook_status_str(s1),
         gothook_status_str(s2), u1.slots_restored + u2.slots_restored,
         u1.slots_changed + u2.slots_changed);
  unsigned long missed = 0, loads = 0;
  for (int i = 0; i < nplugins; i++) {
    missed += plugins[i].missed;
    loads += plugins[i].loads;
  }
  if (missed || !loads || s1 != GOTHOOK_OK || s2 != GOTHOOK_OK) {
    printf("RESULT: FAIL (%lu calls missed their hook)\n", missed);
    return 1;
  }
  printf("RESULT: OK — every allocator call in %lu loads of libraries loaded after start reached "
         "its hook; %lu times a library was seen listed before it was ready and was left alone\n",
         loads, (unsigned long)seen_loading);
  return 0;
}
