/* A plugin whose allocations must all reach the installed malloc hook: built lazy and now. */
#include <stdlib.h>
int aa_marker(void) { return AA_MARKER; }
unsigned aa_plugin_run(unsigned n) {
  unsigned done = 0;
  for (unsigned i = 0; i < n; i++) {
    void *volatile p = malloc(16 + i);
    if (p) done++;
    free(p);
  }
  return done;
}
