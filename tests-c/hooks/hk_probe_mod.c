/* A module loaded and unloaded by hooks_refresh_probe; imports hk_filt_target. */
int hk_filt_target(void);
int hk_probe_mod_call(void) { return hk_filt_target(); }
