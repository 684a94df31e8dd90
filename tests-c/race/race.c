/*
 * The race suite: gothook under a concurrent dlopen/dlclose storm, against a naive GOT hooker.
 *
 * A run forks (before any thread exists) one child per storm, so a crash is counted, not fatal:
 *  1. control (glibc only): the naive rule -- patch whatever dl_iterate_phdr lists, i.e. decode +
 *     plain stores with no readiness check -- must crash or lose hooks within the budget;
 *  2. gothook: the same storm with gothook_install/refresh/uninstall must not crash, must not
 *     lose a hook on a BIND_NOW library, must repair every hook lazy binding overwrote, must
 *     never judge an unrelocated library READY, and must never allocate.
 *
 * Storm threads: loaders (dlopen a distinct copy of a 20,000-relocation fixture -> call the six
 * allocators through PLT and data pointers at once -> wait for one refresh that started after
 * dlopen returned -> check the hook counted every call -> dlclose), one hooker (refresh loop,
 * install/uninstall cycles), one allocator thread whose malloc hook itself calls
 * gothook_refresh and installs/uninstalls a second, stacked set; SIGPROF at 1 kHz CPU time
 * calls the signal-safe API on a 16 KiB alternate stack.
 *
 * The readiness oracle is independent of gothook: the fixture files are parsed here (section
 * headers, .rela.dyn/.rela.plt, .dynsym) for the allocator import slots and the last relocation
 * of each table; a library is relocated when each of those slots differs from its link-time
 * value in the file (the loader relocates .rela.dyn then .rela.plt, in table order).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc_fixture.h"
#include "gothook.h"
#ifndef RACE_NO_GUARD
#include "gothook_test_guard.h"
#else
#define GUARDED(call) (call)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Fixture kinds                                                                               */
/* ------------------------------------------------------------------------------------------ */

enum { K_NOW, K_NOW_NORELRO, K_LAZY, K_LAZY_NORELRO, K_NOPLT, K_NOPLT_LAZY, K_CTOR, K_MISSING,
       NKINDS };
static const char *const kind_names[NKINDS] = {"now",   "now_norelro", "lazy", "lazy_norelro",
                                               "noplt", "noplt_lazy",  "ctor", "missing"};
#define K_CHILD K_NOW /* the ctor fixture's child is a copy of the "now" fixture */

#define MAX_LOADERS 8
#define MAX_COPIES 64
#define MAX_ORACLE 48

struct oracle {
  int n;
  uint64_t off[MAX_ORACLE];
  uint64_t fileval[MAX_ORACLE];
  int lazy;     /* not BIND_NOW and has allocator JUMP_SLOTs: lazy binding applies */
  int nalloc;   /* allocator import slots found */
};

static const char *fx_path[NKINDS];
static struct oracle oracles[NKINDS];
static char tmpdir[256];
static int nloaders = 4, ncopies = 2;
static double budget = 20, control_budget = -1;
static int want_control = 1;
static const char *label;
static int is_musl;

static void die(const char *what) {
  fprintf(stderr, "race: %s\n", what);
  exit(2);
}

/* ---- the oracle: an ELF parser over the fixture file (independent of gothook) ---- */

static int alloc_index(const char *name) {
  for (int i = 0; i < GF_NFUNCS; i++)
    if (strcmp(name, gothook_fixture_func_names[i]) == 0) return i;
  return -1;
}

static void oracle_add(struct oracle *o, const unsigned char *file, size_t size,
                       const ElfW(Phdr) *ph, int phnum, uint64_t off) {
  if (o->n >= MAX_ORACLE) die("oracle full");
  uint64_t val = 0;
  for (int i = 0; i < phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    if (off >= ph[i].p_vaddr && off + sizeof(uintptr_t) <= ph[i].p_vaddr + ph[i].p_filesz) {
      uint64_t fo = off - ph[i].p_vaddr + ph[i].p_offset;
      if (fo + sizeof(uintptr_t) <= size) {
        uintptr_t v;
        memcpy(&v, file + fo, sizeof v);
        val = v;
      }
    }
  }
  o->off[o->n] = off;
  o->fileval[o->n] = val;
  o->n++;
}

static void oracle_load(int kind) {
  struct oracle *o = &oracles[kind];
  int fd = open(fx_path[kind], O_RDONLY);
  if (fd < 0) die("cannot open a fixture");
  struct stat st;
  fstat(fd, &st);
  unsigned char *f = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (f == MAP_FAILED) die("mmap fixture");
  const ElfW(Ehdr) *eh = (const void *)f;
  const ElfW(Shdr) *sh = (const void *)(f + eh->e_shoff);
  const ElfW(Phdr) *ph = (const void *)(f + eh->e_phoff);
  int bind_now = 0, jump_slots = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_DYNAMIC) continue;
    for (const ElfW(Dyn) *d = (const void *)(f + ph[i].p_offset); d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_BIND_NOW) bind_now = 1;
      if (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) bind_now = 1;
      if (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)) bind_now = 1;
    }
  }
  for (int s = 0; s < eh->e_shnum; s++) {
    if (sh[s].sh_type != SHT_RELA && sh[s].sh_type != SHT_REL) continue;
    const ElfW(Shdr) *symsh = &sh[sh[s].sh_link];
    const ElfW(Sym) *syms = (const void *)(f + symsh->sh_offset);
    const char *strs = (const char *)(f + sh[symsh->sh_link].sh_offset);
    size_t ent = sh[s].sh_entsize, n = sh[s].sh_size / ent;
    uint64_t last = 0;
    int have_last = 0;
    for (size_t i = 0; i < n; i++) {
      const unsigned char *r = f + sh[s].sh_offset + i * ent;
      uint64_t off, info;
      if (sh[s].sh_type == SHT_RELA) {
        off = ((const ElfW(Rela) *)r)->r_offset;
        info = ((const ElfW(Rela) *)r)->r_info;
      } else {
        off = ((const ElfW(Rel) *)r)->r_offset;
        info = ((const ElfW(Rel) *)r)->r_info;
      }
#if __SIZEOF_POINTER__ == 8
      uint32_t sym = ELF64_R_SYM(info), type = ELF64_R_TYPE(info);
#else
      uint32_t sym = ELF32_R_SYM(info), type = ELF32_R_TYPE(info);
#endif
      if (sym == 0) continue;
      if (syms[sym].st_shndx != SHN_UNDEF) { /* weak undefined ones stay 0 when relocated */
        last = off;
        have_last = 1;
      }
      if (alloc_index(strs + syms[sym].st_name) >= 0) {
        oracle_add(o, f, st.st_size, ph, eh->e_phnum, off);
        o->nalloc++;
#ifdef R_X86_64_JUMP_SLOT
        if (type == R_X86_64_JUMP_SLOT) jump_slots++;
#else
        (void)type;
#endif
      }
    }
    if (have_last) oracle_add(o, f, st.st_size, ph, eh->e_phnum, last);
  }
  o->lazy = !bind_now && jump_slots > 0;
  munmap(f, st.st_size);
  if (o->nalloc < GF_NFUNCS) die("fixture without allocator imports");
}

