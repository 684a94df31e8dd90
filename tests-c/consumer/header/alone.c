/* gothook.h must compile as the first and only include of a translation unit, in every C
 * standard a consumer may use, with -Wall -Wextra -pedantic -Werror. */
#include <gothook.h>

/* Use each declared type and function once so the prototypes are checked, not only parsed. */
int gothook_header_alone(void);
int gothook_header_alone(void) {
  gothook_lib lib;
  gothook_dynamic dyn;
  gothook_dynamic_info info;
  gothook_symbol sym;
  gothook_import imp;
  gothook_hook hook;
  gothook_filter filter;
  gothook_report rep;
  gothook_set set = 0;
  gothook_status st = GOTHOOK_OK;
  void *addr = NULL;
  uint64_t adds = 0, subs = 0;
  (void)lib; (void)sym; (void)imp; (void)hook; (void)filter;
  st |= gothook_libs_each((gothook_lib_cb)0, NULL, GOTHOOK_LIBS_ALL);
  st |= gothook_libs_counters(&adds, &subs);
  st |= gothook_dynamic_decode(0, NULL, 0, GOTHOOK_DECODE_ELF64, &dyn);
  st |= gothook_lib_decode(NULL, &dyn);
  st |= gothook_dynamic_info_get(&dyn, &info);
  st |= gothook_dynamic_symbols(&dyn, (gothook_symbol_cb)0, NULL);
  st |= gothook_dynamic_imports(&dyn, (gothook_import_cb)0, NULL);
  st |= gothook_dynamic_lookup(&dyn, "x", &addr);
  st |= gothook_dynamic_lookup_symbol(&dyn, "x", &sym);
  st |= gothook_slot_swap(&dyn, (void **)addr, NULL, NULL);
  st |= gothook_install(&hook, 1, &filter, &set, &rep);
  st |= gothook_refresh(GOTHOOK_REFRESH_FULL, &rep);
  st |= gothook_uninstall(set, &rep);
  st |= gothook_global_lookup("x", NULL, &addr);
  st |= gothook_set_readiness_rule(GOTHOOK_RULE_RELRO);
  return (int)st + (int)gothook_readiness_rule() + (int)gothook_version_number() +
         (gothook_version() != NULL) + (gothook_status_str(st) != NULL);
}
