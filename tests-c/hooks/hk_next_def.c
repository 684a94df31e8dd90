/* The "real" definition of hk_probe, found after the main program (RTLD_NEXT) in hooks_next_after. */
int hk_probe(void) { return 2; }
