/* The dependency that dlopen of libhkt_x.so maps after it (a second new object). */
int hkt_dep_value(void) { return 0; }
