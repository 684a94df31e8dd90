/* When a refresh may skip its probe of the loader.
 *  - without the dlopen interception every refresh probes: a refresh right after a dlopen (well
 *    inside the probe interval of the previous refresh) hooks the new module, 50 rounds of
 *    refresh, dlopen, refresh, call, dlclose;
 *  - a refresh that finds nothing changed does not walk: its report is empty (a walk would count
 *    the vDSO and the dynamic loader as filtered), right after the previous refresh and two probe
 *    intervals after it (no lazily bound slot is watched, so no re-check falls due);
 *  - with the interception installed, a refresh right after an intercepted dlopen walks: 20 more
 *    rounds of refresh, dlopen, refresh, call, dlclose;
 *  - with the interception installed and the state settled, GOTHOOK_REFRESH_FULL still re-scans:
 *    a hooked slot put back to the original by hand is repaired by a full refresh issued right
 *    after another one, 20 rounds;
 *  - with the interception installed, the refresh right after an uninstall that re-pointed a set
 *    walks: set C (every library) stacked on set A (libhk_filt_x.so only) skips
 *    libhk_filt_y.so, whose slot is bound to the real function, not to A's replacement; once A
 *    is uninstalled, C's original is the real function and the next refresh applies C there,
 *    20 rounds of refresh, uninstall A, refresh, call;
 *  - a walking refresh leaves a lazily bound library whose watched slots are intact alone: with
 *    a set on libhk_probe_lazy.so (its slot held the PLT stub when patched, so it is watched), a
 *    refresh after a dlopen of another module patches, repairs and verifies nothing; once that
 *    library is unloaded (and the deferred sweep has run), its watched slots are forgotten: a
 *    quiet refresh does not walk for a lazy re-check; likewise once the only set hooking it is
 *    uninstalled while another set stays.
 * A refresh that skipped its walk in a round fails that round.  (The skip happens only when the
 * previous probe started less than GOTHOOK_PROBE_INTERVAL_NS = 10 ms earlier, so a broken
 * shortcut goes unnoticed only if every round is delayed that long; the real code passes every
 * round whatever the delays.)
 * Usage: hooks_refresh_probe <libhk_probe_mod.so> <libhk_probe_lazy.so> */
#include "hk_common.h"

#include <time.h>

int hk_filt_target(void);
int hk_filt_x_call(void);
int hk_filt_y_call(void);