/* Relocated: every tracked slot differs from its link-time value.  Allocation-free. */
static int oracle_relocated(int kind, uintptr_t bias) {
  const struct oracle *o = &oracles[kind];
  for (int i = 0; i < o->n; i++) {
    uintptr_t v = __atomic_load_n((uintptr_t *)(bias + o->off[i]), __ATOMIC_RELAXED);
    if (v == (uintptr_t)o->fileval[i]) return 0;
  }
  return 1;
}

/* Fixture kind from a library path ("...race-fx-k<kind>-..."), -1 for other libraries. */
static int kind_of(const char *name) {
  const char *p = name ? strstr(name, "race-fx-k") : NULL;
  if (!p) return -1;
  int k = p[9] - '0';
  if (k < 0 || k >= NKINDS) return -1;
  if (strstr(p, ".child")) return K_CHILD;
  return k;
}

/* ------------------------------------------------------------------------------------------ */
/* Shared results (MAP_SHARED, survive the child's crash)                                     */
/* ------------------------------------------------------------------------------------------ */

struct stats {
  _Atomic uint64_t loads, loads_kind[NKINDS], dlmopens, failed_dlopens, unexpected_dlopen;
  _Atomic uint64_t ns_untouched, ns_touched;
  _Atomic uint64_t patched, checks, inconclusive, stalled;
  _Atomic uint64_t lost_kind[NKINDS + 2], lost_func[GF_NFUNCS];
  _Atomic uint64_t lost_now, lost_lazy, repaired_lazy, unrepaired_lazy;
  _Atomic uint64_t ready_seen, ready_relocated, notready_seen, nonready_writes;
  _Atomic uint64_t naive_writes;
  _Atomic uint64_t reloc_sum_bad, child_missing;
  _Atomic uint64_t refreshes, installs, cycles, api_errors, gh_repaired, gh_conflicts;
  _Atomic uint64_t alloc_loops, reentrant_refresh, reentrant_install, reentrant_uninstall,
      reentrant_errors;
  _Atomic uint64_t sig_total, sig_ok, sig_changed, sig_busy, sig_bad;
  _Atomic uint64_t allocations_in_gothook, guard_calls;
  _Atomic int last_api_error;
  _Atomic int done; /* the child reached its end normally */
  double elapsed;
};
static struct stats *S;

/* ------------------------------------------------------------------------------------------ */
/* Hooks                                                                                       */
/* ------------------------------------------------------------------------------------------ */

enum { MODE_GOTHOOK, MODE_NAIVE };
static int mode;
static atomic_int stop;

static void *volatile orig[GF_NFUNCS];
static void *volatile probe_orig;
static __thread unsigned tls_calls[GF_NFUNCS];
static __thread int tls_reentrant; /* the allocator thread: its hooks call into gothook */
static __thread unsigned tls_hook_n;
static gothook_set main_set, probe_set;
static int probe_installed;

static void reenter(void);

static void *hook_malloc(size_t n) {
  tls_calls[GF_MALLOC]++;
  reenter();
  return ((void *(*)(size_t))orig[GF_MALLOC])(n);
}
static void *hook_calloc(size_t a, size_t b) {
  tls_calls[GF_CALLOC]++;
  return ((void *(*)(size_t, size_t))orig[GF_CALLOC])(a, b);
}
static void *hook_realloc(void *p, size_t n) {
  tls_calls[GF_REALLOC]++;
  return ((void *(*)(void *, size_t))orig[GF_REALLOC])(p, n);
}
static void hook_free(void *p) {
  tls_calls[GF_FREE]++;
  ((void (*)(void *))orig[GF_FREE])(p);
}
static int hook_posix_memalign(void **r, size_t a, size_t n) {
  tls_calls[GF_POSIX_MEMALIGN]++;
  return ((int (*)(void **, size_t, size_t))orig[GF_POSIX_MEMALIGN])(r, a, n);
}
static void *hook_aligned_alloc(size_t a, size_t n) {
  tls_calls[GF_ALIGNED_ALLOC]++;
  return ((void *(*)(size_t, size_t))orig[GF_ALIGNED_ALLOC])(a, n);
}
static void *const hook_fns[GF_NFUNCS] = {
    (void *)hook_malloc,         (void *)hook_calloc,        (void *)hook_realloc,
    (void *)hook_free,           (void *)hook_posix_memalign, (void *)hook_aligned_alloc};

/* The stacked probe set's calloc: passes through to what is below it. */
static void *probe_calloc(size_t a, size_t b) {
  return ((void *(*)(size_t, size_t))probe_orig)(a, b);
}

