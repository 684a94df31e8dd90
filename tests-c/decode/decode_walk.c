/*
 * Walks this process with gothook and checks every library against independent sources:
 *   - symbols and imports of each library equal `readelf -W -D --dyn-syms -r` of its file
 *     (the vDSO is dumped from memory first): names, values, sizes, st_info, section indices,
 *     versions, relocation types, kinds, tables, addends, slots = bias + r_offset, table order;
 *   - gothook_dynamic_lookup of every name agrees with readelf's default-version definitions
 *     and with dlsym, and undefined names answer GOTHOOK_ENOTFOUND;
 *   - each library's kind agrees with the auxiliary vector and known addresses, and the default
 *     walk reports exactly the READY libraries;
 *   - everything gothook does (walk, decode, symbols, imports, lookups) runs under the
 *     allocation guard in abort mode: a single allocation kills the test.
 * Usage: decode_walk [--rule-relro] [--expect-nopie] [--lazy] fixture.so...
 *   --lazy fixtures are opened with RTLD_LAZY (name contains "lazy"), others RTLD_NOW.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gothook.h"
#include "gothook_test_guard.h"
#include "gothook_test_util.h"

#include "gothook_test_check.h"

/* ---------------- what the guarded walk records (static storage: no allocation) ------------- */

#define MAX_LIBS 64
#define MAX_SYMS 200000
#define MAX_IMPORTS 50000

struct sym_rec {
  gothook_symbol sym;
  gothook_status lookup_status; /* gothook_dynamic_lookup(name) */
  void *lookup_addr;
  gothook_status lookup_symbol_status; /* gothook_dynamic_lookup_symbol(name) */
  gothook_symbol lookup_symbol;
};

struct lib_rec {
  gothook_lib lib;
  gothook_status decode_status, info_status, symbols_status, imports_status, missing_status;
  gothook_dynamic_info info;
  size_t sym_first, sym_count;
  size_t imp_first, imp_count;
};

static struct lib_rec libs[MAX_LIBS];
static size_t nlibs;
static struct sym_rec syms[MAX_SYMS];
static size_t nsyms;
static gothook_import imports[MAX_IMPORTS];
static size_t nimports;
static int overflow;

/* The default walk's view, for the readiness check. */
static gothook_lib default_libs[MAX_LIBS];
static size_t ndefault;

static const char missing_name[] = "gothook_decode_no_such_symbol_0x5eed";

static int on_symbol(const gothook_symbol *s, void *ctx) {
  (void)ctx;
  if (nsyms == MAX_SYMS) {
    overflow = 1;
    return 1;
  }
  syms[nsyms++].sym = *s;
  return 0;
}

static int on_import(const gothook_import *imp, void *ctx) {
  (void)ctx;
  if (nimports == MAX_IMPORTS) {
    overflow = 1;
    return 1;
  }
  imports[nimports++] = *imp;
  return 0;
}

/* Runs inside dl_iterate_phdr and inside the guard: decode everything, store it. */
static int on_lib(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (nlibs == MAX_LIBS) {
    overflow = 1;
    return 1;
  }
  struct lib_rec *r = &libs[nlibs++];
  r->lib = *lib;
  gothook_dynamic d;
  r->decode_status = gothook_lib_decode(lib, &d);
  if (r->decode_status != GOTHOOK_OK) return 0;
  r->info_status = gothook_dynamic_info_get(&d, &r->info);
  r->sym_first = nsyms;
  r->symbols_status = gothook_dynamic_symbols(&d, on_symbol, NULL);
  r->sym_count = nsyms - r->sym_first;
  r->imp_first = nimports;
  r->imports_status = gothook_dynamic_imports(&d, on_import, NULL);
  r->imp_count = nimports - r->imp_first;
  for (size_t i = r->sym_first; i < nsyms; i++) {
    struct sym_rec *s = &syms[i];
    s->lookup_status = gothook_dynamic_lookup(&d, s->sym.name, &s->lookup_addr);
    s->lookup_symbol_status = gothook_dynamic_lookup_symbol(&d, s->sym.name, &s->lookup_symbol);
  }
  void *ignored;
  r->missing_status = gothook_dynamic_lookup(&d, missing_name, &ignored);
  return 0;
}

