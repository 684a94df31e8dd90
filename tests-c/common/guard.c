/*
 * gothook test guard: interposes the malloc family in the test executable and flags every call
 * made by a thread while that thread is inside a gothook call.
 * Never allocates and never uses stdio: it must work from inside malloc itself.
 * glibc forwards to __libc_malloc & co; elsewhere (musl) a small mmap-backed bump allocator serves.
 */
#define _GNU_SOURCE
#include "gothook_test_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One depth counter per thread; initial-exec TLS needs no allocation to reach. */
static __thread unsigned guard_depth __attribute__((tls_model("initial-exec")));
static unsigned long guard_calls_count;      /* every allocator call through the guard */
static unsigned long guard_violations_count; /* calls made while the caller was guarded */
static int guard_mode = GOTHOOK_GUARD_ABORT;

/* Marks the link: CMake passes -u gothook_guard_linked so the object (and its malloc) is kept
 * even in an executable that never calls the guard API. */
int gothook_guard_linked = 1;

void gothook_guard_enter(void) { guard_depth++; }
void gothook_guard_leave(void) {
  if (guard_depth) guard_depth--;
}
int gothook_guard_active(void) { return guard_depth != 0; }

int gothook_guard_set_mode(int mode) {
  return __atomic_exchange_n(&guard_mode, mode, __ATOMIC_SEQ_CST);
}
uint64_t gothook_guard_violations(void) {
  return __atomic_load_n(&guard_violations_count, __ATOMIC_SEQ_CST);
}
uint64_t gothook_guard_calls(void) { return __atomic_load_n(&guard_calls_count, __ATOMIC_SEQ_CST); }
void gothook_guard_reset(void) {
  __atomic_store_n(&guard_calls_count, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&guard_violations_count, 0, __ATOMIC_SEQ_CST);
}

static size_t put_str(char *buf, size_t at, const char *s) {
  while (*s && at < 200) buf[at++] = *s++;
  return at;
}

static size_t put_num(char *buf, size_t at, size_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && at < 200) buf[at++] = digits[--n];
  return at;
}

/* Called first by every interposed function. */
static void guard_note(const char *what, size_t size) {
  __atomic_fetch_add(&guard_calls_count, 1, __ATOMIC_RELAXED);
  if (!guard_depth) return;
  __atomic_fetch_add(&guard_violations_count, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&guard_mode, __ATOMIC_SEQ_CST) == GOTHOOK_GUARD_COUNT) return;
  char msg[256];
  size_t at = put_str(msg, 0, "gothook_test_guard: ");
  at = put_str(msg, at, what);
  at = put_str(msg, at, "(");
  at = put_num(msg, at, size);
  at = put_str(msg, at, ") called inside a guarded gothook call: gothook allocated; aborting\n");
  ssize_t ignored = write(2, msg, at);
  (void)ignored;
  abort();
}

int gothook_guard_selfcheck(void) {
  /* strdup lives in libc; its malloc call reaches the guard only if interposition is live. */
  char *(*volatile dup)(const char *) = strdup;
  unsigned long before = __atomic_load_n(&guard_calls_count, __ATOMIC_SEQ_CST);
  char *copy = dup("guard");
  unsigned long after = __atomic_load_n(&guard_calls_count, __ATOMIC_SEQ_CST);
  free(copy);
  return copy != NULL && after > before;
}

#ifdef __GLIBC__
/* ---- glibc: the real allocator is reachable under its __libc_ names. ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

const char *gothook_guard_backend(void) { return "glibc"; }

static void *backend_malloc(size_t n) { return __libc_malloc(n); }
static void *backend_calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
static void *backend_realloc(void *p, size_t n) { return __libc_realloc(p, n); }
static void backend_free(void *p) { __libc_free(p); }
static void *backend_memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
static void *backend_valloc(size_t n) { return __libc_valloc(n); }
static void *backend_pvalloc(size_t n) { return __libc_pvalloc(n); }

#else
/* ---- musl (or any other libc): an mmap-backed bump allocator. ----
 * Each block is preceded by a header.  Small blocks come from 64 MiB arenas (free only rewinds
 * the most recent block); blocks of 256 KiB and more get their own mapping, unmapped by free. */
struct block_header {
  size_t usable;      /* bytes the caller may use */
  size_t map_len;     /* non-zero: the block owns a mapping of this length ... */
  size_t base_offset; /* ... starting this many bytes before the user pointer */
  size_t reserved;
};
#define ARENA_SIZE ((size_t)64 << 20)
#define BIG_BLOCK ((size_t)256 << 10)
static char *arena_cursor, *arena_end, *arena_last;
static int arena_lock;

const char *gothook_guard_backend(void) { return "bump"; }

static size_t page_size(void) {
  static size_t cached;
  if (!cached) cached = (size_t)sysconf(_SC_PAGESIZE);
  return cached;
}

