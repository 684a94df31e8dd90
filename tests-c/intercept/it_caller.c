/* A library that dlopens a name itself, so that its own search path (RUNPATH, RPATH, or the
 * RPATH chain of its loaders) is what the loader applies.  The call must not be a tail call:
 * the return address has to lie in this object. */
#include <dlfcn.h>
void *it_open(const char *name, int flags) {
  void *volatile h = dlopen(name, flags);
  return h;
}