static int on_default_lib(const gothook_lib *lib, void *ctx) {
  (void)ctx;
  if (ndefault < MAX_LIBS) default_libs[ndefault++] = *lib;
  return 0;
}

/* ---------------- independent facts about a library ---------------- */

static int segment_contains(const gothook_lib *lib, uintptr_t addr) {
  const ElfW(Phdr) *ph = lib->phdr;
  for (unsigned i = 0; i < lib->phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    uintptr_t start = lib->bias + ph[i].p_vaddr;
    if (addr >= start && addr < start + ph[i].p_memsz) return 1;
  }
  return 0;
}

static int main_marker(void) { return 0; }

static int expected_kind(const gothook_lib *lib) {
  uintptr_t vdso = getauxval(AT_SYSINFO_EHDR), base = getauxval(AT_BASE);
  if (vdso && segment_contains(lib, vdso)) return GOTHOOK_KIND_VDSO;
  /* gothook_version's string lives in the object gothook is linked into, the main program too (a data address, so no
   * PLT stub of a non-PIE program can stand in for it). */
  if (segment_contains(lib, (uintptr_t)gothook_version())) return GOTHOOK_KIND_SELF;
  if (segment_contains(lib, (uintptr_t)&main_marker)) return GOTHOOK_KIND_MAIN;
  if (base && segment_contains(lib, base)) return GOTHOOK_KIND_LOADER;
  return GOTHOOK_KIND_OTHER;
}

/* READY under the RELRO rule: a whole page inside PT_GNU_RELRO is read-only per the kernel. */
static int relro_ready_by_maps(const gothook_lib *lib) {
  const ElfW(Phdr) *ph = lib->phdr;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  for (unsigned i = 0; i < lib->phnum; i++) {
    if (ph[i].p_type != PT_GNU_RELRO) continue;
    /* The loader protects from the page holding the start (rounded down) to the end rounded
     * down (glibc _dl_protect_relro). */
    uintptr_t start = (lib->bias + ph[i].p_vaddr) & ~(page - 1);
    uintptr_t end = (lib->bias + ph[i].p_vaddr + ph[i].p_memsz) & ~(page - 1);
    if (start >= end) return 0;
    int prot = gothook_test_maps_prot((void *)start);
    return prot >= 0 && !(prot & PROT_WRITE);
  }
  return 0;
}

static const char *kind_name(int kind) {
  static const char *const names[] = {"other", "main", "vdso", "loader", "self"};
  return kind >= 0 && kind <= 4 ? names[kind] : "?";
}

/* ---------------- comparison with readelf ---------------- */

/* Stands for RTLD_DEFAULT (which is NULL) as a "handle". */
static char global_scope;

struct lib_summary {
  size_t syms, defined, imports, lookups_ok, lookups_notfound, dlsym_equal, dlsym_skipped;
};

/* The readelf symbols a default-version lookup of `name` may return: defined, not local, not
 * hidden, not TLS (a TLS st_value is an offset in the TLS block, not an address: gothook's
 * lookup leaves those out, as dlsym's answer for them depends on the calling thread).
 * Returns how many there are and the first in *found. */
static int default_definitions(const gothook_test_elf *elf, const char *name,
                               const gothook_test_sym **found) {
  int n = 0;
  for (size_t i = 1; i < elf->nsyms; i++) {
    const gothook_test_sym *s = &elf->syms[i];
    if (s->shndx == 0 || (s->info >> 4) == STB_LOCAL || (s->hidden && s->verindex < 0) ||
        (s->info & 0xf) == STT_TLS)
      continue;
    if (strcmp(s->name, name) != 0) continue;
    if (!n) *found = s;
    n++;
  }
  return n;
}

