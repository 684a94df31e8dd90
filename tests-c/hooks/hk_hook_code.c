/* Replacements that live in a library of their own, so a test can unload the hook's code after
 * uninstalling and prove no slot still points into it. */
void *hk_code_a_orig, *hk_code_b_orig;
int hk_code_a(void) { return 10 + ((int (*)(void))hk_code_a_orig)(); }
int hk_code_b(void) { return 20 + ((int (*)(void))hk_code_b_orig)(); }
