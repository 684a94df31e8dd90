/* Extra source of the "ctor" race fixture: its constructor dlopens another big fixture (the file
 * "<own path>.child.so", made by the race test) while the outer dlopen is still running, and its
 * destructor closes it again.  race_child_run() calls the child's gothook_fixture_run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include "alloc_fixture.h"

static void *race_child;
static gothook_fixture_run_fn race_child_fn;

__attribute__((constructor)) static void race_ctor(void) {
  Dl_info di;
  if (!dladdr((void *)&race_ctor, &di) || !di.dli_fname) return;
  char path[4096];
  if (snprintf(path, sizeof path, "%s.child.so", di.dli_fname) >= (int)sizeof path) return;
  race_child = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
  if (race_child) race_child_fn = (gothook_fixture_run_fn)dlsym(race_child, "gothook_fixture_run");
}

__attribute__((destructor)) static void race_dtor(void) {
  if (race_child) dlclose(race_child);
}

/* Runs the child fixture; ~0u when the constructor could not open it. */
unsigned race_child_run(struct gothook_fixture_calls *out) {
  return race_child_fn ? race_child_fn(out) : ~0u;
}