static void compare_symbols(const struct lib_rec *r, const gothook_test_elf *elf, void *handle,
                            const char *label, struct lib_summary *sum) {
  CHECK(r->symbols_status == GOTHOOK_OK, "%s: gothook_dynamic_symbols: %s", label,
        gothook_status_str(r->symbols_status));
  CHECK(r->info.nsyms == elf->nsyms, "%s: info.nsyms %u, readelf %zu", label, r->info.nsyms,
        elf->nsyms);
  CHECK(r->sym_count + 1 == elf->nsyms, "%s: %zu symbols from index 1, readelf lists %zu", label,
        r->sym_count, elf->nsyms);
  size_t n = r->sym_count + 1 < elf->nsyms ? r->sym_count : (elf->nsyms ? elf->nsyms - 1 : 0);
  for (size_t i = 0; i < n; i++) {
    const struct sym_rec *g = &syms[r->sym_first + i];
    const gothook_test_sym *e = &elf->syms[i + 1];
    const gothook_symbol *s = &g->sym;
    sum->syms++;
    CHECK(s->index == e->index && !strcmp(s->name, e->name) && s->value == e->value &&
              s->size == e->size && s->info == e->info && (s->other & 3) == e->other &&
              s->shndx == e->shndx,
          "%s: symbol %zu: gothook [%u %s value %#llx size %llu info %#x other %#x shndx %u], "
          "readelf [%u %s value %#llx size %llu info %#x vis %u shndx %u]",
          label, i + 1, s->index, s->name, (unsigned long long)s->value,
          (unsigned long long)s->size, s->info, s->other, s->shndx, e->index, e->name,
          (unsigned long long)e->value, (unsigned long long)e->size, e->info, e->other,
          e->shndx);
    /* Versions: readelf prints name@@V (default definition), name@V (hidden definition),
     * name@V (n) (a needed version; for a defined symbol: a copy-relocated definition), or
     * nothing.  It prints no version for the ABS symbols that name a version definition. */
    if (e->verindex >= 0) {
      CHECK((s->versym & 0x7fff) == e->verindex, "%s: %s versym %#x, readelf (%d)", label,
            e->name, s->versym, e->verindex);
    } else if (e->version[0]) {
      CHECK(e->shndx != 0 && ((s->versym & 0x8000) != 0) == e->hidden && (s->versym & 0x7fff) >= 2,
            "%s: %s versym %#x, readelf %s%s", label, e->name, s->versym,
            e->hidden ? "@" : "@@", e->version);
    } else if (e->shndx != SHN_ABS) {
      CHECK((s->versym & 0x7fff) <= 1, "%s: %s has versym %#x but readelf shows no version",
            label, e->name, s->versym);
    }
    int defined = e->shndx != 0;
    /* SHN_ABS values are absolute (as glibc's dlsym treats them); others are relative. */
    uintptr_t want_addr = e->shndx == SHN_ABS ? (uintptr_t)e->value : r->lib.bias + e->value;
    if (defined)
      CHECK(s->address == want_addr, "%s: %s address %#zx, expected %#zx", label, e->name,
            s->address, (size_t)want_addr);
    if (!defined) CHECK(s->address == 0, "%s: undefined %s has address %#zx", label, e->name,
                        s->address);
    sum->defined += defined;

    /* Lookups by name against readelf's default-version definitions. */
    const gothook_test_sym *want = NULL;
    int ndef = default_definitions(elf, e->name, &want);
    if (!e->name[0]) continue;
    if (ndef == 0) {
      CHECK(g->lookup_status == GOTHOOK_ENOTFOUND && g->lookup_symbol_status == GOTHOOK_ENOTFOUND,
            "%s: lookup of %s (no default definition) gave %s / %s", label, e->name,
            gothook_status_str(g->lookup_status), gothook_status_str(g->lookup_symbol_status));
      sum->lookups_notfound++;
      continue;
    }
    /* gothook documents bias + st_value for every definition, st_value for SHN_ABS ones. */
    uintptr_t expect = want->shndx == SHN_ABS ? (uintptr_t)want->value : r->lib.bias + want->value;
    CHECK(ndef == 1, "%s: %d default definitions of %s", label, ndef, e->name);
    CHECK(g->lookup_status == GOTHOOK_OK && (uintptr_t)g->lookup_addr == expect,
          "%s: lookup %s: %s %p, readelf definition %#zx (index %u)", label, e->name,
          gothook_status_str(g->lookup_status), g->lookup_addr, (size_t)expect, want->index);
    CHECK(g->lookup_symbol_status == GOTHOOK_OK && g->lookup_symbol.index == want->index &&
              g->lookup_symbol.value == want->value,
          "%s: lookup_symbol %s: %s index %u, readelf index %u", label, e->name,
          gothook_status_str(g->lookup_symbol_status), g->lookup_symbol.index, want->index);
    if (want != e) continue; /* dlsym once per definition */
    sum->lookups_ok++;
    int type = want->info & 0xf, bind = want->info >> 4;
    /* dlsym resolves IFUNCs and gives the process-wide unique definition, and glibc >= 2.28
     * does not add the bias to SHN_ABS values (musl does): those are checked against readelf
     * above only. */
    if (!handle || type == STT_GNU_IFUNC || bind == STB_GNU_UNIQUE || want->shndx == SHN_ABS) {
      sum->dlsym_skipped++;
      continue;
    }
    dlerror();
    void *real = dlsym(handle == &global_scope ? RTLD_DEFAULT : handle, e->name);
    /* The loader's own handle has no search list: its names are looked up globally, and a
     * definition found in another object first does not say anything about this one. */
    if (handle == &global_scope && !segment_contains(&r->lib, (uintptr_t)real)) {
      sum->dlsym_skipped++;
      continue;
    }
    CHECK(real == g->lookup_addr, "%s: lookup %s = %p, dlsym = %p (%s)", label, e->name,
          g->lookup_addr, real, real ? "" : dlerror());
    sum->dlsym_equal += real == g->lookup_addr;
  }
}

