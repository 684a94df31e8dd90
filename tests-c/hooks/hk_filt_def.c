/* The one definition of hk_filt_target, imported by libhk_filt_x.so and libhk_filt_y.so. */
int hk_filt_target(void) { return 1; }
