/* The library the caller finds only through its own RUNPATH ($ORIGIN/sub). */
int gothook_runpath_target_marker(void) { return 4242; }
