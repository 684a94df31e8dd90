/* Extra source of the "missing" race fixture: a real reference to its (absent) dependency, so
 * the linker keeps the DT_NEEDED entry even with --as-needed. */
int gothook_race_missing_fn(void);
int race_missing_use(void) { return gothook_race_missing_fn(); }
