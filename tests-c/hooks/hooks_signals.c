/* Re-entry and signals (context classes of issue 3):
 *  1. a signal raised inside gothook_install (from the set's accept callback) whose handler calls
 *     install, refresh and uninstall gets GOTHOOK_EBUSY at once, and a slot swap there completes;
 *  2. a handler interrupting this thread's own gothook_slot_swap loop gets GOTHOOK_EBUSY from its
 *     swap (inside the swap) or OK (outside), never another answer and never a deadlock, and both
 *     slots end consistent;
 *  3. SIGPROF from 1 kHz per-thread timers (4 threads), handled on a 16 KiB alternate signal stack, swaps a captured
 *     RELRO slot back and forth while 3 threads allocate through it and the hooked slots.
 * Parts 2 and 3 run until a number of signals was handled, not for a time, and assert what every
 * handler saw, not how often the scheduler let one land inside a swap.
 * Usage: hooks_signals <relro fixture.so> */
#include "hk_common.h" /* first: defines _GNU_SOURCE */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

static struct hk_slots owner; /* captured: the fixture is opened RTLD_NODELETE */
static void **swap_slot, **main_slot;
static void *swap_a, *swap_b;
static gothook_hook hooks[GF_NFUNCS];
static gothook_filter filter;
static volatile gothook_status in_install[4];
static volatile int raised;

static void usr1_in_install(int sig) {
  (void)sig;
  gothook_set s;
  in_install[0] = gothook_install(hooks, GF_NFUNCS, &filter, &s, NULL);
  in_install[1] = gothook_refresh(0, NULL);
  in_install[2] = gothook_uninstall(1, NULL);
  gothook_status a = gothook_slot_swap(&owner.dyn, swap_slot, swap_a, swap_b);
  gothook_status b = a == GOTHOOK_OK ? gothook_slot_swap(&owner.dyn, swap_slot, swap_b, swap_a) : a;
  in_install[3] = a != GOTHOOK_OK ? a : b;
}
static int accept_and_raise(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (!raised) raised = 1, raise(SIGUSR1);
  return strstr(lib->name, "/libhk_fx_") != NULL;
}

static _Atomic unsigned busy, ok, changed, other, handled, on_altstack;
static __thread char *alt_lo;
static __thread timer_t my_timer;
static __thread int my_timer_set;
static _Atomic unsigned overruns;
static void swap_back_and_forth(void) {
  gothook_status a = gothook_slot_swap(&owner.dyn, swap_slot, swap_a, swap_b);
  if (a == GOTHOOK_OK) a = gothook_slot_swap(&owner.dyn, swap_slot, swap_b, swap_a);
  if (a == GOTHOOK_OK) ok++;
  else if (a == GOTHOOK_EBUSY) busy++;
  else if (a == GOTHOOK_ECHANGED) changed++;
  else other++;
}
static void on_signal(int sig) {
  (void)sig;
  char here;
  handled++;
  if (my_timer_set) {
    int o = timer_getoverrun(my_timer); /* async-signal-safe: expirations merged into this one */
    if (o > 0) overruns += (unsigned)o;
  }
  if (alt_lo && &here >= alt_lo && &here < alt_lo + 16384) on_altstack++;
  swap_back_and_forth();
}
static void use_altstack(void) {
  static __thread char stack[16384] __attribute__((aligned(16)));
  stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0};
  alt_lo = stack;
  sigaltstack(&ss, NULL);
}

static volatile int stop;
static pid_t main_tid;
static void *kicker(void *arg) {
  (void)arg;
  while (!stop) {
    syscall(SYS_tgkill, getpid(), main_tid, SIGUSR2);
    usleep(50);
  }
  return NULL;
}
/* A 1 kHz CLOCK_MONOTONIC timer sending SIGPROF to the calling thread only (process-directed
 * signals coalesce while pending, so per-thread timers keep the aggregate rate honest). */
