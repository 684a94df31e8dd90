/* Imports hk_weak_missing as an undefined weak symbol that no loaded object defines (like
 * free_sized on a libc without it): its slots hold 0, and the code checks before calling. */
extern int hk_weak_missing(void) __attribute__((weak));
int hk_weak_call(void) { return hk_weak_missing ? hk_weak_missing() : 0; }
