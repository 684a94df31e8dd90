/* A consumer of the installed gothook package, written in the common subset of C and C++ so the
 * same checks run from app.c and app.cpp, against gothook::gothook and gothook::gothook_static,
 * built by CMake (find_package) or plain make (pkg-config).
 *
 * usage: app <expected-library>   the installed libgothook.so.X.Y.Z for a shared build, the
 *                                 installed libgothook.a for a static build
 * Build-time defines: GOTHOOK_EXPECT_SHARED (1 or 0), GOTHOOK_PKG_VERSION (the version the package
 * metadata announced: CMake's gothook_VERSION or pkg-config --modversion), APP_LANG ("C"/"C++").
 *
 * Checks, each against an independent source:
 *  - header macros vs gothook_version_number()/gothook_version() vs the package's version;
 *  - which file gothook's code was mapped from (/proc/self/maps): the installed shared library
 *    for a shared build, the executable itself (and no libgothook.so mapped) for a static one;
 *  - a walk lists the objects /proc/self/maps shows, including libc, as READY;
 *  - a hook set on getpid redirects this program's import (counted calls, real pid returned as
 *    the raw syscall reports it) and uninstall restores it.
 */
#ifndef APP_COMMON_H
#define APP_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* realpath, syscall under -std=c99 */
#endif
#include <gothook.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef GOTHOOK_EXPECT_SHARED
#error "define GOTHOOK_EXPECT_SHARED to 1 (shared build) or 0 (static build)"
#endif
#ifndef GOTHOOK_PKG_VERSION
#error "define GOTHOOK_PKG_VERSION to the package's version string"
#endif

#define APP_STR2(x) #x
#define APP_STR(x) APP_STR2(x)

static int app_failures;

#define APP_CHECK(cond, ...)                                                         \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
      fprintf(stderr, __VA_ARGS__);                                                  \
      fputc('\n', stderr);                                                           \
      app_failures++;                                                                \
    }                                                                                \
  } while (0)

/* The file backing the mapping that contains addr, from /proc/self/maps ("" if anonymous). */
static int app_mapping_file(const void *addr, char *out, size_t outlen) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[PATH_MAX + 128];
  int found = 0;
  uintptr_t a = (uintptr_t)addr;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    int off = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) < 2) continue;
    if (a >= lo && a < hi) {
      char *p = line + off;
      p[strcspn(p, "\n")] = 0;
      snprintf(out, outlen, "%s", p);
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

/* Number of distinct mapped files whose path contains needle. */
static int app_mapped_files_containing(const char *needle) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[PATH_MAX + 128], last[PATH_MAX] = "";
  int n = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    char *p = strchr(line, '/');
    if (!p) continue;
    p[strcspn(p, "\n")] = 0;
    if (strstr(p, needle) && strcmp(p, last) != 0) {
      n++;
      snprintf(last, sizeof last, "%s", p);
    }
  }
  fclose(f);
  return n;
}

static int app_same_file(const char *a, const char *b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (!realpath(a, ra) || !realpath(b, rb)) return 0;
  return strcmp(ra, rb) == 0;
}

struct app_walk {
  unsigned listed, ready, libc_ready;
};

static int app_walk_cb(const gothook_lib *lib, void *ctx) {
  struct app_walk *w = (struct app_walk *)ctx;
  const char *base = strrchr(lib->name, '/');
  base = base ? base + 1 : lib->name;
  w->listed++;
  if (lib->readiness == GOTHOOK_READY) {
    w->ready++;
    if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc.musl", 9) == 0 ||
        strncmp(base, "ld-musl", 7) == 0)
      w->libc_ready++;
  }
  return 0;
}

static pid_t (*app_real_getpid)(void);
static volatile unsigned app_hook_calls;

static pid_t app_my_getpid(void) {
  app_hook_calls++;
  return app_real_getpid();
}

