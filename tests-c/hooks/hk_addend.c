/* Holds hk_filt_target's address plus 4 in a data word (an absolute relocation with an addend:
 * not a pointer to the function) and calls hk_filt_target through its GOT. */
int hk_filt_target(void);
char *const hk_addend_ptr = (char *)hk_filt_target + 4;
int hk_addend_call(void) { return hk_filt_target(); }
