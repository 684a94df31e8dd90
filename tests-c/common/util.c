/*
 * Shared test helpers: /proc/self/maps queries without allocation or stdio, and a parser for
 * `readelf -W -D --dyn-syms -r` (allocates; tests only, never while guarded).
 */
#define _GNU_SOURCE
#include "gothook_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---------------- /proc/self/maps ---------------- */

static const char *parse_hex(const char *s, uintptr_t *out) {
  uintptr_t v = 0;
  for (;; s++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else break;
    v = v * 16 + (uintptr_t)d;
  }
  *out = v;
  return s;
}

/* Handles one maps line; returns 1 when it is the mapping holding addr. */
static int maps_line(const char *line, uintptr_t addr, int *prot, uintptr_t *start,
                     uintptr_t *end, char *path_out, size_t path_len) {
  uintptr_t lo, hi;
  const char *s = parse_hex(line, &lo);
  if (*s != '-') return 0;
  s = parse_hex(s + 1, &hi);
  if (addr < lo || addr >= hi) return 0;
  while (*s == ' ') s++;
  int p = 0;
  if (s[0] == 'r') p |= PROT_READ;
  if (s[1] == 'w') p |= PROT_WRITE;
  if (s[2] == 'x') p |= PROT_EXEC;
  if (prot) *prot = p;
  if (start) *start = lo;
  if (end) *end = hi;
  if (path_out && path_len) {
    /* Fields: perms offset dev inode path. */
    for (int field = 0; field < 4 && *s; field++) {
      while (*s && *s != ' ') s++;
      while (*s == ' ') s++;
    }
    size_t n = 0;
    while (s[n] && s[n] != '\n' && n + 1 < path_len) {
      path_out[n] = s[n];
      n++;
    }
    path_out[n] = 0;
  }
  return 1;
}

/* Walks /proc/self/maps line by line with a stack buffer; calls match on each line. */
static int maps_scan(int (*match)(const char *line, void *ctx), void *ctx) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  size_t have = 0;
  int found = -1;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = 0;
    char *line = buf;
    char *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
      *nl = 0;
      if (match(line, ctx)) {
        found = 0;
        goto done;
      }
      line = nl + 1;
    }
    have -= (size_t)(line - buf);
    memmove(buf, line, have);
    if (have == sizeof buf - 1) have = 0; /* absurdly long line: drop it */
  }
  if (have) {
    buf[have] = 0;
    if (match(buf, ctx)) found = 0;
  }
done:
  close(fd);
  return found;
}

struct query_ctx {
  uintptr_t addr;
  int *prot;
  uintptr_t *start, *end;
  char *path;
  size_t path_len;
};

static int query_match(const char *line, void *p) {
  struct query_ctx *q = p;
  return maps_line(line, q->addr, q->prot, q->start, q->end, q->path, q->path_len);
}

int gothook_test_maps_query(const void *addr, int *prot, uintptr_t *start, uintptr_t *end,
                            char *path_out, size_t path_len) {
  struct query_ctx q = {(uintptr_t)addr, prot, start, end, path_out, path_len};
  return maps_scan(query_match, &q);
}

int gothook_test_maps_prot(const void *addr) {
  int prot = -1;
  if (gothook_test_maps_query(addr, &prot, NULL, NULL, NULL, 0) != 0) return -1;
  return prot;
}

struct vdso_ctx {
  uintptr_t *start, *end;
};

static int vdso_match(const char *line, void *p) {
  struct vdso_ctx *v = p;
  size_t len = strlen(line);
  if (len < 6 || strcmp(line + len - 6, "[vdso]") != 0) return 0;
  uintptr_t lo, hi;
  const char *s = parse_hex(line, &lo);
  parse_hex(s + 1, &hi);
  if (v->start) *v->start = lo;
  if (v->end) *v->end = hi;
  return 1;
}

int gothook_test_vdso_range(uintptr_t *start, uintptr_t *end) {
  struct vdso_ctx v = {start, end};
  return maps_scan(vdso_match, &v);
}

