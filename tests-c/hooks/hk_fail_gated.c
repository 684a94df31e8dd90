/* Loaded by hooks_refresh_failed_load and refused: its data pointer to hk_fail_gate (an IFUNC of
 * the program, whose resolver blocks) keeps it LOADING inside its dlopen, then its call to
 * hk_fail_missing (defined nowhere; bound at load time, -z now) makes that dlopen fail. */
int hk_fail_gate(void);
int hk_fail_missing(void);
int (*hk_fail_gate_ptr)(void) = hk_fail_gate;
int hk_fail_call(void) { return hk_fail_missing(); }
/* 4 MiB of zeroed data: the next library mapped lands at the top of the hole this one leaves, not
 * over its first page (where a refresh asks _dl_find_object whether it became READY). */
char hk_fail_pad[4 << 20];
