/* A "profiler" shared library that embeds libgothook.a: gothook's SELF object in
 * hooks_filters_static.  It allocates through its own PLT slot. */
#include <stdlib.h>
__attribute__((noinline)) void hk_host_allocate(void) {
  void *volatile p = malloc(40);
  free(p);
}
/* Keeps the archive's gothook_* members in this library: the test calls them through it. */
extern const char *gothook_version(void);
const char *(*volatile hk_host_keep)(void) = gothook_version;