static int app_main(int argc, char **argv) {
  char expect_version[32], mapped[PATH_MAX] = "", exe[PATH_MAX];
  const char *expected_lib = argc > 1 ? argv[1] : "";
  struct app_walk w = {0, 0, 0};
  gothook_hook hook;
  gothook_filter filter;
  gothook_report rep, urep;
  gothook_set set = 0;
  gothook_status st;
  pid_t pid, real_pid = (pid_t)syscall(SYS_getpid);
  unsigned before;

  /* 1. versions: header macros, library, package metadata */
  snprintf(expect_version, sizeof expect_version, "%d.%d.%d", GOTHOOK_VERSION_MAJOR,
           GOTHOOK_VERSION_MINOR, GOTHOOK_VERSION_PATCH);
  APP_CHECK(gothook_version_number() == GOTHOOK_VERSION_NUMBER, "library %u, header %u",
            (unsigned)gothook_version_number(), (unsigned)GOTHOOK_VERSION_NUMBER);
  APP_CHECK(GOTHOOK_VERSION_NUMBER ==
                GOTHOOK_VERSION_MAJOR * 10000 + GOTHOOK_VERSION_MINOR * 100 + GOTHOOK_VERSION_PATCH,
            "macro %d", GOTHOOK_VERSION_NUMBER);
  APP_CHECK(strcmp(gothook_version(), expect_version) == 0, "library \"%s\", header \"%s\"",
            gothook_version(), expect_version);
  APP_CHECK(strcmp(gothook_version(), GOTHOOK_PKG_VERSION) == 0, "library \"%s\", package \"%s\"",
            gothook_version(), GOTHOOK_PKG_VERSION);

  /* 2. where gothook's code comes from */
  APP_CHECK(app_mapping_file((const void *)&gothook_version, mapped, sizeof mapped),
            "gothook_version is not in /proc/self/maps");
#if GOTHOOK_EXPECT_SHARED
  APP_CHECK(app_same_file(mapped, expected_lib), "gothook mapped from \"%s\", expected \"%s\"", mapped,
            expected_lib);
#else
  APP_CHECK(realpath("/proc/self/exe", exe) && app_same_file(mapped, exe),
            "gothook mapped from \"%s\", expected the executable", mapped);
  APP_CHECK(app_mapped_files_containing("libgothook.so") == 0, "a libgothook.so is mapped");
  (void)expected_lib;
#endif
  (void)exe;

  /* 3. a walk */
  st = gothook_libs_each(app_walk_cb, &w, GOTHOOK_LIBS_ALL);
  APP_CHECK(st == GOTHOOK_OK, "gothook_libs_each: %s", gothook_status_str(st));
  APP_CHECK(w.listed >= 2 && w.ready >= 1 && w.libc_ready == 1, "listed %u ready %u libc ready %u",
            w.listed, w.ready, w.libc_ready);

  /* 4. a hook on this program's getpid import (the program embeds gothook when static, so
   * include gothook's own object) */
  memset(&hook, 0, sizeof hook);
  memset(&filter, 0, sizeof filter);
  memset(&rep, 0, sizeof rep);
  hook.symbol = "getpid";
  hook.replacement = (void *)&app_my_getpid;
  hook.original = (void **)&app_real_getpid;
  filter.flags = GOTHOOK_FILTER_INCLUDE_SELF;
  st = gothook_install(&hook, 1, &filter, &set, &rep);
  APP_CHECK(st == GOTHOOK_OK && set != 0, "gothook_install: %s", gothook_status_str(st));
  APP_CHECK(rep.slots_patched >= 1, "slots patched %u", rep.slots_patched);
  before = app_hook_calls;
  pid = getpid();
  APP_CHECK(app_hook_calls == before + 1 && pid == real_pid, "hooked getpid: calls %u->%u pid %d/%d",
            before, app_hook_calls, (int)pid, (int)real_pid);
  memset(&urep, 0, sizeof urep);
  st = gothook_uninstall(set, &urep);
  APP_CHECK(st == GOTHOOK_OK && urep.slots_restored == rep.slots_patched,
            "gothook_uninstall: %s, restored %u of %u", gothook_status_str(st), urep.slots_restored,
            rep.slots_patched);
  before = app_hook_calls;
  pid = getpid();
  APP_CHECK(app_hook_calls == before && pid == real_pid, "after uninstall: calls %u->%u", before,
            app_hook_calls);

  printf("%s %s consumer: version %s (header, library, package agree), gothook mapped from %s, "
         "%u objects listed (%u READY, libc READY), getpid hook patched %u slot(s), "
         "counted 1 call, uninstall restored %u; %d failure(s)\n",
         APP_LANG, GOTHOOK_EXPECT_SHARED ? "shared" : "static", gothook_version(), mapped, w.listed,
         w.ready, rep.slots_patched, urep.slots_restored, app_failures);
  return app_failures ? 1 : 0;
}

#endif