static timer_t start_profiling_timer(void) {
  timer_t t;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
    perror("timer_create");
    exit(1);
  }
  my_timer = t;
  my_timer_set = 1;
  struct itimerspec its = {{0, 1000000}, {0, 1000000}};
  timer_settime(t, 0, &its, NULL);
  return t;
}
static _Atomic unsigned long alloc_calls, alloc_failures;
static void *allocator(void *arg) {
  int i = (int)(intptr_t)arg;
  use_altstack();
  timer_t t = start_profiling_timer();
  while (!stop) {
    struct gothook_fixture_calls c = {0};
    alloc_failures += hk_libs[i].run_path(GF_PATH_RODATA, &c);
    alloc_failures += hk_libs[i].run_path(GF_PATH_PLT, &c);
    alloc_calls += c.calls[GF_PATH_RODATA][GF_MALLOC] + c.calls[GF_PATH_PLT][GF_MALLOC];
  }
  my_timer_set = 0;
  timer_delete(t);
  return NULL;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  int fx = hk_open(argv[1], RTLD_NODELETE);
  hk_snapshot(argv[1], &owner);
  struct hk_mem m;
  hk_memory(argv[1], &m);
  for (int k = 0; k < owner.n; k++) {
    uintptr_t a = (uintptr_t)owner.s[k].slot;
    if (owner.s[k].func == GF_MALLOC && a >= m.relro_lo && a < m.relro_hi && !swap_slot) swap_slot = owner.s[k].slot;
    else if (owner.s[k].func == GF_CALLOC && a >= m.relro_lo && a < m.relro_hi && !main_slot) main_slot = owner.s[k].slot;
  }
  if (!swap_slot || !main_slot) {
    fprintf(stderr, "fixture has no RELRO malloc/calloc slots\n");
    return 1;
  }
  swap_a = hk_peek(swap_slot);
  swap_b = dlsym(RTLD_DEFAULT, "malloc"); /* a valid malloc either way */
  hk_alloc_hooks(hooks);
  filter.accept = accept_and_raise;
  signal(SIGUSR1, usr1_in_install);

  /* 1: inside install. */
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &filter, &set, &rep), GOTHOOK_OK);
  hk_print_report("install", &rep);
  CHECK(raised, "the accept callback never ran");
  CHECK(in_install[0] == GOTHOOK_EBUSY && in_install[1] == GOTHOOK_EBUSY && in_install[2] == GOTHOOK_EBUSY,
        "install/refresh/uninstall from a handler inside install: %s/%s/%s, want EBUSY",
        gothook_status_str(in_install[0]), gothook_status_str(in_install[1]), gothook_status_str(in_install[2]));
  CHECK(in_install[3] == GOTHOOK_OK || in_install[3] == GOTHOOK_EBUSY, "swap inside install: %s",
        gothook_status_str(in_install[3]));
  hk_run_and_compare(fx, 1, "installed");
  CHECK(hk_peek(swap_slot) == hk_replacement[GF_MALLOC], "install lost the malloc slot");
  swap_a = hk_replacement[GF_MALLOC];

  /* 2: a handler interrupting this thread's own swaps. */
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigaction(SIGUSR2, &sa, NULL);
  main_tid = (pid_t)syscall(SYS_gettid);
  pthread_t k;
  pthread_create(&k, NULL, kicker, NULL);
  void *c0 = hk_peek(main_slot), *c1 = hk_replacement[GF_MALLOC];
  unsigned main_swaps = 0;
  double t0 = now_s();
  /* Until 2,000 handlers ran (enough for both answers on an idle machine), or 30 s passed. */
  while (busy + ok + changed + other < 2000 && now_s() - t0 < 30) {
    CHECK_ST(gothook_slot_swap(&owner.dyn, main_slot, c0, c1), GOTHOOK_OK);
    CHECK_ST(gothook_slot_swap(&owner.dyn, main_slot, c1, c0), GOTHOOK_OK);
    main_swaps += 2;
    /* Some microseconds outside any swap: a signal is delivered when this thread returns to
     * user space, and a swap is mostly system calls (the page query and the mprotect pair)
     * under the swap lock, so without this stretch nearly every handler interrupts a swap (on
     * a VM where mprotect waits for the other CPU, all 2,000 did in 13 of 60 runs; with it, 10
     * to 20 % of them land outside and swap). */
    for (volatile int spin = 0; spin < 20000; spin++) {
    }
  }
  stop = 1;
  pthread_join(k, NULL);
  unsigned busy2 = busy, ok2 = ok;
  CHECK(busy2 + ok2 >= 100, "only %u handlers ran in %u own swaps within 30 s", busy2 + ok2, main_swaps);
  CHECK(ok2 > 0, "in %u own swaps no handler swap succeeded (EBUSY %u)", main_swaps, busy2);
  CHECK(hk_peek(main_slot) == c0, "the interrupted slot ended as %p", hk_peek(main_slot));
  CHECK(hk_peek(swap_slot) == swap_a, "the handlers' slot ended as %p", hk_peek(swap_slot));
  CHECK(changed == 0 && other == 0, "nested swaps: %u ECHANGED, %u other errors", changed, other);

  /* 3: SIGPROF at 2 kHz on alternate stacks while 3 threads allocate. */
  busy = ok = changed = other = handled = on_altstack = 0;
  stop = 0;
  use_altstack();
  sigaction(SIGPROF, &sa, NULL);
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, allocator, (void *)(intptr_t)fx);
  timer_t timer = start_profiling_timer();
  double t1 = now_s();
  /* Until 300 signals were handled (about 0.1 s idle), or 30 s passed. */
  while (handled < 300 && now_s() - t1 < 30) {
    struct gothook_fixture_calls c = {0};
    alloc_failures += hk_libs[fx].run_path(GF_PATH_DATA, &c);
  }
  my_timer_set = 0;
  timer_delete(timer);
  double secs = now_s() - t1;
  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  unsigned h = handled;
  unsigned fired = h + overruns;
  CHECK(h >= 300, "only %u SIGPROF handled in %.2f s", h, secs);
  CHECK(on_altstack == h, "%u of %u handlers ran on the 16 KiB alternate stack", on_altstack, h);
  CHECK(ok > 0 && other == 0, "SIGPROF swaps: %u ok, %u busy, %u changed, %u other", ok, busy, changed, other);
  CHECK(alloc_failures == 0, "%lu allocations failed", (unsigned long)alloc_failures);
  void *end = hk_peek(swap_slot);
  CHECK(end == swap_a || end == swap_b, "slot ended as %p", end);
  if (end == swap_b) gothook_slot_swap(&owner.dyn, swap_slot, swap_b, swap_a);
  CHECK(!(hk_maps_prot((uintptr_t)swap_slot) & 2), "RELRO page writable after the storm");
  gothook_report ur = {0};
  CHECK_ST(gothook_uninstall(set, &ur), GOTHOOK_OK);
  hk_print_report("uninstall", &ur);
  hk_run_and_compare(fx, 0, "uninstalled");
  printf("hooks_signals: in-install handler EBUSY x3 + swap %s; own-swap interrupts %u EBUSY / %u OK in %u "
         "swaps; SIGPROF fired %u, handled %u in %.2f s (%.0f Hz), %u on altstack, swaps ok %u busy %u changed %u, "
         "%lu fixture mallocs under the storm; %s\n",
         gothook_status_str(in_install[3]), busy2, ok2, main_swaps, fired, h, secs, h / secs, (unsigned)on_altstack,
         (unsigned)ok, (unsigned)busy, (unsigned)changed, (unsigned long)alloc_calls, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
