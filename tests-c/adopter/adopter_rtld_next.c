/* gothook_global_lookup(name, address in host) answers what dlsym(RTLD_NEXT, name) answers when
 * called from that host, for a host that is linked (DT_NEEDED), LD_PRELOADed, dlopen'ed, or
 * mapped as the dependency of a dlopen'ed library; and gothook_global_lookup(name, NULL) sees the
 * global scope only, as dlsym(RTLD_DEFAULT) does (a RTLD_LOCAL library's definitions are not
 * found).  Usage: adopter_rtld_next linked|preload|dlopen|dlopen-dep DIR */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gothook.h"
#include "gothook_test_check.h"

typedef int (*ad_next_fn)(const char *, void **, void **);

/* The main program's own ad_probe: RTLD_NEXT from a dlopen'ed host must not name it. */
__attribute__((noinline, visibility("default"))) int ad_probe(void) { return 1; }

#ifdef AD_LINKED
int ad_next(const char *name, void **mine, void **loader);
#endif

static void *open_in(const char *dir, const char *file, int mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  void *h = dlopen(path, mode);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s linked|preload|dlopen|dlopen-dep DIR\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1], *dir = argv[2];
  ad_next_fn next = NULL;
#ifdef AD_LINKED
  next = ad_next;
#endif
  if (!strcmp(mode, "preload")) {
    next = (ad_next_fn)dlsym(RTLD_DEFAULT, "ad_next");
  } else if (!strcmp(mode, "dlopen")) {
    next = (ad_next_fn)dlsym(open_in(dir, "libad_host.so", RTLD_NOW | RTLD_LOCAL), "ad_next");
  } else if (!strcmp(mode, "dlopen-dep")) {
    void *user = open_in(dir, "libad_user.so", RTLD_NOW | RTLD_LOCAL);
    next = (ad_next_fn)dlsym(user, "ad_next");
  }
  if (!next) {
    fprintf(stderr, "mode %s: no ad_next\n", mode);
    return 2;
  }
  void *local = open_in(dir, "libad_local.so", RTLD_NOW | RTLD_LOCAL);

  static const char *const names[] = {"ad_probe", "ad_dep_probe", "malloc", "free", "pthread_create",
                                      "dlopen", "ad_local_only", "no_such_symbol_anywhere"};
  int found = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *mine = NULL, *loader = NULL;
    int st = next(names[i], &mine, &loader);
    CHECK(mine == loader, "%s: %s: gothook %p (status %d), dlsym(RTLD_NEXT) %p", mode, names[i], mine, st,
          loader);
    CHECK((st == GOTHOOK_OK) == (loader != NULL), "%s: %s: status %d with dlsym %p", mode, names[i], st,
          loader);
    found += loader != NULL;
  }
  /* The scope really differs by mode: from a dlopen'ed host, only its own closure follows it. */
  void *probe = NULL, *unused = NULL;
  next("ad_probe", &probe, &unused);
  CHECK(probe != NULL && probe != (void *)ad_probe, "%s: RTLD_NEXT ad_probe %p is the main program's", mode,
        probe);
  CHECK(probe != dlsym(local, "ad_probe"), "%s: RTLD_NEXT ad_probe is the RTLD_LOCAL library's", mode);

  /* RTLD_DEFAULT: the global scope only. */
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *mine = NULL;
    int st = gothook_global_lookup(names[i], NULL, &mine);
    void *loader = dlsym(RTLD_DEFAULT, names[i]);
    CHECK(mine == loader, "%s: default %s: gothook %p (status %d), dlsym(RTLD_DEFAULT) %p", mode, names[i],
          mine, st, loader);
  }
  void *l = NULL;
  CHECK(gothook_global_lookup("ad_local_only", NULL, &l) == GOTHOOK_ENOTFOUND,
        "%s: a RTLD_LOCAL library's definition was found at %p", mode, l);
  printf("adopter_rtld_next %s: %d of 8 names defined after the host, %ld checks, %d failures\n", mode, found,
         gt_checks, gt_failures);
  return gt_failures != 0;
}
