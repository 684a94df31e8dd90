/* A main program with libgothook.a linked into it is gothook's own object: it is reported as
 * GOTHOOK_KIND_SELF and the default filter leaves it alone.  So a pthread_mutex_lock hook whose
 * replacement itself locks a mutex (through the main program's own import) runs once per call
 * from a library instead of re-entering itself until the stack runs out. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_check.h"

void ad_locker_cycle(pthread_mutex_t *m);

static int (*real_lock)(pthread_mutex_t *);
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long hooked_locks;

/* What a lock profiler does: record the event under its own mutex, then take the real lock. */
static int lock_hook(pthread_mutex_t *m) {
  pthread_mutex_lock(&stats_lock);
  hooked_locks++;
  pthread_mutex_unlock(&stats_lock);
  return real_lock(m);
}

static int main_kind = -1;
static int note_main(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if ((uintptr_t)lib->phdr == getauxval(AT_PHDR)) main_kind = lib->kind;
  return 0;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "adopter_static_main_lock: hung (the hook re-entered itself)\n";
  write(2, msg, sizeof msg - 1);
  _exit(3);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(20);
  CHECK(gothook_libs_each(note_main, NULL, GOTHOOK_LIBS_ALL) == GOTHOOK_OK, "walk failed");
  CHECK(main_kind == GOTHOOK_KIND_SELF, "the main program embedding gothook is reported as kind %d", main_kind);

  gothook_hook h = {"pthread_mutex_lock", (void *)lock_hook, (void **)&real_lock};
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK(gothook_install(&h, 1, NULL, &set, &rep) == GOTHOOK_OK, "install failed");
  CHECK(rep.slots_patched >= 1, "no library slot patched (%u)", rep.slots_patched);

  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  for (int i = 0; i < 100; i++) ad_locker_cycle(&m);
  long from_library = hooked_locks;
  /* The main program's own lock calls stay unhooked. */
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
  }
  CHECK(from_library == 100, "library lock calls hooked %ld times, want 100", from_library);
  CHECK(hooked_locks == from_library, "the main program's own locks were hooked %ld times",
        hooked_locks - from_library);
  CHECK(gothook_uninstall(set, NULL) == GOTHOOK_OK, "uninstall failed");
  printf("adopter_static_main_lock: main kind %d, %ld hooked library locks, %ld checks, %d failures\n",
         main_kind, from_library, gt_checks, gt_failures);
  return gt_failures != 0;
}