/* ---- gothook's filter: race fixtures only; records readiness at every decision ---- */

static int race_accept(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  int k = kind_of(lib->name);
  if (k < 0) return 0;
  if (lib->readiness == GOTHOOK_READY) {
    atomic_fetch_add_explicit(&S->ready_seen, 1, memory_order_relaxed);
    if (oracle_relocated(k, lib->bias))
      atomic_fetch_add_explicit(&S->ready_relocated, 1, memory_order_relaxed);
    else
      atomic_fetch_add(&S->nonready_writes, 1);
  } else {
    atomic_fetch_add_explicit(&S->notready_seen, 1, memory_order_relaxed);
  }
  return 1;
}

static const gothook_filter race_filter = {0, 0, NULL, NULL, NULL, race_accept, NULL};

static void api_error(gothook_status st) {
  atomic_fetch_add(&S->api_errors, 1);
  S->last_api_error = (int)st;
}

static gothook_status install_main(void) {
  gothook_hook hooks[GF_NFUNCS];
  for (int i = 0; i < GF_NFUNCS; i++) {
    hooks[i].symbol = gothook_fixture_func_names[i];
    hooks[i].replacement = hook_fns[i];
    hooks[i].original = (void **)&orig[i];
    hooks[i].flags = 0;
  }
  gothook_report rep;
  memset(&rep, 0, sizeof rep);
  return GUARDED(gothook_install(hooks, GF_NFUNCS, &race_filter, &main_set, &rep));
}

