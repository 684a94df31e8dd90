/*
 * Decode fixture, built in every linker shape (see CMakeLists.txt).  It has each kind of entry
 * the decoder must report: PLT and GOT calls into libc, absolute data slots holding imported
 * function addresses (R_X86_64_64 & co), a weak undefined import, an IFUNC, a TLS variable,
 * protected visibility, and versioned symbols (a default and a hidden version of one name, and
 * a name that exists only in a hidden version, which a default-version lookup must not find).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SHAPE_NAME
#define SHAPE_NAME "shape"
#endif

int shape_calls(const char *s) {
  char *copy = malloc(strlen(s) + 1);
  if (!copy) return -1;
  strcpy(copy, s);
  int n = (int)strlen(copy);
  free(copy);
  return n;
}

int shape_print(const char *s) { return printf("%s: %s\n", SHAPE_NAME, s); }

/* Absolute data slots: the loader writes imported addresses here, outside .got. */
void *(*shape_malloc_slot)(size_t) = malloc;
void (*shape_free_slot)(void *) = free;
void *(*shape_calloc_slot)(size_t, size_t) = calloc;

int shape_counter = 3;
const char shape_name[] = SHAPE_NAME;
int shape_table[64];

extern void shape_weak_missing(void) __attribute__((weak));
int shape_has_weak(void) { return shape_weak_missing != 0; }

static int shape_ifunc_impl(void) { return 42; }
static int (*shape_ifunc_resolver(void))(void) { return shape_ifunc_impl; }
int shape_ifunc(void) __attribute__((ifunc("shape_ifunc_resolver")));

__thread int shape_tls = 5;

__attribute__((visibility("protected"))) int shape_protected(void) { return 9; }

int shape_ver_v1(void) { return 1; }
int shape_ver_v2(void) { return 2; }
__asm__(".symver shape_ver_v1,shape_ver@SHAPE_1");
__asm__(".symver shape_ver_v2,shape_ver@@SHAPE_2");
int shape_old_impl(void) { return 7; }
__asm__(".symver shape_old_impl,shape_old@SHAPE_1");
