/* Mutation test of the decoder (issue 2, "Bad input"): lays real shared objects out in memory
 * (tests-c/cross/elf_image.h: PT_LOADs at bias + p_vaddr, everything else PROT_NONE), corrupts
 * the dynamic section and the tables it points to, and asserts that every decode / symbols /
 * imports / lookup call returns an error status or an in-range result: every reported slot and
 * name lies inside the mapped PT_LOAD ranges, slots are aligned, lookups return the name asked
 * for.  A fault is caught by a signal handler and a stall by a watchdog thread; both print the
 * case and fail.  Deterministic: a fixed seed, mutations undone byte-exactly after each case.
 *
 * usage: mutate [--count N] [--seed S] FILE...     (missing files are skipped with a note) */
#include "elf_image.h"

#include <gothook.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#ifndef DT_RELR
#define DT_RELR 36
#define DT_RELRSZ 35
#define DT_RELRENT 37
#endif

/* ---- deterministic RNG ---- */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- undo log: every mutation write saves the old bytes first ---- */
#define ARENA (8u << 20)
struct undo { unsigned char *addr; size_t len, at; };
static struct undo undo_log[4096];
static size_t undo_n, arena_used;
static unsigned char *arena;

static int mwrite(const struct elf_image *im, void *addr, const void *src, size_t len)
{
    if (!img_inside(im, addr, len) || undo_n == sizeof undo_log / sizeof *undo_log || arena_used + len > ARENA)
        return 0;
    undo_log[undo_n++] = (struct undo){ addr, len, arena_used };
    memcpy(arena + arena_used, addr, len);
    arena_used += len;
    memcpy(addr, src, len);
    return 1;
}
static void undo_all(void)
{
    while (undo_n) {
        struct undo *u = &undo_log[--undo_n];
        memcpy(u->addr, arena + u->at, u->len);
    }
    arena_used = 0;
}
static int mword(const struct elf_image *im, uintptr_t addr, uint64_t v)
{
    if (im->is64)
        return mwrite(im, (void *)addr, &v, 8);
    uint32_t w = (uint32_t)v;
    return mwrite(im, (void *)addr, &w, 4);
}
static int mu32(const struct elf_image *im, uintptr_t addr, uint32_t v) { return mwrite(im, (void *)addr, &v, 4); }

/* ---- one input file, with its pristine tables located ---- */
struct dynent { int64_t tag; uint64_t val; uintptr_t addr; };
struct input {
    const char *path;
    struct elf_image im;
    uint32_t flags;
    struct dynent dyn[512];
    size_t ndyn;
    uintptr_t symtab, strtab, hash, gnu_hash, versym, rela, rel, jmprel, relr;
    size_t strsz, relasz, relsz, pltrelsz, relrsz, nsyms;
    int plt_is_rela;
    uint32_t gnu_nb, gnu_symoff, gnu_nbloom, sysv_nbucket, sysv_nchain;   /* pristine hash headers */
    char names[8][64];          /* a few defined names for lookups */
    int nnames;
};

static uintptr_t ptr_of(const struct input *in, int64_t tag)
{
    for (size_t i = 0; i < in->ndyn; i++)
        if (in->dyn[i].tag == tag)
            return in->im.bias + (uintptr_t)in->dyn[i].val;
    return 0;
}
static uint64_t val_of(const struct input *in, int64_t tag)
{
    for (size_t i = 0; i < in->ndyn; i++)
        if (in->dyn[i].tag == tag)
            return in->dyn[i].val;
    return 0;
}

static int pick_names(const gothook_symbol *s, void *ctx)
{
    struct input *in = ctx;
    if (s->shndx && s->name[0] && (s->info >> 4) == 1 && in->nnames < 8 && strlen(s->name) < 64 &&
        (s->index % 7 == 0 || in->nnames < 2))
        strcpy(in->names[in->nnames++], s->name);
    return 0;
}

