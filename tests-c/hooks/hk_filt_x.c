int hk_filt_target(void);
int hk_filt_x_call(void) { return hk_filt_target(); }
