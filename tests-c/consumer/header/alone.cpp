// gothook.h must compile as the first and only include of a C++ translation unit
// (C++11 and C++17) with -Wall -Wextra -pedantic -Werror.
#include <gothook.h>

int gothook_header_alone();
int gothook_header_alone() {
  gothook_dynamic dyn;
  gothook_dynamic_info info;
  gothook_hook hook = {"x", nullptr, nullptr, 0};
  gothook_report rep;
  gothook_set set = 0;
  void *addr = nullptr;
  gothook_status st = gothook_dynamic_decode(0, nullptr, 0, GOTHOOK_DECODE_ELF64, &dyn);
  if (st == GOTHOOK_OK) st = gothook_dynamic_info_get(&dyn, &info);
  if (st == GOTHOOK_OK) st = gothook_dynamic_lookup(&dyn, "x", &addr);
  if (st == GOTHOOK_OK) st = gothook_install(&hook, 1, nullptr, &set, &rep);
  if (st == GOTHOOK_OK) st = gothook_libs_each(
      [](const gothook_lib *lib, void *) -> int { return lib->readiness == GOTHOOK_READY; }, nullptr, 0);
  return static_cast<int>(st) + static_cast<int>(gothook_version_number());
}
