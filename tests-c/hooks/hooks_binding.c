/* Exact hooks: each call through a hook reaches what its slot was bound to, sets stack only where
 * their filters overlap, capacity failures are up front, and a refused mprotect leaves nothing
 * behind without a handle.
 *  - versioned import: libhk_ver_user.so imports hk_ver@V1 while hk_ver@@V2 is the default; a
 *    hook on hk_ver leaves that slot alone (slots_foreign) and the call keeps returning V1's 1,
 *    also after uninstall;
 *  - RTLD_DEEPBIND plugin with its own hk_deep: its slot is bound to the plugin's definition, so
 *    it is left alone and its call keeps returning 2;
 *  - disjoint filters: set A hooks hk_filt_target only in libhk_filt_x.so, set B only in
 *    libhk_filt_y.so; each library's call runs only its own set's hook, and after uninstalling
 *    in either order each library's slot holds exactly what the remaining sets imply; with the
 *    replacements in a library of their own, unloading it afterwards leaves both callers working;
 *  - more distinct names than GOTHOOK_MAX_NAMES across sets: EFULL, nothing installed; up to it:
 *    every set works;
 *  - originals are published before the first slot changes: a replacement called during the
 *    install itself (from the filter's accept callback, after the program's slot was patched)
 *    finds its original already set;
 *  - reports count what the call did to its own set: a pass that also applies an earlier set to a
 *    library loaded meanwhile does not count that set's slots; ENOTFOUND names the hook;
 *  - a RELRO page another component made writable stays writable through install and uninstall
 *    (that component keeps writing to it);
 *  - mprotect refused (seccomp filter in a child): install rolls back and returns EPROTECT
 *    without a handle; uninstall returns EPROTECT and keeps the handle, so a retry says EPROTECT
 *    again (not ENOTFOUND) and the hooked slots stay consistent.
 * Usage: hooks_binding <libhk_deep_plugin.so> <relro now fixture.so> <another fixture.so>
 *                      <libhk_hook_code.so> */
#include "hk_common.h"

#include <sys/wait.h>

int hk_ver_user_call(void);
int hk_filt_x_call(void);
int hk_filt_y_call(void);
int hk_filt_target(void);
int hk_deep(void);

/* ---- slot values by symbol name ---------------------------------------------------------- */
struct named_slots { const char *suffix, *name; int n; void *value[8]; };
static int named_imp_cb(const gothook_import *imp, void *ctx) {
  struct named_slots *ns = ctx;
  if (strcmp(imp->name, ns->name) == 0 && ns->n < 8) ns->value[ns->n++] = __atomic_load_n(imp->slot, __ATOMIC_ACQUIRE);
  return 0;
}
static int named_lib_cb(const gothook_lib *lib, void *ctx) {
  struct named_slots *ns = ctx;
  size_t l = strlen(lib->name), s = strlen(ns->suffix);
  if (l < s || strcmp(lib->name + l - s, ns->suffix) != 0) return 0;
  gothook_dynamic d;
  if (gothook_lib_decode(lib, &d) == GOTHOOK_OK) gothook_dynamic_imports(&d, named_imp_cb, ns);
  return 1;
}
/* The value of the (first) import slot of `name` in the library whose path ends with `suffix`. */
static void *slot_of(const char *suffix, const char *name) {
  struct named_slots ns = {suffix, name, 0, {0}};
  gothook_libs_each(named_lib_cb, &ns, 0);
  return ns.n ? ns.value[0] : NULL;
}

/* ---- hooks ------------------------------------------------------------------------------- */
static void *volatile ver_orig, *deep_orig, *a_orig, *b_orig, *cap_orig;
static int ver_hook(void) { return 100 + ((int (*)(void))ver_orig)(); }
static int deep_hook(void) { return 100 + ((int (*)(void))deep_orig)(); }
static int a_hook(void) { return 10 + ((int (*)(void))a_orig)(); }
static int b_hook(void) { return 20 + ((int (*)(void))b_orig)(); }
static int cap_hook(void) { return 30 + ((int (*)(void))cap_orig)(); }
static void never_called(void) { abort(); }

static void versioned_import(void) {
  CHECK(hk_ver_user_call() == 1, "before: hk_ver@V1 call returned %d", hk_ver_user_call());
  gothook_hook h = {"hk_ver", (void *)ver_hook, (void **)&ver_orig};
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&h, 1, NULL, &set, &r), GOTHOOK_OK);
  int hooked = hk_ver_user_call();
  CHECK(hooked == 1, "hooked: the V1 importer's call returned %d (want 1: V1, untouched)", hooked);
  CHECK(r.slots_foreign >= 1, "install reported %u foreign slots", r.slots_foreign);
  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(set, &u), GOTHOOK_OK);
  CHECK(hk_ver_user_call() == 1, "after uninstall: V1 importer returns %d (rebound to V2?)", hk_ver_user_call());
  printf("  versioned import: call %d while hooked, %u foreign slots\n", hooked, r.slots_foreign);
}

