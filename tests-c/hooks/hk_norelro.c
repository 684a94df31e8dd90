/* Imports hk_filt_target; linked without RELRO, so under the RELRO readiness rule it is never
 * READY (UNKNOWN: nothing says its relocation is finished). */
int hk_filt_target(void);
int hk_norelro_call(void) { return hk_filt_target(); }
