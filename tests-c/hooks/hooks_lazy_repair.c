/* A hook lost to lazy binding is repaired by the next walking refresh, however long after the
 * patch the loss happens.  `_dl_fixup` of a thread preempted inside a PLT stub stores the real
 * target into the slot with a plain store, at any later time; this test injects exactly that
 * store into the slots that held their lazy stub when the set was installed, at random delays
 * of 0-500 ms after the patch (or the previous repair), while another thread loops refreshes.
 * Counts: every injected loss repaired, and no call from the fixture missed the hook after the
 * repair.  Uninstall then writes back exactly what those slots held before the install: their
 * lazy stubs (so the next call binds the way the loader would).
 * Usage: hooks_lazy_repair <lazy fixture.so> [rounds] */
#include "hk_common.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

static atomic_int stop;
static _Atomic unsigned refreshes, repaired_seen;

static void *refresher(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    gothook_report r = {0};
    gothook_status st = gothook_refresh(0, &r);
    if (st == GOTHOOK_OK) atomic_fetch_add(&repaired_seen, r.slots_repaired);
    atomic_fetch_add(&refreshes, 1);
  }
  return NULL;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int rounds = argc > 2 ? atoi(argv[2]) : 10;
  hk_init_main();
  int fx = hk_open(argv[1], 0);
  /* The slots still holding their lazy stub (a value inside the fixture) before the install. */
  struct hk_slots pre;
  hk_snapshot(argv[1], &pre);
  void **lazy[HK_MAX_SLOTS];
  void *stub[HK_MAX_SLOTS];
  int lazy_func[HK_MAX_SLOTS], nlazy = 0;
  for (int k = 0; k < pre.n; k++) {
    uintptr_t v = (uintptr_t)pre.s[k].value;
    if (pre.s[k].kind == GOTHOOK_IMPORT_PLT && pre.s[k].func >= 0 && v >= hk_libs[fx].lo && v < hk_libs[fx].hi) {
      stub[nlazy] = pre.s[k].value;
      lazy[nlazy] = pre.s[k].slot;
      lazy_func[nlazy++] = pre.s[k].func;
    }
  }
  CHECK(nlazy > 0, "the lazy fixture has no unbound allocator slot");
  if (nlazy == 0) return 1;

  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter filter = {0};
  filter.path_suffix = argv[1];
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, &r), GOTHOOK_OK);
  hk_run_and_compare(fx, 1, "installed");

  pthread_t t;
  pthread_create(&t, NULL, refresher, NULL);
  srand((unsigned)now_ns());
  int injected = 0, repaired = 0;
  uint64_t worst_ns = 0;
  for (int round = 0; round < rounds; round++) {
    int k = round % nlazy;
    int f = lazy_func[k];
    struct timespec d = {0, (long)(rand() % 500) * 1000000L};
    nanosleep(&d, NULL);
    /* What _dl_fixup does: a plain store of the real target. */
    *(void *volatile *)lazy[k] = HK_ORIG(f);
    injected++;
    uint64_t t0 = now_ns();
    /* The property: the slot holds the hook again.  Bounded so a lost repair fails, not hangs. */
    while (__atomic_load_n(lazy[k], __ATOMIC_ACQUIRE) != hk_replacement[f] && now_ns() - t0 < 5000000000u)
      sched_yield();
    uint64_t took = now_ns() - t0;
    if (__atomic_load_n(lazy[k], __ATOMIC_ACQUIRE) == hk_replacement[f]) {
      repaired++;
      if (took > worst_ns) worst_ns = took;
    } else {
      CHECK(0, "round %d: %s slot not repaired within 5 s (injected %ld ms after the patch)", round,
            gothook_fixture_func_names[f], d.tv_nsec / 1000000L);
      break;
    }
    hk_run_and_compare(fx, 1, "after repair");
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  CHECK(repaired == injected, "%d of %d injected losses repaired", repaired, injected);
  CHECK(atomic_load(&repaired_seen) >= (unsigned)repaired, "refresh reported %u repairs for %d",
        atomic_load(&repaired_seen), repaired);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  int stubs_back = 0;
  for (int k = 0; k < nlazy; k++) stubs_back += __atomic_load_n(lazy[k], __ATOMIC_ACQUIRE) == stub[k];
  CHECK(stubs_back == nlazy, "uninstall wrote back %d of %d lazy stubs", stubs_back, nlazy);
  hk_run_and_compare(fx, 0, "uninstalled");
  printf("hooks_lazy_repair: %d lazy slots watched (%d stubs restored), %d of %d injected losses repaired (slowest %.1f ms), "
         "%u refreshes, %u repairs reported; %s\n",
         nlazy, stubs_back, repaired, injected, worst_ns / 1e6, atomic_load(&refreshes), atomic_load(&repaired_seen),
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
