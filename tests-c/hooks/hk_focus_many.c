/* Imports thirteen functions through its PLT (linked -z lazy, so each slot is bound by the first
 * call through it): hk_focus_many_call(k) calls hk_focus_f<k>. */
int hk_focus_f0(void);
int hk_focus_f1(void);
int hk_focus_f2(void);
int hk_focus_f3(void);
int hk_focus_f4(void);
int hk_focus_f5(void);
int hk_focus_f6(void);
int hk_focus_f7(void);
int hk_focus_f8(void);
int hk_focus_f9(void);
int hk_focus_f10(void);
int hk_focus_f11(void);
int hk_focus_f12(void);
int hk_focus_many_call(int k) {
  switch (k) {
    case 0: return hk_focus_f0();
    case 1: return hk_focus_f1();
    case 2: return hk_focus_f2();
    case 3: return hk_focus_f3();
    case 4: return hk_focus_f4();
    case 5: return hk_focus_f5();
    case 6: return hk_focus_f6();
    case 7: return hk_focus_f7();
    case 8: return hk_focus_f8();
    case 9: return hk_focus_f9();
    case 10: return hk_focus_f10();
    case 11: return hk_focus_f11();
    case 12: return hk_focus_f12();
    default: return -1;
  }
}
