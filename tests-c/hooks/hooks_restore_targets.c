/* Uninstall writes back into each slot exactly what it must hold:
 *  - one set whose two hooks share one replacement, in a library bound now: each slot gets the
 *    original of its own symbol, whichever hook comes first in the set;
 *  - in a lazily bound library whose slots still held their PLT stubs when hooked: taking off
 *    the upper of two stacked sets leaves the lower set's replacement in the slot (not the
 *    stub), and taking off the last set puts back each slot's own stub, exactly;
 *  - the uninstall report counts the library once and each restored slot once;
 *  - a set whose filter started accepting a library after it was installed, and whose original
 *    is the leaving set's replacement, is stacked on the leaving set's original right away in
 *    that library; one whose original is something else is not.
 * Usage: hooks_restore_targets <libhk_pair_now.so> <libhk_pair_lazy.so> */
#include "hk_common.h"

int hk_filt_target(void);
int hk_filt_x_call(void);
int hk_filt_y_call(void);

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

static int (*open_pair(const char *path, int mode))(void) {
  void *h = dlopen(path, mode | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  int (*call)(void) = (int (*)(void))dlsym(h, "hk_pair_call");
  if (!call) exit(2);
  return call;
}

static void *volatile t_orig, *volatile x_orig;
static int shared_hook(void) { return 7; }

/* One set, two hooks, one replacement; `x_first` puts hk_filt_x_call's hook first. */
static void shared_replacement(int (*call)(void), int x_first) {
  const char *lib = "libhk_pair_now.so";
  void *t0 = slot_of(lib, "hk_filt_target"), *x0 = slot_of(lib, "hk_filt_x_call");
  CHECK(t0 == (void *)hk_filt_target && x0 == (void *)hk_filt_x_call,
        "bound now: slots %p and %p, want hk_filt_target %p and hk_filt_x_call %p", t0, x0,
        (void *)hk_filt_target, (void *)hk_filt_x_call);
  gothook_hook hs[2] = {{"hk_filt_target", (void *)shared_hook, (void **)&t_orig, 0},
                        {"hk_filt_x_call", (void *)shared_hook, (void **)&x_orig, 0}};
  if (x_first) {
    gothook_hook tmp = hs[0];
    hs[0] = hs[1], hs[1] = tmp;
  }
  gothook_filter f = {0};
  f.path_suffix = lib;
  gothook_set s = 0;
  gothook_report r = {0}, u = {0};
  CHECK_ST(gothook_install(hs, 2, &f, &s, &r), GOTHOOK_OK);
  CHECK(r.libs_patched == 1 && r.slots_patched == 2, "install: %u libraries, %u slots patched (want 1, 2)",
        r.libs_patched, r.slots_patched);
  CHECK(call() == 77, "installed (x first: %d): the call returned %d, want 77", x_first, call());
  CHECK_ST(gothook_uninstall(s, &u), GOTHOOK_OK);
  CHECK(u.libs_patched == 1 && u.slots_restored == 2, "uninstall: %u libraries, %u slots restored (want 1, 2)",
        u.libs_patched, u.slots_restored);
  void *t1 = slot_of(lib, "hk_filt_target"), *x1 = slot_of(lib, "hk_filt_x_call");
  CHECK(t1 == t0 && x1 == x0, "uninstalled (x first: %d): slots %p and %p, want %p and %p", x_first, t1, x1,
        t0, x0);
  CHECK(call() == 11, "uninstalled (x first: %d): the call returned %d, want 11", x_first, call());
}

static void *volatile at_orig, *volatile ax_orig, *volatile bt_orig;
static int a_target(void) { return 100; }
static int a_x(void) { return 200; }
static int b_target(void) { return 300 + ((int (*)(void))__atomic_load_n(&bt_orig, __ATOMIC_ACQUIRE))(); }

/* A lazily bound library, hooked while its slots hold their PLT stubs. */
static void lazy_stubs(int (*call)(void)) {
  const char *lib = "libhk_pair_lazy.so";
  void *t0 = slot_of(lib, "hk_filt_target"), *x0 = slot_of(lib, "hk_filt_x_call");
  CHECK(t0 != (void *)hk_filt_target && x0 != (void *)hk_filt_x_call && t0 != x0,
        "bound lazily: slots %p and %p hold their own PLT stubs", t0, x0);
  gothook_hook ha[2] = {{"hk_filt_target", (void *)a_target, (void **)&at_orig, 0},
                        {"hk_filt_x_call", (void *)a_x, (void **)&ax_orig, 0}};
  gothook_hook hb = {"hk_filt_target", (void *)b_target, (void **)&bt_orig, 0};
  gothook_filter f = {0};
  f.path_suffix = lib;
  gothook_set sa = 0, sb = 0;
  CHECK_ST(gothook_install(ha, 2, &f, &sa, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hb, 1, &f, &sb, NULL), GOTHOOK_OK);
  CHECK(bt_orig == (void *)a_target, "B's original %p, want A's replacement %p", bt_orig, (void *)a_target);
  CHECK(call() == 400 + 2000, "A and B installed: the call returned %d, want 2400", call());

  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(sb, &u), GOTHOOK_OK);
  CHECK(u.slots_restored == 1, "uninstalling B restored %u slots, want 1", u.slots_restored);
  void *t1 = slot_of(lib, "hk_filt_target");
  CHECK(t1 == (void *)a_target, "B uninstalled: the slot holds %p, want A's replacement %p (the stub was %p)", t1,
        (void *)a_target, t0);
  CHECK(call() == 100 + 2000, "B uninstalled: the call returned %d, want 2100", call());

  CHECK_ST(gothook_uninstall(sa, &u), GOTHOOK_OK);
  void *t2 = slot_of(lib, "hk_filt_target"), *x2 = slot_of(lib, "hk_filt_x_call");
  CHECK(t2 == t0 && x2 == x0, "A uninstalled: slots %p and %p, want their stubs %p and %p", t2, x2, t0, x0);
  CHECK(call() == 11, "A uninstalled: the call returned %d, want 11", call());
}

