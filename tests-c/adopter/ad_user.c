/* A library that needs the host: dlopen'ing it maps the host as its new dependency. */
int ad_host_uses_dep(void);
__attribute__((visibility("default"))) int ad_user_call(void) { return ad_host_uses_dep(); }
