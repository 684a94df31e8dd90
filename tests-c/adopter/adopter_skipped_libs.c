/* A hook-set call names the libraries it skipped: with a -z norelro library loaded under the
 * RELRO rule (no page proves it relocated, so it is never READY), install and every refresh
 * report it in report.skipped with reason GOTHOOK_SKIP_NOT_READY, its load bias and the end of
 * its path (copied, so it stays readable after the library is unloaded), and the counts add up;
 * once it is unloaded, a refresh no longer names it.
 * Usage: adopter_skipped_libs norelro-fixture.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_check.h"

static pid_t (*real_getppid)(void);
static pid_t counting_getppid(void) { return real_getppid(); }

/* The entry of `rep` naming the library at `bias` for `reason`, or NULL. */
static const gothook_skipped_lib *named(const gothook_report *rep, uintptr_t bias, uint32_t reason) {
  for (uint32_t i = 0; i < rep->libs_skipped && i < GOTHOOK_REPORT_MAX_SKIPPED; i++)
    if (rep->skipped[i].bias == bias && rep->skipped[i].reason == reason) return &rep->skipped[i];
  return NULL;
}

/* The record keeps the path's last GOTHOOK_SKIPPED_NAME - 1 bytes and its full length. */
static void check_name(const char *what, const gothook_skipped_lib *s, const char *path) {
  size_t len = strlen(path), keep = len < GOTHOOK_SKIPPED_NAME - 1 ? len : GOTHOOK_SKIPPED_NAME - 1;
  CHECK(s->name_len == len, "%s: name_len %u, path has %zu bytes", what, s->name_len, len);
  CHECK(strlen(s->name) == keep && memcmp(s->name, path + len - keep, keep) == 0,
        "%s: name \"%s\" is not the last %zu bytes of %s", what, s->name, keep, path);
}

static void check_counts(const char *what, const gothook_report *rep) {
  CHECK(rep->libs_skipped <= GOTHOOK_REPORT_MAX_SKIPPED, "%s: %u entries", what, rep->libs_skipped);
  CHECK(rep->libs_skipped + rep->libs_skipped_more ==
            rep->libs_not_ready + rep->libs_failed + rep->libs_untracked,
        "%s: %u named + %u more, but %u not ready + %u failed + %u untracked", what, rep->libs_skipped,
        rep->libs_skipped_more, rep->libs_not_ready, rep->libs_failed, rep->libs_untracked);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *path = argv[1];
  CHECK(gothook_set_readiness_rule(GOTHOOK_RULE_RELRO) == GOTHOOK_OK, "force the RELRO rule");
  void *h = dlopen(path, RTLD_NOW);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  if (!h) return 1;
  struct link_map *lm = NULL;
  CHECK(dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm, "dlinfo: %s", dlerror());
  if (!lm) return 1;
  uintptr_t bias = (uintptr_t)lm->l_addr;

  gothook_hook hook = GOTHOOK_HOOK("getppid", counting_getppid, real_getppid);
  gothook_set set = 0;
  gothook_report rep;
  memset(&rep, 0xa5, sizeof rep);
  gothook_status st = gothook_install(&hook, 1, NULL, &set, &rep);
  CHECK(st == GOTHOOK_OK, "install: %s", gothook_status_str(st));
  CHECK(rep.libs_not_ready >= 1, "install: %u libraries not ready", rep.libs_not_ready);
  const gothook_skipped_lib *s = named(&rep, bias, GOTHOOK_SKIP_NOT_READY);
  CHECK(s != NULL, "install: the norelro library (bias %#lx) is not named among %u skipped",
        (unsigned long)bias, rep.libs_skipped);
  if (s) check_name("install", s, path);
  check_counts("install", &rep);

  gothook_report again;
  memset(&again, 0xa5, sizeof again);
  st = gothook_refresh(0, &again);
  CHECK(st == GOTHOOK_OK, "refresh: %s", gothook_status_str(st));
  s = named(&again, bias, GOTHOOK_SKIP_NOT_READY);
  CHECK(s != NULL, "refresh: the norelro library is not named among %u skipped", again.libs_skipped);
  if (s) check_name("refresh", s, path);
  check_counts("refresh", &again);

  /* Unloaded: the copy in the old report stays readable, and a refresh names it no more. */
  CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
  if (s) check_name("after dlclose", s, path);
  gothook_report gone;
  memset(&gone, 0, sizeof gone);
  st = gothook_refresh(0, &gone);
  CHECK(st == GOTHOOK_OK, "refresh after dlclose: %s", gothook_status_str(st));
  CHECK(named(&gone, bias, GOTHOOK_SKIP_NOT_READY) == NULL && gone.libs_not_ready == 0,
        "refresh after dlclose still skips %u libraries (%u named)", gone.libs_not_ready, gone.libs_skipped);
  check_counts("refresh after dlclose", &gone);

  gothook_report un;
  CHECK(gothook_uninstall(set, &un) == GOTHOOK_OK, "uninstall");
  printf("adopter_skipped_libs: %ld checks, %d failures\n", gt_checks, gt_failures);
  return gt_failures != 0;
}
