/* Imports hk_filt_target; linked with a DT_HASH table only (no DT_GNU_HASH).  Hands its function
 * to the main program from a constructor, like hk_nohash.c. */
int hk_filt_target(void);
void hk_sysv_register(int (*call)(void));
static int sysv_call(void) { return hk_filt_target(); }
__attribute__((constructor)) static void register_call(void) { hk_sysv_register(sysv_call); }
