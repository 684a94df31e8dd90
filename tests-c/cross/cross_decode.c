/* Decodes foreign-architecture shared objects laid out in memory the way the loader does and
 * compares gothook's imports, symbols, lookups and summary with `readelf -W -d --dyn-syms -r`
 * of the same file: exact, ordered sets.  Each file is checked twice: with the file's raw d_ptr
 * values (musl-like) and after a glibc-style in-place rewrite of `.dynamic` (pre-biased).
 *
 * usage: cross_decode --skip REASON
 *        cross_decode READELF LABEL FILE...
 * Exit 0 when everything matches, 1 on a mismatch, 77 when skipped. */
#include "elf_image.h"

#include <gothook.h>
#include <inttypes.h>
#include <stdarg.h>

#define MAXS 8192
#define MAXR 16384

struct rsym { char name[256]; uint64_t value; int type, bind, defined, hidden_version, abs; };
struct rrel { uint64_t offset; uint32_t sym, r_type; int kind, plt_section; };
struct rinfo {
    struct rsym *syms; size_t nsyms;          /* index 0 included */
    struct rrel *rels; size_t nrels;
    char soname[256]; int bind_now, has_relr, has_gnu_hash, has_sysv_hash, has_versym;
};

static int failures;
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "MISMATCH: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static int type_num(const char *s)
{
    static const char *names[] = { "NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE", "COMMON", "TLS" };
    for (int i = 0; i < 7; i++)
        if (!strcmp(s, names[i]))
            return i;
    if (!strcmp(s, "IFUNC"))
        return 10;
    return -1;
}

static int bind_num(const char *s)
{
    if (!strcmp(s, "LOCAL")) return 0;
    if (!strcmp(s, "GLOBAL")) return 1;
    if (!strcmp(s, "WEAK")) return 2;
    if (!strcmp(s, "UNIQUE")) return 10;
    return -1;
}

/* Import kind from readelf's relocation type name (independent of gothook's number table). */
static int kind_of(const char *t)
{
    if (strstr(t, "JUMP_SLOT") || strstr(t, "JMP_SLOT"))
        return GOTHOOK_IMPORT_PLT;
    if (strstr(t, "GLOB_DAT"))
        return GOTHOOK_IMPORT_GLOB_DAT;
    static const char *abs[] = { "R_X86_64_64", "R_AARCH64_ABS64", "R_386_32", "R_ARM_ABS32",
                                 "R_RISCV_64", "R_PPC64_ADDR64", "R_LARCH_64" };
    for (size_t i = 0; i < sizeof abs / sizeof *abs; i++)
        if (!strcmp(t, abs[i]))
            return GOTHOOK_IMPORT_ABS;
    return -1;
}

