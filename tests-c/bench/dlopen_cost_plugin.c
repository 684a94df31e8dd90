/* The library dlopen_cost loads and unloads: it imports nothing a hook set could apply to. */
int dlc_value(void) { return 7; }