static void compare_imports(const struct lib_rec *r, const gothook_test_elf *elf,
                            const char *label, struct lib_summary *sum) {
  CHECK(r->imports_status == GOTHOOK_OK, "%s: gothook_dynamic_imports: %s", label,
        gothook_status_str(r->imports_status));
  /* Expected: import-kind relocations with a symbol, DT_JMPREL's table first, then DT_RELA,
   * then DT_REL, each in table order. */
  static const char *const order[] = {"PLT", "RELA", "REL"};
  size_t k = 0;
  for (int t = 0; t < 3; t++) {
    for (size_t i = 0; i < elf->nrels; i++) {
      const gothook_test_rel *e = &elf->rels[i];
      int kind = gothook_test_import_kind(e->type_name);
      if (strcmp(e->table, order[t]) != 0 || kind < 0 || e->sym == 0) continue;
      if (k >= r->imp_count) {
        CHECK(0, "%s: readelf import %s (%s at %#llx) missing from gothook", label, e->name,
              e->type_name, (unsigned long long)e->offset);
        k++;
        continue;
      }
      const gothook_import *g = &imports[r->imp_first + k];
      CHECK(!strcmp(g->name, e->name) && (uintptr_t)g->slot == r->lib.bias + e->offset &&
                g->r_type == e->type && g->sym_index == e->sym && g->kind == kind &&
                g->table == t && g->addend == (e->has_addend ? e->addend : 0),
            "%s: import %zu: gothook [%s slot %p type %u sym %u kind %u table %u addend %lld], "
            "readelf [%s slot %#llx %s %u sym %u kind %d table %s addend %lld]",
            label, k, g->name, (void *)g->slot, g->r_type, g->sym_index, g->kind, g->table,
            (long long)g->addend, e->name, (unsigned long long)(r->lib.bias + e->offset),
            e->type_name, e->type, e->sym, kind, e->table, (long long)e->addend);
      k++;
    }
  }
  CHECK(k == r->imp_count, "%s: gothook reports %zu imports, readelf %zu", label, r->imp_count,
        k);
  sum->imports += k;
}

