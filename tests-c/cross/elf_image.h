/* Lays an ELF shared object out in memory the way the dynamic loader does, without relocating
 * it: every PT_LOAD at bias + p_vaddr (page-aligned mapping of its file pages), bss zeroed,
 * everything outside the page-rounded PT_LOAD ranges left PROT_NONE (so a stray read faults),
 * with guard pages on both sides.  `.dynamic` keeps the file's raw d_ptr values, as musl leaves
 * them; image_rebias_dynamic() rewrites them in place as glibc does.
 * Header-only; shared by tests-c/cross and tests-c/mutate. */
#ifndef GOTHOOK_TEST_ELF_IMAGE_H
#define GOTHOOK_TEST_ELF_IMAGE_H

#define _GNU_SOURCE
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define IMG_PAGE 4096u
#define IMG_MAX_LOADS 16

struct img_load { uint64_t vaddr, memsz, filesz, offset; uint32_t flags; };

struct elf_image {
    unsigned char *file;        /* the file's bytes */
    size_t file_size;
    int is64;
    uint16_t machine;
    unsigned char *map;         /* the whole reservation (guards included) */
    size_t map_len;
    uintptr_t bias;             /* base of the layout minus the lowest page-rounded p_vaddr */
    const void *phdr;           /* program headers (in `file`) */
    uint16_t phnum;
    struct img_load loads[IMG_MAX_LOADS];
    unsigned nloads;
    uint64_t dyn_vaddr, dyn_size;
};

static inline uint64_t img_pgdown(uint64_t a) { return a & ~(uint64_t)(IMG_PAGE - 1); }
static inline uint64_t img_pgup(uint64_t a) { return (a + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1); }

/* Whether [p, p + len) lies inside one PT_LOAD range [bias + vaddr, bias + vaddr + memsz). */
static inline int img_inside(const struct elf_image *im, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < im->nloads; i++) {
        uintptr_t s = im->bias + im->loads[i].vaddr, e = s + im->loads[i].memsz;
        if (a >= s && a <= e && len <= e - a)
            return 1;
    }
    return 0;
}

static inline void image_free(struct elf_image *im)
{
    if (im->map)
        munmap(im->map, im->map_len);
    free(im->file);
    memset(im, 0, sizeof *im);
}

/* Loads `path`; `low4g` places the layout below 4 GiB (needed to pre-bias ELF32 d_ptr values).
 * Returns 0, or -1 with a reason in `err`. */
