/*
 * Small helpers shared by gothook's C test areas (link the CMake target gothook_test_util).
 * The /proc/self/maps helpers neither allocate nor use stdio, so they may run while the
 * allocation guard is active; the readelf helpers allocate and run a child process (tests only).
 */
#ifndef GOTHOOK_TEST_UTIL_H
#define GOTHOOK_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- /proc/self/maps (no allocation, no stdio) ---- */

/* The kernel's view of the mapping containing `addr`: writes PROT_READ|PROT_WRITE|PROT_EXEC
 * bits to *prot, the mapping's bounds to *start/*end (each may be NULL) and, if path_out is
 * non-NULL, its path (or "" / "[vdso]" ...) truncated to path_len.  Returns 0, or -1 when no
 * mapping contains addr. */
int gothook_test_maps_query(const void *addr, int *prot, uintptr_t *start, uintptr_t *end,
                            char *path_out, size_t path_len);
/* PROT_* bits of the page holding addr, or -1 when it is not mapped. */
int gothook_test_maps_prot(const void *addr);
/* Bounds of the vDSO ([vdso] in maps); returns 0, or -1 when the process has none. */
int gothook_test_vdso_range(uintptr_t *start, uintptr_t *end);

/* ---- readelf (popen; tests only) ---- */

/* One line of `readelf -W --dyn-syms`. */
typedef struct gothook_test_sym {
  uint32_t index;
  uint64_t value;
  uint64_t size;
  uint8_t info;    /* (bind << 4) | type, reconstructed from readelf's words */
  uint8_t other;   /* visibility (STV_*) */
  uint16_t shndx;  /* 0 for UND, 0xfff1 ABS, 0xfff2 COMMON, else the number readelf prints */
  char name[256];  /* without the @version suffix readelf appends */
  char version[64];/* the version readelf appends ("" when none); hidden ones start with '@'?
                      no: `hidden` is set instead */
  int hidden;      /* readelf printed "name@VER" (non-default) rather than "name@@VER" */
} gothook_test_sym;

/* One relocation of `readelf -W -r`. */
typedef struct gothook_test_rel {
  uint64_t offset;   /* r_offset (unbiased) */
  uint32_t type;     /* numeric r_type (resolved from readelf's name, see below) */
  char type_name[48];/* e.g. "R_X86_64_JUMP_SLOT" */
  char section[64];  /* the section readelf listed it under: ".rela.plt", ".rela.dyn" ... */
  int64_t addend;    /* 0 for REL */
  char name[256];    /* symbol name without version, "" when the relocation has no symbol */
} gothook_test_rel;

typedef struct gothook_test_elf {
  gothook_test_sym *syms; /* indices 0..nsyms-1 as readelf lists them (.dynsym) */
  size_t nsyms;
  gothook_test_rel *rels; /* in readelf's order: sections in file order, entries in table order */
  size_t nrels;
  int has_relr;           /* readelf showed a .relr.dyn section */
} gothook_test_elf;

/* Runs `readelf -W --dyn-syms -r path` (readelf: $READELF or "readelf") and parses it.
 * Returns 0, or -1 with a message on stderr. */
int gothook_test_readelf(const char *path, gothook_test_elf *out);
void gothook_test_readelf_free(gothook_test_elf *elf);

/* Numeric value of a relocation type name readelf prints ("R_X86_64_GLOB_DAT" ...), for
 * x86_64, aarch64, i386, arm, riscv64, ppc64 and loongarch; -1 when unknown. */
long gothook_test_reloc_type(const char *name);

/* Writes `len` bytes at `addr` to a new file `path` (e.g. to readelf the vDSO). 0 or -1. */
int gothook_test_dump_memory(const char *path, const void *addr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GOTHOOK_TEST_UTIL_H */
