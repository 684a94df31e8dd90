/* Imports the old version hk_ver@V1, as programs built against an old library do. */
int hk_ver(void);
__asm__(".symver hk_ver,hk_ver@V1");
int hk_ver_user_call(void) { return hk_ver(); }
