/* gothook_slot_swap answers GOTHOOK_ENOTREADY for an owner whose library is not READY, and leaves
 * the slot alone: a -z norelro library under the RELRO rule (no page proves it relocated, so it is
 * UNKNOWN), whether the owner came from the walk (gothook_lib_decode) or from a raw decode; the
 * same swap on a READY library succeeds.  gothook_decode_containing refuses it too.
 * Usage: adopter_swap_not_ready norelro-fixture.so relro-fixture.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#include "ad_common.h"
#include "gothook_test_check.h"

struct pick {
  const void *addr;
  int found;
  uint8_t readiness;
  gothook_dynamic walked, raw;
  gothook_status walked_st, raw_st;
};

static int pick_cb(const gothook_lib *lib, void *ctx) {
  struct pick *p = (struct pick *)ctx;
  if (!gothook_lib_contains(lib, p->addr)) return 0;
  p->found = 1;
  p->readiness = lib->readiness;
  p->walked_st = gothook_lib_decode(lib, &p->walked);
  p->raw_st = gothook_dynamic_decode(lib->bias, lib->phdr, lib->phnum, 0, &p->raw);
  return 1;
}

static int check_lib(const char *path, int want_ready) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NODELETE);
  CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
  if (!h) return 0;
  struct pick p = {0};
  p.addr = dlsym(h, "gothook_fixture_run");
  gothook_libs_each(pick_cb, &p, GOTHOOK_LIBS_ALL);
  CHECK(p.found && p.walked_st == GOTHOOK_OK && p.raw_st == GOTHOOK_OK, "%s: found %d, decodes %d %d", path,
        p.found, p.walked_st, p.raw_st);
  CHECK((p.readiness == GOTHOOK_READY) == want_ready, "%s: readiness %u", path, p.readiness);
  void **slot = ad_import_slot(&p.walked, "malloc");
  CHECK(slot != NULL, "%s: no malloc import", path);
  if (!slot) return 0;
  void *was = *slot;
  gothook_status want = want_ready ? GOTHOOK_OK : GOTHOOK_ENOTREADY;
  /* expected == slot value: only readiness can refuse it; desired == value keeps a READY one intact. */
  void *desired = want_ready ? was : (void *)0x1000;
  gothook_status a = gothook_slot_swap(&p.walked, slot, was, desired);
  CHECK(a == want, "%s: swap on the walked owner: %s", path, gothook_status_str(a));
  CHECK(*slot == was, "%s: slot changed to %p", path, *slot);
  gothook_status b = gothook_slot_swap(&p.raw, slot, was, desired);
  CHECK(b == want, "%s: swap on the raw owner: %s", path, gothook_status_str(b));
  CHECK(*slot == was, "%s: slot changed to %p", path, *slot);
  gothook_dynamic d;
  gothook_status c = gothook_decode_containing(p.addr, &d);
  CHECK(c == (want_ready ? GOTHOOK_OK : GOTHOOK_ENOTREADY), "%s: decode_containing: %s", path,
        gothook_status_str(c));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  CHECK(gothook_set_readiness_rule(GOTHOOK_RULE_RELRO) == GOTHOOK_OK, "force the RELRO rule");
  int n = check_lib(argv[1], 0) + check_lib(argv[2], 1);
  printf("adopter_swap_not_ready: %d libraries, %ld checks, %d failures\n", n, gt_checks, gt_failures);
  return gt_failures != 0;
}
