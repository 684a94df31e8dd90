/* The global definition of hk_deep, loaded with the test program. */
int hk_deep(void) { return 1; }
