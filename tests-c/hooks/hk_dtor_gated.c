/* Loaded by hooks_refresh_failed_load: its destructor calls back into the program, which waits
 * there (the dlclose holds the loader's load lock, and the object is still listed). */
void hk_in_dtor(void);
__attribute__((destructor)) static void hk_dtor_gated(void) { hk_in_dtor(); }
int hk_dtor_marker(void) { return 2; }
