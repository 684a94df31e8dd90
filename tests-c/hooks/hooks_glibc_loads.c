/* Libraries glibc loads by itself never pass through a dlopen hook: iconv's gconv modules, NSS
 * modules, libgcc_s (loaded by pthread_exit to unwind).  With the dlopen interception installed,
 * a plain refresh (no GOTHOOK_REFRESH_FULL) that starts GOTHOOK_PROBE_INTERVAL_NS after such a
 * load must hook the new library's allocator slots, as the header guarantees.
 * Usage: hooks_glibc_loads */
#define _GNU_SOURCE
#include <iconv.h>
#include <link.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/gothook_test_check.h"
#include "gothook.h"

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *hook_malloc(size_t n) { return real_malloc(n); }
static void hook_free(void *p) { real_free(p); }
static void *hook_calloc(size_t n, size_t s) { return real_calloc(n, s); }
static void *hook_realloc(void *p, size_t n) { return real_realloc(p, n); }
static gothook_hook hooks[] = {
    {"malloc", (void *)hook_malloc, (void **)&real_malloc},
    {"free", (void *)hook_free, (void **)&real_free},
    {"calloc", (void *)hook_calloc, (void **)&real_calloc},
    {"realloc", (void *)hook_realloc, (void **)&real_realloc},
};
#define NHOOKS (sizeof hooks / sizeof hooks[0])

/* Slots of the hooked names in the first listed library whose path contains `part`. */
struct probe {
  const char *part;
  int found, slots, hooked;
};
static int count_import(const gothook_import *imp, void *ctx) {
  struct probe *p = ctx;
  for (size_t k = 0; k < NHOOKS; k++) {
    if (strcmp(imp->name, hooks[k].symbol) == 0) {
      p->slots++;
      p->hooked += *imp->slot == hooks[k].replacement;
    }
  }
  return 0;
}
static int find_lib(const gothook_lib *lib, void *ctx) {
  struct probe *p = ctx;
  if (!strstr(lib->name, p->part)) return 0;
  p->found = 1;
  gothook_dynamic d;
  if (gothook_lib_decode(lib, &d) == GOTHOOK_OK) gothook_dynamic_imports(&d, count_import, p);
  return 1;
}
static struct probe inspect(const char *part) {
  struct probe p = {part, 0, 0, 0};
  gothook_libs_each(find_lib, &p, 0);
  return p;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void load_gconv(void) {
  iconv_t cd = iconv_open("UTF-7", "UTF-8"); /* UTF-7 lives in gconv/UTF-7.so */
  CHECK(cd != (iconv_t)-1, "iconv_open UTF-7");
  if (cd != (iconv_t)-1) iconv_close(cd);
}
static void load_nss(void) {
  /* nss_files is part of libc since glibc 2.34; nss_compat is still a module of its own. */
  __nss_configure_lookup("passwd", "compat");
  struct passwd *pw = getpwnam("root");
  CHECK(pw != NULL, "getpwnam(root) through nss_compat");
}
static void *exit_thread(void *arg) {
  (void)arg;
  pthread_exit(NULL);
}
static void load_libgcc_s(void) {
  pthread_t t;
  pthread_create(&t, NULL, exit_thread, NULL);
  pthread_join(t, NULL);
}

static int hooked_cases, skipped_cases;
static void run_case(const char *what, const char *part, void (*load)(void)) {
  struct probe before = inspect(part);
  if (before.found) {
    printf("%s: %s is already loaded; case skipped\n", what, part);
    skipped_cases++;
    return;
  }
  /* Settle: lazy re-checks done, the state probed and trusted when the load happens. */
  for (int i = 0; i < 4; i++) CHECK(gothook_refresh(0, NULL) == GOTHOOK_OK, "%s: settling refresh", what);
  load();
  uint64_t loaded = now_ns();
  struct probe after = inspect(part);
  CHECK(after.found && after.slots > 0, "%s: %s not loaded or imports no allocator (%d slots)", what, part,
        after.slots);
  /* The guarantee names the first refresh that starts at least the interval after the load. */
  struct timespec until = {(time_t)((loaded + GOTHOOK_PROBE_INTERVAL_NS) / 1000000000u),
                           (long)((loaded + GOTHOOK_PROBE_INTERVAL_NS) % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0) {
  }
  gothook_report rep = {0};
  gothook_status st = gothook_refresh(0, &rep);
  struct probe done = inspect(part);
  CHECK(st == GOTHOOK_OK, "%s: refresh answered %s", what, gothook_status_str(st));
  CHECK(done.hooked == done.slots, "%s: %d of %d allocator slots of %s hooked by the refresh", what, done.hooked,
        done.slots, part);
  printf("%s: %s loaded by glibc; the first plain refresh %.1f ms later patched %u slots; %d of %d allocator "
         "slots hooked\n",
         what, part, (now_ns() - loaded) / 1e6, rep.slots_patched, done.hooked, done.slots);
  hooked_cases += done.found && done.slots > 0 && done.hooked == done.slots;
}

int main(void) {
  gothook_filter f;
  memset(&f, 0, sizeof f);
  gothook_set set = 0, icpt = 0;
  CHECK(gothook_install(hooks, NHOOKS, &f, &set, NULL) == GOTHOOK_OK, "install");
  CHECK(gothook_intercept_dlopen(&icpt, NULL) == GOTHOOK_OK, "intercept dlopen");
  run_case("iconv", "/UTF-7.so", load_gconv);
  run_case("nss", "libnss_compat", load_nss);
  run_case("pthread_exit", "libgcc_s", load_libgcc_s);
  CHECK(hooked_cases + skipped_cases == 3 && hooked_cases >= 2, "%d cases hooked, %d skipped", hooked_cases,
        skipped_cases);
  CHECK(gothook_uninstall(icpt, NULL) == GOTHOOK_OK, "uninstall interception");
  CHECK(gothook_uninstall(set, NULL) == GOTHOOK_OK, "uninstall");
  printf("hooks_glibc_loads: %d of 3 glibc-internal loads hooked by a plain refresh, %d skipped; %s\n", hooked_cases,
         skipped_cases, gt_failures ? "FAILED" : "ok");
  return gt_failures ? 1 : 0;
}