static int run_readelf(const char *readelf, const char *path, int is64, struct rinfo *ri)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -W -d --dyn-syms -r '%s' 2>/dev/null", readelf, path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    ri->syms = calloc(MAXS, sizeof *ri->syms);
    ri->rels = calloc(MAXR, sizeof *ri->rels);
    char line[4096];
    enum { NONE, SYMS, RELS, RELR } sec = NONE;
    int plt_section = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "Symbol table '.dynsym'", 22)) { sec = SYMS; continue; }
        if (!strncmp(line, "Symbol table", 12)) { sec = NONE; continue; }
        if (!strncmp(line, "Relocation section '", 20)) {
            sec = strstr(line, ".relr") ? RELR : RELS;
            plt_section = strstr(line, ".plt'") != NULL;
            continue;
        }
        if (strstr(line, "(SONAME)")) {
            char *a = strchr(line, '['), *b = strrchr(line, ']');
            if (a && b && b > a)
                snprintf(ri->soname, sizeof ri->soname, "%.*s", (int)(b - a - 1), a + 1);
        }
        if ((strstr(line, "(FLAGS)") && strstr(line, "BIND_NOW")) ||
            (strstr(line, "(FLAGS_1)") && strstr(line, " NOW")) || strstr(line, "(BIND_NOW)"))
            ri->bind_now = 1;
        if (strstr(line, "(RELR)")) ri->has_relr = 1;
        if (strstr(line, "(GNU_HASH)")) ri->has_gnu_hash = 1;
        if (strstr(line, "(HASH)")) ri->has_sysv_hash = 1;
        if (strstr(line, "(VERSYM)")) ri->has_versym = 1;
        if (sec == SYMS) {
            unsigned idx;
            char value[64], size[64], type[64], bind[64], vis[64];
            int n = 0;
            if (sscanf(line, " %u: %63s %63s %63s %63s %63s %n", &idx, value, size, type, bind, vis, &n) < 6 || !n)
                continue;
            const char *rest = line + n;
            if (*rest == '[') {                      /* ppc64: "[<localentry>: 8]" */
                const char *e = strchr(rest, ']');
                if (!e) continue;
                rest = e + 1;
                while (*rest == ' ') rest++;
            }
            char ndx[64];
            int m = 0;
            if (sscanf(rest, "%63s %n", ndx, &m) < 1)
                continue;
            const char *name = m ? rest + m : "";
            if (idx >= MAXS || idx != ri->nsyms) {
                fprintf(stderr, "readelf: unexpected symbol index %u\n", idx);
                pclose(p);
                return -1;
            }
            struct rsym *s = &ri->syms[ri->nsyms++];
            size_t nl = strcspn(name, "@ ");
            snprintf(s->name, sizeof s->name, "%.*s", (int)nl, name);
            const char *at = strchr(name, '@');
            s->value = strtoull(value, NULL, 16);
            s->type = type_num(type);
            s->bind = bind_num(bind);
            s->defined = strcmp(ndx, "UND") != 0;
            s->abs = strcmp(ndx, "ABS") == 0;
            s->hidden_version = s->defined && at && at[1] != '@';
        } else if (sec == RELS) {
            char off[64], info[64], type[128];
            if (sscanf(line, " %63s %63s %127s", off, info, type) < 3 || !strchr("0123456789abcdef", off[0]))
                continue;
            char *end;
            uint64_t o = strtoull(off, &end, 16);
            if (*end) continue;
            uint64_t inf = strtoull(info, &end, 16);
            if (*end) continue;
            if (ri->nrels == MAXR) {
                pclose(p);
                return -1;
            }
            struct rrel *r = &ri->rels[ri->nrels++];
            r->offset = o;
            r->sym = is64 ? (uint32_t)(inf >> 32) : (uint32_t)(inf >> 8);
            r->r_type = is64 ? (uint32_t)inf : (uint32_t)(inf & 0xff);
            r->kind = kind_of(type);
            r->plt_section = plt_section;
        }
    }
    return pclose(p) == 0 ? 0 : -1;
}

struct got_imp { const char *name; uint64_t off; uint32_t r_type, sym; int kind; };
struct collect { struct got_imp *v; size_t n, cap; uintptr_t bias; const struct elf_image *im; int bad; };

static int on_import(const gothook_import *imp, void *ctx)
{
    struct collect *c = ctx;
    size_t ws = c->im->is64 ? 8 : 4;
    if (!img_inside(c->im, imp->slot, ws) || (uintptr_t)imp->slot % ws || !img_inside(c->im, imp->name, 1))
        c->bad++;
    if (c->n < c->cap)
        c->v[c->n++] = (struct got_imp){ imp->name, (uintptr_t)imp->slot - c->bias, imp->r_type, imp->sym_index, imp->kind };
    return 0;
}

struct symcol { gothook_symbol *v; size_t n, cap; };
static int on_symbol(const gothook_symbol *s, void *ctx)
{
    struct symcol *c = ctx;
    if (c->n < c->cap)
        c->v[c->n++] = *s;
    return 0;
}

struct totals { unsigned abs, files, layouts, imports, kinds[3], symbols, lookups, notfound, relr, gnu, sysv; };

