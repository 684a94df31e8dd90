/* Host program: dlopens the profiler library that embeds libgothook.a and checks that the
 * embedded gothook hooks the host's getpid import, then unhooks it.
 * usage: host <libembed.so> */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  void *h;
  int (*install)(unsigned *), (*uninstall)(void);
  unsigned (*ncalls)(void);
  unsigned libs = 0, c0, c1, c2;
  int patched, restored;
  pid_t real = (pid_t)syscall(SYS_getpid), p1;
  if (argc < 2) return 2;
  h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "FAIL: dlopen: %s\n", dlerror());
    return 1;
  }
  *(void **)&install = dlsym(h, "embed_install");
  *(void **)&uninstall = dlsym(h, "embed_uninstall");
  *(void **)&ncalls = dlsym(h, "embed_calls");
  if (!install || !uninstall || !ncalls) {
    fprintf(stderr, "FAIL: entry points missing\n");
    return 1;
  }
  patched = install(&libs);
  c0 = ncalls();
  p1 = getpid();
  c1 = ncalls();
  restored = uninstall();
  (void)getpid();
  c2 = ncalls();
  printf("embedded gothook: install patched %d slot(s) in %u libraries, host getpid counted %u "
         "call(s) while hooked and %u after uninstall (restored %d)\n",
         patched, libs, c1 - c0, c2 - c1, restored);
  if (patched < 1 || c1 - c0 != 1 || p1 != real || c2 != c1 || restored != patched) {
    fprintf(stderr, "FAIL: embedded hook did not behave\n");
    return 1;
  }
  if (dlclose(h) != 0) {
    fprintf(stderr, "FAIL: dlclose: %s\n", dlerror());
    return 1;
  }
  return 0;
}
