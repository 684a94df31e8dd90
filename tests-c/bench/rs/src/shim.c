/* Benchmark helpers in C: a malloc interposer that counts allocations made by the calling
 * thread while counting is on, the hook functions every tool installs, and a stack high-water
 * probe that runs a function on a pre-filled alternate stack (makecontext/swapcontext). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int tl_counting;
static __thread unsigned long tl_count;

static inline void note(void) {
    if (tl_counting) tl_count++;
}

/* The interposer: the executable exports these, so every library's allocator slots bind here. */
void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t al, size_t n) { note(); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { note(); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    if (al < sizeof(void *) || (al & (al - 1)) != 0) return EINVAL;
    note();
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void shim_count_begin(void) { tl_count = 0; tl_counting = 1; }
unsigned long shim_count_end(void) { tl_counting = 0; return tl_count; }

/* Hook functions (every tool redirects slots to these): count the call, forward to glibc. */
unsigned long bench_hook_hits;
static inline void hit(void) { __atomic_fetch_add(&bench_hook_hits, 1, __ATOMIC_RELAXED); }
void *bench_hook_malloc(size_t n) { hit(); return __libc_malloc(n); }
void *bench_hook_calloc(size_t a, size_t b) { hit(); return __libc_calloc(a, b); }
void *bench_hook_realloc(void *p, size_t n) { hit(); return __libc_realloc(p, n); }
void bench_hook_free(void *p) { hit(); __libc_free(p); }
void *bench_hook_aligned_alloc(size_t al, size_t n) { hit(); return __libc_memalign(al, n); }
int bench_hook_posix_memalign(void **out, size_t al, size_t n) {
    hit();
    if (al < sizeof(void *) || (al & (al - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
/* The malloc hook of the "refresh in every malloc" line: a profiler that catches new libraries
 * from its allocator hook calls gothook_refresh on every call (the C API's prototype). */
extern uint32_t gothook_refresh(uint32_t flags, void *report);
void *bench_refresh_malloc(size_t n) {
    hit();
    gothook_refresh(0, NULL);
    return __libc_malloc(n);
}
void *bench_refresh_cached_malloc(size_t n) {
    hit();
    gothook_refresh(2 /* GOTHOOK_REFRESH_CACHED */, NULL);
    return __libc_malloc(n);
}
unsigned long shim_hits(void) { return __atomic_load_n(&bench_hook_hits, __ATOMIC_RELAXED); }

/* Stack high-water mark. */
#define PROBE_STACK (256 * 1024)
static unsigned char probe_stack[PROBE_STACK] __attribute__((aligned(64)));
static ucontext_t probe_main, probe_ctx;
static void (*probe_fn)(void *);
static void *probe_arg;

static void probe_tramp(void) { probe_fn(probe_arg); }

/* Runs fn(arg) on a fresh stack filled with a pattern; returns the bytes of it that were
 * written (from the top down to the deepest byte touched). */
size_t shim_stack_run(void (*fn)(void *), void *arg) {
    memset(probe_stack, 0xA5, sizeof probe_stack);
    probe_fn = fn;
    probe_arg = arg;
    if (getcontext(&probe_ctx) != 0) return 0;
    probe_ctx.uc_stack.ss_sp = probe_stack;
    probe_ctx.uc_stack.ss_size = sizeof probe_stack;
    probe_ctx.uc_link = &probe_main;
    makecontext(&probe_ctx, probe_tramp, 0);
    if (swapcontext(&probe_main, &probe_ctx) != 0) return 0;
    size_t i = 0;
    while (i < sizeof probe_stack && probe_stack[i] == 0xA5) i++;
    return sizeof probe_stack - i;
}

/* The floor: a plain read of every relocation entry (DT_JMPREL, DT_RELA, DT_REL) of one object,
 * summing r_info so the reads are not optimised away.  `dyn` is the biased PT_DYNAMIC address;
 * glibc has already rewritten its d_ptr entries to absolute addresses. */
#include <elf.h>
#include <link.h>
uint64_t shim_floor_read(const ElfW(Dyn) *dyn, size_t *entries) {
    uintptr_t jmprel = 0, rela = 0, rel = 0;
    size_t pltsz = 0, relasz = 0, relsz = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
        case DT_PLTRELSZ: pltsz = d->d_un.d_val; break;
        case DT_RELA: rela = d->d_un.d_ptr; break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        case DT_REL: rel = d->d_un.d_ptr; break;
        case DT_RELSZ: relsz = d->d_un.d_val; break;
        }
    }
    uint64_t sum = 0;
    size_t n = 0;
    const ElfW(Rela) *a = (const ElfW(Rela) *)jmprel;
    for (size_t i = 0; jmprel && i < pltsz / sizeof *a; i++, n++) sum += a[i].r_info;
    a = (const ElfW(Rela) *)rela;
    for (size_t i = 0; rela && i < relasz / sizeof *a; i++, n++) sum += a[i].r_info;
    const ElfW(Rel) *r = (const ElfW(Rel) *)rel;
    for (size_t i = 0; rel && i < relsz / sizeof *r; i++, n++) sum += r[i].r_info;
    *entries += n;
    return sum;
}
