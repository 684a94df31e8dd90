/* A host library that asks for RTLD_NEXT definitions both ways: gothook_global_lookup with an
 * address inside this object, and the loader's own dlsym(RTLD_NEXT) called from here. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "gothook.h"

__attribute__((noinline, visibility("default"))) int ad_probe(void) { return 10; }
int ad_dep_probe(void);

/* Writes both answers for `name`; returns gothook's status. */
__attribute__((noinline, visibility("default"))) int ad_next(const char *name, void **mine, void **loader) {
  *loader = dlsym(RTLD_NEXT, name);
  *mine = 0;
  return (int)gothook_global_lookup(name, (const void *)ad_next, mine);
}

/* Keeps the DT_NEEDED on libad_dep.so under --as-needed. */
__attribute__((visibility("default"))) int ad_host_uses_dep(void) { return ad_dep_probe(); }
