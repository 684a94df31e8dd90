/* A module importing two functions of two libraries (hk_filt_target from libhk_filt_def.so,
 * hk_filt_x_call from libhk_filt_x.so), built twice: bound lazily and bound now. */
int hk_filt_target(void);
int hk_filt_x_call(void);
/* target + 10 * x: 11 unhooked (x's call reaches hk_filt_target too). */
int hk_pair_call(void) { return hk_filt_target() + 10 * hk_filt_x_call(); }