/* Reentrancy: the allocator thread's malloc hook refreshes and (un)installs a stacked set. */
static void reenter(void) {
  if (!tls_reentrant || mode != MODE_GOTHOOK) return;
  unsigned n = ++tls_hook_n;
  if (n % 32 == 0) {
    gothook_status st = GUARDED(gothook_refresh(0, NULL));
    if (st == GOTHOOK_OK || st == GOTHOOK_EFULL)
      atomic_fetch_add(&S->reentrant_refresh, 1);
    else {
      atomic_fetch_add(&S->reentrant_errors, 1);
      S->last_api_error = (int)st;
    }
  }
  if (n % 1024 == 0) {
    gothook_status st;
    if (!probe_installed) {
      gothook_hook h = {"calloc", (void *)probe_calloc, (void **)&probe_orig};
      st = GUARDED(gothook_install(&h, 1, &race_filter, &probe_set, NULL));
      if (st == GOTHOOK_OK) {
        probe_installed = 1;
        atomic_fetch_add(&S->reentrant_install, 1);
      }
    } else {
      st = GUARDED(gothook_uninstall(probe_set, NULL));
      if (st == GOTHOOK_OK) {
        probe_installed = 0;
        atomic_fetch_add(&S->reentrant_uninstall, 1);
      }
    }
    if (st != GOTHOOK_OK) {
      atomic_fetch_add(&S->reentrant_errors, 1);
      S->last_api_error = (int)st;
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Refresh protocol between the hooker and the loaders                                        */
/* ------------------------------------------------------------------------------------------ */

static atomic_ullong refresh_begun, refresh_done;
static atomic_uint install_seq;                 /* odd while the main set is (being) removed */
static pthread_rwlock_t cycle_lock = PTHREAD_RWLOCK_INITIALIZER; /* dlmopen checks vs cycles */

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* Waits until a patch pass that began after this call completed.  0 on stop/stall. */
static int wait_pass(void) {
  unsigned long long b = atomic_load(&refresh_begun);
  for (long i = 0; !atomic_load(&stop); i++) {
    if (atomic_load(&refresh_done) > b) return 1;
    if (i > 100000) { /* > ~5-10 s: the hooker is stuck (musl: behind a dlopen) */
      atomic_fetch_add(&S->stalled, 1);
      return 0;
    }
    if (i < 50)
      sched_yield();
    else
      sleep_us(50);
  }
  return 0;
}

/* ---- the naive hooker: patch whatever dl_iterate_phdr lists, once, with plain stores ---- */

struct naive_rec {
  uintptr_t bias;
  const char *name;
  unsigned seen;
};
static struct naive_rec naive_tab[1024];
static unsigned naive_epoch;
static long page_size;

struct naive_ctx {
  uintptr_t relro_lo, relro_hi;
};

static int naive_import(const gothook_import *imp, void *vctx) {
  struct naive_ctx *c = vctx;
  int i = alloc_index(imp->name);
  if (i < 0) return 0;
  uintptr_t slot = (uintptr_t)imp->slot, page = slot & ~(uintptr_t)(page_size - 1);
  int relro = page >= c->relro_lo && page < c->relro_hi;
  if (relro) mprotect((void *)page, page_size, PROT_READ | PROT_WRITE);
  *(void *volatile *)imp->slot = hook_fns[i];
  if (relro) mprotect((void *)page, page_size, PROT_READ); /* as it "should" be */
  atomic_fetch_add_explicit(&S->naive_writes, 1, memory_order_relaxed);
  return 0;
}

static int naive_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  (void)arg;
  int k = kind_of(info->dlpi_name);
  if (k < 0) return 0;
  int free_i = -1;
  for (int i = 0; i < 1024; i++) {
    if (naive_tab[i].name == NULL) {
      if (free_i < 0) free_i = i;
      continue;
    }
    if (naive_tab[i].bias == info->dlpi_addr && naive_tab[i].name == info->dlpi_name) {
      naive_tab[i].seen = naive_epoch;
      return 0; /* already patched (as the naive hooker believes) */
    }
  }
  if (free_i < 0) return 0;
  naive_tab[free_i] = (struct naive_rec){info->dlpi_addr, info->dlpi_name, naive_epoch};
  struct naive_ctx c = {0, 0};
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
      uintptr_t lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      c.relro_lo = lo & ~(uintptr_t)(page_size - 1);
      c.relro_hi = (lo + info->dlpi_phdr[i].p_memsz) & ~(uintptr_t)(page_size - 1);
    }
  if (!oracle_relocated(k, info->dlpi_addr))
    atomic_fetch_add(&S->nonready_writes, 1);
  else
    atomic_fetch_add(&S->ready_relocated, 1);
  gothook_dynamic d;
  if (gothook_dynamic_decode(info->dlpi_addr, info->dlpi_phdr, info->dlpi_phnum, 0, &d) !=
      GOTHOOK_OK)
    return 0;
  gothook_dynamic_imports(&d, naive_import, &c);
  return 0;
}

static void naive_pass(void) {
  naive_epoch++;
  dl_iterate_phdr(naive_cb, NULL);
  for (int i = 0; i < 1024; i++) /* forget libraries no longer listed */
    if (naive_tab[i].name && naive_tab[i].seen != naive_epoch) naive_tab[i].name = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A 16 KiB alternate signal stack per thread (mmap'd: ASan unmaps it at thread exit). */
static void use_altstack(void) {
  void *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap altstack");
  stack_t ss = {.ss_sp = p, .ss_size = 16384, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) die("sigaltstack");
}

static void *hooker_main(void *arg) {
  (void)arg;
  use_altstack();
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long n = 0;
  while (!atomic_load(&stop)) {
    n++;
    unsigned long long b = atomic_fetch_add(&refresh_begun, 1) + 1;
    if (mode == MODE_NAIVE) {
      naive_pass();
    } else if (n % 50 == 0) {
      /* An uninstall/install cycle (install counts as a patch pass). */
      pthread_rwlock_wrlock(&cycle_lock);
      atomic_fetch_add(&install_seq, 1);
      gothook_report rep;
      memset(&rep, 0, sizeof rep);
      gothook_status st = GUARDED(gothook_uninstall(main_set, &rep));
      if (st != GOTHOOK_OK) api_error(st);
      st = install_main();
      if (st != GOTHOOK_OK) api_error(st);
      atomic_fetch_add(&install_seq, 1);
      pthread_rwlock_unlock(&cycle_lock);
      atomic_fetch_add(&S->cycles, 1);
    } else {
      gothook_report rep;
      memset(&rep, 0, sizeof rep);
      gothook_status st = GUARDED(gothook_refresh(0, &rep));
      if (st != GOTHOOK_OK && st != GOTHOOK_EFULL) api_error(st);
      atomic_fetch_add(&S->refreshes, 1);
      atomic_fetch_add(&S->gh_repaired, rep.slots_repaired);
      atomic_fetch_add(&S->gh_conflicts, rep.slots_conflict);
    }
    atomic_store(&refresh_done, b);
    sleep_us(200); /* design rule 4: leave the loader lock to the loaders */
  }
  return NULL;
}

/* The never-unloaded helper library: the allocator thread calls through it, SIGPROF swaps one
 * of its slots. */
static gothook_fixture_run_fn helper_run;
static gothook_dynamic helper_dyn;
static void **helper_slot;

static void *allocator_main(void *arg) {
  (void)arg;
  use_altstack();
  tls_reentrant = 1;
  while (!atomic_load(&stop)) {
    struct gothook_fixture_calls c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 16; i++) helper_run(&c);
    void *p = malloc(64 + (rand() & 255)); /* the executable's own allocations, too */
    free(p);
    atomic_fetch_add_explicit(&S->alloc_loops, 1, memory_order_relaxed);
  }
  return NULL;
}

static __thread unsigned ns_last_hooked; /* hooked calls seen by the last counted_run */
static __thread int ns_collect;           /* counting a dlmopen'd library: no loss accounting */
/* Counts calls through `run`; returns 1 when every call reached the hook. */
static int counted_run(gothook_fixture_run_fn run, int *ok) {
  unsigned before[GF_NFUNCS];
  memcpy(before, tls_calls, sizeof before);
  struct gothook_fixture_calls c;
  memset(&c, 0, sizeof c);
  unsigned r = run(&c);
  if (r == ~0u) {
    *ok = 0;
    return -1;
  }
  int all = 1;
  ns_last_hooked = 0;
  for (int f = 0; f < GF_NFUNCS; f++) {
    unsigned want = 0;
    for (int p = 0; p < GF_NPATHS; p++) want += c.calls[p][f];
    ns_last_hooked += tls_calls[f] - before[f];
    if (ns_collect) continue;
    if (tls_calls[f] - before[f] != want) {
      all = 0;
      atomic_fetch_add(&S->lost_func[f], 1);
    }
  }
  *ok = 1;
  return all;
}

/* Checks with the main set stably installed; -1 when the set was cycling throughout. */
static int check_hooked(gothook_fixture_run_fn run, int hold_cycle) {
  for (int attempt = 0; attempt < 8 && !atomic_load(&stop); attempt++) {
    if (hold_cycle) pthread_rwlock_rdlock(&cycle_lock);
    unsigned s1 = atomic_load(&install_seq);
    int ok, r = -1;
    if (!(s1 & 1)) r = counted_run(run, &ok);
    unsigned s2 = atomic_load(&install_seq);
    if (hold_cycle) pthread_rwlock_unlock(&cycle_lock);
    if (r < 0 && !(s1 & 1)) return -2; /* run failed */
    if (s1 == s2 && !(s1 & 1)) return r;
    if (!wait_pass()) break;
  }
  return -1;
}

struct loader_arg {
  int id;
  char path[NKINDS][MAX_COPIES][320];
  char ns_path[MAX_COPIES][320];
};

/* One library's verdict after dlopen; `lazy` decides whether a loss may be repaired. */
static void verdict(gothook_fixture_run_fn run, int kind, int lazy, int hold_cycle, int *patched) {
  if (!wait_pass()) return;
  atomic_fetch_add(&S->checks, 1);
  int r = check_hooked(run, hold_cycle);
  if (r == -1) {
    atomic_fetch_add(&S->inconclusive, 1);
    return;
  }
  if (r == -2) {
    atomic_fetch_add(&S->child_missing, 1);
    return;
  }
  if (r == 1) return;
  *patched = 0;
  atomic_fetch_add(&S->lost_kind[kind], 1);
  if (!lazy) {
    atomic_fetch_add(&S->lost_now, 1);
    return;
  }
  atomic_fetch_add(&S->lost_lazy, 1);
  /* The promise (README, "When refresh sees a new library"): a hook lost to lazy binding at
   * time t is repaired by the first refresh that starts at or after t + the probe interval.
   * The loss happened before now, so wait out the interval, then exactly one refresh. Fewer
   * passes than that prove nothing: with no load in between, no refresh is due to walk. */
  struct timespec t_seen, t_now;
  clock_gettime(CLOCK_MONOTONIC, &t_seen);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t_now);
    long long ns = (t_now.tv_sec - t_seen.tv_sec) * 1000000000LL + (t_now.tv_nsec - t_seen.tv_nsec);
    if (ns >= (long long)GOTHOOK_PROBE_INTERVAL_NS || atomic_load(&stop)) break;
    sleep_us(500);
  }
  if (!wait_pass()) return;
  r = check_hooked(run, hold_cycle);
  if (r == 1)
    atomic_fetch_add(&S->repaired_lazy, 1);
  else if (r == 0)
    atomic_fetch_add(&S->unrepaired_lazy, 1);
}

