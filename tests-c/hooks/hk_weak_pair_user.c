/* Imports hk_weak_missing as an undefined weak symbol no object defines (its slots hold 0) and
 * checks before calling; built twice (libhk_weak_z.so, libhk_weak_u.so). */
extern int hk_weak_missing(void) __attribute__((weak));
int hk_weak_pair_call(void) { return hk_weak_missing ? hk_weak_missing() : 0; }
