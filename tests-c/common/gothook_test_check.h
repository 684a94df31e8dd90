/*
 * CHECK(cond, fmt, ...): the one assertion macro of the C tests.  It counts every check in
 * gt_checks and every failure in gt_failures, prints "FAIL file:line: message" to stderr for the
 * first 60 failures, and goes on, so a test reports every mismatch of a run and then exits
 * non-zero when gt_failures is not 0.  No allocation beyond what stdio does in the test itself.
 */
#ifndef GOTHOOK_TEST_CHECK_H
#define GOTHOOK_TEST_CHECK_H

#include <stdio.h>

static int gt_failures;
static long gt_checks;

#define CHECK(cond, ...)                                     \
  do {                                                       \
    gt_checks++;                                             \
    if (!(cond)) {                                           \
      if (++gt_failures <= 60) {                             \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fputc('\n', stderr);                                 \
      }                                                      \
    }                                                        \
  } while (0)

#endif