static void *loader_main(void *varg) {
  struct loader_arg *a = varg;
  use_altstack();
  unsigned seed = 1234567u * (a->id + 1);
  unsigned long iter = 0;
  while (!atomic_load(&stop)) {
    iter++;
    int kind = rand_r(&seed) % NKINDS;
    int copy = rand_r(&seed) % ncopies;
    int ns = 0;
#ifdef __GLIBC__
    ns = a->id == 0 && iter % 24 == 0 && !is_musl;
#endif
    void *h;
    if (ns) {
#ifdef __GLIBC__
      kind = K_NOW;
      h = dlmopen(LM_ID_NEWLM, a->ns_path[copy], RTLD_NOW | RTLD_LOCAL);
#else
      h = NULL;
#endif
      if (!h) {
        atomic_fetch_add(&S->unexpected_dlopen, 1);
        continue;
      }
      atomic_fetch_add(&S->dlmopens, 1);
    } else {
      h = dlopen(a->path[kind][copy], RTLD_LAZY | RTLD_LOCAL);
      if (kind == K_MISSING) {
        if (h) {
          atomic_fetch_add(&S->unexpected_dlopen, 1);
          dlclose(h);
        } else {
          atomic_fetch_add(&S->failed_dlopens, 1);
        }
        continue;
      }
      if (!h) {
        fprintf(stderr, "race: dlopen %s: %s\n", a->path[kind][copy], dlerror());
        atomic_fetch_add(&S->unexpected_dlopen, 1);
        continue;
      }
    }
    atomic_fetch_add(&S->loads, 1);
    atomic_fetch_add(&S->loads_kind[kind], 1);
    gothook_fixture_run_fn run = (gothook_fixture_run_fn)dlsym(h, "gothook_fixture_run");
    gothook_fixture_run_fn child = kind == K_CTOR ? (gothook_fixture_run_fn)dlsym(h, "race_child_run") : NULL;
    long (*sum)(void) = (long (*)(void))dlsym(h, "gothook_fixture_reloc_sum");
    unsigned long (*cnt)(void) = (unsigned long (*)(void))dlsym(h, "gothook_fixture_reloc_count");
    if (!run || (kind == K_CTOR && !child) || !sum || !cnt) {
      atomic_fetch_add(&S->unexpected_dlopen, 1);
      dlclose(h);
      continue;
    }
    /* Relocation sanity: the table's sum is n(n-1)/2 only if every relocation landed. */
    unsigned long n = cnt();
    if (sum() != (long)(n * (n - 1) / 2)) atomic_fetch_add(&S->reloc_sum_bad, 1);
    /* Calls at once, while the hooker may be patching (lazy binding races the patch). */
    if (!ns) {
      struct gothook_fixture_calls c;
      memset(&c, 0, sizeof c);
      run(&c);
      if (child) child(&c);
    }
    int patched = 1;
    if (ns) {
      /* glibc's dl_iterate_phdr lists only the caller's namespace, so neither gothook nor a
       * naive hooker sees this library: it must stay untouched (no hook counted). */
      if (wait_pass() && wait_pass()) {
        ns_collect = 1;
        int ok, r = counted_run(run, &ok);
        ns_collect = 0;
        (void)r;
        (void)ok;
        int none = ns_last_hooked == 0; /* every call went to the namespace's own libc */
        atomic_fetch_add(none ? &S->ns_untouched : &S->ns_touched, 1);
      }
      dlclose(h);
      continue;
    }
    verdict(run, kind, oracles[kind].lazy, 0, &patched);
    if (child) verdict(child, NKINDS + 1, oracles[K_CHILD].lazy, 0, &patched);
    if (patched) atomic_fetch_add(&S->patched, 1);
    dlclose(h);
  }
  return NULL;
}

/* ---- SIGPROF: the signal-safe API on a captured slot of the never-unloaded helper ---- */