int gothook_test_dump_memory(const char *path, const void *addr, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  const char *p = addr;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return close(fd);
}

/* ---------------- readelf ---------------- */

static int push(void **array, size_t *count, size_t *cap, size_t elem) {
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 256;
    void *n = realloc(*array, ncap * elem);
    if (!n) return -1;
    *array = n;
    *cap = ncap;
  }
  memset((char *)*array + *count * elem, 0, elem);
  (*count)++;
  return 0;
}

/* Splits "name@@VER", "name@VER (n)" into its parts. */
static void split_version(const char *word, char *name, size_t name_len, char *version,
                          size_t version_len, int *hidden) {
  const char *at = strchr(word, '@');
  size_t n = at ? (size_t)(at - word) : strlen(word);
  if (n >= name_len) n = name_len - 1;
  memcpy(name, word, n);
  name[n] = 0;
  *hidden = 0;
  version[0] = 0;
  if (!at) return;
  if (at[1] == '@') at++;
  else *hidden = 1;
  snprintf(version, version_len, "%s", at + 1);
}

static int type_code(const char *type) {
  static const char *const names[] = {"NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE", "COMMON",
                                      "TLS"};
  for (int i = 0; i < 7; i++)
    if (!strcmp(type, names[i])) return i;
  if (!strcmp(type, "IFUNC")) return 10;
  if (!strncmp(type, "<OS specific>: ", 15)) return atoi(type + 15);
  if (!strncmp(type, "<processor specific>: ", 22)) return atoi(type + 22);
  return -1;
}

static int bind_code(const char *bind) {
  if (!strcmp(bind, "LOCAL")) return 0;
  if (!strcmp(bind, "GLOBAL")) return 1;
  if (!strcmp(bind, "WEAK")) return 2;
  if (!strcmp(bind, "UNIQUE")) return 10;
  return -1;
}

