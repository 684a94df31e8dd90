/*
 * Proves the allocation guard can fail: it sees libc-internal allocations, flags each member of
 * the malloc family called on a guarded thread, ignores other threads, and in its default mode
 * aborts with its message.  Also checks the allocation-free maps helper against the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gothook_test_guard.h"
#include "gothook_test_util.h"

#ifndef __GLIBC__
void *pvalloc(size_t); /* musl does not declare it; the guard defines it */
#endif

#include "gothook_test_check.h"

/* Calls through volatile pointers so the compiler cannot elide or merge them. */
static void *(*volatile p_malloc)(size_t) = malloc;
static void *(*volatile p_calloc)(size_t, size_t) = calloc;
static void *(*volatile p_realloc)(void *, size_t) = realloc;
static void *(*volatile p_reallocarray)(void *, size_t, size_t) = reallocarray;
static void (*volatile p_free)(void *) = free;
static int (*volatile p_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile p_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile p_memalign)(size_t, size_t) = memalign;
static void *(*volatile p_valloc)(size_t) = valloc;
static void *(*volatile p_pvalloc)(size_t) = pvalloc;

static int family_member(int which, void **keep) {
  void *p = NULL;
  switch (which) {
    case 0: p = p_malloc(24); break;
    case 1: p = p_calloc(3, 8); break;
    case 2: p = p_realloc(NULL, 40); break;
    case 3: p = p_reallocarray(NULL, 4, 8); break;
    case 4: if (p_posix_memalign(&p, 64, 100) != 0) p = NULL; break;
    case 5: p = p_aligned_alloc(64, 128); break;
    case 6: p = p_memalign(128, 10); break;
    case 7: p = p_valloc(10); break;
    case 8: p = p_pvalloc(10); break;
    default: return -1;
  }
  *keep = p;
  return p ? 0 : -1;
}
static const char *const family_names[] = {"malloc", "calloc", "realloc", "reallocarray",
                                           "posix_memalign", "aligned_alloc", "memalign",
                                           "valloc", "pvalloc"};

static void *other_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) p_free(p_malloc((size_t)i + 1));
  return NULL;
}

int main(void) {
  int checks = 0;
  CHECK(gothook_guard_selfcheck(), "libc's strdup did not reach the interposed malloc");
  checks++;

  gothook_guard_set_mode(GOTHOOK_GUARD_COUNT);
  gothook_guard_reset();
  /* Unguarded calls are counted as calls but never as violations. */
  p_free(p_malloc(10));
  CHECK(gothook_guard_calls() >= 2 && gothook_guard_violations() == 0,
        "unguarded malloc/free: calls %llu violations %llu",
        (unsigned long long)gothook_guard_calls(), (unsigned long long)gothook_guard_violations());
  checks++;

  /* Each family member is flagged when called on a guarded thread; its result is usable. */
  for (int which = 0; which < 9; which++) {
    void *p = NULL;
    uint64_t before = gothook_guard_violations();
    gothook_guard_enter();
    int rc = family_member(which, &p);
    gothook_guard_leave();
    CHECK(rc == 0, "%s failed", family_names[which]);
    CHECK(gothook_guard_violations() == before + 1, "%s while guarded: %llu violations, want %llu",
          family_names[which], (unsigned long long)gothook_guard_violations(),
          (unsigned long long)before + 1);
    if (p) memset(p, 0xa5, 10);
    before = gothook_guard_violations();
    GUARDED_VOID(p_free(p));
    CHECK(gothook_guard_violations() == before + 1, "free while guarded was not flagged");
    checks += 3;
  }
  /* Alignment promises of the forwarding allocator. */
  {
    void *p = NULL;
    CHECK(p_posix_memalign(&p, 4096, 10) == 0 && ((uintptr_t)p & 4095) == 0,
          "posix_memalign(4096) misaligned: %p", p);
    p_free(p);
    CHECK(p_posix_memalign(&p, 3, 10) == EINVAL, "posix_memalign(3) accepted");
    void *big = p_malloc(1 << 20);
    memset(big, 1, 1 << 20);
    big = p_realloc(big, 3 << 20);
    CHECK(big && ((char *)big)[(1 << 20) - 1] == 1, "realloc lost contents");
    p_free(big);
    checks += 3;
  }
  /* Nesting: leaving an inner guard keeps the outer one. */
  gothook_guard_enter();
  gothook_guard_enter();
  gothook_guard_leave();
  CHECK(gothook_guard_active(), "inner leave ended the outer guard");
  gothook_guard_leave();
  CHECK(!gothook_guard_active(), "guard still active after the last leave");
  checks += 2;

  /* Another thread allocating while this one is guarded is not a violation. */
  {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0, "pthread_create");
    uint64_t before = gothook_guard_violations();
    gothook_guard_enter();
    for (volatile int spin = 0; spin < 1000000; spin++) {
    }
    gothook_guard_leave();
    pthread_join(t, NULL);
    CHECK(gothook_guard_violations() == before, "another thread's allocations were flagged");
    checks++;
  }

  /* Default mode: a guarded allocation aborts the process with the guard's message. */
  {
    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
      dup2(pipefd[1], 2);
      gothook_guard_set_mode(GOTHOOK_GUARD_ABORT);
      gothook_guard_enter();
      void *p = p_malloc(77);
      gothook_guard_leave();
      p_free(p);
      _exit(0);
    }
    close(pipefd[1]);
    char msg[512] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof msg - 1 && (n = read(pipefd[0], msg + got, sizeof msg - 1 - got)) > 0)
      got += (size_t)n;
    msg[got] = 0;
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "guarded malloc in abort mode did not abort (status 0x%x)", status);
    CHECK(strstr(msg, "malloc(77) called inside a guarded gothook call") != NULL,
          "abort message missing: '%s'", msg);
    checks += 2;
  }

  /* The maps helper agrees with mprotect, which it did not observe. */
  {
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    CHECK(m != MAP_FAILED, "mmap");
    mprotect(m + page, (size_t)page, PROT_READ);
    gothook_guard_set_mode(GOTHOOK_GUARD_COUNT);
    uint64_t before = gothook_guard_violations();
    gothook_guard_enter();
    int p0 = gothook_test_maps_prot(m), p1 = gothook_test_maps_prot(m + page);
    uintptr_t vs = 0, ve = 0;
    int vdso = gothook_test_vdso_range(&vs, &ve);
    gothook_guard_leave();
    CHECK(p0 == (PROT_READ | PROT_WRITE), "maps prot of rw page: %d", p0);
    CHECK(p1 == PROT_READ, "maps prot of r page: %d", p1);
    CHECK(gothook_guard_violations() == before, "maps helpers allocated");
    CHECK(vdso != 0 || (ve > vs && memcmp((void *)vs, "\177ELF", 4) == 0), "vdso range bogus");
    munmap(m, (size_t)page * 2);
    checks += 4;
  }

  printf("guard_selftest (%s backend): %d checks, %d failures; %llu allocator calls seen\n",
         gothook_guard_backend(), checks, gt_failures, (unsigned long long)gothook_guard_calls());
  return gt_failures ? 1 : 0;
}
