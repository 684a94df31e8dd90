/* Loaded by hooks_refresh_foreign_load on another thread: its constructor runs while that thread
 * holds the loader's load lock, and calls back into the program (which swaps one module for
 * another there, then waits). */
void hk_swap_in_ctor(void);
__attribute__((constructor)) static void hk_swap_ctor(void) { hk_swap_in_ctor(); }
int hk_swap_ctor_marker(void) { return 1; }