static void check_layout(const char *path, const char *layout, struct elf_image *im, const struct rinfo *ri, struct totals *t)
{
    gothook_dynamic d;
    uint32_t flags = im->is64 ? GOTHOOK_DECODE_ELF64 : GOTHOOK_DECODE_ELF32;
    gothook_status st = gothook_dynamic_decode(im->bias, im->phdr, im->phnum, flags, &d);
    if (st != GOTHOOK_OK) {
        fail("%s [%s]: decode: %s", path, layout, gothook_status_str(st));
        return;
    }
    t->layouts++;
    gothook_dynamic_info info;
    if (gothook_dynamic_info_get(&d, &info) != GOTHOOK_OK) {
        fail("%s [%s]: info_get failed", path, layout);
        return;
    }
    if (info.machine != im->machine || info.elf_class != (im->is64 ? 2 : 1) || info.bias != im->bias)
        fail("%s [%s]: info machine %u class %u, file says %u/%d", path, layout, info.machine, info.elf_class, im->machine, im->is64 ? 2 : 1);
    if (info.nsyms != ri->nsyms)
        fail("%s [%s]: nsyms %u, readelf %zu", path, layout, info.nsyms, ri->nsyms);
    if (strcmp(info.soname ? info.soname : "", ri->soname))
        fail("%s [%s]: soname '%s', readelf '%s'", path, layout, info.soname ? info.soname : "", ri->soname);
    if (info.bind_now != ri->bind_now)
        fail("%s [%s]: bind_now %u, readelf %d", path, layout, info.bind_now, ri->bind_now);

    /* Imports: readelf's JMPREL section(s) first, then the others, in table order. */
    struct rrel *exp = calloc(ri->nrels + 1, sizeof *exp);
    size_t ne = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < ri->nrels; i++)
            if (ri->rels[i].plt_section == pass && ri->rels[i].kind >= 0 && ri->rels[i].sym != 0)
                exp[ne++] = ri->rels[i];
    struct collect c = { calloc(ri->nrels + 16, sizeof *c.v), 0, ri->nrels + 16, im->bias, im, 0 };
    st = gothook_dynamic_imports(&d, on_import, &c);
    if (st != GOTHOOK_OK)
        fail("%s [%s]: imports: %s", path, layout, gothook_status_str(st));
    if (c.bad)
        fail("%s [%s]: %d import slots/names outside the layout or misaligned", path, layout, c.bad);
    if (c.n != ne)
        fail("%s [%s]: %zu imports, readelf %zu", path, layout, c.n, ne);
    for (size_t i = 0; i < c.n && i < ne; i++) {
        const struct got_imp *g = &c.v[i];
        const struct rrel *e = &exp[i];
        const char *ename = e->sym < ri->nsyms ? ri->syms[e->sym].name : "?";
        if (g->off != e->offset || g->r_type != e->r_type || g->kind != e->kind || g->sym != e->sym || strcmp(g->name, ename))
            fail("%s [%s]: import %zu: gothook %s type %u kind %d at %#" PRIx64 ", readelf %s type %u kind %d at %#" PRIx64,
                 path, layout, i, g->name, g->r_type, g->kind, g->off, ename, e->r_type, e->kind, e->offset);
        else
            t->imports++, t->kinds[g->kind]++;
    }
    free(c.v);
    free(exp);

    /* Symbols, index 1 on. */
    struct symcol sc = { calloc(ri->nsyms + 16, sizeof *sc.v), 0, ri->nsyms + 16 };
    st = gothook_dynamic_symbols(&d, on_symbol, &sc);
    if (st != GOTHOOK_OK)
        fail("%s [%s]: symbols: %s", path, layout, gothook_status_str(st));
    if (sc.n + 1 != ri->nsyms)
        fail("%s [%s]: %zu symbols, readelf %zu", path, layout, sc.n, ri->nsyms ? ri->nsyms - 1 : 0);
    for (size_t i = 0; i < sc.n && i + 1 < ri->nsyms; i++) {
        const gothook_symbol *g = &sc.v[i];
        const struct rsym *e = &ri->syms[i + 1];
        int hidden = (g->versym & 0x8000) != 0;
        /* readelf names an unnamed STT_SECTION symbol after its section. */
        int name_ok = !strcmp(g->name, e->name) || (e->type == 3 && !g->name[0]);
        if (g->index != i + 1 || !name_ok || g->value != e->value || (g->info & 15) != e->type ||
            (g->info >> 4) != e->bind || (g->shndx != 0) != e->defined || (e->defined && ri->has_versym && hidden != e->hidden_version) ||
            !img_inside(im, g->name, strlen(g->name) + 1))
            fail("%s [%s]: symbol %u: gothook %s value %#" PRIx64 " info %#x shndx %u versym %#x, readelf %s value %#" PRIx64 " type %d bind %d defined %d hidden %d",
                 path, layout, g->index, g->name, g->value, g->info, g->shndx, g->versym, e->name, e->value, e->type, e->bind, e->defined, e->hidden_version);
        else
            t->symbols++;
    }
    free(sc.v);

    /* Lookups: every default-version global definition is found at bias + st_value; a name with
     * no default-version definition is not found. */
    for (size_t i = 1; i < ri->nsyms; i++) {
        const struct rsym *e = &ri->syms[i];
        if (!e->name[0] || e->type == 3)
            continue;
        int def = 0;
        const struct rsym *hit = NULL;
        for (size_t j = 1; j < ri->nsyms; j++) {
            const struct rsym *o = &ri->syms[j];
            if (!strcmp(o->name, e->name) && o->defined && !o->hidden_version && o->bind != 0 && o->type != 6) {
                def++;
                hit = o;
            }
        }
        if (def > 1)
            continue;                  /* ambiguous in readelf's view: not checked */
        if (hit && hit != e)
            continue;                  /* checked at the definition's own index */
        void *addr = NULL;
        st = gothook_dynamic_lookup(&d, e->name, &addr);
        if (hit) {
            /* SHN_ABS symbols are absolute: their value, not bias + value. */
            uintptr_t want = e->abs ? (uintptr_t)e->value : im->bias + (uintptr_t)e->value;
            if (st != GOTHOOK_OK || (uintptr_t)addr != want)
                fail("%s [%s]: lookup %s: %s %p, expected %s%#" PRIx64, path, layout, e->name, gothook_status_str(st), addr,
                     e->abs ? "" : "bias + ", e->value);
            else
                t->lookups++, t->abs += e->abs;
        } else {
            if (st != GOTHOOK_ENOTFOUND)
                fail("%s [%s]: lookup of %s (no default definition) gave %s", path, layout, e->name, gothook_status_str(st));
            else
                t->notfound++;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--skip")) {
        printf("SKIP: %s\n", argc > 2 ? argv[2] : "no reason given");
        return 77;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: %s READELF LABEL FILE...\n", argv[0]);
        return 2;
    }
    const char *readelf = argv[1], *label = argv[2];
    struct totals t = { 0 };
    for (int a = 3; a < argc; a++) {
        const char *path = argv[a];
        char err[512];
        struct elf_image im;
        if (image_load(path, &im, 1, err, sizeof err) != 0) {
            fail("%s", err);
            continue;
        }
        struct rinfo ri = { 0 };
        if (run_readelf(readelf, path, im.is64, &ri) != 0) {
            fail("%s: readelf failed", path);
            image_free(&im);
            continue;
        }
        t.files++;
        t.relr += ri.has_relr, t.gnu += ri.has_gnu_hash, t.sysv += ri.has_sysv_hash;
        check_layout(path, "raw d_ptr", &im, &ri, &t);
        int n = image_rebias_dynamic(&im);
        if (n < 3)
            fail("%s: only %d d_ptr entries to rewrite", path, n);
        check_layout(path, "pre-biased d_ptr", &im, &ri, &t);
        free(ri.syms);
        free(ri.rels);
        image_free(&im);
    }
    printf("cross_decode %s: %u files (%u DT_GNU_HASH, %u DT_HASH, %u DT_RELR) x 2 layouts = %u decodes; "
           "%u imports equal to readelf (plt %u, glob_dat %u, abs %u), %u symbols, %u lookups at bias+st_value (%u SHN_ABS at st_value), "
           "%u names correctly not found; %d mismatches\n",
           label, t.files, t.gnu, t.sysv, t.relr, t.layouts, t.imports, t.kinds[0], t.kinds[1], t.kinds[2],
           t.symbols, t.lookups, t.abs, t.notfound, failures);
    return failures || t.files == 0 ? 1 : 0;
}
