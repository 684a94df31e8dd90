/*
 * Every C entry point answers GOTHOOK_EINVAL to NULL or otherwise invalid arguments (and writes
 * nothing), without allocating; gothook_status_str names every status with a distinct string
 * and gives a non-empty description for unknown values.
 */
#define _GNU_SOURCE
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_check.h"
#include "gothook_test_guard.h"

#define EXPECT(call, want)                                                                   \
  do {                                                                                       \
    gt_checks++;                                                                             \
    gothook_status got_ = GUARDED(call);                                                     \
    if (got_ != (want)) {                                                                    \
      gt_failures++;                                                                         \
      fprintf(stderr, "FAIL %s:%d: %s returned %u (%s), want %s\n", __FILE__, __LINE__, #call, \
              (unsigned)got_, gothook_status_str(got_), #want);                              \
    }                                                                                        \
  } while (0)

static int count_cb(const gothook_lib *lib, void *ctx) {
  (void)lib;
  ++*(int *)ctx;
  return 0;
}
static int sym_cb(const gothook_symbol *s, void *ctx) {
  (void)s;
  ++*(int *)ctx;
  return 0;
}
static int imp_cb(const gothook_import *i, void *ctx) {
  (void)i;
  ++*(int *)ctx;
  return 0;
}
static int replacement(void) { return 0; }

/* A valid decoded value of libc, to pair with the invalid arguments. */
static gothook_lib libc_lib;
static gothook_dynamic libc_dyn;
static int find_libc(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (strstr(lib->name, "libc.so")) {
    libc_lib = *lib;
    return gothook_lib_decode(lib, &libc_dyn) == GOTHOOK_OK;
  }
  return 0;
}

/* Runs fn in a child: returns its exit status, or -signal when it crashed. */
static int in_child(int (*fn)(void)) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

/* A zeroed gothook_dynamic (never decoded) must not crash the reading functions. */
static int zeroed_dynamic_reads(void) {
  gothook_dynamic z;
  memset(&z, 0, sizeof z);
  int n = 0;
  void *addr;
  gothook_status a = gothook_dynamic_symbols(&z, sym_cb, &n);
  gothook_status b = gothook_dynamic_imports(&z, imp_cb, &n);
  gothook_status c = gothook_dynamic_lookup(&z, "malloc", &addr);
  /* 0: no crash and nothing claimed to be found; 1: a call claimed success with data. */
  return (c == GOTHOOK_OK || ((a == GOTHOOK_OK || b == GOTHOOK_OK) && n > 0)) ? 1 : 0;
}

int main(void) {
  if (!gothook_guard_selfcheck()) {
    fprintf(stderr, "FAIL: allocation guard not live\n");
    return 1;
  }
  gothook_guard_set_mode(GOTHOOK_GUARD_ABORT);
  CHECK(gothook_libs_each(find_libc, NULL, 0) == GOTHOOK_OK && libc_lib.phdr,
        "libc not found by the walk");
  gothook_dynamic out, untouched;
  memset(&out, 0x5a, sizeof out);
  untouched = out;
  gothook_dynamic_info info;
  gothook_symbol sym;
  void *addr = (void *)&addr;
  uint64_t adds, subs;
  int n = 0;

  /* Walk. */
  EXPECT(gothook_libs_each(NULL, NULL, 0), GOTHOOK_EINVAL);
  EXPECT(gothook_libs_each(NULL, NULL, GOTHOOK_LIBS_ALL), GOTHOOK_EINVAL);
  EXPECT(gothook_libs_each(count_cb, &n, 0x80000000u), GOTHOOK_EINVAL);
  CHECK(n == 0, "callback ran %d times for an invalid flag", n);
  EXPECT(gothook_libs_counters(NULL, &subs), GOTHOOK_EINVAL);
  EXPECT(gothook_libs_counters(&adds, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_libs_counters(NULL, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_set_readiness_rule(99), GOTHOOK_EINVAL);
  EXPECT(gothook_set_readiness_rule(0xffffffffu), GOTHOOK_EINVAL);

  /* Decode. */
  EXPECT(gothook_dynamic_decode(libc_lib.bias, NULL, libc_lib.phnum, 0, &out), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_decode(libc_lib.bias, libc_lib.phdr, 0, 0, &out), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_decode(libc_lib.bias, libc_lib.phdr, libc_lib.phnum, 0, NULL),
         GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_decode(libc_lib.bias, libc_lib.phdr, libc_lib.phnum,
                                GOTHOOK_DECODE_ELF32 | GOTHOOK_DECODE_ELF64, &out),
         GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_decode(libc_lib.bias, libc_lib.phdr, libc_lib.phnum, 0x0100, &out),
         GOTHOOK_EINVAL);
  CHECK(!memcmp(&out, &untouched, sizeof out), "a failed decode wrote its output");
  EXPECT(gothook_lib_decode(NULL, &out), GOTHOOK_EINVAL);
  EXPECT(gothook_lib_decode(&libc_lib, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_info_get(NULL, &info), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_info_get(&libc_dyn, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_symbols(NULL, sym_cb, &n), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_symbols(&libc_dyn, NULL, &n), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_imports(NULL, imp_cb, &n), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_imports(&libc_dyn, NULL, &n), GOTHOOK_EINVAL);
  CHECK(n == 0, "callbacks ran %d times for invalid calls", n);
  EXPECT(gothook_dynamic_lookup(NULL, "malloc", &addr), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_lookup(&libc_dyn, NULL, &addr), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_lookup(&libc_dyn, "malloc", NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_lookup(&libc_dyn, "gothook_no_such_symbol", NULL), GOTHOOK_EINVAL);
  CHECK(addr == (void *)&addr, "a failed lookup wrote its output");
  EXPECT(gothook_dynamic_lookup_symbol(NULL, "malloc", &sym), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_lookup_symbol(&libc_dyn, NULL, &sym), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_lookup_symbol(&libc_dyn, "malloc", NULL), GOTHOOK_EINVAL);

  /* Slot swap: NULLs, and a slot that is not inside the owner (a stack address). */
  void *local_slot = NULL;
  EXPECT(gothook_slot_swap(NULL, &local_slot, NULL, (void *)replacement), GOTHOOK_EINVAL);
  EXPECT(gothook_slot_swap(&libc_dyn, NULL, NULL, (void *)replacement), GOTHOOK_EINVAL);
  EXPECT(gothook_slot_swap(&libc_dyn, &local_slot, NULL, (void *)replacement), GOTHOOK_ERANGE);
  CHECK(local_slot == NULL, "slot_swap wrote a slot outside its owner");

  /* Hook sets. */
  gothook_set set = 12345;
  gothook_report report;
  void *original = NULL;
  gothook_hook ok_hook = {"malloc", (void *)replacement, &original};
  gothook_hook null_symbol = {NULL, (void *)replacement, &original};
  gothook_hook null_replacement = {"malloc", NULL, &original};
  gothook_hook many[GOTHOOK_MAX_HOOKS + 1];
  for (int i = 0; i <= GOTHOOK_MAX_HOOKS; i++) many[i] = ok_hook;
  gothook_filter bad_filter;
  memset(&bad_filter, 0, sizeof bad_filter);
  bad_filter.flags = 0x80000000u;
  EXPECT(gothook_install(NULL, 1, NULL, &set, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(&ok_hook, 0, NULL, &set, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(&ok_hook, 1, NULL, NULL, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(&null_symbol, 1, NULL, &set, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(&null_replacement, 1, NULL, &set, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(many, GOTHOOK_MAX_HOOKS + 1, NULL, &set, &report), GOTHOOK_EINVAL);
  EXPECT(gothook_install(&ok_hook, 1, &bad_filter, &set, &report), GOTHOOK_EINVAL);
  CHECK(set == 12345 && original == NULL, "a rejected install wrote its outputs");
  EXPECT(gothook_refresh(0x80000000u, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_uninstall(0, NULL), GOTHOOK_ENOTFOUND); /* 0 is never a handle */
  EXPECT(gothook_global_lookup(NULL, NULL, &addr), GOTHOOK_EINVAL);
  EXPECT(gothook_global_lookup("malloc", NULL, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_intercept_dlopen(NULL, NULL), GOTHOOK_EINVAL);

  /* A never-decoded (zeroed) gothook_dynamic: no crash, nothing found. */
  int child = in_child(zeroed_dynamic_reads);
  CHECK(child == 0, "reading a zeroed gothook_dynamic %s", child < 0 ? "crashed" : "claimed data");

  /* Status strings. */
  const char *names[12];
  for (unsigned s = 0; s < 12; s++) {
    names[s] = gothook_status_str(s);
    CHECK(names[s] && names[s][0], "status %u has no description", s);
    for (unsigned t = 0; t < s; t++)
      CHECK(!names[s] || !names[t] || strcmp(names[s], names[t]) != 0,
            "statuses %u and %u share the description '%s'", t, s, names[s]);
  }
  const unsigned unknown[] = {12, 13, 100, 0x7fffffffu, 0xffffffffu};
  for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
    const char *str = gothook_status_str(unknown[u]);
    CHECK(str && str[0], "unknown status %u has no description", unknown[u]);
    for (unsigned t = 0; t < 12 && str; t++)
      CHECK(strcmp(str, names[t]) != 0, "unknown status %u described as status %u ('%s')",
            unknown[u], t, str);
  }
  CHECK(gothook_version_number() == GOTHOOK_VERSION_NUMBER, "library version %u, header %u",
        gothook_version_number(), GOTHOOK_VERSION_NUMBER);
  CHECK(gothook_guard_violations() == 0, "allocations inside gothook");

  printf("c_api_bad_args: %ld checks (NULL/invalid arguments at 18 entry points, 12 status "
         "strings + 5 unknown), %d failures; %llu allocations inside gothook\n",
         gt_checks, gt_failures, (unsigned long long)gothook_guard_violations());
  return gt_failures ? 1 : 0;
}
