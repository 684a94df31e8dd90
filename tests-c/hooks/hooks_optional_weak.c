/* Per-hook flags and the exclude-by-address filter:
 *  - GOTHOOK_FILTER_HOOKS_OPTIONAL: a hook whose symbol has no definition is skipped, the set installs
 *    with the others and report.missing_hook names it; without the flag the install fails with
 *    ENOTFOUND and installs nothing;
 *  - GOTHOOK_FILTER_HOOKS_UNDEFINED: imports of an undefined weak symbol (slots holding 0) are redirected,
 *    with a NULL original; uninstall puts the 0 back;
 *  - filter.exclude: every library but the one containing an address.
 * Usage: hooks_optional_weak */
#include "hk_common.h"

int hk_weak_call(void);
int hk_filt_x_call(void);
int hk_filt_y_call(void);

static void *volatile t_orig, *w_orig;
static int t_hook(void) { return 10 + ((int (*)(void))t_orig)(); }
static int w_hook(void) { return w_orig ? -1 : 7; }

int main(void) {
  /* Optional: the set installs without the missing hook. */
  gothook_hook two[2] = {{"hk_filt_target", (void *)t_hook, (void **)&t_orig},
                         {"gothook_no_such_symbol_anywhere", (void *)w_hook, NULL}};
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(two, 2, NULL, &set, &r), GOTHOOK_ENOTFOUND);
  CHECK(set == 0 && hk_filt_x_call() == 1, "a failed install left a handle or a hook");
  gothook_filter opt = {0};
  opt.flags = GOTHOOK_FILTER_HOOKS_OPTIONAL;
  memset(&r, 0, sizeof r);
  CHECK_ST(gothook_install(two, 2, &opt, &set, &r), GOTHOOK_OK);
  CHECK(r.missing_hook == 2, "optional hook skipped: missing_hook %u, want 2", r.missing_hook);
  CHECK(hk_filt_x_call() == 11 && hk_filt_y_call() == 11, "the other hook works: x %d, y %d", hk_filt_x_call(),
        hk_filt_y_call());
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);

  /* Weak undefined: slots hold 0; the hook redirects them, with a NULL original. */
  CHECK(hk_weak_call() == 0, "hk_weak_missing is defined somewhere");
  gothook_hook w = {"hk_weak_missing", (void *)w_hook, (void **)&w_orig};
  CHECK_ST(gothook_install(&w, 1, NULL, &set, NULL), GOTHOOK_ENOTFOUND);
  gothook_filter und = {0};
  und.flags = GOTHOOK_FILTER_HOOKS_UNDEFINED;
  w_orig = (void *)1;
  memset(&r, 0, sizeof r);
  CHECK_ST(gothook_install(&w, 1, &und, &set, &r), GOTHOOK_OK);
  CHECK(w_orig == NULL, "original %p, want NULL", w_orig);
  CHECK(r.slots_patched >= 1, "weak import slots patched: %u", r.slots_patched);
  CHECK(hk_weak_call() == 7, "the weak import reaches the hook: %d", hk_weak_call());
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  CHECK(hk_weak_call() == 0, "after uninstall the weak import is 0 again: %d", hk_weak_call());

  /* Exclude by address: every library but libhk_filt_x.so. */
  gothook_hook t = {"hk_filt_target", (void *)t_hook, (void **)&t_orig};
  gothook_filter f = {0};
  f.exclude = (const void *)hk_filt_x_call;
  CHECK_ST(gothook_install(&t, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK(hk_filt_x_call() == 1 && hk_filt_y_call() == 11, "exclude: x %d (want 1), y %d (want 11)",
        hk_filt_x_call(), hk_filt_y_call());
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("hooks_optional_weak: optional, weak-undefined and exclude-by-address; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
