/* Per-hook flags: in one set, a GOTHOOK_HOOK_OPTIONAL hook whose symbol has no definition is
 * skipped alone (the set installs, its other hooks work, report.hooks_missing names every skipped
 * hook and report.missing_hook the first), while a required hook without a definition still fails
 * the whole install (GOTHOOK_ENOTFOUND, nothing patched) even with optional hooks beside it; a
 * GOTHOOK_HOOK_UNDEFINED hook installs with a NULL original; an unknown flag bit is refused.
 * The hooks are declared with the typed GOTHOOK_HOOK_FLAGS. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_check.h"

static pid_t (*real_getppid)(void);
static int ppid_calls;
static pid_t counting_getppid(void) {
  ppid_calls++;
  return real_getppid();
}
static pid_t (*real_getpid)(void);
static int pid_calls;
static pid_t counting_getpid(void) {
  pid_calls++;
  return real_getpid();
}
static int (*missing_a_orig)(void);
static int missing_a(void) { return 1; }
static int (*missing_b_orig)(void);
static int missing_b(void) { return 2; }

/* Calls through this program's own import slots (the main program is hooked by default). */
static void call_both(void) {
  getppid();
  getpid();
}

int main(void) {
  gothook_report rep;
  gothook_set set = 0;

  /* Required, optional (missing), required, optional (missing). */
  missing_a_orig = (int (*)(void))1;
  gothook_hook mixed[] = {
      GOTHOOK_HOOK("getppid", counting_getppid, real_getppid),
      GOTHOOK_HOOK_FLAGS("gothook_no_such_symbol_a", missing_a, missing_a_orig, GOTHOOK_HOOK_OPTIONAL),
      GOTHOOK_HOOK("getpid", counting_getpid, real_getpid),
      GOTHOOK_HOOK_FLAGS("gothook_no_such_symbol_b", missing_b, missing_b_orig, GOTHOOK_HOOK_OPTIONAL),
  };
  memset(&rep, 0, sizeof rep);
  gothook_status st = gothook_install(mixed, 4, NULL, &set, &rep);
  CHECK(st == GOTHOOK_OK && set != 0, "optional hooks missing: install %s", gothook_status_str(st));
  CHECK(rep.hooks_missing == 0xa, "hooks_missing %#x, want 0xa (hooks 1 and 3)", rep.hooks_missing);
  CHECK(rep.missing_hook == 2, "missing_hook %u, want 2 (the first skipped, 1-based)", rep.missing_hook);
  CHECK(missing_a_orig == NULL, "a skipped hook's original is published as NULL");
  CHECK(real_getppid != NULL && real_getpid != NULL, "the required hooks' originals are published");
  call_both();
  CHECK(ppid_calls == 1 && pid_calls == 1, "required hooks work beside skipped ones: %d %d", ppid_calls,
        pid_calls);
  CHECK(gothook_uninstall(set, &rep) == GOTHOOK_OK, "uninstall");
  call_both();
  CHECK(ppid_calls == 1 && pid_calls == 1, "uninstalled: %d %d", ppid_calls, pid_calls);

  /* A required hook without a definition fails the set, whatever its optional neighbours. */
  gothook_hook required_missing[] = {
      GOTHOOK_HOOK_FLAGS("gothook_no_such_symbol_a", missing_a, missing_a_orig, GOTHOOK_HOOK_OPTIONAL),
      GOTHOOK_HOOK("getppid", counting_getppid, real_getppid),
      GOTHOOK_HOOK("gothook_no_such_symbol_b", missing_b, missing_b_orig),
  };
  memset(&rep, 0, sizeof rep);
  set = 0;
  st = gothook_install(required_missing, 3, NULL, &set, &rep);
  CHECK(st == GOTHOOK_ENOTFOUND && set == 0, "required hook missing: %s, handle %u", gothook_status_str(st),
        set);
  CHECK(rep.missing_hook == 3, "missing_hook %u, want 3 (the required one)", rep.missing_hook);
  call_both();
  CHECK(ppid_calls == 1, "nothing installed: getppid hooked anyway (%d)", ppid_calls);

  /* GOTHOOK_HOOK_UNDEFINED: installed with a NULL original, and reported. */
  missing_b_orig = (int (*)(void))1;
  gothook_hook undefined[] = {
      GOTHOOK_HOOK("getppid", counting_getppid, real_getppid),
      GOTHOOK_HOOK_FLAGS("gothook_no_such_symbol_b", missing_b, missing_b_orig, GOTHOOK_HOOK_UNDEFINED),
  };
  memset(&rep, 0, sizeof rep);
  st = gothook_install(undefined, 2, NULL, &set, &rep);
  CHECK(st == GOTHOOK_OK && set != 0, "undefined hook: install %s", gothook_status_str(st));
  CHECK(rep.hooks_missing == 0x2 && rep.missing_hook == 0, "undefined hook: hooks_missing %#x missing_hook %u",
        rep.hooks_missing, rep.missing_hook);
  CHECK(missing_b_orig == NULL, "an undefined hook's original is NULL");
  call_both();
  CHECK(ppid_calls == 2, "the set with an undefined hook works: %d", ppid_calls);
  CHECK(gothook_uninstall(set, &rep) == GOTHOOK_OK, "uninstall");

  /* Unknown flag bits are bad input. */
  gothook_hook bad = GOTHOOK_HOOK_FLAGS("getppid", counting_getppid, real_getppid, 0x80);
  set = 0;
  st = gothook_install(&bad, 1, NULL, &set, NULL);
  CHECK(st == GOTHOOK_EINVAL && set == 0, "unknown hook flag: %s", gothook_status_str(st));

  printf("adopter_optional_hook: %ld checks, %d failures\n", gt_checks, gt_failures);
  return gt_failures != 0;
}
