/* Install and uninstall over a library whose hooked slots fill 16 read-only pages (8192 ABS64
 * slots for malloc in RELRO) and 16 more pages one slot each (more pages in one decision round
 * than one swap batch plans, 8): every slot is patched, and every slot is restored.
 * Usage: hooks_many_pages <libhk_many_pages.so> */
#include "hk_common.h"

enum { N = 8192, ALL = N + 16 };
static void *(*real_malloc)(size_t);
static void *many_malloc(size_t n) { return real_malloc(n); }

struct hk_spaced {
  void *(*f)(size_t);
  char pad[4096 - sizeof(void *)];
};
static const struct hk_spaced *spaced;

/* Slots holding `want`: the dense table's and the spaced ones. */
static int count(void *(*const *table)(size_t), void *(*want)(size_t)) {
  int n = 0;
  for (int i = 0; i < N; i++) n += table[i] == want;
  for (int i = 0; i < 16; i++) n += spaced[i].f == want;
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "dlopen %s: %s", argv[1], dlerror());
  if (!lib) return 1;
  void *(*const *table)(size_t) = (void *(*const *)(size_t))dlsym(lib, "hk_many_pages_table");
  CHECK(table != NULL, "no hk_many_pages_table");
  spaced = (const struct hk_spaced *)dlsym(lib, "hk_many_pages_spaced");
  CHECK(spaced != NULL, "no hk_many_pages_spaced");
  if (!table || !spaced) return 1;
  void *(*orig)(size_t) = table[0];
  CHECK(count(table, orig) == ALL, "the tables do not hold one function %d times", ALL);

  gothook_hook h = {"malloc", (void *)many_malloc, (void **)&real_malloc, 0};
  gothook_filter f = {0};
  f.path_suffix = "/libhk_many_pages.so";
  gothook_set set = 0;
  gothook_report r;
  CHECK_ST(gothook_install(&h, 1, &f, &set, &r), GOTHOOK_OK);
  int patched = count(table, many_malloc);
  CHECK(patched == ALL, "%d of %d slots over 32 pages patched", patched, ALL);
  CHECK(r.slots_patched >= ALL, "install reported %u slots patched", r.slots_patched);
  CHECK(real_malloc == orig, "the original is not the slots' pre-patch value");
  CHECK_ST(gothook_uninstall(set, &r), GOTHOOK_OK);
  int restored = count(table, orig);
  CHECK(restored == ALL, "%d of %d slots restored", restored, ALL);
  printf("hooks_many_pages: %d of %d slots patched, %d restored; %s\n", patched, ALL, restored,
         hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
