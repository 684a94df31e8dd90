/*
 * gothook test guard: proves that gothook never allocates.
 *
 * Linking the static library `gothook_test_guard` into a test executable interposes the whole
 * malloc family (malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, and malloc_usable_size on musl) for the whole process.  While a
 * thread is "guarded" (between gothook_guard_enter and gothook_guard_leave, or inside GUARDED()),
 * any call of one of them on THAT thread is a violation: by default the process writes
 *   "gothook_test_guard: malloc(24) called inside a guarded gothook call" to stderr and aborts;
 * in GOTHOOK_GUARD_COUNT mode the violation is only counted.  Other threads allocate freely.
 *
 * glibc: forwards to __libc_malloc & co.  musl: forwards to an mmap-backed bump allocator.
 * Never allocates itself; uses no stdio.  Stable API: other test areas rely on it.
 */
#ifndef GOTHOOK_TEST_GUARD_H
#define GOTHOOK_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a violation does. */
#define GOTHOOK_GUARD_ABORT 0 /* default: message on stderr, then abort() */
#define GOTHOOK_GUARD_COUNT 1 /* count it in gothook_guard_violations() and go on */

/* Marks the calling thread as inside gothook (nests: a depth counter). Signal-safe. */
void gothook_guard_enter(void);
/* Ends the innermost gothook_guard_enter on this thread. */
void gothook_guard_leave(void);
/* Non-zero while the calling thread is guarded. */
int gothook_guard_active(void);

/* Sets the violation mode for the whole process; returns the previous mode. */
int gothook_guard_set_mode(int mode);

/* Allocator calls seen while the calling thread was guarded, summed over all threads, since
 * process start (or the last gothook_guard_reset). */
uint64_t gothook_guard_violations(void);
/* Every allocator call that went through the guard (guarded or not), all threads: a test reads
 * it to prove the interposition is live in this executable. */
uint64_t gothook_guard_calls(void);
/* Zeroes both counters. */
void gothook_guard_reset(void);

/* Name of the allocator ("glibc" or "bump") the guard forwards to. */
const char *gothook_guard_backend(void);

/* Non-zero when the guard really interposes the allocator of this process: it calls libc's
 * strdup (whose malloc call is resolved by libc, not by this executable) and checks that the
 * guard saw it.  Call it once at the start of a test; fail the test when it returns 0. */
int gothook_guard_selfcheck(void);

#ifdef __cplusplus
}
#endif

/* GUARDED(call): evaluates `call` with the calling thread guarded and yields its value.
 * GUARDED_VOID(call): the same for calls without a value. */
#define GUARDED(call)                                                                      \
  __extension__({                                                                          \
    gothook_guard_enter();                                                                 \
    __typeof__(call) gothook_guarded_result_ = (call);                                     \
    gothook_guard_leave();                                                                 \
    gothook_guarded_result_;                                                               \
  })
#define GUARDED_VOID(call)                                                                 \
  do {                                                                                     \
    gothook_guard_enter();                                                                 \
    (call);                                                                                \
    gothook_guard_leave();                                                                 \
  } while (0)

#endif /* GOTHOOK_TEST_GUARD_H */