static void *bump_alloc(size_t align, size_t n) {
  const size_t hdr = sizeof(struct block_header);
  if (align < 16) align = 16;
  if (n > ((size_t)-1) / 2 - align - hdr) return NULL;
  size_t need = hdr + align + n;
  if (need >= BIG_BLOCK) {
    size_t len = (need + page_size() - 1) & ~(page_size() - 1);
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    char *user = (char *)(((size_t)base + hdr + align - 1) & ~(align - 1));
    struct block_header *h = (struct block_header *)user - 1;
    h->usable = len - (size_t)(user - base);
    h->map_len = len;
    h->base_offset = (size_t)(user - base);
    return user;
  }
  while (__atomic_exchange_n(&arena_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  char *user = NULL;
  for (int attempt = 0; attempt < 2 && !user; attempt++) {
    if (arena_cursor) {
      char *candidate = (char *)(((size_t)arena_cursor + hdr + align - 1) & ~(align - 1));
      if (candidate + n <= arena_end) {
        user = candidate;
        arena_last = arena_cursor;
        arena_cursor = (char *)(((size_t)(candidate + n) + 15) & ~(size_t)15);
        break;
      }
    }
    char *fresh = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fresh == MAP_FAILED) break;
    arena_cursor = fresh;
    arena_end = fresh + ARENA_SIZE;
    arena_last = NULL;
  }
  if (user) {
    struct block_header *h = (struct block_header *)user - 1;
    h->usable = n;
    h->map_len = 0;
    h->base_offset = (size_t)(user - arena_last);
  }
  __atomic_store_n(&arena_lock, 0, __ATOMIC_RELEASE);
  return user;
}

static void backend_free(void *p) {
  if (!p) return;
  struct block_header *h = (struct block_header *)p - 1;
  if (h->map_len) {
    munmap((char *)p - h->base_offset, h->map_len);
    return;
  }
  while (__atomic_exchange_n(&arena_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  char *start = (char *)p - h->base_offset;
  /* Rewind when this is the most recent block of the current arena. */
  if (start == arena_last && (char *)p + h->usable <= arena_cursor &&
      (char *)(((size_t)((char *)p + h->usable) + 15) & ~(size_t)15) == arena_cursor) {
    arena_cursor = start;
    arena_last = NULL;
  }
  __atomic_store_n(&arena_lock, 0, __ATOMIC_RELEASE);
}

static void *backend_malloc(size_t n) { return bump_alloc(16, n); }
static void *backend_calloc(size_t n, size_t m) {
  if (m && n > ((size_t)-1) / m) return NULL;
  void *p = bump_alloc(16, n * m);
  if (p) memset(p, 0, n * m);
  return p;
}
static void *backend_realloc(void *p, size_t n) {
  if (!p) return bump_alloc(16, n);
  struct block_header *h = (struct block_header *)p - 1;
  if (n <= h->usable) return p;
  void *q = bump_alloc(16, n);
  if (!q) return NULL;
  memcpy(q, p, h->usable);
  backend_free(p);
  return q;
}
static void *backend_memalign(size_t a, size_t n) { return bump_alloc(a, n); }
static void *backend_valloc(size_t n) { return bump_alloc(page_size(), n); }
static void *backend_pvalloc(size_t n) {
  return bump_alloc(page_size(), (n + page_size() - 1) & ~(page_size() - 1));
}

size_t malloc_usable_size(void *p) {
  guard_note("malloc_usable_size", 0);
  return p ? ((struct block_header *)p - 1)->usable : 0;
}
#endif

/* ---- the interposed family ---- */
void *malloc(size_t n) {
  guard_note("malloc", n);
  return backend_malloc(n);
}
void *calloc(size_t n, size_t m) {
  guard_note("calloc", n * m);
  return backend_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  guard_note("realloc", n);
  return backend_realloc(p, n);
}
void *reallocarray(void *p, size_t n, size_t m) {
  guard_note("reallocarray", n * m);
  if (m && n > ((size_t)-1) / m) {
    errno = ENOMEM;
    return NULL;
  }
  return backend_realloc(p, n * m);
}
void free(void *p) {
  guard_note("free", 0);
  backend_free(p);
}
static int valid_alignment(size_t a) { return a && (a & (a - 1)) == 0; }
int posix_memalign(void **out, size_t a, size_t n) {
  guard_note("posix_memalign", n);
  if (!valid_alignment(a) || a % sizeof(void *)) return EINVAL;
  void *p = backend_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void *aligned_alloc(size_t a, size_t n) {
  guard_note("aligned_alloc", n);
  if (!valid_alignment(a)) {
    errno = EINVAL;
    return NULL;
  }
  return backend_memalign(a, n);
}
void *memalign(size_t a, size_t n) {
  guard_note("memalign", n);
  if (!valid_alignment(a)) {
    errno = EINVAL;
    return NULL;
  }
  return backend_memalign(a, n);
}
void *valloc(size_t n) {
  guard_note("valloc", n);
  return backend_valloc(n);
}
void *pvalloc(size_t n) {
  guard_note("pvalloc", n);
  return backend_pvalloc(n);
}
