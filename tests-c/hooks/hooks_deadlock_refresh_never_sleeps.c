/* A refresh never sleeps and never waits: 100,000 "nothing changed" refreshes from one thread
 * use well under half a second of CPU (no spinning) and cause no voluntary context switch (a
 * sleep, a futex wait or a blocking syscall would each count one), with and without the dlopen
 * interception.  CPU time, not wall time: a loaded machine may preempt the thread at will.
 * Usage: hooks_deadlock_refresh_never_sleeps */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../common/gothook_test_check.h"
#include "gothook.h"

static pid_t hook_getppid(void) { return 4242; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}
static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}
static long voluntary_switches(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

static void loop(const char *what) {
  enum { N = 100000 };
  unsigned not_ok = 0;
  long v0 = voluntary_switches();
  double t0 = now_s(), c0 = cpu_s();
  for (int i = 0; i < N; i++) not_ok += gothook_refresh(0, NULL) != GOTHOOK_OK;
  double secs = now_s() - t0, cpu = cpu_s() - c0;
  long switches = voluntary_switches() - v0;
  CHECK(not_ok == 0, "%s: %u of %d refreshes did not answer OK", what, not_ok, N);
  CHECK(cpu < 0.5, "%s: %d refreshes used %.3f s of CPU", what, N, cpu);
  CHECK(switches <= 2, "%s: %ld voluntary context switches in %d refreshes (a sleep or a wait)", what, switches, N);
  printf("%s: %d no-change refreshes in %.1f ms wall, %.1f ms CPU (%.0f ns each), %ld voluntary context "
         "switches\n",
         what, N, secs * 1e3, cpu * 1e3, cpu * 1e9 / N, switches);
}

int main(void) {
  gothook_hook h = {"getppid", (void *)hook_getppid, NULL};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set set = 0, icpt = 0;
  CHECK(gothook_install(&h, 1, &f, &set, NULL) == GOTHOOK_OK, "install");
  loop("without interception");
  CHECK(gothook_intercept_dlopen(&icpt, NULL) == GOTHOOK_OK, "intercept");
  loop("with interception");
  CHECK(gothook_uninstall(icpt, NULL) == GOTHOOK_OK, "uninstall interception");
  CHECK(gothook_uninstall(set, NULL) == GOTHOOK_OK, "uninstall");
  printf("hooks_deadlock_refresh_never_sleeps: %s\n", gt_failures ? "FAILED" : "ok");
  return gt_failures ? 1 : 0;
}
