/* Counts gothook's walks in a test program: the program defines dl_iterate_phdr itself, so
 * gothook's calls reach this definition first; it counts the calls the calling thread makes
 * while its `counting` is set, then forwards to libc's.  Include once, in the test program. */
#ifndef HK_COUNT_WALKS_H
#define HK_COUNT_WALKS_H

#include <dlfcn.h>
#include <link.h>

static int (*real_dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
static __thread int counting;
static __thread long walks;

int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data) {
  if (counting) walks++;
  if (!real_dl_iterate_phdr) /* called before main */
    real_dl_iterate_phdr = (int (*)(int (*)(struct dl_phdr_info *, size_t, void *), void *))dlsym(
        RTLD_NEXT, "dl_iterate_phdr");
  return real_dl_iterate_phdr(cb, data);
}

#endif
