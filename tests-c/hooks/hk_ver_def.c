/* Two versions of hk_ver: hk_ver@V1 (old, returns 1) and the default hk_ver@@V2 (returns 2). */
int hk_ver_v1(void) { return 1; }
int hk_ver_v2(void) { return 2; }
__asm__(".symver hk_ver_v1,hk_ver@V1");
__asm__(".symver hk_ver_v2,hk_ver@@V2");
