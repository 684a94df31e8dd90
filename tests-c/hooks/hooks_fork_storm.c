/* A child forked at any instant can call every gothook function, and hooks keep working there.
 * Three threads loop install/uninstall, refresh (plain and full) and allocations whose malloc
 * hook refreshes, while the main thread forks.  Every child walks the libraries, calls refresh,
 * install and uninstall, checks that the malloc hook and (when install succeeded) the new hook work, and
 * must exit within 1 s.  A child forked while a parent thread was inside a gothook walk may get
 * EBUSY (glibc does not reset its list lock in a forked child, so gothook refuses to walk there
 * rather than block forever); any other answer, or a hang, fails.  A child forked while no walk
 * was in flight (before the threads start) must get OK from every call.
 * Usage: hooks_fork_storm [forks] */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/gothook_test_check.h"
#include "gothook.h"

static void *(*real_malloc)(size_t);
static _Atomic unsigned long hooked_mallocs, bad_status;
static _Atomic int stop;

static void tally(gothook_status s) {
  if (s != GOTHOOK_OK && s != GOTHOOK_EBUSY) bad_status++;
}
static void *hook_malloc(size_t n) {
  hooked_mallocs++;
  tally(gothook_refresh(0, NULL));
  return real_malloc(n);
}
static pid_t hook_getppid(void) { return 4242; }
static uid_t hook_getuid(void) { return 4343; }

static void *installer(void *arg) {
  (void)arg;
  gothook_hook h = {"getuid", (void *)hook_getuid, NULL};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  while (!stop) {
    gothook_set s = 0;
    gothook_status st = gothook_install(&h, 1, &f, &s, NULL);
    tally(st);
    if (st == GOTHOOK_OK) tally(gothook_uninstall(s, NULL));
  }
  return NULL;
}
static void *refresher(void *arg) {
  (void)arg;
  for (unsigned i = 0; !stop; i++) tally(gothook_refresh((i & 7) == 7 ? GOTHOOK_REFRESH_FULL : 0, NULL));
  return NULL;
}
static void *allocator(void *arg) {
  (void)arg;
  while (!stop) free(malloc(32));
  return NULL;
}

/* Child exit code bits. */
enum { C_REFRESH_BUSY = 1, C_INSTALL_BUSY = 2, C_UNINSTALL_BUSY = 4, C_BAD = 8, C_NO_MALLOC_HOOK = 16,
       C_NEW_HOOK_BROKEN = 32 };

static int count_lib(const gothook_lib *lib, void *ctx) {
  (void)lib;
  ++*(int *)ctx;
  return 0;
}

static int child(void) {
  alarm(1); /* a child that does not finish within 1 s dies of SIGALRM: a hang */
  int code = 0;
  int nlibs = 0; /* a walk answers EBUSY or lists libraries, never an empty OK */
  gothook_status w = gothook_libs_each(count_lib, &nlibs, 0);
  if (w == GOTHOOK_OK ? nlibs == 0 : w != GOTHOOK_EBUSY) code |= C_BAD;
  unsigned long before = hooked_mallocs;
  free(malloc(16));
  if (hooked_mallocs == before) code |= C_NO_MALLOC_HOOK;
  gothook_status r = gothook_refresh(0, NULL);
  if (r == GOTHOOK_EBUSY) code |= C_REFRESH_BUSY;
  else if (r != GOTHOOK_OK) code |= C_BAD;
  gothook_hook h = {"getppid", (void *)hook_getppid, NULL};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set s = 0;
  gothook_status i = gothook_install(&h, 1, &f, &s, NULL);
  if (i == GOTHOOK_OK) {
    if (getppid() != 4242) code |= C_NEW_HOOK_BROKEN;
    gothook_status u = gothook_uninstall(s, NULL);
    if (u == GOTHOOK_EBUSY) code |= C_UNINSTALL_BUSY;
    else if (u != GOTHOOK_OK) code |= C_BAD;
    else if (getppid() == 4242) code |= C_NEW_HOOK_BROKEN;
  } else {
    if (i == GOTHOOK_EBUSY) code |= C_INSTALL_BUSY;
    else code |= C_BAD;
    gothook_status u = gothook_uninstall(0x7fffff01u, NULL); /* must answer, not hang */
    if (u == GOTHOOK_EBUSY) code |= C_UNINSTALL_BUSY;
    else if (u != GOTHOOK_ENOTFOUND) code |= C_BAD;
  }
  return code;
}