static void deepbind_plugin(const char *path) {
  void *p = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  CHECK(p, "dlopen %s: %s", path, dlerror());
  if (!p) return;
  int (*call)(void) = (int (*)(void))dlsym(p, "hk_deep_plugin_call");
  CHECK(call && call() == 2, "the DEEPBIND plugin is bound to its own hk_deep");
  CHECK(hk_deep() == 1, "the program is bound to the global hk_deep");
  gothook_hook h = {"hk_deep", (void *)deep_hook, (void **)&deep_orig};
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(&h, 1, NULL, &set, &r), GOTHOOK_OK);
  int hooked = call();
  CHECK(hooked == 2, "hooked: the plugin's call returned %d (want 2: its own definition)", hooked);
  CHECK(r.slots_foreign >= 1, "install reported %u foreign slots", r.slots_foreign);
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  CHECK(call() == 2, "after uninstall the plugin's call returns %d", call());
  dlclose(p);
  printf("  deepbind plugin: call %d while hooked, %u foreign slots\n", hooked, r.slots_foreign);
}

static void expect_slots(const char *when, void *x, void *y) {
  void *sx = slot_of("libhk_filt_x.so", "hk_filt_target"), *sy = slot_of("libhk_filt_y.so", "hk_filt_target");
  CHECK(sx == x, "%s: libhk_filt_x.so slot %p, want %p", when, sx, x);
  CHECK(sy == y, "%s: libhk_filt_y.so slot %p, want %p", when, sy, y);
}

