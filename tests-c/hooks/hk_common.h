/* Shared helpers of the hook-set tests: fixture bookkeeping, counting allocator hooks attributed
 * to the calling library by return address, import-slot snapshots, /proc/self/maps protection,
 * and checksums of a library's writable memory.  Header-only: each test is one C file. */
#ifndef HK_COMMON_H
#define HK_COMMON_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wunused-function"
#include "alloc_fixture.h"
#include "gothook.h"

static int hk_failures;
#define CHECK(cond, ...)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      hk_failures++;                                                                  \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
      fprintf(stderr, __VA_ARGS__);                                                   \
      fputc('\n', stderr);                                                            \
    }                                                                                 \
  } while (0)
#define CHECK_ST(expr, want)                                                          \
  do {                                                                                \
    gothook_status st_ = (expr);                                                      \
    CHECK(st_ == (want), "%s returned %s, want %s", #expr, gothook_status_str(st_),  \
          gothook_status_str(want));                                                  \
  } while (0)

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t hk_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void hk_print_report(const char *what, const gothook_report *r) {
  printf("%s: libs patched=%u not_ready=%u filtered=%u failed=%u; slots patched=%u already=%u "
         "repaired=%u conflict=%u restored=%u changed=%u\n",
         what, r->libs_patched, r->libs_not_ready, r->libs_filtered, r->libs_failed,
         r->slots_patched, r->slots_already, r->slots_repaired, r->slots_conflict,
         r->slots_restored, r->slots_changed);
}

/* ---- libraries under test ---------------------------------------------------------------- */
#define HK_MAX_LIBS 24
#define HK_MAIN HK_MAX_LIBS        /* counter row of calls from the main program */
#define HK_OTHER (HK_MAX_LIBS + 1) /* counter row of calls from anything else */
struct hk_lib {
  const char *path;
  void *handle;
  uintptr_t lo, hi; /* lowest and highest address of its PT_LOAD segments */
  gothook_fixture_run_path_fn run_path;
  const char *shape;
  int has_relro, bind_now;
};
static struct hk_lib hk_libs[HK_MAX_LIBS];
static int hk_nlibs;
static uintptr_t hk_main_lo, hk_main_hi;

struct hk_find { const char *path; uintptr_t lo, hi; int relro, now, found; };
static int hk_find_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  struct hk_find *f = ctx;
  int is_main = f->path == NULL && info->dlpi_name[0] == 0;
  if (!is_main && (f->path == NULL || strcmp(info->dlpi_name, f->path) != 0)) return 0;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    if (p->p_type == PT_LOAD) {
      if (info->dlpi_addr + p->p_vaddr < lo) lo = info->dlpi_addr + p->p_vaddr;
      if (info->dlpi_addr + p->p_vaddr + p->p_memsz > hi) hi = info->dlpi_addr + p->p_vaddr + p->p_memsz;
    } else if (p->p_type == PT_GNU_RELRO) {
      f->relro = 1;
    } else if (p->p_type == PT_DYNAMIC) {
      for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + p->p_vaddr); d->d_tag != DT_NULL; d++) {
        if ((d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) ||
            (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)) || d->d_tag == DT_BIND_NOW)
          f->now = 1;
      }
    }
  }
  f->lo = lo, f->hi = hi, f->found = 1;
  return 1;
}

/* Finds a loaded object by its path (NULL: the main program) with libc's own walk. */
static int hk_locate(const char *path, struct hk_find *f) {
  memset(f, 0, sizeof *f);
  f->path = path;
  dl_iterate_phdr(hk_find_cb, f);
  return f->found;
}

