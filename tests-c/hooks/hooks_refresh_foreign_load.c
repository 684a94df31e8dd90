/* "dlopen, then refresh" hooks at once also while another thread is inside dlopen.  A plain refresh
 * does not read glibc's add counter while a library it saw LOADING is still being relocated (that
 * counter shares a cache line with one the loader bumps at every symbol lookup); this checks that
 * the shortcut never hides a load that finished.
 *
 * Each round: thread X dlopens libhk_swap_ctor.so, whose constructor (X holds the loader's load
 * lock) waits until the main thread has refreshed, then unloads module A and loads module B (the
 * object count is unchanged, the add counter moved), and waits.  The main thread's first refresh
 * after that must hook B.  Then, with no dlopen in flight, the same swap (A for B, no refresh in
 * between) must be hooked by the next refresh too.
 * Usage: hooks_refresh_foreign_load <rounds> <libhk_swap_ctor.so> <A.so> <libhk_probe_mod.so> */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

int hk_filt_target(void);

static void *volatile orig;
static int fl_hook(void) { return 70 + ((int (*)(void))orig)(); }

static const char *path_ctor, *path_a, *path_b;
static void *handle_a, *handle_b;
static int (*_Atomic b_call)(void);
static _Atomic int in_ctor, go_swap, swapped, release_ctor;

/* Called from libhk_swap_ctor.so's constructor, on thread X, inside its dlopen. */
void hk_swap_in_ctor(void) {
  in_ctor = 1;
  uint64_t deadline = hk_now_ns() + 10000000000u;
  while (!go_swap && hk_now_ns() < deadline) sched_yield();
  dlclose(handle_a);
  handle_a = NULL;
  handle_b = dlopen(path_b, RTLD_NOW | RTLD_LOCAL);
  CHECK(handle_b != NULL, "dlopen %s in a constructor: %s", path_b, dlerror());
  b_call = handle_b ? (int (*)(void))dlsym(handle_b, "hk_probe_mod_call") : NULL;
  swapped = 1;
  deadline = hk_now_ns() + 10000000000u;
  while (!release_ctor && hk_now_ns() < deadline) sched_yield();
  CHECK(release_ctor, "the main thread never released the constructor");
}

static void *load_ctor(void *out) {
  *(void **)out = dlopen(path_ctor, RTLD_NOW | RTLD_LOCAL);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  int rounds = atoi(argv[1]);
  path_ctor = argv[2], path_a = argv[3], path_b = argv[4];
  hk_init_main();
  CHECK(hk_filt_target() == 1, "hk_filt_target");
  gothook_hook h = {"hk_filt_target", (void *)fl_hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_probe_mod.so";
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int lock_free = gothook_counters_lock_free();
#ifdef __GLIBC__
  CHECK(lock_free == 1, "glibc's counters were not found: every refresh takes the loader's lock");
#endif
  int in_flight = 0, immediate = 0;
  for (int round = 0; round < rounds && !hk_failures; round++) {
    handle_a = dlopen(path_a, RTLD_NOW | RTLD_LOCAL);
    CHECK(handle_a != NULL, "dlopen %s: %s", path_a, dlerror());
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    in_ctor = go_swap = swapped = release_ctor = 0;
    void *handle_ctor = NULL;
    pthread_t x;
    CHECK(pthread_create(&x, NULL, load_ctor, &handle_ctor) == 0, "pthread_create");
    /* Refresh while X holds the load lock (this caches the add counter with the object count of
     * A's time), then let the constructor swap A for B without a refresh in between. */
    uint64_t give_up = hk_now_ns() + 10000000000u;
    while (!in_ctor && hk_now_ns() < give_up) CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    for (int i = 0; i < 3; i++) CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    go_swap = 1;
    while (!swapped && hk_now_ns() < give_up) sched_yield();
    CHECK(swapped, "the constructor never ran");
    if (!swapped) break;
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    in_flight += b_call() == 71;
    CHECK(b_call() == 71, "round %d: B, loaded inside another thread's dlopen, not hooked by the next refresh",
          round);
    release_ctor = 1;
    pthread_join(x, NULL);
    CHECK(handle_ctor != NULL, "dlopen %s: %s", path_ctor, dlerror());
    /* The load lock is free now: with A loaded and a refresh made, swap A for B (the object count
     * unchanged again, no refresh in between), then one refresh must hook B. */
    dlclose(handle_ctor);
    dlclose(handle_b);
    handle_a = dlopen(path_a, RTLD_NOW | RTLD_LOCAL);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    dlclose(handle_a);
    handle_b = dlopen(path_b, RTLD_NOW | RTLD_LOCAL);
    CHECK(handle_b != NULL, "dlopen %s: %s", path_b, dlerror());
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    int (*call)(void) = (int (*)(void))dlsym(handle_b, "hk_probe_mod_call");
    immediate += call() == 71;
    CHECK(call() == 71, "round %d: B loaded while no dlopen was in flight, not hooked by the next refresh", round);
    dlclose(handle_b);
    handle_b = NULL;
  }
  CHECK(gothook_counters_lock_free() == lock_free, "the lock-free read was turned off by a difference");
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_foreign_load: lock-free %d; of %d rounds, B hooked by the first refresh after its dlopen "
         "in %d inside another thread's dlopen and in %d with no dlopen in flight; %s\n",
         lock_free, rounds, in_flight, immediate, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
