/* Thirteen functions for libhk_focus_many.so to import (hooks_left_behind_retried). */
int hk_focus_f0(void) { return 0; }
int hk_focus_f1(void) { return 1; }
int hk_focus_f2(void) { return 2; }
int hk_focus_f3(void) { return 3; }
int hk_focus_f4(void) { return 4; }
int hk_focus_f5(void) { return 5; }
int hk_focus_f6(void) { return 6; }
int hk_focus_f7(void) { return 7; }
int hk_focus_f8(void) { return 8; }
int hk_focus_f9(void) { return 9; }
int hk_focus_f10(void) { return 10; }
int hk_focus_f11(void) { return 11; }
int hk_focus_f12(void) { return 12; }