/* Opens a fixture (RTLD_LAZY, so lazy fixtures stay lazy) and records its address range. */
static int hk_open(const char *path, int extra_flags) {
  int i = hk_nlibs < HK_MAX_LIBS ? hk_nlibs++ : HK_MAX_LIBS - 1;
  struct hk_lib *l = &hk_libs[i];
  memset(l, 0, sizeof *l);
  l->path = path;
  l->handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL | extra_flags);
  if (!l->handle) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  l->run_path = (gothook_fixture_run_path_fn)dlsym(l->handle, "gothook_fixture_run_path");
  const char *(*shape)(void) = (const char *(*)(void))dlsym(l->handle, "gothook_fixture_shape");
  l->shape = shape ? shape() : "?";
  struct hk_find f;
  if (!l->run_path || !hk_locate(path, &f)) {
    fprintf(stderr, "%s: not a fixture or not listed\n", path);
    exit(2);
  }
  l->lo = f.lo, l->hi = f.hi, l->has_relro = f.relro, l->bind_now = f.now;
  return i;
}

/* Re-reads the address range of an already opened fixture (after a reload). */
__attribute__((unused)) static void hk_relocate(int i) {
  struct hk_find f;
  if (hk_locate(hk_libs[i].path, &f)) hk_libs[i].lo = f.lo, hk_libs[i].hi = f.hi;
}

/* From now on, system call `nr` fails with `err` in the calling thread and the threads and
 * children it creates (a seccomp filter; no new privileges).  0 when seccomp is unavailable. */
static int hk_refuse_syscall(long nr, int err) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

static void hk_init_main(void) {
  struct hk_find f;
  hk_locate(NULL, &f);
  hk_main_lo = f.lo, hk_main_hi = f.hi;
}

/* The import slot through which the decoded object `d` reaches `name` (its first one), or NULL. */
struct hk_import_find { const char *name; void **slot; };
static int hk_import_cb(const gothook_import *imp, void *ctx) {
  struct hk_import_find *f = ctx;
  if (strcmp(imp->name, f->name) != 0) return 0;
  f->slot = imp->slot;
  return 1;
}
__attribute__((unused)) static void **hk_import_slot(const gothook_dynamic *d, const char *name) {
  struct hk_import_find f = {name, NULL};
  gothook_dynamic_imports(d, hk_import_cb, &f);
  return f.slot;
}

/* ---- counting hooks ---------------------------------------------------------------------- */
static _Atomic unsigned hk_count[HK_MAX_LIBS + 2][GF_NFUNCS];
static void *volatile hk_orig[GF_NFUNCS];

static inline int hk_who(const void *ret) {
  uintptr_t a = (uintptr_t)ret;
  for (int i = 0; i < hk_nlibs; i++)
    if (a >= hk_libs[i].lo && a < hk_libs[i].hi) return i;
  if (a >= hk_main_lo && a < hk_main_hi) return HK_MAIN;
  return HK_OTHER;
}
#define HK_NOTE(f) atomic_fetch_add_explicit(&hk_count[hk_who(__builtin_return_address(0))][f], 1, memory_order_relaxed)
#define HK_ORIG(f) __atomic_load_n(&hk_orig[f], __ATOMIC_ACQUIRE)

__attribute__((noinline)) static void *hk_malloc(size_t n) {
  HK_NOTE(GF_MALLOC);
  return ((void *(*)(size_t))HK_ORIG(GF_MALLOC))(n);
}
__attribute__((noinline)) static void *hk_calloc(size_t a, size_t b) {
  HK_NOTE(GF_CALLOC);
  return ((void *(*)(size_t, size_t))HK_ORIG(GF_CALLOC))(a, b);
}
__attribute__((noinline)) static void *hk_realloc(void *p, size_t n) {
  HK_NOTE(GF_REALLOC);
  return ((void *(*)(void *, size_t))HK_ORIG(GF_REALLOC))(p, n);
}
__attribute__((noinline)) static void hk_free(void *p) {
  HK_NOTE(GF_FREE);
  ((void (*)(void *))HK_ORIG(GF_FREE))(p);
}
__attribute__((noinline)) static int hk_posix_memalign(void **p, size_t a, size_t n) {
  HK_NOTE(GF_POSIX_MEMALIGN);
  return ((int (*)(void **, size_t, size_t))HK_ORIG(GF_POSIX_MEMALIGN))(p, a, n);
}
__attribute__((noinline)) static void *hk_aligned_alloc(size_t a, size_t n) {
  HK_NOTE(GF_ALIGNED_ALLOC);
  return ((void *(*)(size_t, size_t))HK_ORIG(GF_ALIGNED_ALLOC))(a, n);
}
static void *const hk_replacement[GF_NFUNCS] = {
    (void *)hk_malloc, (void *)hk_calloc, (void *)hk_realloc,
    (void *)hk_free, (void *)hk_posix_memalign, (void *)hk_aligned_alloc};

