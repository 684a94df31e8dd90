/* The host's dependency: the definition of ad_probe that RTLD_NEXT from the host names. */
__attribute__((noinline, visibility("default"))) int ad_probe(void) { return 20; }
__attribute__((noinline, visibility("default"))) int ad_dep_probe(void) { return 21; }