static inline int image_load(const char *path, struct elf_image *im, int low4g, char *err, size_t errlen)
{
    memset(im, 0, sizeof *im);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < (long)sizeof(Elf32_Ehdr)) {
        fclose(f);
        snprintf(err, errlen, "%s: too small", path);
        return -1;
    }
    im->file = malloc((size_t)sz);
    im->file_size = (size_t)sz;
    if (!im->file || fread(im->file, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        snprintf(err, errlen, "%s: read failed", path);
        image_free(im);
        return -1;
    }
    fclose(f);
    const unsigned char *id = im->file;
    if (memcmp(id, ELFMAG, SELFMAG) != 0 || id[EI_DATA] != ELFDATA2LSB) {
        snprintf(err, errlen, "%s: not a little-endian ELF file", path);
        image_free(im);
        return -1;
    }
    im->is64 = id[EI_CLASS] == ELFCLASS64;
    uint64_t phoff;
    unsigned phentsize;
    if (im->is64) {
        const Elf64_Ehdr *eh = (const void *)im->file;
        im->machine = eh->e_machine, phoff = eh->e_phoff, im->phnum = eh->e_phnum, phentsize = eh->e_phentsize;
    } else {
        const Elf32_Ehdr *eh = (const void *)im->file;
        im->machine = eh->e_machine, phoff = eh->e_phoff, im->phnum = eh->e_phnum, phentsize = eh->e_phentsize;
    }
    if (phentsize != (im->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
        phoff + (uint64_t)im->phnum * phentsize > im->file_size) {
        snprintf(err, errlen, "%s: bad program headers", path);
        image_free(im);
        return -1;
    }
    im->phdr = im->file + phoff;
    uint64_t lo = UINT64_MAX, hi = 0, align = IMG_PAGE;
    for (unsigned i = 0; i < im->phnum; i++) {
        uint32_t type, flags;
        uint64_t off, vaddr, filesz, memsz, al;
        if (im->is64) {
            const Elf64_Phdr *p = (const Elf64_Phdr *)im->phdr + i;
            type = p->p_type, flags = p->p_flags, off = p->p_offset, vaddr = p->p_vaddr;
            filesz = p->p_filesz, memsz = p->p_memsz, al = p->p_align;
        } else {
            const Elf32_Phdr *p = (const Elf32_Phdr *)im->phdr + i;
            type = p->p_type, flags = p->p_flags, off = p->p_offset, vaddr = p->p_vaddr;
            filesz = p->p_filesz, memsz = p->p_memsz, al = p->p_align;
        }
        if (type == PT_DYNAMIC) {
            im->dyn_vaddr = vaddr, im->dyn_size = memsz;
        } else if (type == PT_LOAD) {
            if (im->nloads == IMG_MAX_LOADS || off + filesz > im->file_size || filesz > memsz ||
                (vaddr - off) % IMG_PAGE != 0) {
                snprintf(err, errlen, "%s: unsupported PT_LOAD %u", path, i);
                image_free(im);
                return -1;
            }
            im->loads[im->nloads++] = (struct img_load){ vaddr, memsz, filesz, off, flags };
            if (img_pgdown(vaddr) < lo)
                lo = img_pgdown(vaddr);
            if (img_pgup(vaddr + memsz) > hi)
                hi = img_pgup(vaddr + memsz);
            if (al > align && al <= 65536)
                align = al;
        }
    }
    if (!im->nloads || hi - lo > (1ull << 31)) {
        snprintf(err, errlen, "%s: no usable PT_LOAD", path);
        image_free(im);
        return -1;
    }
    /* guard | alignment slack | layout | guard */
    im->map_len = (size_t)(hi - lo) + align + 2 * IMG_PAGE;
    int mflags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_32BIT
    if (low4g)
        mflags |= MAP_32BIT;
#endif
    void *m = mmap(NULL, im->map_len, PROT_NONE, mflags, -1, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap failed", path);
        im->map = NULL;
        image_free(im);
        return -1;
    }
    im->map = m;
    uintptr_t base = ((uintptr_t)m + IMG_PAGE + align - 1) & ~(uintptr_t)(align - 1);
    im->bias = base - (uintptr_t)lo;
    for (unsigned i = 0; i < im->nloads; i++) {
        const struct img_load *l = &im->loads[i];
        uintptr_t s = im->bias + img_pgdown(l->vaddr), e = im->bias + img_pgup(l->vaddr + l->memsz);
        if (mprotect((void *)s, e - s, PROT_READ | PROT_WRITE) != 0) {
            snprintf(err, errlen, "%s: mprotect failed", path);
            image_free(im);
            return -1;
        }
    }
    for (unsigned i = 0; i < im->nloads; i++) {
        const struct img_load *l = &im->loads[i];
        uint64_t fstart = img_pgdown(l->offset);
        memcpy((void *)(im->bias + img_pgdown(l->vaddr)), im->file + fstart, l->offset + l->filesz - fstart);
    }
    for (unsigned i = 0; i < im->nloads; i++) {
        const struct img_load *l = &im->loads[i];
        memset((void *)(im->bias + l->vaddr + l->filesz), 0, l->memsz - l->filesz);
    }
    return 0;
}

/* Number of entries of the mapped dynamic array up to and including DT_NULL. */
static inline size_t image_dyn_count(const struct elf_image *im)
{
    size_t ent = im->is64 ? 16 : 8, n = im->dyn_size / ent;
    for (size_t i = 0; i < n; i++) {
        int64_t tag = im->is64 ? ((const Elf64_Dyn *)(im->bias + im->dyn_vaddr))[i].d_tag
                               : ((const Elf32_Dyn *)(im->bias + im->dyn_vaddr))[i].d_tag;
        if (tag == DT_NULL)
            return i + 1;
    }
    return n;
}

/* The d_ptr tags glibc's elf_get_dynamic_info adjusts by l_addr. */
static inline int image_is_rebased_tag(int64_t tag)
{
    switch (tag) {
    case DT_HASH: case DT_PLTGOT: case DT_STRTAB: case DT_SYMTAB: case DT_RELA: case DT_REL:
    case DT_JMPREL: case DT_VERSYM: case DT_GNU_HASH: case 36 /* DT_RELR */:
        return 1;
    default:
        return 0;
    }
}

/* glibc-style in-place rewrite: adds the bias to every d_ptr glibc adjusts.  ELF32 images need
 * a layout below 4 GiB (image_load with low4g).  Returns the number of entries rewritten. */
static inline int image_rebias_dynamic(struct elf_image *im)
{
    int n = 0;
    size_t cnt = image_dyn_count(im);
    for (size_t i = 0; i < cnt; i++) {
        if (im->is64) {
            Elf64_Dyn *d = (Elf64_Dyn *)(im->bias + im->dyn_vaddr) + i;
            if (image_is_rebased_tag(d->d_tag))
                d->d_un.d_ptr += im->bias, n++;
        } else {
            Elf32_Dyn *d = (Elf32_Dyn *)(im->bias + im->dyn_vaddr) + i;
            if (image_is_rebased_tag(d->d_tag))
                d->d_un.d_ptr += (Elf32_Addr)im->bias, n++;
        }
    }
    return n;
}

#endif
