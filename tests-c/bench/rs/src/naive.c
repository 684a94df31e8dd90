/* The naive patcher the benchmark compares gothook with: what a profiler does today without
 * gothook.  One dl_iterate_phdr walk; per library, decode PT_DYNAMIC by hand, then for every
 * JMPREL and RELA entry of an import type strcmp the symbol's name against each of the six
 * wanted names (`plain`), or only against those whose first byte matches (the cheap pre-check
 * a profiler can do with a switch on the first character);
 * on a match make the slot's page writable (once per page and library), write the hook, and put
 * RELRO pages back to read-only when the library is done.  It remembers each slot's previous
 * value so that naive_restore() can put everything back.  No readiness check, no
 * compare-and-swap, no originals resolution: it is the cost floor of "strcmp every import",
 * not a correct hooking library.  Skips what gothook's default filter skips: the vDSO, the
 * dynamic loader and libgothook itself. */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NAIVE_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define NAIVE_R_GLOB_DAT R_X86_64_GLOB_DAT
#define NAIVE_R_ABS R_X86_64_64
#elif defined(__aarch64__)
#define NAIVE_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define NAIVE_R_GLOB_DAT R_AARCH64_GLOB_DAT
#define NAIVE_R_ABS R_AARCH64_ABS64
#else
#error "naive patcher: add this architecture's relocation types"
#endif

#define NAIVE_NAMES 6
#define NAIVE_MAX_SLOTS (1 << 16)
#define NAIVE_MAX_PAGES 32

struct naive_record {
    void **slot;
    void *previous;
    int relro;
};

static struct naive_record records[NAIVE_MAX_SLOTS];
static size_t nrecords;

struct naive_walk {
    const char *const *names;
    void *const *hooks;
    unsigned libs;
    unsigned slots;
    int failed;
    int plain;
    /* Put-back mode: slots holding hooks[k] get put_back[k], nothing is recorded. */
    void *const *put_back;
};

static int skipped(const char *name) {
    if (strncmp(name, "linux-vdso", 10) == 0 || strncmp(name, "linux-gate", 10) == 0) return 1;
    if (strstr(name, "/ld-linux") || strstr(name, "/ld-musl") || strncmp(name, "ld-linux", 8) == 0)
        return 1;
    size_t n = strlen(name);
    return n >= 13 && strcmp(name + n - 13, "libgothook.so") == 0;
}

/* glibc rewrites d_ptr entries to absolute addresses, musl does not: a value below the bias is
 * relative (what every hand-written decoder in a profiler does). */
static uintptr_t absolute(uintptr_t bias, uintptr_t v) { return v < bias ? v + bias : v; }

