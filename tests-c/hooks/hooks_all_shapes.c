/* Issue 3 acceptance, every fixture shape: after installing the six allocator hooks, every call
 * from every READY fixture (PLT and taken-address paths) reaches the hook; originals are the real
 * functions (dlsym's answer; calling them never changes a slot); RELRO pages are read-only and
 * lazy .got.plt pages writable afterwards (/proc/self/maps); nothing but the allocator import
 * slots of the fixtures changed (checksums); after uninstall no call reaches a hook.
 * Usage: hooks_all_shapes [--rule-relro] <fixture.so>...
 * --rule-relro forces the glibc < 2.35 readiness rule: RELRO fixtures must behave the same,
 * fixtures without PT_GNU_RELRO must be reported not ready (UNKNOWN) and left alone. */
#include "hk_common.h"

int main(int argc, char **argv) {
  int argi = 1, relro_rule = 0;
  if (argi < argc && strcmp(argv[argi], "--rule-relro") == 0) relro_rule = 1, argi++;
  if (argi >= argc) {
    fprintf(stderr, "usage: %s [--rule-relro] fixture.so...\n", argv[0]);
    return 2;
  }
  hk_init_main();
  if (relro_rule) CHECK_ST(gothook_set_readiness_rule(GOTHOOK_RULE_RELRO), GOTHOOK_OK);
  for (; argi < argc; argi++) hk_open(argv[argi], 0);

  /* Independent expectations: what the loader's own lookup returns for each function. */
  void *real[GF_NFUNCS];
  for (int f = 0; f < GF_NFUNCS; f++) real[f] = dlsym(RTLD_DEFAULT, gothook_fixture_func_names[f]);

  static struct hk_slots pre[HK_MAX_LIBS], alloc_pre[HK_MAX_LIBS];
  uint64_t sum_pre[HK_MAX_LIBS];
  int expect_ready[HK_MAX_LIBS], unbound = 0, nready = 0;
  for (int i = 0; i < hk_nlibs; i++) {
    hk_snapshot(hk_libs[i].path, &pre[i]);
    CHECK(pre[i].found, "%s not listed by gothook", hk_libs[i].path);
    alloc_pre[i] = pre[i];
    alloc_pre[i].n = 0;
    for (int k = 0; k < pre[i].n; k++) {
      if (pre[i].s[k].func < 0) continue;
      alloc_pre[i].s[alloc_pre[i].n++] = pre[i].s[k];
      /* An unbound lazy slot points into the library's own PLT: its original must not be it. */
      uintptr_t v = (uintptr_t)pre[i].s[k].value;
      if (v >= hk_libs[i].lo && v < hk_libs[i].hi) unbound++;
    }
    CHECK(alloc_pre[i].n >= 2 * GF_NFUNCS, "[%s] only %d allocator import slots", hk_libs[i].shape,
          alloc_pre[i].n);
    sum_pre[i] = hk_checksum(hk_libs[i].path, &alloc_pre[i]);
    struct hk_mem m;
    hk_memory(hk_libs[i].path, &m);
    /* Ready per the loader (dlopen returned) for _dl_find_object; under the forced RELRO rule
     * only with a page-rounded PT_GNU_RELRO range that is non-empty. */
    expect_ready[i] = !relro_rule || m.relro_hi > m.relro_lo;
    CHECK(pre[i].readiness == (expect_ready[i] ? GOTHOOK_READY : GOTHOOK_UNKNOWN),
          "[%s] readiness %u, want %s", hk_libs[i].shape, pre[i].readiness,
          expect_ready[i] ? "READY" : "UNKNOWN");
    nready += expect_ready[i];
  }

  gothook_hook hooks[GF_NFUNCS];
  hk_alloc_hooks(hooks);
  gothook_set set = 0;
  gothook_report rep = {0};
  CHECK_ST(gothook_install(hooks, GF_NFUNCS, NULL, &set, &rep), GOTHOOK_OK);
  hk_print_report("install", &rep);
  CHECK(rep.libs_patched >= (unsigned)nready, "libs_patched %u < %d ready fixtures", rep.libs_patched, nready);
  CHECK(rep.libs_not_ready >= (unsigned)(hk_nlibs - nready), "libs_not_ready %u < %d", rep.libs_not_ready,
        hk_nlibs - nready);
  CHECK(rep.slots_conflict == 0 && rep.libs_failed == 0, "conflicts %u, failed libs %u", rep.slots_conflict,
        rep.libs_failed);
  for (int f = 0; f < GF_NFUNCS; f++)
    CHECK(HK_ORIG(f) == real[f], "original of %s is %p, dlsym says %p", gothook_fixture_func_names[f],
          HK_ORIG(f), real[f]);

  unsigned slots_hooked = 0, prot_checks = 0, calls = 0;
  static struct hk_slots post[HK_MAX_LIBS], after_calls[HK_MAX_LIBS];
  for (int i = 0; i < hk_nlibs; i++) {
    hk_snapshot(hk_libs[i].path, &post[i]);
    for (int k = 0; k < post[i].n; k++) {
      int f = post[i].s[k].func;
      if (f < 0) {
        CHECK(post[i].s[k].value == pre[i].s[k].value, "[%s] non-allocator slot %p changed",
              hk_libs[i].shape, (void *)post[i].s[k].slot);
      } else if (expect_ready[i]) {
        CHECK(post[i].s[k].value == hk_replacement[f], "[%s] %s slot %p (kind %u) holds %p, not the hook",
              hk_libs[i].shape, gothook_fixture_func_names[f], (void *)post[i].s[k].slot, post[i].s[k].kind,
              post[i].s[k].value);
        slots_hooked += post[i].s[k].value == hk_replacement[f];
      } else {
        CHECK(post[i].s[k].value == pre[i].s[k].value, "[%s] slot of a not-ready library changed",
              hk_libs[i].shape);
      }
    }
    CHECK(hk_checksum(hk_libs[i].path, &alloc_pre[i]) == sum_pre[i],
          "[%s] memory outside the allocator import slots changed during install", hk_libs[i].shape);
    prot_checks += hk_check_protections(i, &post[i], "after install");
    calls += hk_run_and_compare(i, expect_ready[i], "installed");
    /* The hooks called the originals: had one been a PLT stub, a slot would have been re-bound. */
    hk_snapshot(hk_libs[i].path, &after_calls[i]);
    if (expect_ready[i])
      CHECK(hk_slots_equal(&post[i], &after_calls[i]), "[%s] calling the originals changed a slot",
            hk_libs[i].shape);
  }
  /* Refresh finds nothing to do; a full verify finds nothing to repair. */
  gothook_report rr = {0};
  CHECK_ST(gothook_refresh(GOTHOOK_REFRESH_FULL, &rr), GOTHOOK_OK);
  hk_print_report("refresh full", &rr);
  CHECK(rr.slots_patched == 0 && rr.slots_repaired == 0 && rr.slots_conflict == 0,
        "a full refresh right after install changed slots");

  gothook_report ur = {0};
  CHECK_ST(gothook_uninstall(set, &ur), GOTHOOK_OK);
  hk_print_report("uninstall", &ur);
  CHECK(ur.slots_restored >= slots_hooked, "restored %u < %u hooked fixture slots", ur.slots_restored,
        slots_hooked);
  CHECK(ur.slots_changed == 0, "uninstall found %u changed slots", ur.slots_changed);
  for (int i = 0; i < hk_nlibs; i++) {
    struct hk_slots now;
    hk_snapshot(hk_libs[i].path, &now);
    for (int k = 0; k < now.n; k++) {
      int f = now.s[k].func;
      if (f < 0) continue;
      CHECK(now.s[k].value == real[f] || now.s[k].value == pre[i].s[k].value,
            "[%s] %s slot holds %p after uninstall (real %p, before %p)", hk_libs[i].shape,
            gothook_fixture_func_names[f], now.s[k].value, real[f], pre[i].s[k].value);
    }
    CHECK(hk_checksum(hk_libs[i].path, &alloc_pre[i]) == sum_pre[i],
          "[%s] memory outside the allocator import slots changed by uninstall", hk_libs[i].shape);
    prot_checks += hk_check_protections(i, &now, "after uninstall");
    hk_run_and_compare(i, 0, "uninstalled");
  }
  printf("hooks_all_shapes%s: %d fixtures (%d ready), %u allocator slots hooked (%d unbound lazy), "
         "%u fixture calls compared (installed, uninstalled), %u protection checks, rule %u; %s\n",
         relro_rule ? " --rule-relro" : "", hk_nlibs, nready, slots_hooked, unbound, calls, prot_checks,
         gothook_readiness_rule(), hk_failures ? "FAILED" : "ok");
  return hk_failures ? 1 : 0;
}