/* The file behind a library, and a dlopen handle for dlsym (NULL when none). */
static int library_file(const struct lib_rec *r, char *path, size_t len, void **handle,
                        int *dumped) {
  *handle = NULL;
  *dumped = 0;
  switch ((uintptr_t)r->lib.phdr == getauxval(AT_PHDR) ? GOTHOOK_KIND_MAIN : r->lib.kind) {
    case GOTHOOK_KIND_MAIN: {
      ssize_t n = readlink("/proc/self/exe", path, len - 1);
      if (n <= 0) return -1;
      path[n] = 0;
      *handle = dlopen(NULL, RTLD_LAZY);
      return 0;
    }
    case GOTHOOK_KIND_VDSO: {
      uintptr_t start, end, ehdr = getauxval(AT_SYSINFO_EHDR);
      if (gothook_test_vdso_range(&start, &end) != 0 || ehdr < start || ehdr >= end) return -1;
      snprintf(path, len, "vdso-dump-%d.so", (int)getpid());
      if (gothook_test_dump_memory(path, (void *)ehdr, end - ehdr) != 0) return -1;
      *dumped = 1;
      *handle = dlopen(r->lib.name, RTLD_LAZY | RTLD_NOLOAD); /* glibc knows it by its soname */
      return 0;
    }
    case GOTHOOK_KIND_LOADER:
      snprintf(path, len, "%s", r->lib.name);
      *handle = &global_scope; /* dlsym(ld.so's handle) searches an empty scope */
      return 0;
    default:
      snprintf(path, len, "%s", r->lib.name);
      *handle = dlopen(r->lib.name, RTLD_LAZY | RTLD_NOLOAD);
      /* The loader is known by its soname rather than the path it was run by. */
      if (!*handle && r->info.soname) *handle = dlopen(r->info.soname, RTLD_LAZY | RTLD_NOLOAD);
      return 0;
  }
}

