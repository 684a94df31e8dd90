/* A slot holding 0 (a weak import nothing defines) is bound to nothing: a set stacks there only
 * when its original is 0 too.  V hooks hk_weak_missing in libhk_weak_z.so with a NULL original
 * (GOTHOOK_HOOK_UNDEFINED) and patches its slot; W, installed next for libhk_weak_z.so and
 * libhk_weak_u.so, gets V's replacement as its original, stacks on V in libhk_weak_z.so and
 * leaves libhk_weak_u.so's slot at 0 (counted foreign): its calls keep seeing no definition.
 * Usage: hooks_weak_unbound <libhk_weak_z.so> <libhk_weak_u.so> */
#include "hk_common.h"

static void *volatile v_orig, *volatile w_orig;
static int v_hook(void) { return 7; }
static int w_hook(void) { return 40 + ((int (*)(void))__atomic_load_n(&w_orig, __ATOMIC_ACQUIRE))(); }

struct found { const char *suffix; void **slot; };
static int in_lib(const gothook_lib *lib, void *ctx) {
  struct found *f = ctx;
  size_t l = strlen(lib->name), s = strlen(f->suffix);
  if (l < s || strcmp(lib->name + l - s, f->suffix) != 0) return 0;
  gothook_dynamic d;
  if (gothook_lib_decode(lib, &d) == GOTHOOK_OK) f->slot = hk_import_slot(&d, "hk_weak_missing");
  return 1;
}
/* The import slot of hk_weak_missing in the library whose path ends with `suffix`. */
static void **slot_in(const char *suffix) {
  struct found f = {suffix, NULL};
  gothook_libs_each(in_lib, &f, 0);
  if (!f.slot) {
    fprintf(stderr, "%s does not import hk_weak_missing\n", suffix);
    exit(1);
  }
  return f.slot;
}
static int z_or_u(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  size_t l = strlen(lib->name);
  return l >= 16 && (strcmp(lib->name + l - 16, "/libhk_weak_z.so") == 0 ||
                     strcmp(lib->name + l - 16, "/libhk_weak_u.so") == 0);
}
static int (*open_call(const char *path))(void) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  return (int (*)(void))dlsym(h, "hk_weak_pair_call");
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  hk_init_main();
  int (*z_call)(void) = open_call(argv[1]), (*u_call)(void) = open_call(argv[2]);
  void **zs = slot_in("/libhk_weak_z.so"), **us = slot_in("/libhk_weak_u.so");
  CHECK(*zs == NULL && *us == NULL && z_call() == 0 && u_call() == 0, "before: slots %p and %p, want NULL", *zs, *us);

  gothook_hook hv = {"hk_weak_missing", (void *)v_hook, (void **)&v_orig, GOTHOOK_HOOK_UNDEFINED};
  gothook_hook hw = {"hk_weak_missing", (void *)w_hook, (void **)&w_orig, GOTHOOK_HOOK_UNDEFINED};
  gothook_filter fv = {0}, fw = {0};
  fv.path_suffix = "/libhk_weak_z.so";
  fw.accept = z_or_u;
  gothook_set sv = 0, sw = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&hv, 1, &fv, &sv, NULL), GOTHOOK_OK);
  CHECK(*zs == (void *)v_hook && z_call() == 7, "V installed: libhk_weak_z.so holds %p, want V's %p", *zs,
        (void *)v_hook);
  CHECK_ST(gothook_install(&hw, 1, &fw, &sw, &r), GOTHOOK_OK);
  hk_print_report("W installed", &r);
  CHECK(w_orig == (void *)v_hook, "W's original %p, want V's replacement %p", w_orig, (void *)v_hook);
  CHECK(*zs == (void *)w_hook && z_call() == 47, "W installed: libhk_weak_z.so holds %p, want W's %p", *zs,
        (void *)w_hook);
  CHECK(*us == NULL && u_call() == 0, "W installed: libhk_weak_u.so holds %p, want NULL (W's is %p)", *us,
        (void *)w_hook);
  CHECK(r.slots_patched == 1 && r.slots_foreign == 1, "W installed: %u slots patched, %u foreign (want 1, 1)",
        r.slots_patched, r.slots_foreign);
  CHECK_ST(gothook_uninstall(sw, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(sv, NULL), GOTHOOK_OK);
  CHECK(*zs == NULL && *us == NULL, "uninstalled: slots %p and %p, want NULL", *zs, *us);
  printf("hooks_weak_unbound: a set bound to another set's replacement leaves a 0 slot alone; %s\n",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