static int vis_code(const char *vis) {
  static const char *const names[] = {"DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(vis, names[i])) return i;
  return -1;
}

/* "   12: 0000000000001139    11 FUNC    GLOBAL DEFAULT   14 f@@V1" */
static int parse_sym_line(const char *line, gothook_test_sym *s) {
  char type[32], bind[16], vis[16], rest[512];
  unsigned long long value, size;
  unsigned index;
  int used = 0;
  char sizeword[32];
  if (sscanf(line, " %u: %llx %31s %31s %15s %15s%n", &index, &value, sizeword, type, bind,
             vis, &used) != 6)
    return -1;
  /* Sizes above 99999 are printed in hex with 0x. */
  size = strtoull(sizeword, NULL, 0);
  const char *p = line + used;
  while (*p == ' ') p++;
  /* ppc64 prints "[<localentry>: 8]" after the visibility. */
  if (*p == '[') {
    const char *close = strchr(p, ']');
    if (!close) return -1;
    p = close + 1;
    while (*p == ' ') p++;
  }
  char ndx[16];
  int n2 = 0;
  if (sscanf(p, "%15s%n", ndx, &n2) != 1) return -1;
  p += n2;
  while (*p == ' ') p++;
  snprintf(rest, sizeof rest, "%s", p);
  size_t len = strlen(rest);
  while (len && (rest[len - 1] == '\n' || rest[len - 1] == ' ')) rest[--len] = 0;
  s->verindex = -1;
  char *paren = strstr(rest, " (");
  if (paren) {
    s->verindex = atoi(paren + 2);
    *paren = 0;
  }
  int t = type_code(type), b = bind_code(bind), v = vis_code(vis);
  if (t < 0 || b < 0 || v < 0) return -1;
  s->index = index;
  s->value = value;
  s->size = size;
  s->info = (uint8_t)((b << 4) | t);
  s->other = (uint8_t)v;
  if (!strcmp(ndx, "UND")) s->shndx = 0;
  else if (!strcmp(ndx, "ABS")) s->shndx = 0xfff1;
  else if (!strcmp(ndx, "COM")) s->shndx = 0xfff2;
  else s->shndx = (uint16_t)strtoul(ndx, NULL, 0);
  split_version(rest, s->name, sizeof s->name, s->version, sizeof s->version, &s->hidden);
  return 0;
}

/* "000000000001c018  0000000300000007 R_X86_64_JUMP_SLOT  0000000000000000 puts@GLIBC_2.2.5 + 0" */
static int parse_rel_line(const char *line, int is64, gothook_test_rel *r) {
  unsigned long long offset, info;
  char type[48];
  int used = 0;
  if (sscanf(line, "%llx %llx %47s%n", &offset, &info, type, &used) != 3) return -1;
  if (strncmp(type, "R_", 2) != 0) return -1;
  r->offset = offset;
  r->info = info;
  r->type = is64 ? (uint32_t)(info & 0xffffffffu) : (uint32_t)(info & 0xff);
  r->sym = is64 ? (uint32_t)(info >> 32) : (uint32_t)(info >> 8);
  snprintf(r->type_name, sizeof r->type_name, "%s", type);
  const char *p = line + used;
  while (*p == ' ') p++;
  if (!*p || *p == '\n') return 0; /* no symbol, no addend (REL without symbol) */
  /* Either "<symvalue> <name> + <addend>", "<symvalue> <name>", or a bare addend. */
  char w1[64], w2[512];
  int n = sscanf(p, "%63s %511s", w1, w2);
  const char *plus = strstr(p, " + ");
  const char *minus = strstr(p, " - ");
  if (n == 2 && strcmp(w2, "+") != 0 && strcmp(w2, "-") != 0) {
    char version[64];
    int hidden;
    split_version(w2, r->name, sizeof r->name, version, sizeof version, &hidden);
  }
  if (plus) {
    r->has_addend = 1;
    r->addend = (int64_t)strtoull(plus + 3, NULL, 16);
  } else if (minus) {
    r->has_addend = 1;
    r->addend = -(int64_t)strtoull(minus + 3, NULL, 16);
  } else if (n == 1) {
    r->has_addend = 1; /* symbol-less RELA: readelf prints only the addend */
    r->addend = (int64_t)strtoull(w1, NULL, 16);
  }
  return 0;
}

static int read_header(const char *path, gothook_test_elf *out) {
  unsigned char h[20];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, h, sizeof h);
  close(fd);
  if (n != (ssize_t)sizeof h || memcmp(h, "\177ELF", 4) != 0) return -1;
  out->elf_class = h[4];
  out->machine = h[5] == 2 ? (unsigned)(h[18] << 8 | h[19]) : (unsigned)(h[18] | h[19] << 8);
  return 0;
}

