/* gothook_lib_contains answers by PT_LOAD ranges (exactly one listed library maps a function, the
 * last byte of a library's highest segment is in, the byte after is out), and
 * gothook_decode_containing decodes the library containing an address in one call, giving an
 * owner for gothook_slot_swap: one libjvm-style slot swapped and restored with no walk or
 * containment code of the caller's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>

#include "ad_common.h"
#include "gothook_test_check.h"

int ad_host_uses_dep(void);
int ad_dep_probe(void);

struct count {
  const void *addr;
  int hits;
  const char *name;
  int edges_ok;
  int libs;
};

static int count_cb(const gothook_lib *lib, void *ctx) {
  struct count *c = (struct count *)ctx;
  c->libs++;
  if (gothook_lib_contains(lib, c->addr)) {
    c->hits++;
    c->name = lib->name;
  }
  /* The highest PT_LOAD's last byte is mapped by this library, the next byte is not. */
  const ElfW(Phdr) *ph = (const ElfW(Phdr) *)lib->phdr;
  uintptr_t end = 0;
  for (unsigned i = 0; i < lib->phnum; i++)
    if (ph[i].p_type == PT_LOAD && lib->bias + ph[i].p_vaddr + ph[i].p_memsz > end)
      end = lib->bias + ph[i].p_vaddr + ph[i].p_memsz;
  c->edges_ok += end != 0 && gothook_lib_contains(lib, (const void *)(end - 1)) &&
                 !gothook_lib_contains(lib, (const void *)end) && !gothook_lib_contains(lib, NULL);
  return 0;
}

static int fake_probe(void) { return 99; }

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

int main(void) {
  void *dep = dlsym(RTLD_DEFAULT, "ad_dep_probe");
  void *mal = dlsym(RTLD_DEFAULT, "malloc");
  struct count c = {dep, 0, NULL, 0, 0};
  CHECK(gothook_libs_each(count_cb, &c, GOTHOOK_LIBS_ALL) == GOTHOOK_OK, "walk");
  CHECK(c.hits == 1 && c.name && ends_with(c.name, "/libad_dep.so"), "ad_dep_probe mapped by %d libraries (%s)",
        c.hits, c.name ? c.name : "-");
  CHECK(c.edges_ok == c.libs, "segment edges right in %d of %d libraries", c.edges_ok, c.libs);
  struct count m = {mal, 0, NULL, 0, 0};
  gothook_libs_each(count_cb, &m, 0);
  CHECK(m.hits == 1 && m.name && strstr(m.name, "libc.so"), "malloc mapped by %d libraries (%s)", m.hits,
        m.name ? m.name : "-");
  CHECK(gothook_lib_contains(NULL, dep) == 0, "NULL library contains an address");

  gothook_dynamic d;
  CHECK(gothook_decode_containing(dep, &d) == GOTHOOK_OK, "decode the library containing ad_dep_probe");
  void *found = NULL;
  CHECK(gothook_dynamic_lookup(&d, "ad_dep_probe", &found) == GOTHOOK_OK && found == dep,
        "the decoded library defines ad_dep_probe at %p, dlsym says %p", found, dep);
  int on_stack = 0;
  CHECK(gothook_decode_containing(&on_stack, &d) == GOTHOOK_ENOTFOUND, "a stack address has a library");
  CHECK(gothook_decode_containing(dep, NULL) == GOTHOOK_EINVAL, "NULL output accepted");

  /* One slot of one library, as a profiler patches libjvm's imports. */
  gothook_dynamic host;
  CHECK(gothook_decode_containing((const void *)ad_host_uses_dep, &host) == GOTHOOK_OK, "decode the host");
  CHECK(ad_host_uses_dep() == 21, "unpatched call"); /* binds a lazy slot first */
  void **slot = ad_import_slot(&host, "ad_dep_probe");
  CHECK(slot != NULL, "the host imports ad_dep_probe");
  if (slot) {
    void *was = *slot;
    CHECK(gothook_slot_swap(&host, slot, (char *)was + 1, (void *)fake_probe) == GOTHOOK_ECHANGED,
          "a wrong expected value swapped");
    CHECK(gothook_slot_swap(&host, slot, was, (void *)fake_probe) == GOTHOOK_OK, "swap");
    CHECK(ad_host_uses_dep() == 99, "the host's call does not reach the replacement");
    CHECK(gothook_slot_swap(&host, slot, (void *)fake_probe, was) == GOTHOOK_OK, "restore");
    CHECK(ad_host_uses_dep() == 21, "the host's call was not restored");
  }
  printf("adopter_helpers: %d libraries, %ld checks, %d failures\n", c.libs, gt_checks, gt_failures);
  return gt_failures != 0;
}
