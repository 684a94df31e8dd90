/* Opened with RTLD_LOCAL: its definitions are outside the global scope. */
__attribute__((noinline, visibility("default"))) int ad_local_only(void) { return 30; }
__attribute__((noinline, visibility("default"))) int ad_probe(void) { return 31; }