static void *volatile orig;
static int probe_hook(void) { return 50 + ((int (*)(void))orig)(); }
static void *volatile a_orig, *volatile c_orig;
static int a_hook(void) { return 10 + ((int (*)(void))a_orig)(); }
static int c_hook(void) { return 20 + ((int (*)(void))c_orig)(); }

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  gothook_hook h = {"hk_filt_target", (void *)probe_hook, (void **)&orig};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_probe_mod.so";
  gothook_set set = 0;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);

  int missed = 0;
  for (int round = 0; round < 50; round++) {
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    void *m = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK(m != NULL, "dlopen %s: %s", argv[1], dlerror());
    if (!m) break;
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    int (*call)(void) = (int (*)(void))dlsym(m, "hk_probe_mod_call");
    if (call() != 51) missed++;
    dlclose(m);
  }
  CHECK(missed == 0, "without the interception, %d of 50 refreshes right after a dlopen left the module unhooked",
        missed);

  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  gothook_report quiet = {0}, zero = {0};
  CHECK_ST(gothook_refresh(0, &quiet), GOTHOOK_OK);
  CHECK(memcmp(&quiet, &zero, sizeof quiet) == 0, "a refresh with nothing changed walked: %u libraries filtered",
        quiet.libs_filtered);
  struct timespec two_intervals = {0, 2 * GOTHOOK_PROBE_INTERVAL_NS};
  nanosleep(&two_intervals, NULL);
  CHECK_ST(gothook_refresh(0, &quiet), GOTHOOK_OK);
  CHECK(memcmp(&quiet, &zero, sizeof quiet) == 0,
        "a refresh with nothing changed, two probe intervals later, walked: %u libraries filtered", quiet.libs_filtered);

  gothook_set icpt = 0;
  CHECK_ST(gothook_intercept_dlopen(&icpt, NULL), GOTHOOK_OK);
  missed = 0;
  for (int round = 0; round < 20; round++) {
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    void *mm = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    CHECK(mm != NULL, "dlopen %s: %s", argv[1], dlerror());
    if (!mm) break;
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    int (*call)(void) = (int (*)(void))dlsym(mm, "hk_probe_mod_call");
    if (call() != 51) missed++;
    dlclose(mm);
  }
  CHECK(missed == 0, "with the interception, %d of 20 refreshes right after a dlopen left the module unhooked",
        missed);

  void *m = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(m != NULL, "dlopen %s: %s", argv[1], dlerror());
  if (!m) return 1;
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  int (*call)(void) = (int (*)(void))dlsym(m, "hk_probe_mod_call");
  CHECK(call() == 51, "the module is not hooked: its call returned %d", call());
  gothook_dynamic d;
  CHECK_ST(gothook_decode_containing((const void *)call, &d), GOTHOOK_OK);
  void **target = hk_import_slot(&d, "hk_filt_target");
  CHECK(target != NULL, "no hk_filt_target import slot in the module");
  int unrepaired = 0;
  for (int round = 0; target && round < 20; round++) {
    CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_FULL, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_slot_swap(&d, target, (void *)probe_hook, (void *)hk_filt_target), GOTHOOK_OK);
    gothook_report r = {0};
    CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_FULL, &r), GOTHOOK_OK);
    if (call() != 51 || r.slots_repaired != 1) unrepaired++;
  }
  CHECK(unrepaired == 0, "with the interception, %d of 20 full refreshes did not repair a slot put back by hand",
        unrepaired);

  int unapplied = 0;
  for (int round = 0; round < 20; round++) {
    gothook_hook ha = {"hk_filt_target", (void *)a_hook, (void **)&a_orig};
    gothook_hook hc = {"hk_filt_target", (void *)c_hook, (void **)&c_orig};
    gothook_filter fa = {0};
    fa.path_suffix = "/libhk_filt_x.so";
    gothook_set sa = 0, sc = 0;
    CHECK_ST(gothook_install(&ha, 1, &fa, &sa, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_install(&hc, 1, NULL, &sc, NULL), GOTHOOK_OK);
    CHECK(hk_filt_x_call() == 31 && hk_filt_y_call() == 1, "stacked: x returned %d (want 31), y %d (want 1)",
          hk_filt_x_call(), hk_filt_y_call());
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_uninstall(sa, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
    if (hk_filt_y_call() != 21) unapplied++;
    CHECK_ST(gothook_uninstall(sc, NULL), GOTHOOK_OK);
  }
  CHECK(unapplied == 0, "with the interception, %d of 20 refreshes after a re-pointing uninstall did not apply "
        "the re-pointed set", unapplied);
  CHECK(hk_filt_x_call() == 1 && hk_filt_y_call() == 1, "all uninstalled: x returned %d, y %d", hk_filt_x_call(),
        hk_filt_y_call());

  CHECK_ST(gothook_uninstall(icpt, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  CHECK(call() == 1, "uninstalled: the module's call returned %d", call());
  dlclose(m);

  void *lz = dlopen(argv[2], RTLD_LAZY | RTLD_LOCAL);
  CHECK(lz != NULL, "dlopen %s: %s", argv[2], dlerror());
  if (!lz) return 1;
  gothook_filter fl = {0};
  fl.path_suffix = "/libhk_probe_lazy.so";
  gothook_set sl = 0;
  CHECK_ST(gothook_install(&h, 1, &fl, &sl, NULL), GOTHOOK_OK);
  int (*lazy_call)(void) = (int (*)(void))dlsym(lz, "hk_probe_mod_call");
  CHECK(lazy_call() == 51, "the lazily bound module is not hooked: its call returned %d", lazy_call());
  void *trigger = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(trigger != NULL, "dlopen %s: %s", argv[1], dlerror());
  gothook_report lr = {0};
  CHECK_ST(gothook_refresh(0, &lr), GOTHOOK_OK);
  CHECK(lr.libs_filtered >= 1, "the refresh after a dlopen did not walk (%u filtered)", lr.libs_filtered);
  CHECK(lr.libs_patched == 0 && lr.slots_patched == 0 && lr.slots_repaired == 0 && lr.slots_already == 0,
        "the refresh re-applied an intact lazily bound library: %u libraries, %u patched, %u repaired, %u verified",
        lr.libs_patched, lr.slots_patched, lr.slots_repaired, lr.slots_already);
  CHECK(lazy_call() == 51, "the lazily bound module lost its hook: %d", lazy_call());
  if (trigger) dlclose(trigger);
  dlclose(lz);
  /* Records of unloaded libraries are swept by a walk at most once per probe interval, so the
   * refresh one interval after the unload may still walk (the deferred sweep); after that, no
   * lazy re-check is due for the unloaded library's slots. */
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  nanosleep(&two_intervals, NULL);
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  nanosleep(&two_intervals, NULL);
  memset(&quiet, 0, sizeof quiet);
  CHECK_ST(gothook_refresh(0, &quiet), GOTHOOK_OK);
  CHECK(memcmp(&quiet, &zero, sizeof quiet) == 0,
        "four probe intervals after the lazily bound library was unloaded, a quiet refresh walked: %u filtered",
        quiet.libs_filtered);
  CHECK_ST(gothook_uninstall(sl, NULL), GOTHOOK_OK);

  /* Uninstalling the only set hooking a lazily bound library drops its watch even while another
   * set (on another library) stays installed: two probe intervals later a quiet refresh does not
   * walk for a lazy re-check. */
  lz = dlopen(argv[2], RTLD_LAZY | RTLD_LOCAL);
  CHECK(lz != NULL, "dlopen %s: %s", argv[2], dlerror());
  if (!lz) return 1;
  lazy_call = (int (*)(void))dlsym(lz, "hk_probe_mod_call");
  CHECK_ST(gothook_install(&h, 1, &fl, &sl, NULL), GOTHOOK_OK);
  CHECK(lazy_call() == 51, "the reloaded lazily bound module is not hooked: %d", lazy_call());
  gothook_hook hb = {"hk_filt_target", (void *)a_hook, (void **)&a_orig};
  gothook_filter fb = {0};
  fb.path_suffix = "/libhk_filt_x.so";
  gothook_set sb = 0;
  CHECK_ST(gothook_install(&hb, 1, &fb, &sb, NULL), GOTHOOK_OK);
  CHECK(hk_filt_x_call() == 11, "the other set does not hook libhk_filt_x.so: %d", hk_filt_x_call());
  CHECK_ST(gothook_uninstall(sl, NULL), GOTHOOK_OK);
  CHECK(lazy_call() == 1, "uninstalled: the lazily bound module's call returned %d", lazy_call());
  CHECK_ST(gothook_refresh(0, NULL), GOTHOOK_OK);
  nanosleep(&two_intervals, NULL);
  memset(&quiet, 0, sizeof quiet);
  CHECK_ST(gothook_refresh(0, &quiet), GOTHOOK_OK);
  CHECK(memcmp(&quiet, &zero, sizeof quiet) == 0,
        "two probe intervals after the set on the lazily bound library was uninstalled (another set stays), "
        "a quiet refresh walked: %u filtered, %u libraries patched",
        quiet.libs_filtered, quiet.libs_patched);
  CHECK(hk_filt_x_call() == 11, "the remaining set lost libhk_filt_x.so: %d", hk_filt_x_call());
  CHECK_ST(gothook_uninstall(sb, NULL), GOTHOOK_OK);
  dlclose(lz);
  printf("hooks_refresh_probe: 50 + 20 refreshes after a dlopen, 20 full refreshes after a hand-made loss, 20 after a re-pointing uninstall, an intact lazy library left alone, then forgotten, also when its set goes and another stays; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
