/* Six versions of hk_multi: hk_multi@V1 ... hk_multi@V5 (returning 1 ... 5) and the default
 * hk_multi@@V6 (returning 6): six defined symbol-table entries with one name. */
int hk_multi_1(void) { return 1; }
int hk_multi_2(void) { return 2; }
int hk_multi_3(void) { return 3; }
int hk_multi_4(void) { return 4; }
int hk_multi_5(void) { return 5; }
int hk_multi_6(void) { return 6; }
__asm__(".symver hk_multi_1,hk_multi@V1");
__asm__(".symver hk_multi_2,hk_multi@V2");
__asm__(".symver hk_multi_3,hk_multi@V3");
__asm__(".symver hk_multi_4,hk_multi@V4");
__asm__(".symver hk_multi_5,hk_multi@V5");
__asm__(".symver hk_multi_6,hk_multi@@V6");
/* Calls its own default version through its PLT (semantic interposition): the import slot
 * refers to one of the six defined entries. */
int hk_multi(void);
int hk_multi_def_call(void) { return hk_multi(); }