static int naive_lib(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    struct naive_walk *w = ctx;
    if (skipped(info->dlpi_name)) return 0;
    uintptr_t bias = info->dlpi_addr;
    const ElfW(Dyn) *dyn = 0;
    uintptr_t relro_lo = 0, relro_hi = 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(bias + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = (bias + ph->p_vaddr) & ~(page - 1);
            relro_hi = (bias + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
        }
    }
    if (!dyn) return 0;
    const ElfW(Sym) *symtab = 0;
    const char *strtab = 0;
    uintptr_t jmprel = 0, rela = 0;
    size_t pltsz = 0, relasz = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)absolute(bias, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)absolute(bias, d->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = absolute(bias, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: pltsz = d->d_un.d_val; break;
        case DT_RELA: rela = absolute(bias, d->d_un.d_ptr); break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        }
    }
    if (!symtab || !strtab) return 0;
    w->libs++;
    uintptr_t pages[NAIVE_MAX_PAGES];
    size_t npages = 0;
    const ElfW(Rela) *tables[2] = {(const ElfW(Rela) *)jmprel, (const ElfW(Rela) *)rela};
    size_t counts[2] = {jmprel ? pltsz / sizeof(ElfW(Rela)) : 0, rela ? relasz / sizeof(ElfW(Rela)) : 0};
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            const ElfW(Rela) *r = &tables[t][i];
            uint32_t type = ELF64_R_TYPE(r->r_info), sym = ELF64_R_SYM(r->r_info);
            if (sym == 0 || (type != NAIVE_R_JUMP_SLOT && type != NAIVE_R_GLOB_DAT && type != NAIVE_R_ABS))
                continue;
            const char *name = strtab + symtab[sym].st_name;
            for (int k = 0; k < NAIVE_NAMES; k++) {
                if (!w->plain && name[0] != w->names[k][0]) continue;
                if (strcmp(name, w->names[k]) != 0) continue;
                void **slot = (void **)(bias + r->r_offset);
                if (w->put_back ? *slot != w->hooks[k] : *slot == w->hooks[k]) break;
                if (!w->put_back && nrecords == NAIVE_MAX_SLOTS) {
                    w->failed = 1;
                    break;
                }
                uintptr_t pg = (uintptr_t)slot & ~(page - 1);
                int relro = pg >= relro_lo && pg < relro_hi;
                size_t j = 0;
                int tracked = 1;
                while (j < npages && pages[j] != pg) j++;
                if (j == npages) {
                    if (mprotect((void *)pg, page, PROT_READ | PROT_WRITE) != 0) {
                        w->failed = 1;
                        break;
                    }
                    if (npages < NAIVE_MAX_PAGES)
                        pages[npages++] = pg;
                    else
                        tracked = 0;
                }
                if (w->put_back) {
                    *slot = w->put_back[k];
                } else {
                    records[nrecords].slot = slot;
                    records[nrecords].previous = *slot;
                    records[nrecords].relro = relro;
                    nrecords++;
                    *slot = w->hooks[k];
                }
                w->slots++;
                if (!tracked && relro) mprotect((void *)pg, page, PROT_READ);
                break;
            }
        }
    }
    for (size_t j = 0; j < npages; j++)
        if (pages[j] >= relro_lo && pages[j] < relro_hi) mprotect((void *)pages[j], page, PROT_READ);
    return 0;
}

/* Patches every import of names[0..6) in every loaded library (but the vDSO, the loader and
 * libgothook) to hooks[k]; `plain` drops the first-byte pre-check.  Returns 0, or -1 when a
 * page could not be made writable or the record table is full; *libs and *slots say what it
 * did. */
int naive_install(const char *const *names, void *const *hooks, int plain, unsigned *libs, unsigned *slots) {
    struct naive_walk w = {names, hooks, 0, 0, 0, plain, 0};
    dl_iterate_phdr(naive_lib, &w);
    *libs = w.libs;
    *slots = w.slots;
    return w.failed ? -1 : 0;
}

/* Another tool's cleanup: every import slot of names[k] (same libraries) that holds hooks[k]
 * gets originals[k].  For a tool without an uninstall (libdd-gotter).  Returns the number of
 * slots written, or -1 when a page could not be made writable. */
long naive_put_back(const char *const *names, void *const *hooks, void *const *originals) {
    struct naive_walk w = {names, hooks, 0, 0, 0, 0, originals};
    dl_iterate_phdr(naive_lib, &w);
    return w.failed ? -1 : (long)w.slots;
}

/* Puts every slot naive_install changed back to its previous value (newest first).  Returns
 * the number of slots restored, or -1 when a page could not be made writable.  Callers keep
 * the patched libraries loaded until then. */
long naive_restore(void) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    long n = 0;
    while (nrecords > 0) {
        struct naive_record *r = &records[--nrecords];
        uintptr_t pg = (uintptr_t)r->slot & ~(page - 1);
        if (mprotect((void *)pg, page, PROT_READ | PROT_WRITE) != 0) return -1;
        *r->slot = r->previous;
        if (r->relro) mprotect((void *)pg, page, PROT_READ);
        n++;
    }
    return n;
}