/* The six-function hook set. */
static void hk_alloc_hooks(gothook_hook out[GF_NFUNCS]) {
  for (int f = 0; f < GF_NFUNCS; f++) {
    out[f].symbol = gothook_fixture_func_names[f];
    out[f].replacement = hk_replacement[f];
    out[f].original = (void **)&hk_orig[f];
    out[f].flags = 0;
  }
}

static int hk_func_index(const char *name) {
  for (int f = 0; f < GF_NFUNCS; f++)
    if (strcmp(name, gothook_fixture_func_names[f]) == 0) return f;
  return -1;
}

/* Runs fixture `i` one path at a time and compares, per function, the calls it made with the
 * calls the hooks attributed to it.  `want_hooked`: 1 every call must be seen, 0 none.
 * Returns the number of calls the fixture made. */
static unsigned hk_run_and_compare(int i, int want_hooked, const char *when) {
  unsigned total = 0;
  for (unsigned path = 0; path < GF_NPATHS; path++) {
    unsigned before[GF_NFUNCS];
    for (int f = 0; f < GF_NFUNCS; f++) before[f] = atomic_load(&hk_count[i][f]);
    struct gothook_fixture_calls made = {0};
    hk_libs[i].run_path(path, &made);
    CHECK(made.failures == 0, "%s: %s: %u allocations failed", when, hk_libs[i].path, made.failures);
    for (int f = 0; f < GF_NFUNCS; f++) {
      unsigned seen = atomic_load(&hk_count[i][f]) - before[f];
      unsigned want = want_hooked ? made.calls[path][f] : 0;
      CHECK(made.calls[path][f] > 0, "fixture made no %s call", gothook_fixture_func_names[f]);
      CHECK(seen == want, "%s: [%s] %s via %s: hook saw %u of %u calls (want %u)", when,
            hk_libs[i].shape, gothook_fixture_func_names[f], gothook_fixture_path_names[path],
            seen, made.calls[path][f], want);
      total += made.calls[path][f];
    }
  }
  return total;
}

/* ---- import slots ------------------------------------------------------------------------ */
#define HK_MAX_SLOTS 64
struct hk_slot { void **slot; void *value; int func; uint8_t kind; };
struct hk_slots { const char *path; int n; struct hk_slot s[HK_MAX_SLOTS]; int found; uint8_t readiness;
                  gothook_dynamic dyn; };

static int hk_imp_cb(const gothook_import *imp, void *ctx) {
  struct hk_slots *ss = ctx;
  if (ss->n < HK_MAX_SLOTS) {
    struct hk_slot *s = &ss->s[ss->n++];
    s->slot = imp->slot;
    s->value = __atomic_load_n(imp->slot, __ATOMIC_ACQUIRE);
    s->func = hk_func_index(imp->name);
    s->kind = imp->kind;
  }
  return 0;
}
static int hk_snap_cb(const gothook_lib *lib, void *ctx) {
  struct hk_slots *ss = ctx;
  if (strcmp(lib->name, ss->path) != 0) return 0;
  ss->found = 1;
  ss->readiness = lib->readiness;
  if (gothook_lib_decode(lib, &ss->dyn) == GOTHOOK_OK) gothook_dynamic_imports(&ss->dyn, hk_imp_cb, ss);
  return 1;
}
/* Every import slot of the library at `path` with its current value (read inside the walk). */
static void hk_snapshot(const char *path, struct hk_slots *ss) {
  memset(ss, 0, sizeof *ss);
  ss->path = path;
  gothook_libs_each(hk_snap_cb, ss, GOTHOOK_LIBS_ALL);
}
static int hk_slots_equal(const struct hk_slots *a, const struct hk_slots *b) {
  if (a->n != b->n) return 0;
  for (int k = 0; k < a->n; k++)
    if (a->s[k].slot != b->s[k].slot || a->s[k].value != b->s[k].value) return 0;
  return 1;
}