/* Which libraries a filter accepts: bit 1 libhk_filt_x.so, 2 libhk_filt_y.so, 4 libhk_pair_now.so. */
static int accept_bits(const gothook_lib *lib, void *ctx) {
  static const char *const suffix[3] = {"/libhk_filt_x.so", "/libhk_filt_y.so", "/libhk_pair_now.so"};
  unsigned bits = *(volatile unsigned *)ctx;
  size_t l = strlen(lib->name);
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(suffix[i]);
    if ((bits >> i & 1) && l >= n && strcmp(lib->name + l - n, suffix[i]) == 0) return 1;
  }
  return 0;
}
static void *volatile v_orig, *volatile x2_orig, *volatile w_orig, *volatile y2_orig;
static int v_hook(void) { return 1000 + ((int (*)(void))__atomic_load_n(&v_orig, __ATOMIC_ACQUIRE))(); }
static int x2_hook(void) { return 100 + ((int (*)(void))__atomic_load_n(&x2_orig, __ATOMIC_ACQUIRE))(); }
static int w_hook(void) { return 2000 + ((int (*)(void))__atomic_load_n(&w_orig, __ATOMIC_ACQUIRE))(); }
static int y2_hook(void) { return 300 + ((int (*)(void))__atomic_load_n(&y2_orig, __ATOMIC_ACQUIRE))(); }

/* V hooks hk_filt_target in libhk_pair_now.so; X in libhk_filt_x.so and libhk_filt_y.so; W
 * (original: V's replacement, by libhk_pair_now.so) and Y (original: X's replacement, by
 * libhk_filt_x.so) then start accepting libhk_filt_y.so, whose slot still holds X's
 * replacement.  Uninstalling X puts Y's replacement there (Y stacks on X's original, the real
 * function); W, bound to V, stays off it. */
static void late_acceptors(void) {
  const char *y = "libhk_filt_y.so";
  void *real = (void *)hk_filt_target;
  volatile unsigned fv = 4, fx = 3, fw = 4, fy = 1;
  gothook_hook hv = {"hk_filt_target", (void *)v_hook, (void **)&v_orig, 0};
  gothook_hook hx = {"hk_filt_target", (void *)x2_hook, (void **)&x2_orig, 0};
  gothook_hook hw = {"hk_filt_target", (void *)w_hook, (void **)&w_orig, 0};
  gothook_hook hy = {"hk_filt_target", (void *)y2_hook, (void **)&y2_orig, 0};
  gothook_filter f[4] = {{0}, {0}, {0}, {0}};
  volatile unsigned *bits[4] = {&fv, &fx, &fw, &fy};
  for (int i = 0; i < 4; i++) f[i].accept = accept_bits, f[i].accept_ctx = (void *)bits[i];
  gothook_set sv = 0, sx = 0, sw = 0, sy = 0;
  CHECK_ST(gothook_install(&hv, 1, &f[0], &sv, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hx, 1, &f[1], &sx, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hw, 1, &f[2], &sw, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hy, 1, &f[3], &sy, NULL), GOTHOOK_OK);
  CHECK(v_orig == real && x2_orig == real, "V's and X's originals %p, %p, want the real %p", v_orig, x2_orig, real);
  CHECK(w_orig == (void *)v_hook && y2_orig == (void *)x2_hook, "W's original %p (want V's %p), Y's %p (want X's %p)",
        w_orig, (void *)v_hook, y2_orig, (void *)x2_hook);
  CHECK(slot_of(y, "hk_filt_target") == (void *)x2_hook, "libhk_filt_y.so holds %p, want X's replacement %p",
        slot_of(y, "hk_filt_target"), (void *)x2_hook);
  fw = 4 | 2, fy = 1 | 2;
  CHECK_ST(gothook_uninstall(sx, NULL), GOTHOOK_OK);
  void *ys = slot_of(y, "hk_filt_target");
  CHECK(ys == (void *)y2_hook, "X uninstalled: libhk_filt_y.so holds %p, want Y's replacement %p (W's %p, real %p)",
        ys, (void *)y2_hook, (void *)w_hook, real);
  CHECK(y2_orig == real, "X uninstalled: Y's original %p, want the real %p", y2_orig, real);
  CHECK(hk_filt_y_call() == 301, "X uninstalled: y's call returned %d, want 301", hk_filt_y_call());
  CHECK_ST(gothook_uninstall(sy, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(sw, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(sv, NULL), GOTHOOK_OK);
  CHECK(slot_of(y, "hk_filt_target") == real && hk_filt_y_call() == 1, "all uninstalled: libhk_filt_y.so holds %p",
        slot_of(y, "hk_filt_target"));
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  int (*now_call)(void) = open_pair(argv[1], RTLD_NOW);
  int (*lazy_call)(void) = open_pair(argv[2], RTLD_LAZY);
  CHECK(now_call() == 11, "unhooked: the call returned %d, want 11", now_call());
  shared_replacement(now_call, 0);
  shared_replacement(now_call, 1);
  lazy_stubs(lazy_call);
  late_acceptors();
  printf("hooks_restore_targets: a replacement shared by two hooks, stacked sets over lazy stubs, sets accepting late; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
