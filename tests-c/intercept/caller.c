/* A library with RUNPATH $ORIGIN/sub that dlopens a bare name: glibc resolves it against the
 * RUNPATH of the object that called dlopen (the return address must be in this object, so the
 * call must not become a tail call). */
#include <dlfcn.h>
void *gothook_runpath_caller_open(void) {
  void *volatile h = dlopen("libgothook_runpath_target.so", RTLD_NOW);
  return h;
}