static void on_prof(int sig) {
  (void)sig;
  int saved = errno;
  atomic_fetch_add_explicit(&S->sig_total, 1, memory_order_relaxed);
  void *v = __atomic_load_n(helper_slot, __ATOMIC_ACQUIRE);
  gothook_status st = gothook_slot_swap(&helper_dyn, helper_slot, v, v);
  if (st == GOTHOOK_OK)
    atomic_fetch_add_explicit(&S->sig_ok, 1, memory_order_relaxed);
  else if (st == GOTHOOK_ECHANGED)
    atomic_fetch_add_explicit(&S->sig_changed, 1, memory_order_relaxed);
  else if (st == GOTHOOK_EBUSY)
    atomic_fetch_add_explicit(&S->sig_busy, 1, memory_order_relaxed);
  else
    atomic_fetch_add(&S->sig_bad, 1);
  const char *s = gothook_status_str(st);
  if (!s || !*s) atomic_fetch_add(&S->sig_bad, 1);
  void *addr = NULL;
  if (gothook_dynamic_lookup(&helper_dyn, "gothook_fixture_run", &addr) != GOTHOOK_OK ||
      addr != (void *)helper_run)
    atomic_fetch_add(&S->sig_bad, 1);
  errno = saved;
}

static int find_helper(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (!strstr(lib->name, "race-fx-k0-helper.so")) return 0;
  if (gothook_lib_decode(lib, &helper_dyn) == GOTHOOK_OK) helper_slot = (void **)1;
  return 1;
}

static int find_helper_slot(const gothook_import *imp, void *ctx) {
  (void)ctx;
  if (imp->kind == GOTHOOK_IMPORT_PLT && strcmp(imp->name, "malloc") == 0) {
    helper_slot = imp->slot;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The child: one storm                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void storm(int m, double seconds) {
  mode = m;
  page_size = sysconf(_SC_PAGESIZE);
#ifndef RACE_NO_GUARD
  gothook_guard_set_mode(GOTHOOK_GUARD_COUNT);
  gothook_guard_reset();
#endif
  char hp[320];
  snprintf(hp, sizeof hp, "%s/race-fx-k0-helper.so", tmpdir);
  void *helper = dlopen(hp, RTLD_NOW | RTLD_NODELETE);
  if (!helper) die(dlerror());
  helper_run = (gothook_fixture_run_fn)dlsym(helper, "gothook_fixture_run");
  helper_slot = NULL;
  if (gothook_libs_each(find_helper, NULL, 0) != GOTHOOK_OK || !helper_slot)
    die("helper not READY");
  helper_slot = NULL;
  gothook_dynamic_imports(&helper_dyn, find_helper_slot, NULL);
  if (!helper_slot) die("helper has no malloc PLT slot");

  if (m == MODE_NAIVE) {
    for (int i = 0; i < GF_NFUNCS; i++) orig[i] = dlsym(RTLD_DEFAULT, gothook_fixture_func_names[i]);
  } else {
    gothook_status st = install_main();
    if (st != GOTHOOK_OK) {
      fprintf(stderr, "race: install: %s\n", gothook_status_str(st));
      exit(2);
    }
    atomic_fetch_add(&S->installs, 1);
  }

  static struct loader_arg args[MAX_LOADERS];
  for (int t = 0; t < nloaders; t++) {
    args[t].id = t;
    for (int k = 0; k < NKINDS; k++)
      for (int c = 0; c < ncopies; c++)
        snprintf(args[t].path[k][c], sizeof args[t].path[k][c], "%s/race-fx-k%d-t%d-c%d.so",
                 tmpdir, k, t, c);
    for (int c = 0; c < ncopies; c++)
      snprintf(args[t].ns_path[c], sizeof args[t].ns_path[c], "%s/race-fx-k0-t%d-ns%d.so", tmpdir,
               t, c);
  }

  use_altstack();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prof;
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, NULL);

  pthread_t th[MAX_LOADERS + 2];
  pthread_create(&th[0], NULL, hooker_main, NULL);
  pthread_create(&th[1], NULL, allocator_main, NULL);
  for (int t = 0; t < nloaders; t++) pthread_create(&th[2 + t], NULL, loader_main, &args[t]);

  /* SIGPROF at 2 kHz of wall-clock time, process-directed: the kernel picks a running thread
   * (the main thread blocks it).  ITIMER_PROF would tick only with CPU time. */
  sigset_t prof;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, NULL);
  timer_t timer;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGPROF;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) die("timer_create");
  struct itimerspec its = {{0, 500000}, {0, 500000}};
  timer_settime(timer, 0, &its, NULL);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    sleep_us(50000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
  } while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
  atomic_store(&stop, 1);
  for (int t = 0; t < nloaders + 2; t++) pthread_join(th[t], NULL);
  timer_delete(timer);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  S->elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

  if (m == MODE_GOTHOOK) {
    if (probe_installed && gothook_uninstall(probe_set, NULL) != GOTHOOK_OK) api_error(99);
    gothook_report rep;
    memset(&rep, 0, sizeof rep);
    gothook_status st = GUARDED(gothook_uninstall(main_set, &rep));
    if (st != GOTHOOK_OK) api_error(st);
  }
#ifndef RACE_NO_GUARD
  S->allocations_in_gothook = gothook_guard_violations();
  S->guard_calls = gothook_guard_calls();
#endif
  S->done = 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The parent                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (in < 0 || out < 0) die("copy: open");
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, n) != n) die("copy: write");
  close(in);
  close(out);
}

static void make_copies(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/gothook-race-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir)) die("mkdtemp");
  char p[512];
  for (int t = 0; t < nloaders; t++) {
    for (int k = 0; k < NKINDS; k++)
      for (int c = 0; c < ncopies; c++) {
        snprintf(p, sizeof p, "%s/race-fx-k%d-t%d-c%d.so", tmpdir, k, t, c);
        copy_file(fx_path[k], p);
        if (k == K_CTOR) {
          strcat(p, ".child.so");
          copy_file(fx_path[K_CHILD], p);
        }
      }
    for (int c = 0; c < ncopies; c++) {
      snprintf(p, sizeof p, "%s/race-fx-k0-t%d-ns%d.so", tmpdir, t, c);
      copy_file(fx_path[K_NOW], p);
    }
  }
  snprintf(p, sizeof p, "%s/race-fx-k0-helper.so", tmpdir);
  copy_file(fx_path[K_NOW], p);
}