static int input_open(struct input *in, const char *path)
{
    char err[512];
    memset(in, 0, sizeof *in);
    in->path = path;
    if (image_load(path, &in->im, 1, err, sizeof err) != 0) {
        printf("note: skipping %s (%s)\n", path, err);
        return -1;
    }
    in->flags = in->im.is64 ? GOTHOOK_DECODE_ELF64 : GOTHOOK_DECODE_ELF32;
    size_t ent = in->im.is64 ? 16 : 8;
    size_t n = image_dyn_count(&in->im);
    for (size_t i = 0; i < n && i < 512; i++) {
        uintptr_t a = in->im.bias + (uintptr_t)in->im.dyn_vaddr + i * ent;
        int64_t tag = in->im.is64 ? ((Elf64_Dyn *)a)->d_tag : ((Elf32_Dyn *)a)->d_tag;
        uint64_t val = in->im.is64 ? ((Elf64_Dyn *)a)->d_un.d_val : ((Elf32_Dyn *)a)->d_un.d_val;
        in->dyn[in->ndyn++] = (struct dynent){ tag, val, a };
    }
    in->symtab = ptr_of(in, DT_SYMTAB), in->strtab = ptr_of(in, DT_STRTAB), in->hash = ptr_of(in, DT_HASH);
    in->gnu_hash = ptr_of(in, DT_GNU_HASH), in->versym = ptr_of(in, DT_VERSYM), in->rela = ptr_of(in, DT_RELA);
    in->rel = ptr_of(in, DT_REL), in->jmprel = ptr_of(in, DT_JMPREL), in->relr = ptr_of(in, DT_RELR);
    in->strsz = val_of(in, DT_STRSZ), in->relasz = val_of(in, DT_RELASZ), in->relsz = val_of(in, DT_RELSZ);
    in->pltrelsz = val_of(in, DT_PLTRELSZ), in->relrsz = val_of(in, DT_RELRSZ);
    in->plt_is_rela = val_of(in, DT_PLTREL) == DT_RELA;
    if (in->gnu_hash && img_inside(&in->im, (void *)in->gnu_hash, 16)) {
        const uint32_t *g = (const uint32_t *)in->gnu_hash;
        in->gnu_nb = g[0], in->gnu_symoff = g[1], in->gnu_nbloom = g[2];
    } else {
        in->gnu_hash = 0;
    }
    if (in->hash && img_inside(&in->im, (void *)in->hash, 8)) {
        const uint32_t *h = (const uint32_t *)in->hash;
        in->sysv_nbucket = h[0], in->sysv_nchain = h[1];
    } else {
        in->hash = 0;
    }
    gothook_dynamic d;
    gothook_dynamic_info info;
    gothook_status st = gothook_dynamic_decode(in->im.bias, in->im.phdr, in->im.phnum, in->flags, &d);
    if (st != GOTHOOK_OK || gothook_dynamic_info_get(&d, &info) != GOTHOOK_OK) {
        printf("FAIL: pristine %s does not decode: %s\n", path, gothook_status_str(st));
        image_free(&in->im);
        return -2;
    }
    in->nsyms = info.nsyms;
    gothook_dynamic_symbols(&d, pick_names, in);
    return 0;
}

/* ---- the case being run, for the crash and stall reports ---- */
static volatile const char *cur_path = "";
static volatile const char *cur_op = "";
static volatile uint64_t cur_case;
static atomic_uint_fast64_t progress;
static uint64_t seed0;

static void report_case(const char *what)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "FAIL: %s in mutation case %" PRIu64 " (seed %" PRIu64 ", op %s, file %s)\n",
                     what, (uint64_t)cur_case, seed0, (const char *)cur_op, (const char *)cur_path);
    if (write(2, buf, (size_t)n) < 0) { /* nothing to do */ }
}
static void on_fault(int sig)
{
    report_case(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "fatal signal");
    _exit(1);
}
static void *watchdog(void *arg)
{
    (void)arg;
    uint64_t last = atomic_load(&progress);
    int still = 0;
    for (;;) {
        sleep(1);
        uint64_t now = atomic_load(&progress);
        if (now == last && ++still >= 10) {
            report_case("HANG (no progress for 10 s)");
            _exit(1);
        }
        if (now != last)
            still = 0, last = now;
    }
    return NULL;
}