static _Atomic int forks_done;
static void on_parent_alarm(int sig) {
  (void)sig;
  char msg[96];
  int len = snprintf(msg, sizeof msg, "HANG: the parent stopped after %d forks\n", (int)forks_done);
  write(2, msg, (size_t)len);
  _exit(1);
}

int main(int argc, char **argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 1000;
  signal(SIGALRM, on_parent_alarm);
  alarm(100);
  gothook_hook h = {"malloc", (void *)hook_malloc, (void **)&real_malloc};
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set set = 0;
  CHECK(gothook_install(&h, 1, &f, &set, NULL) == GOTHOOK_OK, "install");
  pid_t quiet = fork(); /* no walk in flight: the child may walk, install and uninstall */
  if (quiet == 0) {
    signal(SIGALRM, SIG_DFL);
    _exit(child());
  }
  int qs = 0;
  waitpid(quiet, &qs, 0);
  CHECK(WIFEXITED(qs) && WEXITSTATUS(qs) == 0, "a child forked with no walk in flight: status %#x", qs);
  pthread_t th[3];
  pthread_create(&th[0], NULL, installer, NULL);
  pthread_create(&th[1], NULL, refresher, NULL);
  pthread_create(&th[2], NULL, allocator, NULL);

  int hung = 0, bad = 0, ok_all = 0, busy_any = 0, hooks_ok = 0, new_hook_ok = 0, installs_ok = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int k = 0; k < forks; k++) {
    pid_t p = fork();
    if (p == 0) {
      signal(SIGALRM, SIG_DFL);
      _exit(child());
    }
    forks_done++;
    CHECK(p > 0, "fork failed");
    if (p < 0) break;
    int ws = 0;
    waitpid(p, &ws, 0);
    if (!WIFEXITED(ws)) {
      hung++;
      continue;
    }
    int c = WEXITSTATUS(ws);
    if (c & C_BAD) bad++;
    if (!(c & C_NO_MALLOC_HOOK)) hooks_ok++;
    if (!(c & C_INSTALL_BUSY)) installs_ok++;
    if (!(c & (C_INSTALL_BUSY | C_NEW_HOOK_BROKEN))) new_hook_ok++;
    if (c & (C_REFRESH_BUSY | C_INSTALL_BUSY | C_UNINSTALL_BUSY)) busy_any++;
    else if (!(c & (C_BAD | C_NO_MALLOC_HOOK | C_NEW_HOOK_BROKEN))) ok_all++;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  alarm(0);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

  CHECK(hung == 0, "%d of %d children did not exit within 1 s", hung, forks);
  CHECK(bad == 0, "%d children got an answer other than OK/EBUSY/ENOTFOUND", bad);
  CHECK(hooks_ok == forks, "the malloc hook worked in %d of %d children", hooks_ok, forks);
  CHECK(new_hook_ok == installs_ok, "a hook installed in the child worked in %d of %d children whose install succeeded",
        new_hook_ok, installs_ok);
  CHECK(bad_status == 0, "%lu parent-side calls answered neither OK nor EBUSY", (unsigned long)bad_status);
  CHECK(gothook_uninstall(set, NULL) == GOTHOOK_OK, "uninstall");
  printf("hooks_fork_storm: %d forks in %.1f s: %d hung, %d all OK, %d got EBUSY (forked during a walk), "
         "%d bad; malloc hook worked in %d, child install+hook worked in %d; %s\n",
         forks, secs, hung, ok_all, busy_any, bad, hooks_ok, new_hook_ok, gt_failures ? "FAILED" : "ok");
  return gt_failures ? 1 : 0;
}
