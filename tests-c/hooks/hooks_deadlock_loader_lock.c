/* gothook never deadlocks with the loader's list lock.  Thread A allocates inside its own
 * dl_iterate_phdr callback (as symbolizers and profilers do) and its malloc hook calls
 * gothook_refresh (plain and full); thread B loops gothook_refresh; thread C loops install and
 * uninstall of a second set.  10,000 iterations of A; a watchdog fails the test on a hang.
 * Every gothook call must answer OK or EBUSY, and the malloc hook must stay installed.
 * Usage: hooks_deadlock_loader_lock [iterations] */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/gothook_test_check.h"
#include "gothook.h"

static void *(*real_malloc)(size_t);
static _Atomic unsigned long hooked_mallocs, refreshes_in_hook, bad_status;
static _Atomic unsigned long a_iters, b_iters, c_iters;
static _Atomic int stop;
static __thread int refresh_from_hook;

static void tally(gothook_status s) {
  if (s != GOTHOOK_OK && s != GOTHOOK_EBUSY) bad_status++;
}

static void *hook_malloc(size_t n) {
  hooked_mallocs++;
  if (refresh_from_hook) {
    /* Every 8th allocation asks for a full pass: a walk nested in the caller's own walk. */
    tally(gothook_refresh((refreshes_in_hook++ & 7) == 7 ? GOTHOOK_REFRESH_FULL : 0, NULL));
  }
  return real_malloc(n);
}

static int alloc_in_callback(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info, (void)size;
  void *p = malloc(24); /* the hook runs with the loader's list lock held by this thread */
  *(int *)data += p != NULL;
  free(p);
  return 1;
}

static void *thread_a(void *arg) {
  long n = (long)(intptr_t)arg;
  refresh_from_hook = 1;
  for (long i = 0; i < n; i++) {
    int got = 0;
    dl_iterate_phdr(alloc_in_callback, &got);
    CHECK(got == 1, "the callback's allocation failed");
    a_iters++;
  }
  return NULL;
}

static void *thread_b(void *arg) {
  (void)arg;
  for (unsigned long i = 0; !stop; i++) {
    tally(gothook_refresh((i & 15) == 15 ? GOTHOOK_REFRESH_FULL : 0, NULL));
    b_iters++;
  }
  return NULL;
}

static pid_t hook_getppid(void) { return 4242; }
static void *thread_c(void *arg) {
  (void)arg;
  gothook_hook h = {"getppid", (void *)hook_getppid, NULL};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  while (!stop) {
    gothook_set s = 0;
    gothook_status st = gothook_install(&h, 1, &f, &s, NULL);
    tally(st);
    if (st == GOTHOOK_OK) tally(gothook_uninstall(s, NULL));
    c_iters++;
  }
  return NULL;
}

static void on_alarm(int sig) {
  (void)sig;
  char msg[160];
  int len = snprintf(msg, sizeof msg, "HANG: watchdog fired after A=%lu B=%lu C=%lu iterations\n",
                     (unsigned long)a_iters, (unsigned long)b_iters, (unsigned long)c_iters);
  write(2, msg, (size_t)len);
  _exit(1);
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 10000;
  signal(SIGALRM, on_alarm);
  alarm(50);
  gothook_hook h = {"malloc", (void *)hook_malloc, (void **)&real_malloc};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set set = 0;
  gothook_report rep = {0};
  gothook_status st = gothook_install(&h, 1, &f, &set, &rep);
  CHECK(st == GOTHOOK_OK && rep.slots_patched > 0, "install: %s, %u slots", gothook_status_str(st),
        rep.slots_patched);
  unsigned long before = hooked_mallocs;
  free(malloc(8));
  CHECK(hooked_mallocs > before, "the main program's malloc is not hooked");

  pthread_t a, b, c;
  pthread_create(&b, NULL, thread_b, NULL);
  pthread_create(&c, NULL, thread_c, NULL);
  pthread_create(&a, NULL, thread_a, (void *)(intptr_t)iterations);
  pthread_join(a, NULL);
  stop = 1;
  pthread_join(b, NULL);
  pthread_join(c, NULL);
  alarm(0);

  CHECK(a_iters == (unsigned long)iterations, "A finished %lu of %ld", (unsigned long)a_iters, iterations);
  CHECK(bad_status == 0, "%lu gothook calls answered neither OK nor EBUSY", (unsigned long)bad_status);
  before = hooked_mallocs;
  free(malloc(8));
  CHECK(hooked_mallocs > before, "the malloc hook was lost");
  CHECK(gothook_uninstall(set, NULL) == GOTHOOK_OK, "uninstall");
  printf("hooks_deadlock_loader_lock: A %lu walks with allocating callbacks (%lu refreshes from its "
         "malloc hook), B %lu refreshes, C %lu install/uninstall; 0 hangs; %s\n",
         (unsigned long)a_iters, (unsigned long)refreshes_in_hook, (unsigned long)b_iters,
         (unsigned long)c_iters, gt_failures ? "FAILED" : "ok");
  return gt_failures ? 1 : 0;
}
