/* The hook-set and swap API's error contract and idempotence:
 *  - NULL arguments -> EINVAL; a stale set handle -> ENOTFOUND; a symbol nobody defines ->
 *    ENOTFOUND with nothing installed; a slot outside its owner or misaligned -> ERANGE; a wrong
 *    expected value -> ECHANGED with the slot and its page protection unchanged;
 *  - installing the same set twice returns the same handle with two owners: the slots go back
 *    only when both have uninstalled;
 *  - a single swap of a RELRO slot leaves the page read-only (/proc/self/maps) and a swap of a
 *    lazy .got.plt slot leaves that page writable.
 * Usage: hooks_api_contract <relro lazy fixture.so> */
#include "hk_common.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  hk_init_main();
  int fx = hk_open(argv[1], RTLD_NODELETE); /* stays mapped: its decoded dynamic stays valid */
  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_filter filter = {0};
  filter.path_suffix = ".so";
  gothook_set set = 0;
  gothook_report rep = {0};
  unsigned checks = 0;
#define EXPECT(expr, want) do { CHECK_ST(expr, want); checks++; } while (0)

  /* NULL and malformed arguments. */
  EXPECT(gothook_install(NULL, 1, &filter, &set, &rep), GOTHOOK_EINVAL);
  EXPECT(gothook_install(hooks, 0, &filter, &set, &rep), GOTHOOK_EINVAL);
  EXPECT(gothook_install(hooks, GF_NFUNCS, &filter, NULL, &rep), GOTHOOK_EINVAL);
  gothook_hook bad = hooks[0];
  bad.symbol = NULL;
  EXPECT(gothook_install(&bad, 1, &filter, &set, &rep), GOTHOOK_EINVAL);
  bad = hooks[0];
  bad.replacement = NULL;
  EXPECT(gothook_install(&bad, 1, &filter, &set, &rep), GOTHOOK_EINVAL);
  EXPECT(gothook_libs_each(NULL, NULL, 0), GOTHOOK_EINVAL);
  EXPECT(gothook_global_lookup(NULL, NULL, (void **)&set), GOTHOOK_EINVAL);
  EXPECT(gothook_dynamic_imports(NULL, hk_imp_cb, NULL), GOTHOOK_EINVAL);
  EXPECT(gothook_refresh(0x80000000u, NULL), GOTHOOK_EINVAL);
  CHECK(set == 0, "a failed install wrote the handle");

  /* A symbol nobody defines: nothing is installed, the other hooks of the set included. */
  struct hk_slots before, after;
  hk_snapshot(argv[1], &before);
  gothook_hook with_missing[2] = {hooks[GF_MALLOC], {"gothook_no_such_symbol_anywhere", (void *)hk_free, NULL}};
  EXPECT(gothook_install(with_missing, 2, &filter, &set, &rep), GOTHOOK_ENOTFOUND);
  CHECK(rep.missing_hook == 2, "ENOTFOUND named hook %u (1-based), want 2", rep.missing_hook);
  hk_snapshot(argv[1], &after);
  CHECK(hk_slots_equal(&before, &after), "a failed install changed slots");
  hk_run_and_compare(fx, 0, "after failed install");

  /* Twice: same handle, nothing newly patched. */
  gothook_report r1 = {0}, r2 = {0};
  gothook_set s2 = 0;
  EXPECT(gothook_install(hooks, GF_NFUNCS, &filter, &set, &r1), GOTHOOK_OK);
  EXPECT(gothook_install(hooks, GF_NFUNCS, &filter, &s2, &r2), GOTHOOK_OK);
  hk_print_report("install", &r1);
  hk_print_report("install again", &r2);
  CHECK(set != 0 && s2 == set, "second install returned handle %u, first %u", s2, set);
  CHECK(r1.slots_patched > 0 && r2.slots_patched == 0, "second install patched %u slots", r2.slots_patched);
  hk_run_and_compare(fx, 1, "installed twice");
  gothook_report u = {0};
  EXPECT(gothook_uninstall(set, &u), GOTHOOK_OK);
  CHECK(u.slots_restored == 0, "first of two owners restored %u slots", u.slots_restored);
  hk_run_and_compare(fx, 1, "one of two owners uninstalled");
  EXPECT(gothook_uninstall(set, &u), GOTHOOK_OK);
  CHECK(u.slots_restored == r1.slots_patched, "last owner restored %u of %u slots", u.slots_restored,
        r1.slots_patched);
  hk_run_and_compare(fx, 0, "both owners uninstalled");
  EXPECT(gothook_uninstall(set, &u), GOTHOOK_ENOTFOUND);
  EXPECT(gothook_uninstall(set + 1000, &u), GOTHOOK_ENOTFOUND);

  /* Swaps on a captured owner. */
  struct hk_slots ss;
  hk_snapshot(argv[1], &ss);
  CHECK(ss.found && ss.readiness == GOTHOOK_READY, "fixture not READY");
  struct hk_mem m;
  hk_memory(argv[1], &m);
  void **relro_slot = NULL, **plt_slot = NULL;
  for (int k = 0; k < ss.n; k++) {
    uintptr_t a = (uintptr_t)ss.s[k].slot;
    if (ss.s[k].func < 0) continue;
    if (a >= m.relro_lo && a < m.relro_hi && !relro_slot) relro_slot = ss.s[k].slot;
    if (ss.s[k].kind == GOTHOOK_IMPORT_PLT && !hk_libs[fx].bind_now && !plt_slot) plt_slot = ss.s[k].slot;
  }
  CHECK(relro_slot && plt_slot, "fixture has no RELRO allocator slot (%p) or lazy PLT slot (%p)",
        (void *)relro_slot, (void *)plt_slot);
  if (relro_slot && plt_slot) {
    void *v = hk_peek(relro_slot);
    int local = 0;
    EXPECT(gothook_slot_swap(NULL, relro_slot, v, v), GOTHOOK_EINVAL);
    EXPECT(gothook_slot_swap(&ss.dyn, NULL, v, v), GOTHOOK_EINVAL);
    EXPECT(gothook_slot_swap(&ss.dyn, (void **)&local, v, v), GOTHOOK_ERANGE);
    EXPECT(gothook_slot_swap(&ss.dyn, (void **)((char *)relro_slot + 1), v, v), GOTHOOK_ERANGE);
    EXPECT(gothook_slot_swap(&ss.dyn, (void **)hk_main_lo, v, v), GOTHOOK_ERANGE);
    int prot0 = hk_maps_prot((uintptr_t)relro_slot);
    EXPECT(gothook_slot_swap(&ss.dyn, relro_slot, (char *)v + 16, (void *)hk_malloc), GOTHOOK_ECHANGED);
    CHECK(hk_peek(relro_slot) == v, "ECHANGED swap wrote the slot");
    CHECK(hk_maps_prot((uintptr_t)relro_slot) == prot0 && !(prot0 & 2), "RELRO page protection %d -> %d",
          prot0, hk_maps_prot((uintptr_t)relro_slot));
    EXPECT(gothook_slot_swap(&ss.dyn, relro_slot, v, v), GOTHOOK_OK);
    void *w = (char *)v + 8;
    EXPECT(gothook_slot_swap(&ss.dyn, relro_slot, v, w), GOTHOOK_OK);
    CHECK(hk_peek(relro_slot) == w, "swap did not write");
    CHECK(!(hk_maps_prot((uintptr_t)relro_slot) & 2), "RELRO page writable after a swap");
    EXPECT(gothook_slot_swap(&ss.dyn, relro_slot, w, v), GOTHOOK_OK);
    CHECK(hk_peek(relro_slot) == v && !(hk_maps_prot((uintptr_t)relro_slot) & 2), "swap back failed");
    void *pv = hk_peek(plt_slot);
    EXPECT(gothook_slot_swap(&ss.dyn, plt_slot, pv, (char *)pv + 8), GOTHOOK_OK);
    CHECK(hk_maps_prot((uintptr_t)plt_slot) & 2, "lazy .got.plt page not writable after a swap");
    EXPECT(gothook_slot_swap(&ss.dyn, plt_slot, (char *)pv + 8, pv), GOTHOOK_OK);
    CHECK(hk_peek(plt_slot) == pv, "PLT slot not restored");
  }
  hk_run_and_compare(fx, 0, "after swaps");
  printf("hooks_api_contract: %u status checks, install twice patched %u then %u slots (handle %u == %u); %s\n",
         checks, r1.slots_patched, r2.slots_patched, set, s2, hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
