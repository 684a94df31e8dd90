/* Imports hk_filt_target; linked with a DT_HASH table only, whose DT_HASH entry is then renamed
 * (hk_drop_hash.sh): an object with no symbol hash table at all.  Nothing can look its symbols
 * up, so it hands its function to the main program from a constructor. */
int hk_filt_target(void);
void hk_nohash_register(int (*call)(void));
static int nohash_call(void) { return hk_filt_target(); }
__attribute__((constructor)) static void register_call(void) { hk_nohash_register(nohash_call); }
