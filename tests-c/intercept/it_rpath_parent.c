/* Loaded by full path; has DT_RPATH $ORIGIN/rp and needs the caller library that lives there,
 * which has no search path of its own and so inherits this RPATH. */
void *it_open(const char *name, int flags);
void *it_parent_open(const char *name, int flags) { return it_open(name, flags); }
