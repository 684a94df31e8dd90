/*
 * gothook_intercept_dlopen: (1) a library with RUNPATH $ORIGIN/sub still finds a bare name
 * through the hooked dlopen (and a naive interceptor, which calls dlopen from its own object,
 * does not: the negative control that makes the first check meaningful); (2) a library loaded
 * through the hooked dlopen is hooked before dlopen returns, without any refresh call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fixture.h"
#include "gothook.h"

#include "gothook_test_check.h"

struct find_slot {
  const char *suffix;
  const char *symbol;
  void **slot;
  gothook_dynamic owner;
};

static int find_import(const gothook_import *imp, void *ctx) {
  struct find_slot *f = ctx;
  if (strcmp(imp->name, f->symbol) == 0 && imp->kind == GOTHOOK_IMPORT_PLT) {
    f->slot = (void **)imp->slot;
    return 1;
  }
  return 0;
}

static int find_lib(const gothook_lib *lib, void *ctx) {
  struct find_slot *f = ctx;
  size_t n = strlen(lib->name), m = strlen(f->suffix);
  if (n < m || strcmp(lib->name + n - m, f->suffix) != 0) return 0;
  if (gothook_lib_decode(lib, &f->owner) != GOTHOOK_OK) return 0;
  gothook_dynamic_imports(&f->owner, find_import, f);
  return 1;
}

static void *(*real_dlopen)(const char *, int);
/* What a naive interceptor does: call the real dlopen from its own object. */
static void *naive_dlopen(const char *file, int flags) { return real_dlopen(file, flags); }

static unsigned long hooked_mallocs;
static void *(*real_malloc)(size_t);
static void *count_malloc(size_t n) {
  hooked_mallocs++;
  return real_malloc(n);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s libcaller.so fixture.so\n", argv[0]);
    return 2;
  }
  void *caller = dlopen(argv[1], RTLD_NOW);
  CHECK(caller, "dlopen caller: %s", dlerror());
  if (!caller) return 1;
  void *(*caller_open)(void) = (void *(*)(void))dlsym(caller, "gothook_runpath_caller_open");
  real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");

  /* Control: without any hook the caller finds its RUNPATH library. */
  void *h = caller_open();
  CHECK(h, "unhooked caller could not open its RUNPATH library: %s", dlerror());
  if (h) dlclose(h);

  /* Negative control: a naive interceptor breaks the caller's RUNPATH lookup. */
  struct find_slot f = {"libgothook_runpath_caller.so", "dlopen", NULL, {{0}}};
  gothook_libs_each(find_lib, &f, 0);
  CHECK(f.slot, "the caller's PLT slot for dlopen was not found");
  if (!f.slot) return 1;
  void *bound = *f.slot;
  gothook_status s = gothook_slot_swap(&f.owner, f.slot, bound, (void *)naive_dlopen);
  CHECK(s == GOTHOOK_OK, "swap to naive interceptor: %s", gothook_status_str(s));
  h = caller_open();
  int naive_found = h != NULL;
  if (h) dlclose(h);
  s = gothook_slot_swap(&f.owner, f.slot, (void *)naive_dlopen, bound);
  CHECK(s == GOTHOOK_OK, "swap back: %s", gothook_status_str(s));
  CHECK(!naive_found, "negative control: a naive interceptor should lose the caller's RUNPATH");

  /* gothook's interception keeps it working. */
  gothook_set dl_set, alloc_set;
  gothook_report r;
  s = gothook_intercept_dlopen(&dl_set, &r);
  CHECK(s == GOTHOOK_OK, "intercept: %s", gothook_status_str(s));
  CHECK(*f.slot != bound, "the caller's dlopen slot was not redirected");
  h = caller_open();
  CHECK(h, "caller lost its RUNPATH lookup through gothook's dlopen: %s", dlerror());
  if (h) {
    int (*marker)(void) = (int (*)(void))dlsym(h, "gothook_runpath_target_marker");
    CHECK(marker && marker() == 4242, "wrong library opened");
    dlclose(h);
  }

  /* A library loaded through the hooked dlopen is hooked before dlopen returns. */
  gothook_hook hk = {"malloc", (void *)count_malloc, (void **)&real_malloc};
  s = gothook_install(&hk, 1, NULL, &alloc_set, &r);
  CHECK(s == GOTHOOK_OK, "install: %s", gothook_status_str(s));
  unsigned rounds = 5, hooked_rounds = 0;
  for (unsigned i = 0; i < rounds; i++) {
    void *fx = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    CHECK(fx, "dlopen fixture: %s", dlerror());
    if (!fx) break;
    gothook_fixture_run_fn run = (gothook_fixture_run_fn)dlsym(fx, "gothook_fixture_run");
    struct gothook_fixture_calls made;
    memset(&made, 0, sizeof made);
    unsigned long before = hooked_mallocs;
    run(&made);
    unsigned long expect = 0;
    for (int p = 0; p < GF_NPATHS; p++) expect += made.calls[p][GF_MALLOC];
    if (hooked_mallocs - before >= expect && expect > 0) hooked_rounds++;
    dlclose(fx);
  }
  CHECK(hooked_rounds == rounds, "only %u of %u loads were hooked when dlopen returned",
        hooked_rounds, rounds);
  CHECK(gothook_uninstall(alloc_set, NULL) == GOTHOOK_OK, "uninstall alloc");
  CHECK(gothook_uninstall(dl_set, &r) == GOTHOOK_OK, "uninstall dlopen set");
  CHECK(*f.slot == bound, "uninstall did not restore the caller's dlopen slot");
  printf("intercept: runpath kept (naive control lost it: %s), %u/%u loads hooked before dlopen "
         "returned, %u dlopen/dlclose slots restored\n",
         naive_found ? "no" : "yes", hooked_rounds, rounds, r.slots_restored);
  printf("%d passed, %d failed\n", gt_failures ? 0 : 1, gt_failures ? 1 : 0);
  return gt_failures ? 1 : 0;
}