int gothook_test_readelf(const char *path, gothook_test_elf *out) {
  memset(out, 0, sizeof *out);
  if (read_header(path, out) != 0) {
    fprintf(stderr, "readelf helper: %s is not a readable ELF file\n", path);
    return -1;
  }
  const char *tool = getenv("GOTHOOK_READELF");
  if (!tool || !*tool) tool = "readelf";
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' -W -D -d --dyn-syms -r '%s' 2>&1", tool, path);
  FILE *f = popen(cmd, "r");
  if (!f) {
    perror("popen readelf");
    return -1;
  }
  size_t sym_cap = 0, rel_cap = 0;
  enum { NONE, DYN, SYMS, RELS, RELR } mode = NONE;
  char table[8] = "";
  char line[4096];
  int bad = 0;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "Dynamic section at offset", 25)) {
      mode = DYN;
      out->has_dynamic = 1;
      continue;
    }
    if (!strncmp(line, "Symbol table '", 14)) {
      mode = SYMS;
      continue;
    }
    if (line[0] == '\'') {
      /* "'PLT' relocation section at offset ..." */
      char *q = strchr(line + 1, '\'');
      size_t n = q ? (size_t)(q - line - 1) : 0;
      if (n >= sizeof table) n = sizeof table - 1;
      memcpy(table, line + 1, n);
      table[n] = 0;
      mode = !strcmp(table, "RELR") ? RELR : RELS;
      if (mode == RELR) out->has_relr = 1;
      continue;
    }
    if (!strncmp(line, "readelf: Error", 14) || !strncmp(line, "readelf: Warning", 16)) {
      fprintf(stderr, "readelf %s: %s", path, line);
      bad = 1;
      continue;
    }
    if (mode == DYN) {
      /* " 0x000000000000000e (SONAME)             Library soname: [libc.so.6]" */
      char *tag = strchr(line, '(');
      if (!tag) continue;
      if (!strncmp(tag, "(SONAME)", 8)) {
        char *open_br = strchr(tag, '['), *close_br = strrchr(tag, ']');
        if (open_br && close_br > open_br) {
          size_t n = (size_t)(close_br - open_br - 1);
          if (n >= sizeof out->soname) n = sizeof out->soname - 1;
          memcpy(out->soname, open_br + 1, n);
          out->soname[n] = 0;
        }
      } else if (!strncmp(tag, "(HASH)", 6)) {
        out->has_hash = 1;
      } else if (!strncmp(tag, "(GNU_HASH)", 10)) {
        out->has_gnu_hash = 1;
      } else if (!strncmp(tag, "(BIND_NOW)", 10)) {
        out->bind_now = 1;
      } else if (!strncmp(tag, "(FLAGS)", 7) && strstr(tag, " BIND_NOW")) {
        out->bind_now = 1;
      } else if (!strncmp(tag, "(FLAGS_1)", 9) && strstr(tag, " NOW")) {
        out->bind_now = 1;
      }
    } else if (mode == SYMS) {
      gothook_test_sym s;
      memset(&s, 0, sizeof s);
      if (parse_sym_line(line, &s) != 0) continue; /* headers */
      if (push((void **)&out->syms, &out->nsyms, &sym_cap, sizeof s) != 0) goto oom;
      out->syms[out->nsyms - 1] = s;
    } else if (mode == RELS) {
      gothook_test_rel r;
      memset(&r, 0, sizeof r);
      if (parse_rel_line(line, out->elf_class == 2, &r) != 0) continue;
      snprintf(r.table, sizeof r.table, "%s", table);
      if (push((void **)&out->rels, &out->nrels, &rel_cap, sizeof r) != 0) goto oom;
      out->rels[out->nrels - 1] = r;
    } else if (mode == RELR) {
      unsigned long long v;
      char extra;
      if (sscanf(line, "%llx %c", &v, &extra) == 1) out->nrelr++;
    }
  }
  int status = pclose(f);
  if (status != 0 && !bad) {
    fprintf(stderr, "readelf %s exited with status %d\n", path, status);
    bad = 1;
  }
  for (size_t i = 0; i < out->nsyms && !bad; i++) {
    if (out->syms[i].index != i) {
      fprintf(stderr, "readelf %s: symbol %zu listed as %u\n", path, i, out->syms[i].index);
      bad = 1;
    }
  }
  if (bad) {
    gothook_test_readelf_free(out);
    return -1;
  }
  return 0;
oom:
  pclose(f);
  gothook_test_readelf_free(out);
  fprintf(stderr, "readelf helper: out of memory\n");
  return -1;
}

void gothook_test_readelf_free(gothook_test_elf *elf) {
  free(elf->syms);
  free(elf->rels);
  memset(elf, 0, sizeof *elf);
}

int gothook_test_import_kind(const char *t) {
  size_t n = strlen(t);
  if ((n > 10 && !strcmp(t + n - 10, "_JUMP_SLOT")) || !strcmp(t, "R_PPC64_JMP_SLOT")) return 0;
  if (n > 9 && !strcmp(t + n - 9, "_GLOB_DAT")) return 1;
  static const char *const abs_names[] = {"R_X86_64_64", "R_AARCH64_ABS64", "R_386_32",
                                          "R_ARM_ABS32", "R_RISCV_64", "R_PPC64_ADDR64",
                                          "R_LARCH_64"};
  for (size_t i = 0; i < sizeof abs_names / sizeof abs_names[0]; i++)
    if (!strcmp(t, abs_names[i])) return 2;
  return -1;
}
