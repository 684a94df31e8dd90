/* Uninstall takes a set off only the libraries its own filter accepts.
 *  - one replacement, two sets: set A hooks hk_filt_target with shared_hook only in
 *    libhk_filt_x.so, set B with the same shared_hook only in libhk_filt_y.so.  Uninstalling
 *    either, in either order, restores only its own library: the other library's slot keeps
 *    shared_hook (its set is still installed) and its call still runs the hook;
 *  - a library the decoder refuses (its DT_HASH claims zero buckets; the loader uses DT_GNU_HASH):
 *    install and uninstall of a set whose filter accepts it both succeed, count it once in
 *    libs_failed and leave its slot alone;
 *  - uninstalling one set leaves the others marked applied: the next refresh after a dlopen
 *    patches or verifies nothing in the libraries the remaining set was already applied to;
 *  - nor marks them applied where they were not: a set whose accept callback starts accepting a
 *    library is applied there by the next refresh after a dlopen, also when another set was
 *    uninstalled in between;
 *  - uninstall re-points only the sets that stacked on the leaving set: A hooks hk_filt_target
 *    in libhk_filt_x.so, B in libhk_filt_y.so, C (installed last) in libhk_filt_y.so on top of B;
 *    uninstalling A leaves C's original at B's replacement (y's call still runs C, B, the real
 *    function).
 * Usage: hooks_uninstall_exact <libhk_bad_hash.so> */
#include "hk_common.h"

int hk_filt_x_call(void);
int hk_filt_y_call(void);
int hk_filt_target(void);

static void *volatile x_orig, *volatile y_orig;
/* Both sets publish the real hk_filt_target (their filters do not overlap, so nothing stacks). */
static int shared_hook(void) {
  void *o = __atomic_load_n(&x_orig, __ATOMIC_ACQUIRE);
  if (!o) o = __atomic_load_n(&y_orig, __ATOMIC_ACQUIRE);
  return 40 + ((int (*)(void))o)();
}

/* ---- slot values by library and symbol name --------------------------------------------- */
struct named { const char *suffix, *name; int n; void *value; };
static int named_imp(const gothook_import *imp, void *ctx) {
  struct named *ns = ctx;
  if (strcmp(imp->name, ns->name) == 0 && ns->n++ == 0) ns->value = __atomic_load_n(imp->slot, __ATOMIC_ACQUIRE);
  return 0;
}
static int named_lib(const gothook_lib *lib, void *ctx) {
  struct named *ns = ctx;
  size_t l = strlen(lib->name), s = strlen(ns->suffix);
  if (l < s || strcmp(lib->name + l - s, ns->suffix) != 0) return 0;
  gothook_dynamic d;
  if (gothook_lib_decode(lib, &d) == GOTHOOK_OK) gothook_dynamic_imports(&d, named_imp, ns);
  return 1;
}
/* The value of the import slot of `name` in the library whose path ends with `suffix`. */
static void *slot_of(const char *suffix, const char *name) {
  struct named ns = {suffix, name, 0, NULL};
  gothook_libs_each(named_lib, &ns, 0);
  CHECK(ns.n == 1, "%s: %d import slots of %s, want 1", suffix, ns.n, name);
  return ns.value;
}
static void expect(const char *when, void *x, int x_call, void *y, int y_call) {
  void *sx = slot_of("libhk_filt_x.so", "hk_filt_target"), *sy = slot_of("libhk_filt_y.so", "hk_filt_target");
  CHECK(sx == x, "%s: libhk_filt_x.so slot %p, want %p", when, sx, x);
  CHECK(sy == y, "%s: libhk_filt_y.so slot %p, want %p", when, sy, y);
  int cx = hk_filt_x_call(), cy = hk_filt_y_call();
  CHECK(cx == x_call && cy == y_call, "%s: x returned %d (want %d), y %d (want %d)", when, cx, x_call, cy, y_call);
}