/* ---- mutation operators ---- */
static const int64_t ptr_tags[] = { DT_HASH, DT_STRTAB, DT_SYMTAB, DT_RELA, DT_REL, DT_JMPREL, DT_VERSYM, DT_GNU_HASH, DT_RELR };
static const int64_t size_tags[] = { DT_STRSZ, DT_SYMENT, DT_RELASZ, DT_RELAENT, DT_RELSZ, DT_RELENT, DT_PLTRELSZ,
                                     DT_PLTREL, DT_RELRSZ, DT_RELRENT, DT_RELACOUNT, DT_RELCOUNT, DT_SONAME };
static const int64_t any_tags[] = { DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_RELA, DT_RELASZ,
                                    DT_RELAENT, DT_STRSZ, DT_SYMENT, DT_SONAME, DT_REL, DT_RELSZ, DT_RELENT, DT_PLTREL,
                                    DT_JMPREL, DT_BIND_NOW, DT_FLAGS, DT_RELRSZ, DT_RELR, DT_RELRENT, DT_GNU_HASH,
                                    DT_VERSYM, DT_RELACOUNT, DT_RELCOUNT, DT_FLAGS_1 };
#define COUNT(a) (sizeof a / sizeof *a)

static struct dynent *dyn_with(struct input *in, const int64_t *tags, size_t ntags)
{
    size_t cand[512], n = 0;
    for (size_t i = 0; i < in->ndyn; i++)
        for (size_t t = 0; t < ntags; t++)
            if (in->dyn[i].tag == tags[t])
                cand[n++] = i;
    return n ? &in->dyn[cand[below(n)]] : NULL;
}

static uint64_t hi_vaddr(const struct input *in)
{
    uint64_t hi = 0;
    for (unsigned i = 0; i < in->im.nloads; i++)
        if (in->im.loads[i].vaddr + in->im.loads[i].memsz > hi)
            hi = in->im.loads[i].vaddr + in->im.loads[i].memsz;
    return hi;
}