static void remove_copies(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "race: could not remove %s\n", tmpdir);
}

struct outcome {
  int crashed, hung, sig, exit_code;
  struct stats st;
};

static void run_child(int m, double seconds, struct outcome *out) {
  struct stats *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) die("mmap");
  memset(sh, 0, sizeof *sh);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    S = sh;
    storm(m, seconds);
    fflush(NULL);
    _exit(0);
  }
  memset(out, 0, sizeof *out);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((t1.tv_sec - t0.tv_sec) > seconds + 60) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      out->hung = 1;
      break;
    }
    sleep_us(20000);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!out->hung && WIFSIGNALED(status)) {
    out->crashed = 1;
    out->sig = WTERMSIG(status);
  } else if (!out->hung) {
    out->exit_code = WEXITSTATUS(status);
  }
  memcpy(&out->st, sh, sizeof *sh);
  if (!sh->done) out->st.elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  munmap(sh, sizeof *sh);
}

#define G(x) ((unsigned long long)atomic_load(&(x)))

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--fx") && i + 1 < argc) {
      char *eq = strchr(argv[++i], '=');
      if (!eq) die("--fx KIND=PATH");
      *eq = 0;
      int k = -1;
      for (int j = 0; j < NKINDS; j++)
        if (!strcmp(argv[i], kind_names[j])) k = j;
      if (k < 0) die("unknown fixture kind");
      fx_path[k] = eq + 1;
    } else if ((!strcmp(argv[i], "--seconds") || !strcmp(argv[i], "--soak")) && i + 1 < argc) {
      budget = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--control-seconds") && i + 1 < argc) {
      control_budget = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--no-control")) {
      want_control = 0;
    } else if (!strcmp(argv[i], "--loaders") && i + 1 < argc) {
      nloaders = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--copies") && i + 1 < argc) {
      ncopies = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
      label = argv[++i];
    } else {
      fprintf(stderr,
              "usage: %s --fx KIND=PATH... [--seconds S | --soak S] [--control-seconds S] "
              "[--no-control] [--loaders N] [--copies N] [--label NAME]\n",
              argv[0]);
      return 2;
    }
  }
  if (nloaders < 1 || nloaders > MAX_LOADERS || ncopies < 1 || ncopies > MAX_COPIES) die("bad counts");
  for (int k = 0; k < NKINDS; k++) {
    if (!fx_path[k]) {
      fprintf(stderr, "race: missing --fx %s=PATH\n", kind_names[k]);
      return 2;
    }
    oracle_load(k);
  }
  if (control_budget < 0) control_budget = budget;
#ifdef __GLIBC__
  is_musl = 0;
#else
  is_musl = 1;
#endif
  if (!label) label = is_musl ? "musl" : "glibc";
  setvbuf(stdout, NULL, _IOLBF, 0);
#ifndef RACE_NO_GUARD
  if (!gothook_guard_selfcheck()) {
    fprintf(stderr, "race: the allocation guard is not interposing malloc\n");
    return 1;
  }