/* ---- memory checks ----------------------------------------------------------------------- */
/* Protection of the mapping holding `addr` per /proc/self/maps: bit 1 r, 2 w, 4 x; -1 unknown. */
static int hk_maps_prot(uintptr_t addr) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[512];
  int prot = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
      prot = (perms[0] == 'r') | (perms[1] == 'w') << 1 | (perms[2] == 'x') << 2;
      break;
    }
  }
  fclose(f);
  return prot;
}

struct hk_mem { const char *path; uintptr_t relro_lo, relro_hi; uintptr_t w_lo[4], w_hi[4]; int nw; };
static int hk_mem_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  struct hk_mem *m = ctx;
  if (strcmp(info->dlpi_name, m->path) != 0) return 0;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    uintptr_t a = info->dlpi_addr + p->p_vaddr;
    if (p->p_type == PT_GNU_RELRO) {
      /* The loader protects [start rounded down, end rounded down). */
      m->relro_lo = a & ~(page - 1);
      m->relro_hi = (a + p->p_memsz) & ~(page - 1);
    } else if (p->p_type == PT_LOAD && (p->p_flags & PF_W) && m->nw < 4) {
      m->w_lo[m->nw] = a, m->w_hi[m->nw] = a + p->p_memsz, m->nw++;
    }
  }
  return 1;
}
static void hk_memory(const char *path, struct hk_mem *m) {
  memset(m, 0, sizeof *m);
  m->path = path;
  dl_iterate_phdr(hk_mem_cb, m);
}

/* Checksum of all writable and RELRO memory of a library, skipping the given slots. */
static uint64_t hk_checksum(const char *path, const struct hk_slots *skip) {
  struct hk_mem m;
  hk_memory(path, &m);
  uint64_t h = 1469598103934665603ull;
  for (int r = 0; r < m.nw; r++) {
    for (uintptr_t a = m.w_lo[r] & ~(uintptr_t)7; a + 8 <= m.w_hi[r]; a += 8) {
      int skipped = 0;
      for (int k = 0; k < skip->n && !skipped; k++) skipped = (uintptr_t)skip->s[k].slot == a;
      if (skipped) continue;
      h = (h ^ *(const volatile uint64_t *)a) * 1099511628211ull;
    }
  }
  return h;
}

/* RELRO pages read-only; PLT slots of lazy libraries on writable pages.  Returns pages checked. */
static int hk_check_protections(int i, const struct hk_slots *ss, const char *when) {
  struct hk_mem m;
  hk_memory(hk_libs[i].path, &m);
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  int checked = 0;
  for (uintptr_t a = m.relro_lo; a < m.relro_hi; a += page, checked++) {
    int prot = hk_maps_prot(a);
    CHECK(prot >= 0 && !(prot & 2), "%s: [%s] RELRO page %#lx is %s", when, hk_libs[i].shape,
          (unsigned long)a, prot < 0 ? "unmapped" : "writable");
  }
  if (!hk_libs[i].bind_now) {
    for (int k = 0; k < ss->n; k++) {
      if (ss->s[k].kind != GOTHOOK_IMPORT_PLT) continue;
      int prot = hk_maps_prot((uintptr_t)ss->s[k].slot);
      CHECK(prot >= 0 && (prot & 2), "%s: [%s] lazy .got.plt slot %p is not writable", when,
            hk_libs[i].shape, (void *)ss->s[k].slot);
      checked++;
    }
  }
  return checked;
}

/* Reads a word; the slot lies in a library known to be loaded. */
__attribute__((unused)) static void *hk_peek(void **slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }
#endif
