/* A library a refresh saw LOADING inside another thread's dlopen, READY since with no object
 * loaded or unloaded in between (the loader's counters are what that refresh processed), is
 * hooked by the next plain refresh: the quiet probe asks _dl_find_object whether the library it
 * left LOADING became READY instead of answering "nothing changed" from the counters.
 *
 * Each of 10 rounds: thread X dlopens libhk_focus_gated.so, whose binding runs this program's
 * IFUNC resolver (the module is listed, not yet relocated: LOADING), which waits there while the
 * main thread refreshes (the module must be reported not ready); once X's dlopen has returned,
 * one plain refresh must hook the module's hk_filt_target import, and without walking the list
 * again (one dl_iterate_phdr call: the loader's list lock; the objects it processes are the ones
 * the refresh inside the load reported, and the loader's counters prove them still listed);
 * then dlclose.
 * Only under the _dl_find_object rule (else skipped, 77: a library left LOADING is then found
 * by a walk, not by the quiet probe).
 * Usage: hooks_refresh_after_loading <libhk_focus_gated.so> */
#include "hk_common.h"
#include "hk_count_walks.h"

#include <pthread.h>
#include <sched.h>

int hk_filt_target(void);

static void *volatile orig;
static int al_hook(void) { return 40 + ((int (*)(void))orig)(); }

static _Atomic int gated, released;

static void wait_for(_Atomic int *flag, const char *what) {
  uint64_t deadline = hk_now_ns() + 10000000000u;
  while (!*flag && hk_now_ns() < deadline) sched_yield();
  CHECK(*flag, "timed out waiting for %s", what);
}

static int gate_impl(void) { return 0; }
static int (*gate_resolver(void))(void) {
  gated = 1;
  wait_for(&released, "the main thread's refresh during the gated load");
  return gate_impl;
}
int hk_focus_gate(void) __attribute__((ifunc("gate_resolver")));

static const char *path;
static void *handle;
static void *thread_x(void *arg) {
  (void)arg;
  handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <libhk_focus_gated.so>\n", argv[0]);
    return 2;
  }
  path = argv[1];
  hk_init_main();
  CHECK(hk_filt_target() == 1, "hk_filt_target");
  if (gothook_readiness_rule() != GOTHOOK_RULE_FIND_OBJECT) {
    printf("SKIP: not the _dl_find_object readiness rule\n");
    return 77;
  }
  const char *slash = strrchr(path, '/');
  gothook_hook h = {"hk_filt_target", (void *)al_hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = slash ? slash : path;
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int unhooked = 0, not_seen = 0, walked_again = 0;
  for (int round = 0; round < 10; round++) {
    gated = released = 0;
    handle = NULL;
    /* A full pass first: it sweeps the records of the last round's unloaded module, so neither
     * refresh below is the sweep that falls due one sweep interval after the last (a full pass,
     * which walks every library whatever was reported before). */
    CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_FULL, NULL), GOTHOOK_OK);
    pthread_t x;
    CHECK(pthread_create(&x, NULL, thread_x, NULL) == 0, "pthread_create");
    wait_for(&gated, "the gated library's IFUNC resolver");
    gothook_report rep;
    CHECK_ST(gothook_refresh(0, &rep), GOTHOOK_OK);
    if (rep.libs_not_ready < 1) not_seen++;
    released = 1;
    pthread_join(x, NULL);
    CHECK(handle != NULL, "dlopen %s: %s", path, dlerror());
    if (!handle) break;
    int (*call)(void) = (int (*)(void))dlsym(handle, "hk_focus_call");
    CHECK(call != NULL, "no hk_focus_call");
    if (!call) break;
    counting = 1;
    long before = walks;
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    counting = 0;
    if (walks - before != 1) walked_again++;
    if (call() != 41) unhooked++;
    dlclose(handle);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  }
  CHECK(not_seen == 0, "%d of 10 refreshes inside the gated load did not see the module LOADING", not_seen);
  CHECK(unhooked == 0,
        "%d of 10 modules seen LOADING, READY since with the loader's counters unchanged, not hooked by the "
        "next refresh", unhooked);
  CHECK(walked_again == 0,
        "%d of 10 rounds: the refresh that hooked a module seen LOADING, with the loader's counters unchanged since, "
        "walked the list again instead of processing the objects that refresh reported",
        walked_again);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_after_loading: %s\n", hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