static void disjoint_filters(void) {
  void *real = (void *)hk_filt_target;
  for (int order = 0; order < 2; order++) {
    gothook_hook ha = {"hk_filt_target", (void *)a_hook, (void **)&a_orig};
    gothook_hook hb = {"hk_filt_target", (void *)b_hook, (void **)&b_orig};
    gothook_filter fa = {0}, fb = {0};
    fa.path_suffix = "libhk_filt_x.so";
    fb.path_suffix = "libhk_filt_y.so";
    gothook_set sa = 0, sb = 0;
    CHECK_ST(gothook_install(&ha, 1, &fa, &sa, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_install(&hb, 1, &fb, &sb, NULL), GOTHOOK_OK);
    CHECK(b_orig == real, "set B's original %p, want the real function %p (A is not in liby)", b_orig, real);
    int x = hk_filt_x_call(), y = hk_filt_y_call();
    CHECK(x == 11 && y == 21, "stacked: x returned %d (want 11), y %d (want 21)", x, y);
    expect_slots("both installed", (void *)a_hook, (void *)b_hook);
    gothook_set first = order == 0 ? sb : sa, second = order == 0 ? sa : sb;
    CHECK_ST(gothook_uninstall(first, NULL), GOTHOOK_OK);
    if (order == 0)
      expect_slots("B uninstalled", (void *)a_hook, real);
    else
      expect_slots("A uninstalled", real, (void *)b_hook);
    CHECK_ST(gothook_uninstall(second, NULL), GOTHOOK_OK);
    expect_slots("both uninstalled", real, real);
    x = hk_filt_x_call(), y = hk_filt_y_call();
    CHECK(x == 1 && y == 1, "after both left: x returned %d, y %d (want 1 and 1)", x, y);
  }
  /* Overlapping filters stack: C (x and y) on top of A (x only) in x; in y, C's original is A's
   * replacement, which y's slot does not carry, so y is left alone and reported. */
  gothook_hook ha = {"hk_filt_target", (void *)a_hook, (void **)&a_orig};
  gothook_hook hc = {"hk_filt_target", (void *)b_hook, (void **)&b_orig};
  gothook_filter fa = {0};
  fa.path_suffix = "libhk_filt_x.so";
  gothook_set sa = 0, sc = 0;
  gothook_report rc = {0};
  CHECK_ST(gothook_install(&ha, 1, &fa, &sa, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(&hc, 1, NULL, &sc, &rc), GOTHOOK_OK);
  int x = hk_filt_x_call(), y = hk_filt_y_call();
  CHECK(x == 31, "overlap: x returned %d (want 31: C then A then the real one)", x);
  CHECK(y == 1 && rc.slots_foreign >= 1, "overlap: y returned %d, %u foreign", y, rc.slots_foreign);
  CHECK_ST(gothook_uninstall(sa, NULL), GOTHOOK_OK);
  CHECK(b_orig == real, "A left: C's original re-pointed to %p, want %p", b_orig, real);
  CHECK(hk_filt_x_call() == 21, "A left: x returned %d (want 21)", hk_filt_x_call());
  /* C's original is now the real one, which y's slot is bound to: one refresh stacks C there. */
  gothook_report rr = {0};
  CHECK_ST(gothook_refresh(0, &rr), GOTHOOK_OK);
  CHECK(hk_filt_y_call() == 21, "A left, one refresh: y returned %d (want 21: C applied)", hk_filt_y_call());
  CHECK_ST(gothook_uninstall(sc, NULL), GOTHOOK_OK);
  expect_slots("overlap, both uninstalled", real, real);
  CHECK(hk_filt_y_call() == 1, "overlap, both uninstalled: y returned %d", hk_filt_y_call());
  printf("  disjoint filters: both uninstall orders leave every slot exact\n");
}

/* Disjoint filters with the replacements in their own library, unloaded after both uninstalls:
 * a slot left pointing into it would crash the next call. */
static void hook_code_unloaded(const char *code) {
  void *real = (void *)hk_filt_target;
  for (int order = 0; order < 2; order++) {
    void *h = dlopen(code, RTLD_NOW | RTLD_LOCAL);
    CHECK(h, "dlopen %s: %s", code, dlerror());
    if (!h) return;
    gothook_hook ha = {"hk_filt_target", dlsym(h, "hk_code_a"), (void **)dlsym(h, "hk_code_a_orig")};
    gothook_hook hb = {"hk_filt_target", dlsym(h, "hk_code_b"), (void **)dlsym(h, "hk_code_b_orig")};
    gothook_filter fa = {0}, fb = {0};
    fa.path_suffix = "libhk_filt_x.so";
    fb.path_suffix = "libhk_filt_y.so";
    gothook_set sa = 0, sb = 0;
    CHECK_ST(gothook_install(&ha, 1, &fa, &sa, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_install(&hb, 1, &fb, &sb, NULL), GOTHOOK_OK);
    CHECK(hk_filt_x_call() == 11 && hk_filt_y_call() == 21, "hooked: x %d, y %d", hk_filt_x_call(),
          hk_filt_y_call());
    CHECK_ST(gothook_uninstall(order == 0 ? sb : sa, NULL), GOTHOOK_OK);
    CHECK_ST(gothook_uninstall(order == 0 ? sa : sb, NULL), GOTHOOK_OK);
    expect_slots("hook code about to be unloaded", real, real);
    dlclose(h);
    /* Crashes (SIGSEGV) if a slot still points into the unloaded replacements. */
    CHECK(hk_filt_x_call() == 1 && hk_filt_y_call() == 1, "after unloading the hook code: x %d, y %d",
          hk_filt_x_call(), hk_filt_y_call());
  }
  printf("  hook code unloaded after uninstall in both orders: both callers still work\n");
}

static const char *const libc_names[] = {
    "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "sleep", "usleep", "alarm",
    "pause", "sync", "umask", "dup", "dup2", "pipe", "chdir", "rmdir", "unlink", "link", "symlink",
    "chown", "chmod", "access", "isatty", "ttyname", "getpgrp", "setsid", "nice", "times",
    "sysconf", "getpagesize", "fsync", "fdatasync"};

static void name_capacity(void) {
  /* Two sets of 16 names each, filtered to libhk_filt_x.so (which imports none of them), fill
   * the 32 names; a third set with one more name fails up front. */
  gothook_hook h1[16], h2[16];
  for (int i = 0; i < 16; i++) {
    h1[i] = (gothook_hook){libc_names[i], (void *)never_called, NULL};
    h2[i] = (gothook_hook){libc_names[16 + i], (void *)never_called, NULL};
  }
  gothook_filter fx = {0};
  fx.path_suffix = "libhk_filt_x.so";
  gothook_set s1 = 0, s2 = 0, s3 = 0;
  CHECK_ST(gothook_install(h1, 16, &fx, &s1, NULL), GOTHOOK_OK);
  /* 17 names: the hook still works in the library every set accepts. */
  gothook_hook hc = {"hk_filt_target", (void *)cap_hook, (void **)&cap_orig};
  CHECK_ST(gothook_install(&hc, 1, &fx, &s3, NULL), GOTHOOK_OK);
  CHECK(hk_filt_x_call() == 31, "17 names: x returned %d (want 31: hooked)", hk_filt_x_call());
  CHECK_ST(gothook_uninstall(s3, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_install(h2, 16, &fx, &s2, NULL), GOTHOOK_OK);
  s3 = 0;
  CHECK_ST(gothook_install(&hc, 1, &fx, &s3, NULL), GOTHOOK_EFULL);
  CHECK(s3 == 0, "a failed install wrote handle %u", s3);
  CHECK(hk_filt_x_call() == 1, "33 names: nothing installed, x returned %d", hk_filt_x_call());
  CHECK_ST(gothook_uninstall(s1, NULL), GOTHOOK_OK);
  CHECK_ST(gothook_uninstall(s2, NULL), GOTHOOK_OK);
  printf("  name capacity: 17 names hook, %d names say EFULL\n", GOTHOOK_MAX_NAMES + 1);
}

/* ---- publish before patch ---------------------------------------------------------------- */
static void *volatile pub_orig;
static _Atomic unsigned pub_calls, pub_null, accept_calls;
static int pub_hook(void) {
  pub_calls++;
  void *o = __atomic_load_n(&pub_orig, __ATOMIC_ACQUIRE);
  if (!o) {
    pub_null++;
    return -1;
  }
  return 40 + ((int (*)(void))o)();
}
/* Runs inside the install's walk, before each library is patched: the program (listed first)
 * is patched before this runs for the libraries after it. */
static int accept_and_call(const gothook_lib *lib, void *ctx) {
  (void)lib, (void)ctx;
  accept_calls++;
  hk_filt_target();
  return 1;
}
static void publish_before_patch(void) {
  gothook_hook h = {"hk_filt_target", (void *)pub_hook, (void **)&pub_orig};
  gothook_filter f = {0};
  f.accept = accept_and_call;
  gothook_set set = 0;
  pub_orig = NULL;
  CHECK_ST(gothook_install(&h, 1, &f, &set, NULL), GOTHOOK_OK);
  CHECK(pub_calls > 0, "the replacement never ran during the install (%u accept calls)", accept_calls);
  CHECK(pub_null == 0, "%u of %u calls during the install found no original", pub_null, pub_calls);
  CHECK(hk_filt_target() == 41, "after install the program's call returns %d", hk_filt_target());
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  printf("  publish before patch: %u calls during install, %u without their original\n", pub_calls, pub_null);
}

/* ---- reports ----------------------------------------------------------------------------- */
static void report_counts(const char *fixture) {
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter fa = {0}, fb = {0};
  fa.path_suffix = fixture;
  fb.path_suffix = "libhk_filt_x.so";
  gothook_set sa = 0, sb = 0;
  gothook_report ra = {0}, rb = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &fa, &sa, &ra), GOTHOOK_OK);
  CHECK(ra.slots_patched == 0, "set A patched %u slots before its library was loaded", ra.slots_patched);
  int fx = hk_open(fixture, 0); /* loaded, no refresh: the next pass applies A to it */
  gothook_hook hb = {"hk_filt_target", (void *)b_hook, (void **)&b_orig};
  CHECK_ST(gothook_install(&hb, 1, &fb, &sb, &rb), GOTHOOK_OK);
  CHECK(rb.slots_patched == 1 && rb.libs_patched == 1 && rb.slots_repaired == 0,
        "set B's report: %u slots patched in %u libraries (want 1 in 1: set A's work is not B's)",
        rb.slots_patched, rb.libs_patched);
  hk_run_and_compare(fx, 1, "set A applied by set B's pass");
  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(sb, &u), GOTHOOK_OK);
  CHECK(u.slots_restored == 1 && u.slots_changed == 0, "B's uninstall: restored %u, changed %u",
        u.slots_restored, u.slots_changed);
  CHECK_ST(gothook_uninstall(sa, NULL), GOTHOOK_OK);
  gothook_hook two[2] = {hb, {"gothook_no_such_symbol_anywhere", (void *)b_hook, NULL}};
  gothook_report rn = {0};
  gothook_set sn = 0;
  CHECK_ST(gothook_install(two, 2, NULL, &sn, &rn), GOTHOOK_ENOTFOUND);
  CHECK(rn.missing_hook == 2 && sn == 0, "ENOTFOUND: missing_hook %u (want 2), handle %u", rn.missing_hook, sn);
  printf("  reports: B's install counted %u slot, ENOTFOUND named hook %u\n", rb.slots_patched,
         rn.missing_hook - 1);
}

/* ---- a page someone else made writable ---------------------------------------------------- */
#include <sys/mman.h>
static void page_made_writable(const char *fixture) {
  struct hk_slots ss;
  hk_snapshot(fixture, &ss);
  void **slot = NULL;
  for (int k = 0; k < ss.n && !slot; k++)
    if (ss.s[k].func >= 0) slot = ss.s[k].slot;
  CHECK(slot, "no allocator slot in %s", fixture);
  if (!slot) return;
  uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), page = (uintptr_t)slot & ~(pg - 1);
  CHECK((hk_maps_prot(page) & 2) == 0, "%s: the slot's page is not read-only (RELRO) to begin with", fixture);
  CHECK(mprotect((void *)page, pg, PROT_READ | PROT_WRITE) == 0, "mprotect");
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter f = {0};
  f.path_suffix = fixture;
  gothook_set set = 0;
  gothook_report r = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, &f, &set, &r), GOTHOOK_OK);
  CHECK(r.slots_patched > 0, "nothing patched in %s", fixture);
  CHECK((hk_maps_prot(page) & 2) != 0, "install made the page read-only again (prot %d)", hk_maps_prot(page));
  if (hk_maps_prot(page) & 2) *(void *volatile *)slot = *(void *volatile *)slot; /* the component writes */
  CHECK_ST(gothook_uninstall(set, NULL), GOTHOOK_OK);
  CHECK((hk_maps_prot(page) & 2) != 0, "uninstall made the page read-only again (prot %d)", hk_maps_prot(page));
  mprotect((void *)page, pg, PROT_READ);
  printf("  page made writable by someone else: stays writable through install and uninstall\n");
}

