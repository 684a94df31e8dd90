/* A library the rows test loads by bare name: which copy was loaded shows in it_marker();
 * it_probe() calls getppid through the PLT, so it shows whether a hook set reached this library. */
#include <unistd.h>
int it_marker(void) { return IT_MARKER; }
int it_probe(void) { return (int)getppid(); }
