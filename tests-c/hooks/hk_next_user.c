/* Calls hk_probe through its PLT; the main program's definition interposes on libhk_next_def's. */
int hk_probe(void);
int hk_user_call(void) { return hk_probe() + 0; }
