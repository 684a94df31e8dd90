/* Imports every version of hk_multi (six undefined symbol-table entries with one name) and
 * calls each: 123456 unhooked. */
int hk_multi_v1(void);
int hk_multi_v2(void);
int hk_multi_v3(void);
int hk_multi_v4(void);
int hk_multi_v5(void);
int hk_multi_v6(void);
__asm__(".symver hk_multi_v1,hk_multi@V1");
__asm__(".symver hk_multi_v2,hk_multi@V2");
__asm__(".symver hk_multi_v3,hk_multi@V3");
__asm__(".symver hk_multi_v4,hk_multi@V4");
__asm__(".symver hk_multi_v5,hk_multi@V5");
__asm__(".symver hk_multi_v6,hk_multi@V6");
int hk_multi_user_call(void) {
  return hk_multi_v1() * 100000 + hk_multi_v2() * 10000 + hk_multi_v3() * 1000 + hk_multi_v4() * 100 +
         hk_multi_v5() * 10 + hk_multi_v6();
}
