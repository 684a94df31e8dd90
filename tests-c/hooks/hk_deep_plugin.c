/* A plugin with its own hk_deep; opened with RTLD_DEEPBIND, its PLT call binds to this one. */
int hk_deep(void) { return 2; }
int hk_deep_plugin_call(void) { return hk_deep(); }
