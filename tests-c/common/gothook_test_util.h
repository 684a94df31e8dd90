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
  char version[64];/* the version readelf appends ("" when none) */
  int hidden;      /* 1: readelf printed "name@VER" (hidden or needed version), 0: "name@@VER" */
  int verindex;    /* the "(n)" readelf prints after needed versions, else -1 */
} gothook_test_sym;

/* One relocation of `readelf -W -D -r` (tables found through the dynamic section). */
typedef struct gothook_test_rel {
  uint64_t offset;   /* r_offset (unbiased) */
  uint64_t info;     /* raw r_info as readelf prints it */
  uint32_t type;     /* r_type decoded from r_info (ELF64: low 32 bits, ELF32: low 8 bits) */
  uint32_t sym;      /* symbol index decoded from r_info */
  char type_name[48];/* e.g. "R_X86_64_JUMP_SLOT" */
  char table[8];     /* the dynamic tag readelf found the table by: "PLT", "RELA", "REL" */
  int64_t addend;    /* 0 for REL */
  char name[256];    /* symbol name without version, "" when the relocation has no symbol */
  int has_addend;    /* readelf printed "+ addend" (RELA) */
} gothook_test_rel;

typedef struct gothook_test_elf {
  gothook_test_sym *syms; /* indices 0..nsyms-1 as readelf lists them (.dynsym) */
  size_t nsyms;
  gothook_test_rel *rels; /* in readelf's order: sections in file order, entries in table order */
  size_t nrels;
  int has_relr;           /* readelf showed a DT_RELR table */
  size_t nrelr;           /* offsets it lists */
  int elf_class;          /* 1 ELFCLASS32, 2 ELFCLASS64 (read from the file header) */
  unsigned machine;       /* e_machine (read from the file header) */
  int has_dynamic;        /* readelf printed a dynamic section */
  char soname[256];       /* DT_SONAME, "" when absent */
  int bind_now;           /* DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS or DF_1_NOW in DT_FLAGS_1 */
  int has_hash;           /* DT_HASH present */
  int has_gnu_hash;       /* DT_GNU_HASH present */
} gothook_test_elf;

/* Runs `readelf -W -D -d --dyn-syms -r path` (readelf: $GOTHOOK_READELF or "readelf") and
 * parses it.
 * Returns 0, or -1 with a message on stderr. */
int gothook_test_readelf(const char *path, gothook_test_elf *out);
void gothook_test_readelf_free(gothook_test_elf *elf);

/* The gothook import kind (GOTHOOK_IMPORT_PLT 0, _GLOB_DAT 1, _ABS 2) a relocation type name
 * stands for, by its name alone: *_JUMP_SLOT (R_PPC64_JMP_SLOT), *_GLOB_DAT, and the
 * word-sized absolute type of each architecture (R_X86_64_64, R_AARCH64_ABS64, R_386_32,
 * R_ARM_ABS32, R_RISCV_64, R_PPC64_ADDR64, R_LARCH_64); -1 for every other type. */
int gothook_test_import_kind(const char *type_name);

/* Writes `len` bytes at `addr` to a new file `path` (e.g. to readelf the vDSO). 0 or -1. */
int gothook_test_dump_memory(const char *path, const void *addr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GOTHOOK_TEST_UTIL_H */
