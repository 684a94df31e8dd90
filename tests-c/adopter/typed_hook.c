/* GOTHOOK_HOOK compiles when the original's variable is a pointer to the replacement's type, in a
 * static table and in a local one; built with -DAD_MISMATCH the original is a variable of another
 * function type and the compiler must refuse it.  Compiled as C (this file) and as C++
 * (typed_hook.cpp includes it). */
#include <stddef.h>

#include "gothook.h"

static void *(*real_malloc)(size_t);
static void *my_malloc(size_t n) { return real_malloc(n); }

#ifdef AD_MISMATCH
static int (*real_free)(void *); /* free returns nothing */
#else
static void (*real_free)(void *);
#endif
static void my_free(void *p) { real_free(p); }

#ifndef __cplusplus
static gothook_hook static_hooks[] = {GOTHOOK_HOOK("malloc", my_malloc, real_malloc),
                                      GOTHOOK_HOOK("free", my_free, real_free)};
#endif

int typed_hook_table(gothook_hook *out);
int typed_hook_table(gothook_hook *out) {
#ifdef __cplusplus
  gothook_hook hooks[] = {GOTHOOK_HOOK("malloc", my_malloc, real_malloc),
                          GOTHOOK_HOOK("free", my_free, real_free)};
#else
  gothook_hook hooks[] = {GOTHOOK_HOOK("malloc", my_malloc, real_malloc),
                          GOTHOOK_HOOK("free", my_free, real_free)};
  out[2] = static_hooks[0];
#endif
  out[0] = hooks[0];
  out[1] = hooks[1];
  return (void **)&real_malloc == hooks[0].original && (void *)my_free == hooks[1].replacement;
}
