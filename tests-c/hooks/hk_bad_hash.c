/* Imports hk_filt_target; built with a DT_HASH table that claims zero buckets (see CMakeLists.txt). */
int hk_filt_target(void);
int hk_bad_hash_call(void) { return hk_filt_target(); }
