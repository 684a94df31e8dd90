/* Every gothook call uses at most LIMIT bytes of its caller's stack, first calls of the process
 * included (the first install detects the readiness rule and maps the fork mark; the first plain
 * refresh searches the loader's counters).  Each call runs alone on a fresh thread whose stack is
 * a buffer of our own, filled with a pattern below the calling frame (less 128 bytes for memset
 * itself) just before the call; the deepest byte changed bounds the call's use from above.
 * Run with LD_BIND_NOW=1: a lazily bound first call through a PLT runs the dynamic loader's
 * resolver on the caller's stack (about 2 KiB here, whatever the function), which is not
 * gothook's.  The hooks: the four allocator functions, in every library.
 * Usage: stack_per_call [limit-bytes] */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gothook.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { STACK = 256 * 1024, FILL = 0xa5 };
static unsigned char *stack;
static int failures;

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *my_malloc(size_t n) { return real_malloc(n); }
static void my_free(void *p) { real_free(p); }
static void *my_calloc(size_t a, size_t b) { return real_calloc(a, b); }
static void *my_realloc(void *p, size_t n) { return real_realloc(p, n); }

static gothook_set set;
static gothook_status st;
static void *module;

static unsigned char *volatile mark;

/* On the measured thread: fills the stack below this frame (leaving room for memset's own
 * frame), then calls f.  `mark` is where f's use starts. */
static __attribute__((noinline)) void *run(void *arg) {
  void (*f)(void) = (void (*)(void))arg;
  unsigned char here;
  mark = &here;
  memset(stack, FILL, (size_t)(mark - stack) - 128);
  if (f) f();
  return NULL;
}

/* Bytes of the thread stack below run's frame touched while running f. */
static size_t depth(void (*f)(void)) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstack(&a, stack, STACK);
  pthread_t t;
  if (pthread_create(&t, &a, run, (void *)f) != 0) {
    fprintf(stderr, "pthread_create failed\n");
    exit(1);
  }
  pthread_join(t, NULL);
  pthread_attr_destroy(&a);
  size_t low = 0;
  while (low < STACK && stack[low] == FILL) low++;
  return (size_t)(mark - (stack + low));
}

static void install(void) {
  gothook_hook h[4] = {
      {"malloc", (void *)my_malloc, (void **)&real_malloc, 0},
      {"free", (void *)my_free, (void **)&real_free, 0},
      {"calloc", (void *)my_calloc, (void **)&real_calloc, 0},
      {"realloc", (void *)my_realloc, (void **)&real_realloc, 0},
  };
  st = gothook_install(h, 4, NULL, &set, NULL);
}
static void refresh(void) { st = gothook_refresh(0, NULL); }
static void refresh_full(void) { st = gothook_refresh(GOTHOOK_REFRESH_FULL, NULL); }
static void refresh_cached(void) { st = gothook_refresh(GOTHOOK_REFRESH_CACHED, NULL); }
static void uninstall(void) { st = gothook_uninstall(set, NULL); }
static void lock_free(void) { st = gothook_counters_lock_free() ? GOTHOOK_OK : GOTHOOK_EUNSUPPORTED; }
static int count_import(const gothook_import *imp, void *ctx) {
  (void)imp;
  ++*(int *)ctx;
  return 0;
}
static int decode_lib(const gothook_lib *lib, void *ctx) {
  gothook_dynamic d;
  if (gothook_lib_decode(lib, &d) == GOTHOOK_OK) gothook_dynamic_imports(&d, count_import, ctx);
  return 0;
}
static void walk_decode(void) {
  int n = 0;
  st = gothook_libs_each(decode_lib, &n, 0);
}
static int nothing(const gothook_lib *lib, void *ctx) {
  (void)lib, (void)ctx;
  return 0;
}
static void walk(void) { st = gothook_libs_each(nothing, NULL, 0); }
static int decode_only(const gothook_lib *lib, void *ctx) {
  gothook_dynamic d;
  (void)ctx;
  gothook_lib_decode(lib, &d);
  return 0;
}
static void walk_decode_only(void) { st = gothook_libs_each(decode_only, NULL, 0); }
static gothook_set dl_set;
static void intercept(void) { st = gothook_intercept_dlopen(&dl_set, NULL); }
static void intercept_off(void) { st = gothook_uninstall(dl_set, NULL); }
static void global_lookup(void) {
  void *addr = NULL;
  st = gothook_global_lookup("malloc", NULL, &addr);
}
static void decode_and_lookup(void) {
  gothook_dynamic d;
  void *addr = NULL;
  st = gothook_decode_containing((const void *)&dlopen, &d);
  if (st == GOTHOOK_OK) st = gothook_dynamic_lookup(&d, "dlopen", &addr);
}

int main(int argc, char **argv) {
  size_t limit = argc > 1 ? (size_t)atol(argv[1]) : 4096;
  stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return 1;
  size_t base = depth(NULL); /* run's own call of nothing */
  struct {
    const char *name;
    void (*f)(void);
    gothook_status want;
    int before; /* 1: dlopen a library first, 2: dlclose it first */
  } calls[] = {
      {"install (the process's first gothook call)", install, GOTHOOK_OK, 0},
      {"refresh, the first plain one (searches the loader's counters)", refresh, GOTHOOK_OK, 0},
      {"refresh, nothing changed", refresh, GOTHOOK_OK, 0},
      {"refresh, one new library", refresh, GOTHOOK_OK, 1},
      {"refresh, one library unloaded", refresh, GOTHOOK_OK, 2},
      {"refresh(FULL)", refresh_full, GOTHOOK_OK, 0},
      {"refresh(CACHED)", refresh_cached, GOTHOOK_OK, 0},
      {"counters_lock_free", lock_free, GOTHOOK_OK, 0},
      {"libs_each", walk, GOTHOOK_OK, 0},
      {"libs_each + lib_decode", walk_decode_only, GOTHOOK_OK, 0},
      {"libs_each + lib_decode + dynamic_imports", walk_decode, GOTHOOK_OK, 0},
      {"global_lookup", global_lookup, GOTHOOK_OK, 0},
      {"decode_containing + dynamic_lookup", decode_and_lookup, GOTHOOK_OK, 0},
      {"intercept_dlopen", intercept, GOTHOOK_OK, 0},
      {"uninstall of the interception", intercept_off, GOTHOOK_OK, 0},
      {"uninstall", uninstall, GOTHOOK_OK, 0},
  };
  size_t deepest = 0;
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    if (calls[i].before == 1) {
      module = dlopen("libanl.so.1", RTLD_NOW | RTLD_LOCAL);
      if (!module) {
        fprintf(stderr, "dlopen libanl.so.1: %s\n", dlerror());
        return 1;
      }
    } else if (calls[i].before == 2) {
      dlclose(module);
    }
    st = -1;
    size_t d = depth(calls[i].f);
    if (d > deepest) deepest = d;
    printf("%-64s %5zu B%s\n", calls[i].name, d, d > limit ? "  OVER" : "");
    if (st != calls[i].want) {
      printf("FAIL: %s answered %s\n", calls[i].name, gothook_status_str(st));
      failures++;
    }
    if (d > limit) failures++;
  }
  printf("stack_per_call: deepest %zu B of %zu (calling nothing: %zu B); %s\n", deepest, limit, base,
         failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