#endif
  /* The storm's refreshes read the loader's counters lock-free on glibc, under its lock on musl. */
  int lock_free = GUARDED(gothook_counters_lock_free());
  printf("race[%s]: loader counters read %s\n", label, lock_free ? "lock-free" : "under the loader's lock");
  if (lock_free != !is_musl) {
    fprintf(stderr, "race: FAIL: lock-free counter read %d on %s\n", lock_free, is_musl ? "musl" : "glibc");
    return 1;
  }
  for (int k = 0; k < NKINDS; k++)
    printf("race[%s]: fixture %-12s %s, %d oracle slots (%d allocator imports)\n", label,
           kind_names[k], oracles[k].lazy ? "lazy" : "bind-now", oracles[k].n, oracles[k].nalloc);
  if (oracles[K_LAZY].lazy == 0 || oracles[K_NOW].lazy != 0) {
    fprintf(stderr, "race: the lazy/now fixtures do not have the expected binding\n");
    return 1;
  }
  make_copies();

  int fail = 0;
  struct outcome ctl, gh;
  int control_ran = 0;
  char ctl_text[512] = "";
  if (!want_control) {
    snprintf(ctl_text, sizeof ctl_text, "control: not run (--no-control)");
  } else if (is_musl) {
    snprintf(ctl_text, sizeof ctl_text,
             "control: skipped on musl (it lists a library only after relocating it and its "
             "dl_iterate_phdr blocks behind a running dlopen, so the naive rule cannot fail here)");
  } else {
    run_child(MODE_NAIVE, control_budget, &ctl);
    control_ran = 1;
    unsigned long long lost = G(ctl.st.lost_now) + G(ctl.st.unrepaired_lazy) + G(ctl.st.lost_lazy);
    unsigned long long crashes = ctl.crashed + ctl.hung;
    snprintf(ctl_text, sizeof ctl_text,
             "control (naive rule): %.1f s, crashes %llu%s%s, lost %llu (bind-now %llu, lazy %llu), "
             "non-ready writes %llu of %llu libraries patched, loads %llu",
             ctl.st.elapsed, crashes, ctl.crashed ? " by " : "", ctl.crashed ? strsignal(ctl.sig) : (ctl.hung ? " (hung)" : ""),
             lost, G(ctl.st.lost_now), G(ctl.st.lost_lazy), G(ctl.st.nonready_writes),
             G(ctl.st.nonready_writes) + G(ctl.st.ready_relocated), G(ctl.st.loads));
    if (crashes + lost == 0) {
      fprintf(stderr, "race: FAIL: the naive control neither crashed nor lost a hook: the storm is too weak\n");
      fail = 1;
    }
  }

  run_child(MODE_GOTHOOK, budget, &gh);
  struct stats *s = &gh.st;
  unsigned long long crashes = gh.crashed + gh.hung;
  printf("race[%s] gothook: %.1f s, loads %llu (now %llu, now_norelro %llu, lazy %llu, lazy_norelro %llu, "
         "noplt %llu, noplt_lazy %llu, ctor+child %llu, dlmopen %llu (untouched %llu)), failed dlopens %llu, "
         "patched %llu, readiness at patch time: READY %llu (relocated %llu) / not ready %llu, "
         "crashes %llu, lost %llu (bind-now), lazy lost %llu repaired %llu unrepaired %llu, "
         "non-ready writes %llu, allocations %llu\n",
         label, s->elapsed, G(s->loads), G(s->loads_kind[K_NOW]), G(s->loads_kind[K_NOW_NORELRO]),
         G(s->loads_kind[K_LAZY]), G(s->loads_kind[K_LAZY_NORELRO]), G(s->loads_kind[K_NOPLT]),
         G(s->loads_kind[K_NOPLT_LAZY]), G(s->loads_kind[K_CTOR]), G(s->dlmopens), G(s->ns_untouched), G(s->failed_dlopens),
         G(s->patched), G(s->ready_seen), G(s->ready_relocated), G(s->notready_seen), crashes,
         G(s->lost_now), G(s->lost_lazy), G(s->repaired_lazy), G(s->unrepaired_lazy),
         G(s->nonready_writes), G(s->allocations_in_gothook));
  printf("race[%s] gothook details: checks %llu, inconclusive %llu, stalled %llu, refreshes %llu "
         "(slots repaired %llu, conflicts %llu), install cycles %llu, api errors %llu, "
         "reentrant from malloc hook: refresh %llu install %llu uninstall %llu errors %llu, "
         "SIGPROF %llu (%.0f/s; ok %llu changed %llu busy %llu bad %llu), allocator loops %llu, "
         "guard saw %llu allocator calls\n",
         label, G(s->checks), G(s->inconclusive), G(s->stalled), G(s->refreshes), G(s->gh_repaired),
         G(s->gh_conflicts), G(s->cycles), G(s->api_errors), G(s->reentrant_refresh),
         G(s->reentrant_install), G(s->reentrant_uninstall), G(s->reentrant_errors), G(s->sig_total),
         s->elapsed > 0 ? G(s->sig_total) / s->elapsed : 0.0, G(s->sig_ok), G(s->sig_changed),
         G(s->sig_busy), G(s->sig_bad), G(s->alloc_loops), G(s->guard_calls));
  if (G(s->lost_now) + G(s->lost_lazy)) {
    printf("race[%s] losses by kind:", label);
    for (int k = 0; k < NKINDS + 2; k++)
      printf(" %s %llu", k < NKINDS ? kind_names[k] : k == NKINDS ? "dlmopen" : "ctor-child",
             G(s->lost_kind[k]));
    printf("; by function:");
    for (int f = 0; f < GF_NFUNCS; f++)
      printf(" %s %llu", gothook_fixture_func_names[f], G(s->lost_func[f]));
    printf("\n");
  }
  printf("race[%s] %s\n", label, ctl_text);
  printf("race[%s] summary: loads %llu, patched %llu, crashes %llu, lost %llu, repaired %llu, "
         "non-ready writes %llu, allocations %llu | control: crashes %llu, lost %llu\n",
         label, G(s->loads), G(s->patched), crashes, G(s->lost_now) + G(s->unrepaired_lazy),
         G(s->repaired_lazy), G(s->nonready_writes), G(s->allocations_in_gothook),
         control_ran ? (unsigned long long)(ctl.crashed + ctl.hung) : 0ULL,
         control_ran ? G(ctl.st.lost_now) + G(ctl.st.lost_lazy) : 0ULL);

#define CHECK(cond, msg)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "race[%s]: FAIL: %s\n", label, msg); \
      fail = 1;                                            \
    }                                                      \
  } while (0)
  CHECK(!gh.crashed, "the gothook storm crashed");
  CHECK(!gh.hung, "the gothook storm hung");
  CHECK(gh.exit_code == 0 && s->done, "the gothook storm did not finish");
  CHECK(G(s->lost_now) == 0, "hooks lost on BIND_NOW libraries");
  CHECK(G(s->unrepaired_lazy) == 0, "hooks lost on lazy libraries and not repaired");
  CHECK(G(s->nonready_writes) == 0, "gothook judged an unrelocated library READY");
  CHECK(G(s->allocations_in_gothook) == 0, "allocations inside gothook calls");
  CHECK(G(s->ns_touched) == 0, "a library in a dlmopen namespace was hooked");
  CHECK(G(s->reloc_sum_bad) == 0, "a fixture's relocated table is wrong");
  CHECK(G(s->child_missing) == 0, "a ctor fixture could not open its child");
  CHECK(G(s->unexpected_dlopen) == 0, "a dlopen failed or succeeded unexpectedly");
  CHECK(G(s->api_errors) == 0 && G(s->reentrant_errors) == 0, "a gothook call failed");
  CHECK(G(s->sig_bad) == 0, "the signal-safe API misbehaved in SIGPROF");
  CHECK(G(s->loads) > 0 && G(s->patched) > 0, "nothing was loaded or patched");
  CHECK(G(s->failed_dlopens) > 0, "the failing dlopen never ran");
  CHECK(G(s->sig_total) > 0, "SIGPROF never fired");
  CHECK(G(s->reentrant_refresh) > 0 && G(s->reentrant_install) > 0, "no refresh/install from a malloc hook");
  CHECK(G(s->ready_relocated) > 0, "the filter never saw a READY fixture");
#ifndef RACE_NO_GUARD
  CHECK(G(s->guard_calls) > 0, "the guard saw no allocations");
#endif
  CHECK(G(s->checks) > G(s->inconclusive), "every check was inconclusive");
  remove_copies();
  return fail;
}
