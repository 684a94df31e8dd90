/* GOTHOOK_REFRESH_CACHED, the refresh for hot paths (a malloc hook), without the dlopen
 * interception:
 *  - it does not ask the loader when a probe completed less than GOTHOOK_PROBE_INTERVAL_NS ago:
 *    while another thread sits inside its own dl_iterate_phdr callback (holding the loader's
 *    list lock, and refreshing from there), a cached refresh returns OK before that thread
 *    leaves its callback, where a plain refresh waits for it (every round checks both);
 *  - its guarantee: a module dlopen'ed at time t is hooked by the first cached refresh that
 *    starts at or after t + GOTHOOK_PROBE_INTERVAL_NS (20 rounds of dlopen, sleep one interval,
 *    cached refresh, call, dlclose);
 *  - flags: CACHED and FULL together do a full refresh (a slot put back by hand is repaired);
 *    an unknown flag is EINVAL.
 * A round of the first kind whose cached refresh would start too late after the holder's latest
 * probe (a preempted thread: under load most rounds are) proves nothing and is skipped, up to 300
 * rounds; 5 must be judged, and every judged round must pass.
 * Usage: hooks_refresh_cached <libhk_probe_mod.so> */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

int hk_filt_target(void);

static void *volatile orig;
static int cached_hook(void) { return 70 + ((int (*)(void))orig)(); }

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The holder thread: on each `go`, enters dl_iterate_phdr and stays in its callback (holding
 * the loader's list lock) until the main thread says its cached refresh returned, or HOLD_NS
 * passed (then the refresh waited for the lock: `timed_out`).  Meanwhile it keeps the last
 * probe fresh with plain refreshes of its own (the lock is recursive), publishing when the
 * latest one started.  Then it holds on for AFTER_NS, so that a plain refresh issued now must
 * wait, and leaves. */
enum { HOLD_NS = 1000 * 1000 * 1000, AFTER_NS = 5 * 1000 * 1000, ROUNDS = 300, JUDGED = 5 };
static _Atomic int go, inside, cached_done, timed_out, left, quit, holder_bad;
static _Atomic double probe_started;
static int hold(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info, (void)size, (void)data;
  double t0 = now_ns();
  while (!cached_done) {
    double t = now_ns();
    holder_bad += gothook_refresh(0, NULL) != GOTHOOK_OK;
    probe_started = t;
    inside = 1;
    if (t - t0 > HOLD_NS) {
      timed_out = 1;
      break;
    }
  }
  t0 = now_ns();
  while (now_ns() - t0 < AFTER_NS) {
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

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  /* The plain refresh compared here is the one that reads the loader's counters under its lock
   * (hooks_refresh_lockfree tests the lock-free read). */
  gothook_counters_lock_free_off();
  gothook_hook h = {"hk_filt_target", (void *)cached_hook, (void **)&orig, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_probe_mod.so";
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_refresh(4, NULL), GOTHOOK_EINVAL);
  CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_CACHED | 4, NULL), GOTHOOK_EINVAL);

  /* Lock-free while a probe is recent; a plain refresh waits for the loader's lock.  A round is
   * judged when the cached refresh starts early enough that even the coarse clock's lag (one
   * tick, counted twice: both stamps may lag) cannot make the probe look older than the
   * interval. */
  struct timespec res;
  clock_getres(CLOCK_MONOTONIC_COARSE, &res);
  double tick = (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
  if (2 * tick > GOTHOOK_PROBE_INTERVAL_NS) tick = 0; /* gothook reads the precise clock then */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, holder, NULL) == 0, "pthread_create");
  int judged = 0, blocked_cached = 0, unblocked_plain = 0;
  for (int round = 0; round < ROUNDS && judged < JUDGED; round++) {
    inside = cached_done = timed_out = left = 0;
    go = 1;
    while (!inside) {
    }
    if (now_ns() - probe_started + 2 * tick < GOTHOOK_PROBE_INTERVAL_NS) {
      judged++;
      CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_CACHED, NULL), GOTHOOK_OK);
      cached_done = 1;
      CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
      blocked_cached += timed_out;
      unblocked_plain += !left;
    } else {
      cached_done = 1;
    }
    while (!left) {
    }
  }
  quit = 1;
  pthread_join(t, NULL);
  CHECK(holder_bad == 0, "%d refreshes inside the holder's own walk failed", holder_bad);
  CHECK(judged >= JUDGED, "only %d of %d rounds asked early enough (coarse tick %.0f ns)", judged, ROUNDS, tick);
  CHECK(blocked_cached == 0, "%d of %d cached refreshes waited for the loader's lock", blocked_cached, judged);
  CHECK(unblocked_plain == 0, "%d plain refreshes returned while another thread held the loader's lock",
        unblocked_plain);

  /* The guarantee: hooked by the first cached refresh one probe interval after the dlopen. */
  int missed = 0;
  for (int round = 0; round < 20; round++) {
    CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_CACHED, NULL), GOTHOOK_OK);
    void *m = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK(m != NULL, "dlopen %s: %s", argv[1], dlerror());
    if (!m) break;
    struct timespec interval = {0, GOTHOOK_PROBE_INTERVAL_NS};
    nanosleep(&interval, NULL);
    CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_CACHED, NULL), GOTHOOK_OK);
    int (*call)(void) = (int (*)(void))dlsym(m, "hk_probe_mod_call");
    if (call() != 71) missed++;
    dlclose(m);
  }
  CHECK(missed == 0, "%d of 20 modules unhooked by the first cached refresh one probe interval after their dlopen",
        missed);

  /* CACHED | FULL is a full refresh: it repairs a slot put back by hand right away. */
  void *m = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(m != NULL, "dlopen %s: %s", argv[1], dlerror());
  if (m) {
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    int (*call)(void) = (int (*)(void))dlsym(m, "hk_probe_mod_call");
    CHECK(call() == 71, "the module is not hooked after a plain refresh");
    gothook_dynamic d;
    CHECK_ST(gothook_decode_containing((const void *)call, &d), GOTHOOK_OK);
    void **target = hk_import_slot(&d, "hk_filt_target");
    CHECK(target != NULL, "no hk_filt_target import slot in the module");
    if (target) {
      CHECK_ST(gothook_slot_swap(&d, target, (void *)cached_hook, (void *)hk_filt_target), GOTHOOK_OK);
      CHECK(call() == 1, "the slot was not put back");
      CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_CACHED | GOTHOOK_REFRESH_FULL, NULL), GOTHOOK_OK);
      CHECK(call() == 71, "CACHED | FULL did not repair the slot");
    }
    dlclose(m);
  }
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_refresh_cached: %d rounds judged lock-free while another thread held the loader's lock, 20 modules "
         "hooked one probe interval after their dlopen, CACHED | FULL repairs; %s\n",
         judged, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