static uint64_t bad_pointer(struct input *in, uint64_t v)
{
    uint64_t hi = hi_vaddr(in);
    switch (below(14)) {
    case 0: return 0;
    case 1: return (uint64_t)-1;
    case 2: return hi;                                   /* one past the last segment */
    case 3: return hi - 1 - below(16);                   /* table straddling the end */
    case 4: return v + 1 + below(3);                     /* misaligned */
    case 5: return v + (uint64_t)in->im.bias + (in->im.is64 ? (1ull << 40) : 0x10000000); /* absolute, but wrong */
    case 6: return v + (uint64_t)in->im.bias;            /* glibc-rewritten: legitimate */
    case 7: return rnd();
    case 8: return v ^ (1ull << below(in->im.is64 ? 64 : 32));
    case 9: return in->im.loads[below(in->im.nloads)].vaddr + below(64) * 4; /* another segment */
    case 10: return v - 8 * (1 + below(64));
    case 11: return v + 8 * (1 + below(4096));
    case 12: return in->dyn[below(in->ndyn)].val;         /* another entry's value */
    default: return (uint64_t)in->im.bias - 1 - below(4096); /* just below the image */
    }
}
static uint64_t bad_size(uint64_t v)
{
    switch (below(12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (uint64_t)-1;
    case 3: return 1ull << 31;
    case 4: return 1ull << 32;
    case 5: return 1ull << 63;
    case 6: return v * 2;
    case 7: return v + 1;
    case 8: return v - 1;
    case 9: return v + 4096 * (1 + below(256));
    case 10: return below(64);
    default: return rnd();
    }
}

static const char *mutate_once(struct input *in)
{
    struct elf_image *im = &in->im;
    size_t ws = im->is64 ? 8 : 4, syment = im->is64 ? 24 : 16;
    switch (below(15)) {
    case 0: {
        struct dynent *e = dyn_with(in, ptr_tags, COUNT(ptr_tags));
        if (e) mword(im, e->addr + ws, bad_pointer(in, e->val));
        return "dyn-pointer";
    }
    case 1: {
        struct dynent *e = dyn_with(in, size_tags, COUNT(size_tags));
        if (e) mword(im, e->addr + ws, bad_size(e->val));
        return "dyn-size";
    }
    case 2: {
        struct dynent *e = &in->dyn[below(in->ndyn)];
        uint64_t tag = below(4) ? (uint64_t)any_tags[below(COUNT(any_tags))] : rnd();
        mword(im, e->addr, tag);
        return "dyn-tag";
    }
    case 3: {                                   /* no DT_NULL: every terminator becomes DT_DEBUG */
        for (size_t i = 0; i < in->ndyn; i++)
            if (in->dyn[i].tag == DT_NULL)
                mword(im, in->dyn[i].addr, DT_DEBUG);
        return "dyn-no-null";
    }
    case 4: {                                   /* st_name beyond DT_STRSZ */
        if (in->nsyms < 2) return "sym-name";
        uintptr_t s = in->symtab + (1 + below(in->nsyms - 1)) * syment;
        uint32_t v = below(2) ? (uint32_t)(in->strsz + below(3)) : (uint32_t)rnd();
        mu32(im, s, v);
        return "sym-name";
    }
    case 5: {                                   /* other symbol fields */
        if (in->nsyms < 2) return "sym-fields";
        uintptr_t s = in->symtab + (1 + below(in->nsyms - 1)) * syment;
        unsigned char b[24];
        for (size_t i = 0; i < syment; i++) b[i] = (unsigned char)rnd();
        size_t keep = below(2) ? 4 : 0;         /* sometimes keep the name */
        mwrite(im, (void *)(s + keep), b, syment - keep);
        return "sym-fields";
    }
    case 6: {                                   /* string table loses its final NULs */
        if (!in->strsz) return "strtab-unterminated";
        size_t k = 1 + below(in->strsz < 256 ? in->strsz : 256);
        unsigned char fill[256];
        memset(fill, 'A', sizeof fill);
        mwrite(im, (void *)(in->strtab + in->strsz - k), fill, k);
        return "strtab-unterminated";
    }
    case 7: {                                   /* a relocation: symbol index, type or offset */
        uintptr_t t; size_t sz, ent;
        int which = (int)below(3);
        if (which == 0 && in->jmprel && in->pltrelsz) t = in->jmprel, sz = in->pltrelsz, ent = in->plt_is_rela ? 3 * ws : 2 * ws;
        else if (in->rela && in->relasz) t = in->rela, sz = in->relasz, ent = 3 * ws;
        else if (in->rel && in->relsz) t = in->rel, sz = in->relsz, ent = 2 * ws;
        else return "reloc";
        uintptr_t r = t + below(sz / ent) * ent;
        if (!img_inside(im, (void *)r, ent)) return "reloc";
        uint64_t info = im->is64 ? *(uint64_t *)(r + ws) : *(uint32_t *)(r + ws);
        switch (below(4)) {
        case 0: {                               /* symbol index beyond the table */
            uint64_t sym = below(2) ? in->nsyms + below(4) : (im->is64 ? 0xffffffffull : 0xffffff);
            info = im->is64 ? (sym << 32) | (info & 0xffffffff) : (sym << 8) | (info & 0xff);
            mword(im, r + ws, info);
            break;
        }
        case 1:                                 /* slot outside every segment or misaligned */
            mword(im, r, bad_pointer(in, im->is64 ? *(uint64_t *)r : *(uint32_t *)r));
            break;
        case 2:
            mword(im, r + ws, rnd());
            break;
        default:
            mword(im, r + ws, im->is64 ? (info & ~0xffffffffull) | below(1100) : (info & ~0xffull) | below(256));
        }
        return "reloc";
    }
    case 8: {                                   /* GNU hash header */
        if (!in->gnu_hash) return "gnu-hash-header";
        uint32_t v;
        switch (below(6)) {
        case 0: v = 0; break;
        case 1: v = 0xffffffffu; break;
        case 2: v = (uint32_t)in->nsyms + (uint32_t)below(3); break;
        case 3: v = 3; break;                   /* not a power of two (bloom) */
        case 4: v = 1u << 31; break;
        default: v = (uint32_t)rnd();
        }
        mu32(im, in->gnu_hash + 4 * below(4), v);
        return "gnu-hash-header";
    }
    case 9: {                                   /* GNU hash chains that never terminate */
        if (!in->gnu_hash) return "gnu-hash-chains";
        uint32_t nb = in->gnu_nb, symoff = in->gnu_symoff, nbloom = in->gnu_nbloom;
        uintptr_t buckets = in->gnu_hash + 16 + (uintptr_t)nbloom * ws, chains = buckets + 4ull * nb;
        if (in->nsyms <= symoff) return "gnu-hash-chains";
        size_t nchain = in->nsyms - symoff;
        if (below(2)) {
            for (size_t i = 0; i < nchain; i++) {
                if (!img_inside(im, (void *)(chains + 4 * i), 4)) break;
                uint32_t c = *(uint32_t *)(chains + 4 * i) & ~1u;
                if (!mu32(im, chains + 4 * i, c)) break;
            }
        } else {
            uint32_t v = below(2) ? symoff - 1 - (uint32_t)below(symoff ? symoff : 1) : (uint32_t)(in->nsyms + below(1000));
            mu32(im, buckets + 4 * below(nb ? nb : 1), v);
        }
        return "gnu-hash-chains";
    }
    case 10: {                                  /* SysV hash: sizes, cycles, indices */
        if (!in->hash) return "sysv-hash";
        uint32_t nbucket = in->sysv_nbucket, nchain = in->sysv_nchain;
        switch (below(4)) {
        case 0: mu32(im, in->hash + 4 * below(2), (uint32_t)bad_size(below(2) ? nbucket : nchain)); break;
        case 1: if (nchain) { uint32_t i = (uint32_t)below(nchain); mu32(im, in->hash + 8 + 4ull * nbucket + 4ull * i, i); } break;
        case 2: if (nbucket) mu32(im, in->hash + 8 + 4 * below(nbucket), nchain + (uint32_t)below(1000)); break;
        default:                                /* every chain entry points to itself: a cycle per chain */
            for (uint32_t i = 0; i < nchain; i++)
                if (!mu32(im, in->hash + 8 + 4ull * nbucket + 4ull * i, i)) break;
        }
        return "sysv-hash";
    }
    case 11: {                                  /* misaligned tables */
        struct dynent *e = dyn_with(in, ptr_tags, COUNT(ptr_tags));
        if (e) mword(im, e->addr + ws, e->val + 1 + below(ws - 1));
        return "misaligned";
    }
    case 12: {                                  /* versym entries */
        if (!in->versym || in->nsyms < 2) return "versym";
        for (int k = 0; k < 8; k++) {
            uint16_t v = (uint16_t)rnd();
            mwrite(im, (void *)(in->versym + 2 * below(in->nsyms)), &v, 2);
        }
        return "versym";
    }
    case 13: {                                  /* random bytes in the dynamic section or a table */
        uintptr_t regions[8]; size_t sizes[8], n = 0;
        regions[n] = in->dyn[0].addr, sizes[n++] = in->ndyn * 2 * ws;
        if (in->symtab) regions[n] = in->symtab, sizes[n++] = in->nsyms * syment;
        if (in->strtab) regions[n] = in->strtab, sizes[n++] = in->strsz;
        if (in->gnu_hash) regions[n] = in->gnu_hash, sizes[n++] = 256;
        if (in->hash) regions[n] = in->hash, sizes[n++] = 256;
        if (in->rela) regions[n] = in->rela, sizes[n++] = in->relasz;
        if (in->jmprel) regions[n] = in->jmprel, sizes[n++] = in->pltrelsz;
        size_t r = below(n);
        int k = 1 + (int)below(16);
        for (int i = 0; i < k && sizes[r]; i++) {
            unsigned char b = (unsigned char)rnd();
            mwrite(im, (void *)(regions[r] + below(sizes[r])), &b, 1);
        }
        return "random-bytes";
    }
    default: {                                  /* several at once */
        int k = 2 + (int)below(3);
        for (int i = 0; i < k; i++)
            mutate_once(in);
        return "combined";
    }
    }
}

/* ---- checking one mutated image ---- */
#define NST 12
static uint64_t st_decode[NST + 1], st_syms[NST + 1], st_imps[NST + 1], st_look[NST + 1];
static uint64_t n_syms_seen, n_imps_seen, n_lookups_ok, violations;
static struct input *cur_in;

static void count(uint64_t *h, gothook_status s) { h[s < NST ? s : NST]++; }
static void violation(const char *what)
{
    if (violations++ < 20) {
        char buf[256];
        snprintf(buf, sizeof buf, "OUT OF RANGE (%s)", what);
        report_case(buf);
    }
}

static int check_sym(const gothook_symbol *s, void *ctx)
{
    (void)ctx;
    if (!img_inside(&cur_in->im, s->name, 1) || !img_inside(&cur_in->im, s->name, strlen(s->name) + 1))
        violation("symbol name");
    n_syms_seen++;
    return 0;
}
static int check_imp(const gothook_import *imp, void *ctx)
{
    (void)ctx;
    size_t ws = cur_in->im.is64 ? 8 : 4;
    if (!img_inside(&cur_in->im, imp->slot, ws) || (uintptr_t)imp->slot % ws)
        violation("import slot");
    if (!img_inside(&cur_in->im, imp->name, 1) || !img_inside(&cur_in->im, imp->name, strlen(imp->name) + 1))
        violation("import name");
    n_imps_seen++;
    return 0;
}

static void check_case(struct input *in)
{
    gothook_dynamic d;
    cur_in = in;
    gothook_status st = gothook_dynamic_decode(in->im.bias, in->im.phdr, in->im.phnum, in->flags, &d);
    count(st_decode, st);
    if (st != GOTHOOK_OK)
        return;
    gothook_dynamic_info info;
    if (gothook_dynamic_info_get(&d, &info) == GOTHOOK_OK && info.soname &&
        !img_inside(&in->im, info.soname, strlen(info.soname) + 1))
        violation("soname");
    count(st_syms, gothook_dynamic_symbols(&d, check_sym, NULL));
    count(st_imps, gothook_dynamic_imports(&d, check_imp, NULL));
    const char *names[4] = { "malloc", "free", in->nnames ? in->names[below(in->nnames)] : "x", "no_such_symbol_xyz" };
    for (int i = 0; i < 4; i++) {
        gothook_symbol s;
        void *addr;
        gothook_status a = gothook_dynamic_lookup(&d, names[i], &addr);
        gothook_status b = gothook_dynamic_lookup_symbol(&d, names[i], &s);
        count(st_look, a);
        if (a != b)
            violation("lookup and lookup_symbol disagree");
        if (b == GOTHOOK_OK) {
            n_lookups_ok++;
            if (!img_inside(&in->im, s.name, strlen(s.name) + 1) || strcmp(s.name, names[i]) || s.shndx == 0 ||
                (uintptr_t)addr != (s.shndx == SHN_ABS ? (uintptr_t)s.value : in->im.bias + (uintptr_t)s.value))
            {
                char why[160];
                snprintf(why, sizeof why, "lookup result: %s -> %s shndx %u value %#" PRIx64 " addr %p bias %#lx",
                         names[i], s.name, s.shndx, s.value, addr, (unsigned long)in->im.bias);
                violation(why);
            }
        }
    }
}

static void print_hist(const char *what, const uint64_t *h)
{
    static const char *names[NST + 1] = { "OK", "EINVAL", "ENOTREADY", "EMALFORMED", "ENODYNAMIC", "ENOTFOUND",
                                          "ECHANGED", "EPROTECT", "EBUSY", "EFULL", "EUNSUPPORTED", "ERANGE", "other" };
    printf("  %-8s", what);
    for (int i = 0; i <= NST; i++)
        if (h[i])
            printf(" %s=%" PRIu64, names[i], h[i]);
    printf("\n");
}

/* cases per mutation operator */
static const char *op_names[32];
static uint64_t op_counts[32];
static void count_op(const char *op)
{
    for (int i = 0; i < 32; i++) {
        if (!op_names[i])
            op_names[i] = op;
        if (op_names[i] == op || !strcmp(op_names[i], op)) {
            op_counts[i]++;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    uint64_t total = 120000;
    seed0 = 0x9e3779b97f4a7c15ull;
    int a = 1;
    for (; a < argc && !strncmp(argv[a], "--", 2); a++) {
        if (!strcmp(argv[a], "--count") && a + 1 < argc) total = strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc) seed0 = strtoull(argv[++a], NULL, 0);
    }
    rng_state = seed0 ? seed0 : 1;
    static struct input inputs[64];
    int n = 0, bad = 0;
    for (; a < argc && n < 64; a++) {
        if (access(argv[a], R_OK) != 0) {
            printf("note: %s not present, skipped\n", argv[a]);
            continue;
        }
        int r = input_open(&inputs[n], argv[a]);
        if (r == 0) n++;
        else if (r == -2) bad++;
    }
    if (bad)
        return 1;
    if (n == 0) {
        printf("SKIP: no input shared objects\n");
        return 77;
    }
    arena = malloc(ARENA);
    struct sigaction sa = { 0 };
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t prebiased = 0;
    for (uint64_t c = 0; c < total; c++) {
        struct input *in = &inputs[c % (uint64_t)n];
        cur_case = c, cur_path = in->path;
        if (below(3) == 0) {                    /* a third of the cases start from a glibc-rewritten .dynamic */
            for (size_t i = 0; i < in->ndyn; i++)
                if (image_is_rebased_tag(in->dyn[i].tag))
                    mword(&in->im, in->dyn[i].addr + (in->im.is64 ? 8 : 4), in->dyn[i].val + in->im.bias);
            prebiased++;
        }
        cur_op = "(mutating)";
        cur_op = mutate_once(in);
        count_op((const char *)cur_op);
        check_case(in);
        undo_all();
        atomic_fetch_add(&progress, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The undo log must have restored every image: each decodes again with its original symbol count. */
    for (int i = 0; i < n; i++) {
        gothook_dynamic d;
        gothook_dynamic_info info;
        if (gothook_dynamic_decode(inputs[i].im.bias, inputs[i].im.phdr, inputs[i].im.phnum, inputs[i].flags, &d) != GOTHOOK_OK ||
            gothook_dynamic_info_get(&d, &info) != GOTHOOK_OK || info.nsyms != inputs[i].nsyms) {
            printf("FAIL: %s not restored after the run\n", inputs[i].path);
            violations++;
        }
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("mutate: %" PRIu64 " mutations (%" PRIu64 " on pre-biased .dynamic) over %d shared objects, seed %#" PRIx64
           ", %.1f s; 0 crashes, 0 hangs, %" PRIu64 " out-of-range results; walked %" PRIu64 " symbols, %" PRIu64
           " imports, %" PRIu64 " successful lookups\n",
           total, prebiased, n, seed0, secs, violations, n_syms_seen, n_imps_seen, n_lookups_ok);
    print_hist("decode", st_decode);
    print_hist("symbols", st_syms);
    print_hist("imports", st_imps);
    print_hist("lookup", st_look);
    printf("  cases by operator:");
    for (int i = 0; i < 32 && op_names[i]; i++)
        printf(" %s=%" PRIu64, op_names[i], op_counts[i]);
    printf("\n");
    return violations ? 1 : 0;
}
