/* The dependency of the "missing" race fixture.  It is built into its own folder and never
 * shipped next to the fixture copies, so dlopen of that fixture fails after mapping it. */
int gothook_race_missing_fn(void) { return 42; }
