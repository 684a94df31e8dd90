/* A plain gothook_refresh(0), without the dlopen interception, reads the loader's add/remove
 * counters without the loader's list lock where gothook found glibc's (gothook_counters_lock_free):
 *  - on glibc they are found (musl and static programs: not, and only the locked path is checked);
 *  - while another thread sits inside its own dl_iterate_phdr callback (holding the loader's list
 *    lock), every one of 20 plain refreshes returns OK before that thread leaves;
 *  - "dlopen, then refresh" still hooks at once: 40 rounds of dlopen, one plain refresh, call,
 *    dlclose (every other round without a refresh between dlclose and the next dlopen, so the
 *    module may come back at the same address unseen);
 *  - while a dlmopen namespace exists, a plain refresh takes the lock again (it waits for the
 *    holder) and still hooks right after a dlopen;
 *    once the namespace is closed, refreshes are lock-free again;
 *  - turned off (gothook_counters_lock_free_off), a plain refresh waits for the holder, and still
 *    hooks right after a dlopen;
 *  - (--namespace-first) with a dlmopen namespace at the first refresh the search fails, and a
 *    refresh after the namespace closed searches again and finds the counters.
 * Usage: hooks_refresh_lockfree [--namespace-first] <libhk_probe_mod.so> */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

int hk_filt_target(void);

static void *volatile orig;
static int lf_hook(void) { return 70 + ((int (*)(void))orig)(); }

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The holder: on each `go`, enters dl_iterate_phdr and stays in its callback until `release`
 * or `hold_ns` passed, then sets `left`. */
static _Atomic int go, inside, release, left, quit;
static _Atomic double hold_ns;
static int hold(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info, (void)size, (void)data;
  double t0 = now_ns();
  inside = 1;
  while (!release && now_ns() - t0 < hold_ns) {
  }
  left = 1;
  return 1;
}
static void *holder(void *arg) {
  (void)arg;
  for (;;) {
    while (!go && !quit) sched_yield();
    if (quit) return NULL;
    go = 0;
    dl_iterate_phdr(hold, NULL);
  }
}

/* One round: the holder enters its callback for at most `ns`; a plain refresh is made meanwhile.
 * Returns 1 if the refresh returned before the holder left. */
static int refresh_while_held(double ns) {
  inside = release = left = 0;
  hold_ns = ns;
  go = 1;
  while (!inside) {
  }
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int early = !left;
  release = 1;
  while (!left) {
  }
  return early;
}

/* dlopen, one plain refresh, call through the module: 1 when hooked. */
static int hooked_after_dlopen(const char *path, int refresh_after_close) {
  void *m = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(m != NULL, "dlopen %s: %s", path, dlerror());
  if (!m) return 0;
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int (*call)(void) = (int (*)(void))dlsym(m, "hk_probe_mod_call");
  int ok = call() == 71;
  dlclose(m);
  if (refresh_after_close) CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  return ok;
}

/* --namespace-first: a dlmopen namespace exists at the first refresh, so the search fails; once
 * it is closed, a later refresh searches again and finds the counters. */
static int namespace_first(const char *mod) {
  void *ns = dlmopen(LM_ID_NEWLM, mod, RTLD_NOW | RTLD_LOCAL);
  if (!ns) {
    printf("hooks_refresh_lockfree --namespace-first: dlmopen refused (%s); skipped\n", dlerror());
    return 77;
  }
  gothook_hook h = {"hk_filt_target", (void *)lf_hook, (void **)&orig, 0};
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, NULL, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  dlclose(ns);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int found = gothook_counters_lock_free();
  CHECK(found == 1, "the counters were not found once the namespace that hid them was closed");
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_lockfree --namespace-first: found %d after the namespace closed; %s\n", found,
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--namespace-first") == 0) {
    CHECK(hk_filt_target() == 1, "hk_filt_target");
    return namespace_first(argv[2]);
  }
  if (argc != 2) return 2;
  hk_init_main();
  CHECK(hk_filt_target() == 1, "hk_filt_target");
  gothook_hook h = {"hk_filt_target", (void *)lf_hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_probe_mod.so";
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int lock_free = gothook_counters_lock_free();
#ifdef __GLIBC__
  CHECK(lock_free == 1, "glibc's counters were not found: every refresh takes the loader's lock");
#endif
  pthread_t t;
  CHECK(pthread_create(&t, NULL, holder, NULL) == 0, "pthread_create");

  int early = 0, missed = 0;
  if (lock_free) {
    for (int round = 0; round < 20; round++) early += refresh_while_held(2e9);
    CHECK(early == 20, "only %d of 20 plain refreshes returned while another thread held the loader's lock", early);
  }
  for (int round = 0; round < 40; round++) missed += !hooked_after_dlopen(argv[1], round % 2);
  CHECK(missed == 0, "%d of 40 modules not hooked by the plain refresh right after their dlopen", missed);
  CHECK(gothook_counters_lock_free() == lock_free, "the lock-free read was turned off by a difference");

  /* A second namespace: the counters of one namespace no longer make dlpi_subs. */
  int namespaced = 0;
  void *ns = dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW | RTLD_LOCAL);
  if (ns) {
    namespaced = 1;
    int waited = 0;
    for (int round = 0; round < 3; round++) waited += !refresh_while_held(30e6);
    CHECK(waited == 3, "%d of 3 plain refreshes did not wait for the loader's lock with a dlmopen namespace", waited);
    missed = 0;
    for (int round = 0; round < 10; round++) missed += !hooked_after_dlopen(argv[1], round % 2);
    CHECK(missed == 0, "%d of 10 modules not hooked right after their dlopen with a dlmopen namespace", missed);
    dlclose(ns);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    CHECK(refresh_while_held(2e9), "a plain refresh still waited for the loader's lock once the namespace closed");
  }

  /* Turned off: the lock again, and the same guarantee. */
  gothook_counters_lock_free_off();
  CHECK(gothook_counters_lock_free() == 0, "still lock-free after gothook_counters_lock_free_off");
  int waited = 0;
  for (int round = 0; round < 3; round++) waited += !refresh_while_held(30e6);
  CHECK(waited == 3, "%d of 3 plain refreshes turned off did not wait for the loader's lock", waited);
  missed = 0;
  for (int round = 0; round < 10; round++) missed += !hooked_after_dlopen(argv[1], round % 2);
  CHECK(missed == 0, "%d of 10 modules not hooked right after their dlopen, lock-free read off", missed);

  quit = 1;
  pthread_join(t, NULL);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_lockfree: lock-free %d, %d plain refreshes returned while another thread held the "
         "loader's lock, 40 + %d + 10 modules hooked right after their dlopen; %s\n",
         lock_free, early, namespaced ? 10 : 0, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