int main(int argc, char **argv) {
  int rule_relro = 0, expect_nopie = 0;
  int nfixtures = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--rule-relro")) {
      rule_relro = 1;
      continue;
    }
    if (!strcmp(argv[i], "--expect-nopie")) {
      expect_nopie = 1;
      continue;
    }
    int lazy = strstr(argv[i], "lazy") != NULL;
    if (!dlopen(argv[i], lazy ? RTLD_LAZY : RTLD_NOW)) {
      fprintf(stderr, "dlopen %s: %s\n", argv[i], dlerror());
      return 1;
    }
    nfixtures++;
  }
  if (!gothook_guard_selfcheck()) {
    fprintf(stderr, "FAIL: the allocation guard is not interposing malloc in this executable\n");
    return 1;
  }
  if (system("readelf --version >/dev/null 2>&1") != 0 && !getenv("GOTHOOK_READELF")) {
    printf("SKIP: readelf not found\n");
    return 77;
  }
  if (rule_relro) {
    gothook_status st = gothook_set_readiness_rule(GOTHOOK_RULE_RELRO);
    if (st != GOTHOOK_OK) {
      fprintf(stderr, "gothook_set_readiness_rule(RELRO): %s\n", gothook_status_str(st));
      return 1;
    }
  }

  /* ---- everything gothook does runs guarded, in abort mode ---- */
  gothook_guard_set_mode(GOTHOOK_GUARD_ABORT);
  gothook_guard_reset();
  gothook_status walk_all = GUARDED(gothook_libs_each(on_lib, NULL, GOTHOOK_LIBS_ALL));
  gothook_status walk_default = GUARDED(gothook_libs_each(on_default_lib, NULL, 0));
  uint64_t violations = gothook_guard_violations();
  CHECK(walk_all == GOTHOOK_OK && walk_default == GOTHOOK_OK, "walks: %s / %s",
        gothook_status_str(walk_all), gothook_status_str(walk_default));
  CHECK(!overflow, "static record tables overflowed");
  CHECK(violations == 0, "%llu allocations inside gothook calls", (unsigned long long)violations);

  /* ---- kinds and readiness ---- */
  int kinds_seen[5] = {0};
  size_t ready = 0;
  for (size_t i = 0; i < nlibs; i++) {
    const gothook_lib *l = &libs[i].lib;
    int want = expected_kind(l);
    CHECK(l->kind == want, "library %s at %#zx: kind %s, expected %s", l->name, l->bias,
          kind_name(l->kind), kind_name(want));
    CHECK(l->index == i, "library %zu reported with index %u", i, l->index);
    if (l->kind <= 4) kinds_seen[l->kind]++;
    int expect_ready = rule_relro ? relro_ready_by_maps(l) : 1;
    /* Nothing is loading concurrently here: with _dl_find_object every listed library is READY;
     * under the RELRO rule exactly those with a read-only whole RELRO page are. */
    if (!rule_relro || l->kind != GOTHOOK_KIND_VDSO)
      CHECK((l->readiness == GOTHOOK_READY) == expect_ready,
            "library '%s' (%s): readiness %u, expected %s", l->name, kind_name(l->kind),
            l->readiness, expect_ready ? "READY" : "not READY");
    if (l->readiness == GOTHOOK_READY) {
      ready++;
      int in_default = 0;
      for (size_t j = 0; j < ndefault; j++)
        in_default |= default_libs[j].bias == l->bias && default_libs[j].phdr == l->phdr;
      CHECK(in_default, "READY library '%s' missing from the default walk", l->name);
    }
  }
  for (size_t j = 0; j < ndefault; j++)
    CHECK(default_libs[j].readiness == GOTHOOK_READY, "default walk reported '%s' as %u",
          default_libs[j].name, default_libs[j].readiness);
  CHECK(ndefault == ready, "default walk: %zu libraries, READY ones in the full walk: %zu",
        ndefault, ready);
  /* The main program is MAIN, or SELF when libgothook.a is linked into it. */
  int mains = 0;
  for (size_t i = 0; i < nlibs; i++)
    mains += (uintptr_t)libs[i].lib.phdr == getauxval(AT_PHDR) &&
             (libs[i].lib.kind == GOTHOOK_KIND_MAIN || libs[i].lib.kind == GOTHOOK_KIND_SELF);
  CHECK(mains == 1 && kinds_seen[GOTHOOK_KIND_MAIN] <= 1 && kinds_seen[GOTHOOK_KIND_VDSO] == 1 &&
            kinds_seen[GOTHOOK_KIND_LOADER] == 1,
        "main %d vdso %d loader %d", kinds_seen[1], kinds_seen[2], kinds_seen[3]);
  {
    Dl_info info;
    int is_pie = 0;
    for (size_t i = 0; i < nlibs; i++)
      if ((uintptr_t)libs[i].lib.phdr == getauxval(AT_PHDR)) is_pie = libs[i].lib.bias != 0;
    CHECK(is_pie == !expect_nopie, "main program bias says %s, expected %s",
          is_pie ? "PIE" : "non-PIE", expect_nopie ? "non-PIE" : "PIE");
    (void)info;
  }

  /* ---- every library against readelf of its file ---- */
  size_t total_syms = 0, total_imports = 0, total_lookups = 0, total_notfound = 0,
         total_dlsym = 0, total_dlsym_skipped = 0, compared = 0;
  for (size_t i = 0; i < nlibs; i++) {
    struct lib_rec *r = &libs[i];
    char label[300], path[4096];
    snprintf(label, sizeof label, "%s[%s]", r->lib.name[0] ? r->lib.name : "(main)",
             kind_name(r->lib.kind));
    CHECK(r->decode_status == GOTHOOK_OK, "%s: decode: %s", label,
          gothook_status_str(r->decode_status));
    if (r->decode_status != GOTHOOK_OK) continue;
    CHECK(r->info_status == GOTHOOK_OK && r->info.bias == r->lib.bias, "%s: info", label);
    CHECK(r->missing_status == GOTHOOK_ENOTFOUND, "%s: lookup of a missing name: %s", label,
          gothook_status_str(r->missing_status));
    void *handle;
    int dumped;
    if (library_file(r, path, sizeof path, &handle, &dumped) != 0) {
      CHECK(0, "%s: no file to compare with", label);
      continue;
    }
    gothook_test_elf elf;
    int rc = gothook_test_readelf(path, &elf);
    if (dumped) unlink(path);
    CHECK(rc == 0, "%s: readelf %s failed", label, path);
    if (rc != 0) continue;
    CHECK(r->info.machine == elf.machine && r->info.elf_class == elf.elf_class,
          "%s: machine %u class %u, file %u %d", label, r->info.machine, r->info.elf_class,
          elf.machine, elf.elf_class);
    CHECK(r->info.bind_now == elf.bind_now, "%s: bind_now %u, readelf %d", label,
          r->info.bind_now, elf.bind_now);
    CHECK((r->info.soname ? !strcmp(r->info.soname, elf.soname) : !elf.soname[0]),
          "%s: soname '%s', readelf '%s'", label, r->info.soname ? r->info.soname : "(null)",
          elf.soname);
    /* The fixture has the shape its name promises (so each decoder path really ran). */
    const char *shape = strstr(r->lib.name, "decode_shape_");
    if (shape) {
      size_t plt = 0;
      for (size_t k = 0; k < r->imp_count; k++) plt += imports[r->imp_first + k].kind == GOTHOOK_IMPORT_PLT;
      if (strstr(shape, "_relr.")) CHECK(elf.has_relr && elf.nrelr > 0, "%s: no DT_RELR", label);
      if (strstr(shape, "lazy")) CHECK(!elf.bind_now, "%s: BIND_NOW set", label);
      if (strstr(shape, "now")) CHECK(elf.bind_now, "%s: BIND_NOW missing", label);
      if (strstr(shape, "noplt")) CHECK(plt == 0, "%s: %zu PLT imports", label, plt);
      else CHECK(plt > 0, "%s: no PLT imports", label);
      if (strstr(shape, "gnuhash")) CHECK(elf.has_gnu_hash && !elf.has_hash, "%s: hash tables", label);
      if (strstr(shape, "sysv")) CHECK(!elf.has_gnu_hash && elf.has_hash, "%s: hash tables", label);
      if (strstr(shape, "bothhash")) CHECK(elf.has_gnu_hash && elf.has_hash, "%s: hash tables", label);
      int has_relro = r->info.relro_end > r->info.relro_start;
      if (strstr(shape, "norelro")) CHECK(!has_relro, "%s: has RELRO", label);
      else CHECK(has_relro, "%s: no RELRO", label);
      /* A name defined only in a hidden version is not found by a default-version lookup. */
      int seen_old = 0;
      for (size_t k = 0; k < r->sym_count; k++) {
        const struct sym_rec *sr = &syms[r->sym_first + k];
        if (!strcmp(sr->sym.name, "shape_old")) {
          seen_old = 1;
          CHECK(sr->lookup_status == GOTHOOK_ENOTFOUND && (sr->sym.versym & 0x8000),
                "%s: hidden-only shape_old: %s", label, gothook_status_str(sr->lookup_status));
        }
      }
      CHECK(seen_old, "%s: fixture lacks shape_old", label);
    }
    struct lib_summary sum = {0};
    compare_symbols(r, &elf, handle, label, &sum);
    compare_imports(r, &elf, label, &sum);
    printf("  %-60s %-6s %s %5zu syms (%zu defined) %4zu imports %5zu lookups %4zu ENOTFOUND "
           "%5zu =dlsym%s\n",
           r->lib.name[0] ? r->lib.name : path, kind_name(r->lib.kind),
           r->lib.readiness == GOTHOOK_READY ? "READY" : "-----", sum.syms, sum.defined,
           sum.imports, sum.lookups_ok, sum.lookups_notfound, sum.dlsym_equal,
           elf.has_relr ? " RELR" : "");
    total_syms += sum.syms;
    total_imports += sum.imports;
    total_lookups += sum.lookups_ok;
    total_notfound += sum.lookups_notfound;
    total_dlsym += sum.dlsym_equal;
    total_dlsym_skipped += sum.dlsym_skipped;
    compared++;
    gothook_test_readelf_free(&elf);
  }
  CHECK(compared == nlibs, "compared %zu of %zu libraries", compared, nlibs);
  CHECK(nfixtures == 0 || nlibs >= (size_t)nfixtures + 4, "only %zu libraries for %d fixtures",
        nlibs, nfixtures);

  printf("decode_walk%s%s: %zu libraries (%d fixtures, %zu READY), %zu symbols, %zu imports, "
         "%zu lookups (%zu equal to dlsym, %zu checked against readelf only), %zu ENOTFOUND; "
         "%llu allocations inside gothook; %ld checks, %d failures\n",
         expect_nopie ? " (non-PIE)" : " (PIE)", rule_relro ? " [RELRO rule]" : "", nlibs,
         nfixtures, ready, total_syms, total_imports, total_lookups, total_dlsym,
         total_dlsym_skipped, total_notfound, (unsigned long long)violations, gt_checks, gt_failures);
  return gt_failures ? 1 : 0;
}
