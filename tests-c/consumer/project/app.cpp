// C++ consumer of the installed gothook package; see app_common.h.  Adds what C++ code does
// with the header: the status enum as a typed enum, a captureless lambda as a callback.
#define APP_LANG "C++"
#include "app_common.h"

#include <type_traits>

static_assert(std::is_same<std::underlying_type<gothook_status>::type, uint32_t>::value,
              "gothook_status is a uint32_t enum in C++");
static_assert(std::is_standard_layout<gothook_lib>::value && std::is_trivially_copyable<gothook_dynamic>::value,
              "gothook records are plain C structs");

int main(int argc, char **argv) {
  unsigned n = 0;
  gothook_status st = gothook_libs_each(
      [](const gothook_lib *, void *ctx) -> int { ++*static_cast<unsigned *>(ctx); return 0; }, &n, 0);
  if (st != GOTHOOK_OK || n == 0) {
    fprintf(stderr, "FAIL: lambda walk: %s, %u objects\n", gothook_status_str(st), n);
    return 1;
  }
  return app_main(argc, argv);
}
