/* A library whose dlopen maps a new dependency after it: the hooked import (hkt_main_value,
 * defined by the test program) is in the first of the two new objects. */
int hkt_main_value(void);
int hkt_dep_value(void);
int hkt_x_call(void) { return hkt_main_value() + hkt_dep_value(); }
