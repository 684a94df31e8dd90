/* Imports hk_focus_gate, an IFUNC that hooks_left_behind_retried exports: binding it (at load
 * time: linked with -z now) runs the program's resolver while this module is listed by the
 * loader but not yet relocated, i.e. LOADING. */
int hk_filt_target(void);
int hk_focus_gate(void);
int hk_focus_call(void) { return hk_focus_gate() + hk_filt_target(); }
