/* A module hooks_left_behind_retried loads under several names (one object each: its only
 * dependency, libhk_filt_def.so, is already loaded); imports hk_filt_target. */
int hk_filt_target(void);
int hk_focus_call(void) { return hk_filt_target(); }