/* ---- mprotect refused -------------------------------------------------------------------- */

/* Runs `fn` in a child whose mprotect calls fail with EPERM; returns its failure count. */
static int in_refusing_child(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    hk_failures = 0;
    if (!hk_refuse_syscall(__NR_mprotect, EPERM)) _exit(77);
    fn();
    fflush(NULL);
    _exit(hk_failures ? 1 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return -1;
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
  return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *relro_fixture;

/* How many import slots of the library at `path` hold one of the allocation hooks. */
static int hooked_slots(const char *path) {
  struct hk_slots ss;
  hk_snapshot(path, &ss);
  int hooked = 0;
  for (int k = 0; k < ss.n; k++)
    if (ss.s[k].func >= 0 && ss.s[k].value == hk_replacement[ss.s[k].func]) hooked++;
  return hooked;
}

static void install_refused(void) {
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_set set = 0;
  gothook_report r = {0};
  /* The program's lazy .got.plt slots are writable (patched without mprotect); the RELRO
   * fixture's are not: the install must take back what it patched. */
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, NULL, &set, &r), GOTHOOK_EPROTECT);
  CHECK(set == 0, "a refused install wrote handle %u", set);
  CHECK(r.slots_patched > 0, "the install patched no writable slot before it was refused");
  CHECK(hooked_slots("") == 0, "a refused install left %d of the program's slots hooked", hooked_slots(""));
  CHECK(hooked_slots(relro_fixture) == 0, "a refused install left fixture slots hooked");
  unsigned before = atomic_load(&hk_count[HK_MAIN][GF_MALLOC]);
  free(malloc(24));
  CHECK(atomic_load(&hk_count[HK_MAIN][GF_MALLOC]) == before, "malloc still hooked after a refused install");
}

