/* The one case the "still loading" shortcut of a plain refresh cannot see, bounded by the probe
 * interval.  While a library a refresh saw LOADING is still not findable by _dl_find_object, the
 * object count is unchanged and the same thread holds the loader's load lock, refresh answers
 * "nothing changed" without reading glibc's add counter.  If that library's dlopen fails, the same
 * thread then loads B (the count is back where it was) and enters another dlclose, B is not seen at
 * once: the test checks that it is hooked by every refresh that starts GOTHOOK_PROBE_INTERVAL_NS
 * after B's dlopen returned, and that, once that dlclose is over, the next refresh hooks at once.
 *
 * Thread X: dlopen(libhk_fail_gated.so), which waits in the program's IFUNC resolver (LOADING) while
 * the main thread refreshes, then fails (an undefined function); dlopen(B); dlclose(D), whose
 * destructor waits until the main thread is done.  The main thread refreshes until B is hooked.
 * Usage: hooks_refresh_failed_load <libhk_fail_gated.so> <libhk_dtor_gated.so> <libhk_probe_mod.so> */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

int hk_filt_target(void);

static void *volatile orig;
static int ff_hook(void) { return 70 + ((int (*)(void))orig)(); }

static void wait_for(_Atomic int *flag, const char *what) {
  uint64_t deadline = hk_now_ns() + 10000000000u;
  while (!*flag && hk_now_ns() < deadline) sched_yield();
  CHECK(*flag, "timed out waiting for %s", what);
}

static _Atomic int gated, go_fail, failed_ok, in_dtor, release_dtor;
static int gate_impl(void) { return 0; }
static int (*gate_resolver(void))(void) {
  gated = 1;
  wait_for(&go_fail, "the main thread's refreshes during the gated load");
  return gate_impl;
}
int hk_fail_gate(void) __attribute__((ifunc("gate_resolver")));

void hk_in_dtor(void) {
  in_dtor = 1;
  wait_for(&release_dtor, "the main thread to release the destructor");
}

static const char *path_fail, *path_b;
static void *handle_d, *handle_b;
static int (*_Atomic b_call)(void);
static _Atomic uint64_t b_loaded_at;

static void *thread_x(void *arg) {
  (void)arg;
  void *f = dlopen(path_fail, RTLD_NOW | RTLD_LOCAL);
  failed_ok = f == NULL;
  handle_b = dlopen(path_b, RTLD_NOW | RTLD_LOCAL);
  b_loaded_at = hk_now_ns();
  b_call = handle_b ? (int (*)(void))dlsym(handle_b, "hk_probe_mod_call") : NULL;
  dlclose(handle_d);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  path_fail = argv[1], path_b = argv[3];
  hk_init_main();
  CHECK(hk_filt_target() == 1, "hk_filt_target");
  handle_d = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK(handle_d != NULL, "dlopen %s: %s", argv[2], dlerror());
  gothook_hook h = {"hk_filt_target", (void *)ff_hook, (void **)&orig, 0};
  gothook_set set = 0; /* every library: the gated one too, so a refresh waits for it */
  CHECK_ST(gothook_install(&h, 1, NULL, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int lock_free = gothook_counters_lock_free();
  pthread_t x;
  CHECK(pthread_create(&x, NULL, thread_x, NULL) == 0, "pthread_create");
  wait_for(&gated, "the gated library's IFUNC resolver");
  gothook_report rep;
  CHECK_ST(gothook_refresh(0, &rep), GOTHOOK_OK);
  CHECK(rep.libs_not_ready >= 1 || !lock_free, "the gated library was not seen LOADING (%u not ready)",
        rep.libs_not_ready);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  go_fail = 1;
  wait_for(&in_dtor, "the destructor of the library thread X unloads");
  CHECK(failed_ok, "the gated library's dlopen did not fail");
  CHECK(b_call != NULL, "dlopen %s: failed", path_b);
  uint64_t interval = GOTHOOK_PROBE_INTERVAL_NS, t = b_loaded_at;
  int hooked = 0;
  long unhooked = 0;
  uint64_t waited = 0;
  while (b_call) {
    uint64_t start = hk_now_ns();
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    if (b_call() == 71) {
      hooked = 1;
      waited = start - t;
      break;
    }
    unhooked++;
    if (start >= t + interval) break;
  }
  CHECK(hooked, "B, loaded at t, not hooked by a refresh that started at t + %llu ns (%ld refreshes left it)",
        (unsigned long long)interval, unhooked);
  release_dtor = 1;
  pthread_join(x, NULL);
  /* No dlopen in flight: the same kind of swap is seen by the very next refresh. */
  dlclose(handle_b);
  handle_d = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  dlclose(handle_d);
  handle_b = dlopen(path_b, RTLD_NOW | RTLD_LOCAL);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int (*call)(void) = handle_b ? (int (*)(void))dlsym(handle_b, "hk_probe_mod_call") : NULL;
  CHECK(call && call() == 71, "B not hooked by the refresh right after its dlopen with no dlopen in flight");
  release_dtor = 1; /* the destructor of D runs again at exit */
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_failed_load: lock-free %d; after a failed dlopen of a library seen LOADING, B was hooked "
         "by a refresh that started %llu us after its dlopen returned (%ld refreshes before that left it "
         "unhooked; bound %llu us); %s\n",
         lock_free, (unsigned long long)(waited / 1000), unhooked, (unsigned long long)(interval / 1000),
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