static void one_replacement_two_sets(void) {
  void *real = (void *)hk_filt_target, *hook = (void *)shared_hook;
  for (int order = 0; order < 2; order++) {
    x_orig = y_orig = NULL;
    gothook_hook hx = {"hk_filt_target", hook, (void **)&x_orig};
    gothook_hook hy = {"hk_filt_target", hook, (void **)&y_orig};
    gothook_filter fx = {0}, fy = {0};
    fx.path_suffix = "libhk_filt_x.so";
    fy.path_suffix = "libhk_filt_y.so";
    gothook_set sx = 0, sy = 0;
    CHECK_ST(gothook_install(&hx, 1, &fx, &sx, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_install(&hy, 1, &fy, &sy, NULL), GOTHOOK_OK);
    CHECK(sx != sy, "two filters, one set %u", sx);
    CHECK(x_orig == real && y_orig == real, "originals %p and %p, want %p", x_orig, y_orig, real);
    expect("both installed", hook, 41, hook, 41);
    gothook_report r = {0};
    if (order == 0) {
      CHECK_ST(gothook_uninstall(sx, &r), GOTHOOK_OK);
      CHECK(r.slots_restored == 1, "uninstalling the x set restored %u slots, want 1", r.slots_restored);
      expect("x set uninstalled", real, 1, hook, 41);
      CHECK_ST(gothook_uninstall(sy, NULL), GOTHOOK_OK);
    } else {
      CHECK_ST(gothook_uninstall(sy, &r), GOTHOOK_OK);
      CHECK(r.slots_restored == 1, "uninstalling the y set restored %u slots, want 1", r.slots_restored);
      expect("y set uninstalled", hook, 41, real, 1);
      CHECK_ST(gothook_uninstall(sx, NULL), GOTHOOK_OK);
    }
    expect("both uninstalled", real, 1, real, 1);
  }
}

static void undecodable_library(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  if (!h) return;
  int (*call)(void) = (int (*)(void))dlsym(h, "hk_bad_hash_call");
  CHECK(call && call() == 1, "before: the call returned %d", call ? call() : -1);
  x_orig = y_orig = NULL;
  gothook_hook hx = {"hk_filt_target", (void *)shared_hook, (void **)&x_orig};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_bad_hash.so";
  gothook_set s = 0;
  gothook_report r = {0}, u = {0};
  CHECK_ST(gothook_install(&hx, 1, &f, &s, &r), GOTHOOK_OK);
  CHECK(r.libs_failed == 1 && r.slots_patched == 0, "install: %u libraries failed (want 1), %u slots patched",
        r.libs_failed, r.slots_patched);
  CHECK(call() == 1, "installed: the undecodable library's call returned %d (want 1: not hooked)", call());
  CHECK_ST(gothook_uninstall(s, &u), GOTHOOK_OK);
  CHECK(u.libs_failed == 1 && u.slots_restored == 0, "uninstall: %u libraries failed (want 1), %u slots restored",
        u.libs_failed, u.slots_restored);
  CHECK(call() == 1, "uninstalled: the call returned %d", call());
  dlclose(h);
}

static void others_stay_applied(const char *path) {
  void *real = (void *)hk_filt_target, *hook = (void *)shared_hook;
  x_orig = y_orig = NULL;
  gothook_hook hx = {"hk_filt_target", hook, (void **)&x_orig};
  gothook_hook hy = {"hk_filt_target", hook, (void **)&y_orig};
  gothook_filter fx = {0}, fy = {0};
  fx.path_suffix = "libhk_filt_x.so";
  fy.path_suffix = "libhk_filt_y.so";
  gothook_set sx = 0, sy = 0;
  CHECK_ST(gothook_install(&hx, 1, &fx, &sx, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hy, 1, &fy, &sy, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(sy, NULL), GOTHOOK_OK);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  gothook_report r = {0};
  CHECK_ST(gothook_refresh(0, &r), GOTHOOK_OK);
  CHECK(r.libs_filtered >= 1, "the refresh after a dlopen did not walk the libraries (%u filtered)", r.libs_filtered);
  CHECK(r.libs_patched == 0 && r.slots_patched == 0 && r.slots_already == 0,
        "the refresh after a dlopen re-applied the remaining set: %u libraries, %u slots patched, %u verified",
        r.libs_patched, r.slots_patched, r.slots_already);
  expect("y set uninstalled, then a dlopen and a refresh", hook, 41, real, 1);
  CHECK_ST(gothook_uninstall(sx, NULL), GOTHOOK_OK);
  if (h) dlclose(h);
}

static volatile int y_wanted;
static int accept_y_when_wanted(const gothook_lib *lib, void *ctx) {
  (void)lib, (void)ctx;
  return y_wanted;
}
static void *volatile d_orig;
static int d_hook(void) { return ((int (*)(void))d_orig)(); }

static void accepted_later_is_applied(const char *path) {
  void *real = (void *)hk_filt_target, *hook = (void *)shared_hook;
  x_orig = y_orig = NULL;
  y_wanted = 0;
  /* C: hk_filt_target in libhk_filt_y.so once the callback says so.  D: a name libhk_filt_y.so
   * does not import, in that library: it patches nothing, but has the library tracked. */
  gothook_hook hc = {"hk_filt_target", hook, (void **)&y_orig};
  gothook_hook hd = {"hk_filt_x_call", (void *)d_hook, (void **)&d_orig};
  gothook_filter fc = {0}, fd = {0};
  fc.path_suffix = fd.path_suffix = "libhk_filt_y.so";
  fc.accept = accept_y_when_wanted;
  gothook_set sc = 0, sd = 0;
  CHECK_ST(gothook_install(&hc, 1, &fc, &sc, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hd, 1, &fd, &sd, NULL), GOTHOOK_OK);
  expect("callback refusing", real, 1, real, 1);
  y_wanted = 1;
  CHECK_ST(gothook_uninstall(sd, NULL), GOTHOOK_OK);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  gothook_report r = {0};
  CHECK_ST(gothook_refresh(0, &r), GOTHOOK_OK);
  CHECK(r.slots_patched == 1, "the refresh after the callback started accepting patched %u slots, want 1",
        r.slots_patched);
  expect("callback accepting, another set uninstalled, a dlopen and a refresh", real, 1, hook, 41);
  CHECK_ST(gothook_uninstall(sc, NULL), GOTHOOK_OK);
  expect("all uninstalled", real, 1, real, 1);
  if (h) dlclose(h);
}

static void *volatile pa_orig, *volatile pb_orig, *volatile pc_orig;
static int pa_hook(void) { return 100 + ((int (*)(void))pa_orig)(); }
static int pb_hook(void) { return 200 + ((int (*)(void))pb_orig)(); }
static int pc_hook(void) { return 300 + ((int (*)(void))pc_orig)(); }

static void only_stacked_sets_are_repointed(void) {
  void *real = (void *)hk_filt_target;
  gothook_hook ha = {"hk_filt_target", (void *)pa_hook, (void **)&pa_orig};
  gothook_hook hb = {"hk_filt_target", (void *)pb_hook, (void **)&pb_orig};
  gothook_hook hc = {"hk_filt_target", (void *)pc_hook, (void **)&pc_orig};
  gothook_filter fx = {0}, fy = {0};
  fx.path_suffix = "libhk_filt_x.so";
  fy.path_suffix = "libhk_filt_y.so";
  gothook_set sa = 0, sb = 0, sc = 0;
  CHECK_ST(gothook_install(&ha, 1, &fx, &sa, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hb, 1, &fy, &sb, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hc, 1, &fy, &sc, NULL), GOTHOOK_OK);
  CHECK(pc_orig == (void *)pb_hook, "C's original %p, want B's replacement %p", pc_orig, (void *)pb_hook);
  expect("A, B, C installed", (void *)pa_hook, 101, (void *)pc_hook, 501);
  CHECK_ST(gothook_uninstall(sa, NULL), GOTHOOK_OK);
  CHECK(pc_orig == (void *)pb_hook, "A left: C's original re-pointed to %p, want B's replacement %p", pc_orig,
        (void *)pb_hook);
  expect("A uninstalled", real, 1, (void *)pc_hook, 501);
  CHECK_ST(gothook_uninstall(sc, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(sb, NULL), GOTHOOK_OK);
  expect("A, B, C uninstalled", real, 1, real, 1);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  one_replacement_two_sets();
  undecodable_library(argv[1]);
  others_stay_applied(argv[1]);
  accepted_later_is_applied(argv[1]);
  only_stacked_sets_are_repointed();
  printf("hooks_uninstall_exact: one replacement in two sets, both uninstall orders, an undecodable library, the remaining sets stay exactly as applied, only stacked sets re-pointed; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
