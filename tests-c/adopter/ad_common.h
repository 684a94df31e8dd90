/* Helpers shared by the adopter tests. */
#ifndef AD_COMMON_H
#define AD_COMMON_H

#include <string.h>

#include "gothook.h"

struct ad_find {
  const char *name;
  void **slot;
};

static int ad_find_cb(const gothook_import *imp, void *ctx) {
  struct ad_find *f = (struct ad_find *)ctx;
  if (strcmp(imp->name, f->name) != 0) return 0;
  f->slot = imp->slot;
  return 1;
}

/* The first import slot of `name` in `d`, or NULL. */
static void **ad_import_slot(const gothook_dynamic *d, const char *name) {
  struct ad_find f = {name, NULL};
  if (gothook_dynamic_imports(d, ad_find_cb, &f) != GOTHOOK_OK) return NULL;
  return f.slot;
}

#endif
