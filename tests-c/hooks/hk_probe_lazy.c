/* The lazily bound twin of hk_probe_mod.c (linked -z lazy): its hk_filt_target slot holds the PLT stub until the first call. */
int hk_filt_target(void);
int hk_probe_mod_call(void) { return hk_filt_target(); }