static gothook_set held;
static void uninstall_refused(void) {
  gothook_report u = {0};
  CHECK_ST(gothook_uninstall(held, &u), GOTHOOK_EPROTECT);
  CHECK_ST(gothook_uninstall(held, &u), GOTHOOK_EPROTECT); /* the handle is kept: not ENOTFOUND */
  CHECK(hooked_slots(relro_fixture) > 0, "the RELRO fixture's slots lost their hooks while the set is kept");
}

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  hk_init_main();
  relro_fixture = argv[2];
  hk_open(argv[2], 0);
  versioned_import();
  deepbind_plugin(argv[1]);
  disjoint_filters();
  hook_code_unloaded(argv[4]);
  name_capacity();
  page_made_writable(argv[2]);
  publish_before_patch();
  report_counts(argv[3]);

  int skipped = in_refusing_child(install_refused) < 0;
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  for (int f = 0; f < GF_NFUNCS; f++) hk_orig[f] = NULL;
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, NULL, &held, NULL), GOTHOOK_OK);
  if (!skipped) in_refusing_child(uninstall_refused);
  CHECK_ST(gothook_uninstall(held, NULL), GOTHOOK_OK);
  printf("hooks_binding: versioned, deepbind, filters, capacity%s; %s\n",
         skipped ? " (seccomp unavailable: mprotect cases skipped)" : ", mprotect refused on install and uninstall",
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
