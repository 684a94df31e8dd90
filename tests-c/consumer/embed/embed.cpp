// A profiler-like shared library that embeds libgothook.a, built the way async-profiler builds:
//   g++ -shared -fPIC -fvisibility=hidden ... libgothook.a -Wl,-z,defs -Wl,--exclude-libs,ALL
// It exports one entry point; everything of gothook stays inside it.
#include <gothook.h>

#include <string.h>
#include <sys/types.h>
#include <unistd.h>

namespace {
pid_t (*real_getpid)();
unsigned calls;
pid_t counting_getpid() {
  ++calls;
  return real_getpid();
}
gothook_set set;
}  // namespace

extern "C" __attribute__((visibility("default"))) int embed_install(unsigned *libs_patched) {
  gothook_hook hook;
  memset(&hook, 0, sizeof hook);
  hook.symbol = "getpid";
  hook.replacement = reinterpret_cast<void *>(&counting_getpid);
  hook.original = reinterpret_cast<void **>(&real_getpid);
  gothook_report rep;
  memset(&rep, 0, sizeof rep);
  // Default filter: every READY library but this one (the object gothook is linked into).
  gothook_status st = gothook_install(&hook, 1, nullptr, &set, &rep);
  *libs_patched = rep.libs_patched;
  return st == GOTHOOK_OK ? static_cast<int>(rep.slots_patched) : -static_cast<int>(st);
}

extern "C" __attribute__((visibility("default"))) unsigned embed_calls() { return calls; }

extern "C" __attribute__((visibility("default"))) int embed_uninstall() {
  gothook_report rep;
  gothook_status st = gothook_uninstall(set, &rep);
  return st == GOTHOOK_OK ? static_cast<int>(rep.slots_restored) : -static_cast<int>(st);
}
